//! The per-file driver: every line of one file through the parser of its
//! format, counted by outcome; a line no parser knows that still mentions
//! OAuth is kept as evidence (or, when it carries an OAuth error, as a
//! client-side error) so that nothing about OAuth is silently dropped.

use serde::Serialize;

use crate::event::{Event, EventKind, EvidenceLine};
use crate::extract::Settled;
use crate::format::Format;
use crate::parser::{Context, LineParser, Outcome};
use crate::registry::new_parser;

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

impl FileParser {
    /// A parser for a file of a known (or forced) format.
    pub fn new(format: Format, ctx: Context) -> Self {
        FileParser {
            format,
            inner: Box::new(Settled::new(new_parser(format), format)),
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

/// A line no grammar knows and that carries no OAuth error (those became
/// client-side error records in [`Settled`]): kept as unparsed evidence.
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
