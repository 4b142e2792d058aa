//! The per-file driver. Each file line goes through three stages:
//! 1. the envelope layer ([`crate::envelope`]) takes off what a runtime,
//!    journald, syslog or a shipper wrapped around it (a split line is held
//!    until it is whole);
//! 2. the parser of the file's format, one instance per origin (the pods,
//!    hosts or units an aggregated file interleaves), so that two pods'
//!    requests never mix;
//! 3. lines that parser does not know are held as a run and reassembled
//!    ([`crate::reassembly`]: pretty-printed JSON, stack traces, hard wraps),
//!    offered to the parser again, and when still unknown but mentioning
//!    OAuth kept as evidence (or, carrying an OAuth error, as a client-side
//!    error): nothing about OAuth is silently dropped.
//!
//! A docker json-file, CRI or syslog line with no needle is skimmed
//! without becoming a record (`skim_enveloped`): most of `analyze`'s lines
//! are only skimmed, and decoding them cost more than the rest of the
//! envelope layer. One origin's state (its parser, its run of unknown
//! lines) is `file_parser/origin.rs`.
//!
//! Invariants: outcomes are counted per record; events keep the envelope's
//! time when the line had none, and its origin; nothing held (a split line,
//! a parser's open record, an unknown run) is ever past
//! [`FileParser::oldest_pending_line`]; a line skimmed by `skim_enveloped`
//! changes what the record path would have changed, nothing else.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

pub use crate::counts::LineCounts;
use crate::envelope::{
    EnvelopeKind, EnvelopeTime, HeaderMemo, Meta, QuietText, Record, Unwrapped, Unwrapper,
};
use crate::event::Event;
use crate::format::Format;
use crate::formats::logfmt::heroku_router::router_event;
use crate::parser::{Context, Outcome};
use crate::quiet::{Hint, QuietSkip};
use origin::{OriginState, apply_meta};

/// Origins (pods, hosts, units) followed at once in one file; past this the
/// quietest one is flushed.
const MAX_ORIGINS: usize = 4096;

/// Parses one file: envelopes off, then every record through the parser of
/// the file's format.
pub struct FileParser {
    format: Format,
    ctx: Context,
    counts: LineCounts,
    unwrapper: Unwrapper,
    /// Lines in no envelope, or in one that named no host, pod, container
    /// or unit: the common case, kept out of the map.
    plain: OriginState,
    /// Looked up on every syslog line: hashed by foldhash, not SipHash
    /// (a tenth of the lookup's cost; the map is bounded, [`MAX_ORIGINS`]).
    origins: HashMap<String, OriginState, foldhash::fast::RandomState>,
    /// Lines fed (file lines, before envelopes).
    lines: u64,
    /// The searcher of the lines that can matter, built on first use.
    quiet: Option<Arc<QuietSkip>>,
    /// Where a skimmed docker line's text is decoded, reused line to line.
    scratch: Vec<u8>,
    /// The start of the last quiet syslog line read in full.
    syslog_head: HeaderMemo,
    /// The key of the origin a quiet syslog line is of, made in place.
    origin_key: String,
    /// The recent lines that held several records, numbering their events.
    parts: parts::Parts,
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
    /// A parser for a file of a known (or forced) format; envelopes are
    /// recognised line by line.
    pub fn new(format: Format, ctx: Context) -> Self {
        let unwrapper = match ctx.envelope.forced() {
            Some(forced) => Unwrapper::forced(forced),
            None => Unwrapper::new(),
        };
        Self::with_unwrapper(format, ctx, unwrapper)
    }

