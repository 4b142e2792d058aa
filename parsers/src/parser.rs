//! The interface every format module implements, the settings parsers
//! share, and the two helpers that keep a parser from ever seeing a secret.
//!
//! Every format module implements [`LineParser`]: it is fed one line at a time
//! (multi-line records are assembled inside the module, which is why parsers
//! are stateful) and says whether the line belongs to its format at all
//! ([`Outcome::Unknown`] when not).

use std::borrow::Cow;

use chrono::{FixedOffset, NaiveDate};

use crate::envelope::EnvelopeKind;
use crate::event::{Event, EvidenceLine};
use crate::redact::Redactor;

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
    /// Which envelopes are taken off (`--envelope`).
    pub envelope: EnvelopeChoice,
}

/// Which envelopes the envelope layer looks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EnvelopeChoice {
    /// Every envelope, recognised line by line.
    #[default]
    Auto,
    /// None: lines are read as the application wrote them.
    Off,
    /// Only this one.
    Only(EnvelopeKind),
}

impl EnvelopeChoice {
    /// Parses `auto`, `none` or an envelope name.
    pub fn from_name(name: &str) -> Option<EnvelopeChoice> {
        match name {
            "auto" => Some(EnvelopeChoice::Auto),
            "none" | "off" => Some(EnvelopeChoice::Off),
            other => EnvelopeKind::from_name(other).map(EnvelopeChoice::Only),
        }
    }

    /// As `sniff` and `Unwrapper::forced` take it.
    pub fn forced(self) -> Option<Option<EnvelopeKind>> {
        match self {
            EnvelopeChoice::Auto => None,
            EnvelopeChoice::Off => Some(None),
            EnvelopeChoice::Only(kind) => Some(Some(kind)),
        }
    }
}

impl Default for Context {
    fn default() -> Self {
        Context {
            redactor: Redactor::default(),
            assumed_offset: FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()),
            assumed_year: None,
            assumed_date: None,
            envelope: EnvelopeChoice::Auto,
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

    /// Words that can make a line matter to this parser while it holds
    /// nothing open (a request's start, a login phase): a line that holds
    /// one is always fed. See [`LineParser::skim`]. Empty: the parser
    /// offers no such rule and every line is fed.
    fn quiet_needles(&self) -> &'static [&'static str] {
        &[]
    }

    /// Takes `line`, which holds none of [`LineParser::quiet_needles`] and
    /// no error word (`crate::extract::ERROR_WORDS`), if feeding it now
    /// would skip it: then does exactly what `feed` would have done to the
    /// parser's state and returns `true`; else changes nothing and returns
    /// `false` (the line is fed). A driver counts a skimmed line as
    /// skipped: `analyze` over a large file finds the few lines that can
    /// matter with one search per chunk and skims the others.
    fn skim(&mut self, _line_no: u64, _line: &str) -> bool {
        false
    }

    /// [`LineParser::skim`] for a line known by its start only: `head` is
    /// the text of a line whose rest is still escaped in its envelope (a
    /// docker json-file string), not worth decoding when the start decides.
    /// `true` only when `skim` would take every line that starts with
    /// `head`, and then does what `skim` would have done; `false` (the
    /// default) says nothing, and the whole line is decoded and offered to
    /// `skim`.
    fn skim_head(&mut self, _line_no: u64, _head: &str) -> bool {
        false
    }

    /// Whether what this parser will make of the lines still to come no
    /// longer depends on the lines before the last one fed: nothing held
    /// open, nothing remembered that a later line reads (state that only the
    /// last line sets is allowed: two parsers that both fed that line agree
    /// on it). Two parsers of one format at rest at the same line, fed the
    /// same lines from there, give the same events: this is what lets
    /// `analyze` read one file in ranges on several cores and hand over
    /// where both readers are at rest. `false` (the default) means the
    /// parser was not checked, and its files are read on one core.
    fn at_rest(&self) -> bool {
        false
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
    event.add_only_line(EvidenceLine {
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
