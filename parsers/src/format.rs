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

    /// The first line of the oldest record still buffered (a Rails request
    /// without its `Completed` line yet, an open dio block), if any. A tailer
    /// must not checkpoint past it: after a crash the record is read again
    /// from there.
    fn oldest_pending_line(&self) -> Option<u64> {
        None
    }
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

    /// The first line of the oldest record still buffered (see
    /// [`LineParser::oldest_pending_line`]).
    pub fn oldest_pending_line(&self) -> Option<u64> {
        self.inner.oldest_pending_line()
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

/// A line no grammar knows: when it holds an OAuth error in a provider's or
/// a client library's words (an msal-node error, a google-auth
/// `RefreshError`, an OmniAuth failure, a pasted response body) it is a
/// client-side error record; otherwise it is kept as unparsed evidence.
fn unparsed_event<'a>(format: Format, line_no: u64, line: &'a str, ctx: &Context) -> Event<'a> {
    let red = ctx.redactor.redact(line);
    let mut event = match &red.text {
        Cow::Borrowed(text) => error_in_text(text, format),
        Cow::Owned(text) => error_in_text(text, format).into_owned(),
    };
    red.apply_to(&mut event);
    event.evidence.push(EvidenceLine {
        line: line_no,
        text: red.text,
    });
    event
}

fn error_in_text(text: &str, format: Format) -> Event<'_> {
    let Some(found) = crate::providers::recognize(text) else {
        return Event::new(EventKind::Unparsed, format);
    };
    let mut event = Event::new(EventKind::ClientError, format);
    event.server = found.server;
    event.provider_code = found.code;
    event.error = found.error;
    event.error_description = found.description;
    event
}

