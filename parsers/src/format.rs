//! Log formats, their detection, and the per-file driver that feeds lines to
//! the right parser.
//!
//! Every format module implements [`LineParser`]: it is fed one line at a time
//! (multi-line records are assembled inside the module, which is why parsers
//! are stateful) and says whether the line belongs to its format at all
//! ([`Outcome::Unknown`] when not). Detection needs no code of its own per
//! format: each candidate parser is run over the first lines of a file and the
//! one that recognises the most wins; when none recognises a clear majority
//! the file is [`Format::Mixed`] and every line is offered to every parser.

use std::borrow::Cow;

use chrono::{FixedOffset, NaiveDate};
use serde::Serialize;

use crate::event::{Event, EventKind, EvidenceLine};
use crate::redact::Redactor;

/// A log format grantwatch can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Rails request log (Doorkeeper), tagged or not, Logger prefix or not.
    Rails,
    /// Rails lograge, key=value or JSON.
    Lograge,
    /// Ory Hydra, JSON or logfmt text.
    Hydra,
    /// Keycloak, text console or JSON console output.
    Keycloak,
    /// node-oidc-provider `DEBUG=oidc-provider:*` lines and relying parties'
    /// `OPError` lines.
    NodeOidcProvider,
    /// Duende IdentityServer (Serilog/NLog/console text).
    IdentityServer,
    /// Spring Authorization Server (Spring Boot console).
    Spring,
    /// Android logcat (flutter, AppAuth, MSAL tags).
    Logcat,
    /// iOS console (`flutter:` lines, AppAuth NSErrors, MSAL).
    IosConsole,
    /// Generic JSON lines with `error` / `error_description`.
    JsonLines,
    /// A file that mixes formats: every line is offered to every parser.
    Mixed,
}

/// Every concrete format, in the order detection and mixed mode try them
/// (specific before generic).
pub const CONCRETE_FORMATS: [Format; 10] = [
    Format::Rails,
    Format::Hydra,
    Format::Keycloak,
    Format::NodeOidcProvider,
    Format::IdentityServer,
    Format::Spring,
    Format::Logcat,
    Format::IosConsole,
    Format::Lograge,
    Format::JsonLines,
];

impl Format {
    /// The stable name (`rails`, `hydra`, `ios-console`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Rails => "rails",
            Format::Lograge => "lograge",
            Format::Hydra => "hydra",
            Format::Keycloak => "keycloak",
            Format::NodeOidcProvider => "node-oidc-provider",
            Format::IdentityServer => "identityserver",
            Format::Spring => "spring",
            Format::Logcat => "logcat",
            Format::IosConsole => "ios-console",
            Format::JsonLines => "json-lines",
            Format::Mixed => "mixed",
        }
    }

    /// Parses a name written by [`Format::as_str`].
    pub fn from_name(name: &str) -> Option<Format> {
        CONCRETE_FORMATS
            .iter()
            .chain(&[Format::Mixed])
            .copied()
            .find(|f| f.as_str() == name)
    }

    fn new_parser(self) -> Box<dyn LineParser> {
        match self {
            Format::Rails => Box::new(crate::rails::RailsParser::default()),
            Format::Lograge => Box::new(crate::lograge::LogrageParser::default()),
            Format::Hydra => Box::new(crate::hydra::HydraParser::default()),
            Format::Keycloak => Box::new(crate::keycloak::KeycloakParser::default()),
            Format::NodeOidcProvider => Box::new(crate::node_oidc::NodeOidcParser::default()),
            Format::IdentityServer => {
                Box::new(crate::identityserver::IdentityServerParser::default())
            }
            Format::Spring => Box::new(crate::spring::SpringParser::default()),
            Format::Logcat => Box::new(crate::logcat::LogcatParser::default()),
            Format::IosConsole => Box::new(crate::ios::IosConsoleParser::default()),
            Format::JsonLines => Box::new(crate::json_lines::JsonLinesParser::default()),
            Format::Mixed => Box::new(MixedParser::new()),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a parser made of one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The line is in this format and told something about OAuth (it may have
    /// produced events now, or been buffered into a record).
    Parsed,
    /// The line is in this format but is not about OAuth (a request to another
    /// path, a continuation line of no interest): skipped quickly.
    Skipped,
    /// The line is not in this format at all.
    Unknown,
}

/// Settings that come from configuration, not from the line.
#[derive(Clone, Debug)]
pub struct Context {
    /// Replaces secrets and fingerprints them.
    pub redactor: Redactor,
    /// The zone assumed for timestamps that carry none.
    pub assumed_offset: FixedOffset,
    /// The year assumed for timestamps that carry none (logcat).
    pub assumed_year: Option<i32>,
    /// The date assumed for timestamps that carry only a time of day.
    pub assumed_date: Option<NaiveDate>,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            redactor: Redactor::default(),
            assumed_offset: FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()),
            assumed_year: None,
            assumed_date: None,
        }
    }
}

/// The interface every format module implements.
pub trait LineParser: Send {
    /// Feeds one line (without its line terminator). Events that are complete
    /// are pushed to `out`; records that span lines are kept until complete.
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome;

    /// Pushes every record still buffered (end of input or a quiet period).
    fn flush<'a>(&mut self, ctx: &Context, out: &mut Vec<Event<'a>>);
}

/// Line counts of one file, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LineCounts {
    /// Lines that told something about OAuth.
    pub parsed: u64,
    /// Lines recognised but of no interest.
    pub skipped: u64,
    /// Lines no parser recognised.
    pub unknown: u64,
}