    fn with_unwrapper(format: Format, ctx: Context, unwrapper: Unwrapper) -> Self {
        FileParser {
            format,
            ctx,
            counts: LineCounts::default(),
            unwrapper,
            plain: OriginState::new(format, String::new()),
            origins: HashMap::default(),
            lines: 0,
            quiet: None,
            scratch: Vec::new(),
            syslog_head: HeaderMemo::default(),
            origin_key: String::new(),
            parts: parts::Parts::default(),
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

    /// Records seen so far, by outcome.
    pub fn counts(&self) -> LineCounts {
        self.counts
    }

    /// The envelope most lines came in, if any.
    pub fn envelope(&self) -> Option<EnvelopeKind> {
        self.unwrapper.main_envelope()
    }

    /// Split lines cut at the envelope layer's bound when joined.
    pub fn joined_lines_cut(&self) -> u64 {
        self.unwrapper.lines_cut()
    }

    /// File lines fed so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Feeds one file line. Returns the outcome of the last record it
    /// carried (`Skipped` while a split line is held).
    pub fn feed<'a>(&mut self, line_no: u64, line: &'a str, out: &mut Vec<Event<'a>>) -> Outcome {
        self.feed_hinted(line_no, line, Hint::Feed, out)
    }

    /// The searcher of the lines that can matter to this file's parser (see
    /// [`crate::quiet`]), `None` when its parser has no quiet rule. Built
    /// once per file parser, on first use.
    pub fn quiet_skip(&mut self) -> Option<Arc<QuietSkip>> {
        if self.quiet.is_none() {
            self.quiet = QuietSkip::new(self.plain.parser.quiet_needles()).map(Arc::new);
        }
        self.quiet.clone()
    }

    /// [`FileParser::feed`] for a line the caller checked with
    /// [`FileParser::quiet_skip`]: unless the hint is [`Hint::Feed`], the
    /// parser it goes to may skim it (then it is counted as skipped). The
    /// outcome, every event and the parser's state are those of `feed`.
    pub fn feed_hinted<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        hint: Hint,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let mark = out.len();
        let outcome = self.feed_line(line_no, line, hint, out);
        // Most lines give no event: the two calls on an empty slice cost
        // about 35 instructions a line of a Rails log (benches/README.md).
        if out.len() > mark {
            mend_cuts(&mut out[mark..]);
            self.parts.number(&mut out[mark..]);
        }
        outcome
    }