/// Offers every line to every concrete parser, in [`CONCRETE_FORMATS`] order,
/// until one parses it. A parser that merely skips a line does not stop the
/// search: formats share prefixes (two Java loggers, two logcat tags), and
/// the one that skips may not be the one the line is for. The first parser
/// that answers [`Outcome::Parsed`] ends it, so a line never yields events
/// from two parsers.
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
        let mut outcome = Outcome::Unknown;
        for parser in &mut self.parsers {
            match parser.feed(line_no, line, ctx, out) {
                Outcome::Parsed => return Outcome::Parsed,
                Outcome::Skipped => outcome = Outcome::Skipped,
                Outcome::Unknown => {}
            }
        }
        outcome
    }

    fn flush<'a>(&mut self, ctx: &Context, out: &mut Vec<Event<'a>>) {
        for parser in &mut self.parsers {
            parser.flush(ctx, out);
        }
    }

    fn oldest_pending_line(&self) -> Option<u64> {
        self.parsers
            .iter()
            .filter_map(|p| p.oldest_pending_line())
            .min()
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

/// What a line-at-a-time parser answers for a line it found interesting:
/// `Parsed` after pushing the event it gave, `Skipped` when it gave none.
pub fn push_or_skip<'a>(out: &mut Vec<Event<'a>>, event: Option<Event<'a>>) -> Outcome {
    match event {
        Some(event) => {
            out.push(event);
            Outcome::Parsed
        }
        None => Outcome::Skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A support ticket's paste: a Rails request, a Keycloak event, a
    /// flutter_appauth error from logcat, and a Node app's msal-node error.
    const MIXED: &str = concat!(
        "I, [2025-03-11T09:02:15.978492 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1] Started POST \"/oauth/token\" for 10.0.3.235 at 2025-03-11 09:02:15 +0000\n",
        "I, [2025-03-11T09:02:15.980892 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1] Processing by Doorkeeper::TokensController#create as */*\n",
        "I, [2025-03-11T09:02:15.981092 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1]   Parameters: {\"grant_type\"=>\"refresh_token\", \"refresh_token\"=>\"wqhbnIw2OpRszwqkNdVIekqE700lTlXJcYc8ErcErLw\", \"client_id\"=>\"Zr9kq3bB4u2xq0X9mB7Yt0a6v1c8d2e3f4g5h6i7j8k\"}\n",
        "I, [2025-03-11T09:02:15.997492 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1] Completed 400 Bad Request in 19ms (Views: 0.1ms | ActiveRecord: 5.8ms | Allocations: 3762)\n",
        "2025-03-11 09:10:32,093 WARN  [org.keycloak.events] (executor-thread-11) type=\"CODE_TO_TOKEN_ERROR\", realmId=\"7c1f3a52-9d4e-4b8a-a6c1-2e5f8b9d0a13\", realmName=\"shop\", clientId=\"shop-web\", userId=\"null\", ipAddress=\"10.20.0.7\", error=\"invalid_code\", reason=\"Code not valid\", grant_type=\"authorization_code\", code_id=\"a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4e\", client_auth_method=\"client-secret\"\n",
        "03-11 14:02:49.301  4388  4421 I flutter : login error: PlatformException(token_failed, Failed to get token: invalid_grant: The refresh token is invalid or expired., null, null)\n",
        "{\"level\":\"error\",\"time\":\"2025-03-11T09:47:02Z\",\"msg\":\"acquireTokenByRefreshToken failed\",\"err\":{\"name\":\"InteractionRequiredAuthError\",\"errorCode\":\"invalid_grant\",\"errorMessage\":\"AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2024-11-20T08:12:44.1234567Z and was inactive for 90.00:00:00.\",\"correlationId\":\"6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d\"}}\n",
    );

    fn parse_mixed(text: &str) -> (Vec<Event<'_>>, LineCounts) {
        let ctx = Context {
            assumed_year: Some(2025),
            ..Context::default()
        };
        let mut parser = FileParser::new(Format::Mixed, ctx);
        let mut events = Vec::new();
        for (i, line) in text.lines().enumerate() {
            parser.feed(i as u64 + 1, line, &mut events);
        }
        parser.flush(&mut events);
        (events, parser.counts())
    }

    #[test]
    fn mixed_excerpt_yields_each_formats_event_once() {
        let (events, counts) = parse_mixed(MIXED);
        let by_format = |f: Format| events.iter().filter(|e| e.format == f).collect::<Vec<_>>();

        let rails = by_format(Format::Rails);
        assert_eq!(rails.len(), 1, "{events:#?}");
        assert_eq!(rails[0].kind, EventKind::TokenResponse);
        assert_eq!(rails[0].status, Some(400));
        assert!(rails[0].refresh_token_fp.is_some());

        let keycloak = by_format(Format::Keycloak);
        assert_eq!(keycloak.len(), 1, "{events:#?}");
        assert_eq!(keycloak[0].client_id.as_deref(), Some("shop-web"));
        assert_eq!(
            keycloak[0].provider_reason.as_deref(),
            Some("Code not valid")
        );

        let logcat = by_format(Format::Logcat);
        assert_eq!(logcat.len(), 1, "{events:#?}");
        assert_eq!(logcat[0].kind, EventKind::ClientError);
        assert_eq!(logcat[0].error.as_deref(), Some("invalid_grant"));
        assert_eq!(
            logcat[0].error_description.as_deref(),
            Some("The refresh token is invalid or expired.")
        );

        let json = by_format(Format::JsonLines);
        assert_eq!(json.len(), 1, "{events:#?}");
        assert_eq!(json[0].error.as_deref(), Some("invalid_grant"));
        assert_eq!(json[0].provider_code.as_deref(), Some("AADSTS700082"));

        assert_eq!(events.len(), 4, "{events:#?}");
        assert_eq!(counts.unknown, 0, "{counts:?}");
        for e in &events {
            for f in e.text_fields() {
                assert!(!f.contains("wqhbnIw2OpRs"), "{f}");
            }
        }
    }

    #[test]
    fn skipping_parser_does_not_hide_a_line_from_later_ones() {
        // A parser that skips every line, in front of one that parses them.
        struct Skips;
        impl LineParser for Skips {
            fn feed<'a>(
                &mut self,
                _: u64,
                _: &'a str,
                _: &Context,
                _: &mut Vec<Event<'a>>,
            ) -> Outcome {
                Outcome::Skipped
            }
            fn flush<'a>(&mut self, _: &Context, _: &mut Vec<Event<'a>>) {}
        }
        struct Parses(usize);
        impl LineParser for Parses {
            fn feed<'a>(
                &mut self,
                line_no: u64,
                line: &'a str,
                _: &Context,
                out: &mut Vec<Event<'a>>,
            ) -> Outcome {
                self.0 += 1;
                let mut ev = Event::new(EventKind::Unparsed, Format::JsonLines);
                ev.evidence.push(EvidenceLine {
                    line: line_no,
                    text: Cow::Borrowed(line),
                });
                out.push(ev);
                Outcome::Parsed
            }
            fn flush<'a>(&mut self, _: &Context, _: &mut Vec<Event<'a>>) {}
        }
        let mut mixed = MixedParser {
            parsers: vec![Box::new(Skips), Box::new(Parses(0)), Box::new(Parses(0))],
        };
        let mut out = Vec::new();
        let outcome = mixed.feed(1, "x", &Context::default(), &mut out);
        assert_eq!(outcome, Outcome::Parsed);
        assert_eq!(out.len(), 1, "stops at the first parser that parses");
        let mut only_skip = MixedParser {
            parsers: vec![Box::new(Skips)],
        };
        assert_eq!(
            only_skip.feed(1, "x", &Context::default(), &mut out),
            Outcome::Skipped
        );
        let mut none = MixedParser { parsers: vec![] };
        assert_eq!(
            none.feed(1, "x", &Context::default(), &mut out),
            Outcome::Unknown
        );
    }
}