/// Parses one file: detection, then every line through the chosen parser.
pub struct FileParser {
    format: Format,
    inner: Box<dyn LineParser>,
    ctx: Context,
    counts: LineCounts,
}

impl std::fmt::Debug for FileParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileParser")
            .field("format", &self.format)
            .field("counts", &self.counts)
            .finish()
    }
}

/// How many leading lines detection looks at.
pub const DETECT_LINES: usize = 64;

/// Detects the format of a file from its first lines (blank lines ignored).
/// Returns [`Format::Mixed`] when no format recognises a clear majority.
pub fn detect(first_lines: &[&str]) -> Format {
    let lines: Vec<&str> = first_lines
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty())
        .take(DETECT_LINES)
        .collect();
    if lines.is_empty() {
        return Format::Mixed;
    }
    let ctx = Context::default();
    let mut best = (Format::Mixed, 0usize);
    for format in CONCRETE_FORMATS {
        let mut parser = format.new_parser();
        let mut out = Vec::new();
        let known = lines
            .iter()
            .enumerate()
            .filter(|(i, line)| {
                out.clear();
                parser.feed(*i as u64 + 1, line, &ctx, &mut out) != Outcome::Unknown
            })
            .count();
        if known > best.1 {
            best = (format, known);
        }
    }
    // A clear majority: more than 60% of the sampled lines.
    if best.1 * 10 > lines.len() * 6 {
        best.0
    } else {
        Format::Mixed
    }
}

impl FileParser {
    /// A parser for a file of a known (or forced) format.
    pub fn new(format: Format, ctx: Context) -> Self {
        FileParser {
            format,
            inner: format.new_parser(),
            ctx,
            counts: LineCounts::default(),
        }
    }

    /// The format this parser reads.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The settings this parser uses.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Lines seen so far, by outcome.
    pub fn counts(&self) -> LineCounts {
        self.counts
    }

    /// Feeds one line. A line no parser knows is counted; if it mentions
    /// OAuth it is also kept as an [`EventKind::Unparsed`] event so that it can
    /// still serve as evidence.
    pub fn feed<'a>(&mut self, line_no: u64, line: &'a str, out: &mut Vec<Event<'a>>) -> Outcome {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let outcome = self.inner.feed(line_no, line, &self.ctx, out);
        match outcome {
            Outcome::Parsed => self.counts.parsed += 1,
            Outcome::Skipped => self.counts.skipped += 1,
            Outcome::Unknown => {
                self.counts.unknown += 1;
                if mentions_oauth(line) {
                    out.push(unparsed_event(self.format, line_no, line, &self.ctx));
                }
            }
        }
        outcome
    }

    /// Pushes every record still buffered.
    pub fn flush<'a>(&mut self, out: &mut Vec<Event<'a>>) {
        self.inner.flush(&self.ctx, out);
    }
}

/// Whether a line no parser knows is still worth keeping as evidence.
fn mentions_oauth(line: &str) -> bool {
    const WORDS: [&str; 6] = [
        "invalid_grant",
        "invalid_client",
        "oauth",
        "unauthorized_client",
        "AADSTS",
        "code_verifier",
    ];
    line.len() < 64 * 1024
        && WORDS
            .iter()
            .any(|w| memchr::memmem::find(line.as_bytes(), w.as_bytes()).is_some())
}

fn unparsed_event<'a>(format: Format, line_no: u64, line: &'a str, ctx: &Context) -> Event<'a> {
    let red = ctx.redactor.redact(line);
    let mut event = Event::new(EventKind::Unparsed, format);
    red.apply_to(&mut event);
    event.evidence.push(EvidenceLine {
        line: line_no,
        text: red.text,
    });
    event
}

/// Offers every line to every concrete parser, in [`CONCRETE_FORMATS`] order,
/// until one recognises it.
struct MixedParser {
    parsers: Vec<Box<dyn LineParser>>,
}

impl MixedParser {
    fn new() -> Self {
        MixedParser {
            parsers: CONCRETE_FORMATS.iter().map(|f| f.new_parser()).collect(),
        }
    }
}

impl LineParser for MixedParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        for parser in &mut self.parsers {
            let outcome = parser.feed(line_no, line, ctx, out);
            if outcome != Outcome::Unknown {
                return outcome;
            }
        }
        Outcome::Unknown
    }

    fn flush<'a>(&mut self, ctx: &Context, out: &mut Vec<Event<'a>>) {
        for parser in &mut self.parsers {
            parser.flush(ctx, out);
        }
    }
}

/// Redacts `line`, parses the redacted text with `parse`, attaches the
/// secrets' fingerprints and the redacted line as evidence. This is the one
/// way parsers should turn a line into an event: the parse function never
/// sees a secret, and borrows from the line whenever nothing was redacted.
pub fn redact_and_parse<'a, A>(
    line_no: u64,
    line: &'a str,
    ctx: &Context,
    arg: A,
    parse: for<'t> fn(&'t str, A) -> Option<Event<'t>>,
) -> Option<Event<'a>> {
    let red = ctx.redactor.redact(line);
    let mut event = match &red.text {
        Cow::Borrowed(text) => parse(text, arg)?,
        Cow::Owned(text) => parse(text, arg)?.into_owned(),
    };
    red.apply_to(&mut event);
    event.evidence.push(EvidenceLine {
        line: line_no,
        text: red.text,
    });
    Some(event)
}