    fn feed_line<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        hint: Hint,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        self.lines += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if hint == Hint::Quiet
            && self.unwrapper.quiet_kind(line).is_some()
            && let Some(outcome) = self.skim_enveloped(line_no, line)
        {
            return outcome;
        }
        let mut records = Vec::new();
        match self
            .unwrapper
            .unwrap_line(line_no, line, &self.ctx, &mut records)
        {
            Unwrapped::Plain => {
                self.plain.last_seen = line_no;
                self.plain.time = EnvelopeTime::None;
                if self.plain.skim(line_no, line, hint) {
                    self.counts.skipped += 1;
                    return Outcome::Skipped;
                }
                let format = self.format;
                return self
                    .plain
                    .feed(line_no, line, format, &self.ctx, &mut self.counts, out);
            }
            Unwrapped::One(record) => return self.feed_record(record, hint, out),
            Unwrapped::Records => {}
        }
        // Several records in one line: their events are numbered as they
        // are given out (`parts.rs`).
        // (Lines an indented export's reader gives back are each their own.)
        if records.iter().filter(|r| r.line_no == line_no).count() > 1 {
            self.parts.several_in(line_no);
        }
        let mut outcome = Outcome::Skipped;
        for record in records {
            outcome = self.feed_record(record, Hint::Feed, out);
        }
        outcome
    }

    /// A docker json-file, CRI or syslog line with no needle, skimmed
    /// without a record: decoding it, its time and its record cost more than the
    /// parser's skim of most lines. The skim judges the decoded text, or only its
    /// start before the first escape when the parser can tell from that
    /// ([`LineParser::skim_head`]). Everything `feed_line` would change is
    /// changed the same (the line counted in its envelope and as skipped,
    /// the parser's skim), except the plain state's envelope time, which
    /// only a fed record reads and which is set before each. `None`
    /// (nothing changed) sends the line the exact way.
    fn skim_enveloped(&mut self, line_no: u64, line: &str) -> Option<Outcome> {
        let quiet = self.quiet.as_deref()?;
        if !self.plain.run.is_empty() {
            return None;
        }
        let (kind, text, origin) = self.unwrapper.quiet_line(
            line,
            &self.ctx,
            quiet,
            &mut self.scratch,
            &mut self.syslog_head,
        )?;
        // A syslog line is its origin's: skimmed by that origin's parser
        // once it has one (the first line of an origin takes the long way).
        let state = match origin {
            None => &mut self.plain,
            Some(origin) => {
                origin.key_into(&mut self.origin_key);
                self.origins.get_mut(self.origin_key.as_str())?
            }
        };
        if !state.run.is_empty() {
            return None;
        }
        state.fed = true;
        let taken = match text {
            QuietText::Whole(text) => state.parser.skim(line_no, text),
            QuietText::Head(head) => state.parser.skim_head(line_no, head),
        };
        if !taken {
            return None;
        }
        state.last_seen = line_no;
        self.unwrapper.count_quiet_line(kind);
        self.counts.skipped += 1;
        Some(Outcome::Skipped)
    }

    /// Ends what is held for lack of a next line: unknown runs are cut into
    /// records now. A tailer calls this when it has read all there is for
    /// the moment; parsers' open records (a Rails request without its
    /// `Completed`) stay open.
    pub fn release<'a>(&mut self, out: &mut Vec<Event<'a>>) {
        let mark = out.len();
        self.end_runs(out);
        mend_cuts(&mut out[mark..]);
        self.parts.number(&mut out[mark..]);
    }

    fn end_runs<'a>(&mut self, out: &mut Vec<Event<'a>>) {
        let ctx = &self.ctx;
        let format = self.format;
        let counts = &mut self.counts;
        for state in std::iter::once(&mut self.plain).chain(self.origins.values_mut()) {
            state.end_run(format, ctx, counts, out);
        }
    }

    /// Pushes every record still held: split lines, unknown runs, and each
    /// parser's open records (end of input, or a quiet period).
    pub fn flush<'a>(&mut self, out: &mut Vec<Event<'a>>) {
        let mark = out.len();
        let mut records = Vec::new();
        self.unwrapper.flush(&self.ctx, &mut records);
        for record in records {
            let mut events = Vec::new();
            self.feed_record(record, Hint::Feed, &mut events);
            out.extend(events.into_iter().map(|e| -> Event<'a> { e.into_owned() }));
        }
        self.end_runs(out);
        for state in std::iter::once(&mut self.plain).chain(self.origins.values_mut()) {
            state.parser.flush(&self.ctx, out);
        }
        mend_cuts(&mut out[mark..]);
        self.parts.number(&mut out[mark..]);
    }

    /// Where this parser stands when it holds nothing the lines before
    /// the last one set (see [`crate::handover`]): `None` while it holds a
    /// split line, an unknown run, or a record of its format, for the
    /// file's plain lines or any origin's. The mark names the origins read
    /// apart, and whether the plain lines' parser is fresh (never fed, and
    /// not at rest: a Rails parser before its first request): two readers
    /// with the same origins at rest read the next lines alike, but a
    /// Rails parser at rest holds the last `Started` lines of its origin,
    /// which a fresh one lacks. Any origin used to refuse a mark, and a
    /// syslog-wrapped log was read on one core.
    pub fn rest_mark(&self) -> Option<crate::handover::RestMark> {
        let plain_at_rest = self.plain.at_rest();
        let plain = plain_at_rest || !self.plain.fed;
        if !plain || !self.origins.values().all(OriginState::at_rest) {
            return None;
        }
        let mut mark = self.unwrapper.rest_mark()?;
        mark.plain_fresh = !plain_at_rest;
        mark.origins = crate::handover::origin_set(self.origins.keys());
        Some(mark)
    }

    /// What this parser has counted so far (see [`crate::handover::Tally`]).
    pub fn tally(&self) -> crate::handover::Tally {
        crate::handover::Tally {
            counts: self.counts,
            lines: self.lines,
            joined_cut: self.unwrapper.lines_cut(),
            envelope_lines: self.unwrapper.envelope_line_counts(),
        }
    }

    /// The first line of the oldest record still held anywhere (see
    /// [`LineParser::oldest_pending_line`]).
    pub fn oldest_pending_line(&self) -> Option<u64> {
        let parsers = std::iter::once(&self.plain)
            .chain(self.origins.values())
            .filter_map(|s| {
                let held = s.parser.oldest_pending_line();
                match (held, s.run.first_line()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            });
        parsers.chain(self.unwrapper.oldest_pending_line()).min()
    }

    /// One record through its origin's parser. A record borrowed from its
    /// file line holds no needle the line did not: the line's hint holds.
    fn feed_record<'a>(
        &mut self,
        record: Record<'a>,
        hint: Hint,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let format = self.format;
        let router = is_heroku_router(&record.meta)
            .then(|| router_event(record.line_no, &record.text, format))
            .flatten();
        if let Some(mut event) = router {
            apply_meta(&mut event, &record.meta);
            out.push(event);
            self.counts.parsed += 1;
            return Outcome::Parsed;
        }
        let state = if record.meta.has_origin() {
            let origin = record.meta.origin();
            self.make_room(&origin, out);
            self.origins
                .entry(origin)
                .or_insert_with_key(|origin| OriginState::new(format, origin.clone()))
        } else {
            &mut self.plain
        };
        state.last_seen = record.line_no;
        state.time = record.meta.time;
        // A decoded (owned) text may hold a needle its file line did not
        // (`\/oauth\/` in JSON): it is searched again on its own.
        let hint = match (&record.text, &self.quiet) {
            (Cow::Owned(text), Some(quiet)) if hint == Hint::Quiet && !quiet.holds_needle(text) => {
                Hint::Quiet
            }
            (Cow::Owned(_), _) => Hint::Feed,
            (Cow::Borrowed(_), _) => hint,
        };
        if state.skim(record.line_no, &record.text, hint) {
            self.counts.skipped += 1;
            return Outcome::Skipped;
        }
        let enveloped = record.envelope.is_some();
        let mark = out.len();
        let outcome = match record.text {
            Cow::Borrowed(text) => state.feed(
                record.line_no,
                text,
                format,
                &self.ctx,
                &mut self.counts,
                out,
            ),
            Cow::Owned(text) => {
                let mut events = Vec::new();
                let outcome = state.feed(
                    record.line_no,
                    &text,
                    format,
                    &self.ctx,
                    &mut self.counts,
                    &mut events,
                );
                out.extend(events.into_iter().map(|e| -> Event<'a> { e.into_owned() }));
                outcome
            }
        };
        if enveloped {
            for event in &mut out[mark..] {
                apply_meta(event, &record.meta);
            }
        }
        outcome
    }

    /// Keeps the number of origins bounded: the one seen longest ago is
    /// flushed and forgotten.
    fn make_room<'a>(&mut self, origin: &str, out: &mut Vec<Event<'a>>) {
        if self.origins.len() < MAX_ORIGINS || self.origins.contains_key(origin) {
            return;
        }
        let Some(oldest) = self
            .origins
            .iter()
            .min_by_key(|(_, s)| s.last_seen)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        if let Some(mut state) = self.origins.remove(&oldest) {
            state.end_run(self.format, &self.ctx, &mut self.counts, out);
            state.parser.flush(&self.ctx, out);
        }
    }
}

/// Heroku's router writes its own lines (`heroku[router]: at=info …`):
/// they are read as the router's, not as the app's format.
/// Repairs the fields of events whose line was cut short (see [`crate::cut`]).
fn mend_cuts(events: &mut [Event<'_>]) {
    events.iter_mut().for_each(crate::cut::mend);
}

fn is_heroku_router(meta: &Meta) -> bool {
    meta.unit.as_deref() == Some("heroku") && meta.pod.as_deref() == Some("router")
}

mod origin;
mod parts;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod quiet_envelopes;
