//! The parser state of one origin inside a file (a pod, host or unit an
//! aggregated file interleaves, or the file's own plain lines): the
//! format's parser, the run of unknown lines it holds, and how those are
//! reassembled and read again when the run ends. A leaf of the driver
//! (`file_parser.rs` uses it, never the other way).
//!
//! Invariants: every line held in the run comes out once, as a record of
//! the format, an event kept because it mentions OAuth, or counted
//! unknown; events read outside the driver's `feed_record` get the
//! envelope's time and this origin here.

use std::borrow::Cow;

use crate::LineCounts;
use crate::envelope::{EnvelopeTime, Meta};
use crate::event::{Event, EventKind, EvidenceLine, TimeBasis, Timestamp};
use crate::extract::settle::Settled;
use crate::format::Format;
use crate::parser::{Context, LineParser, Outcome};
use crate::quiet::Hint;
use crate::reassembly::{Joined, Run};
use crate::registry::new_parser;

/// The parser state of one origin inside a file.
pub(super) struct OriginState {
    pub(super) parser: Box<dyn LineParser>,
    pub(super) run: Run,
    pub(super) last_seen: u64,
    /// The envelope's identity of this origin (empty: none).
    pub(super) origin: String,
    /// The envelope time of the record being fed.
    pub(super) time: EnvelopeTime,
    /// Whether any record was offered to its parser: one never fed is the
    /// same in every reader, at rest or not (`FileParser::rest_mark`).
    pub(super) fed: bool,
}

impl OriginState {
    pub(super) fn new(format: Format, origin: String) -> Self {
        OriginState {
            parser: Box::new(Settled::new(new_parser(format), format)),
            run: Run::default(),
            last_seen: 0,
            origin,
            time: EnvelopeTime::None,
            fed: false,
        }
    }

    /// Whether nothing the lines before set is held: no unknown run, the
    /// format's parser at rest.
    pub(super) fn at_rest(&self) -> bool {
        self.run.is_empty() && self.parser.at_rest()
    }

    /// Skims a record the hint allows (see [`LineParser::skim`]) when no
    /// unknown run is held (a skipped line would end it): `true` when the
    /// parser took it.
    pub(super) fn skim(&mut self, line_no: u64, text: &str, hint: Hint) -> bool {
        self.fed = true;
        hint == Hint::Quiet && self.run.is_empty() && self.parser.skim(line_no, text)
    }

    /// One record through the format's parser; unknown records join the run.
    pub(super) fn feed<'a>(
        &mut self,
        line_no: u64,
        text: &'a str,
        format: Format,
        ctx: &Context,
        counts: &mut LineCounts,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let mark = out.len();
        self.fed = true;
        let outcome = self.parser.feed(line_no, text, ctx, out);
        match outcome {
            Outcome::Parsed => counts.parsed += 1,
            Outcome::Skipped => counts.skipped += 1,
            Outcome::Unknown => {
                // Counted when the run ends: it may be read after all.
                self.run.push(line_no, text, self.time.get());
                if self.run.is_full() {
                    self.end_run(format, ctx, counts, out);
                }
                return outcome;
            }
        }
        if !self.run.is_empty() {
            // The run ended before this line: its records come first.
            let mut earlier = Vec::new();
            self.end_run(format, ctx, counts, &mut earlier);
            out.splice(mark..mark, earlier);
        }
        outcome
    }

    /// Cuts the run into records; each is offered to the parser again (a
    /// pretty-printed JSON body is one JSON line now) and, still unknown,
    /// kept when it mentions OAuth.
    pub(super) fn end_run<'a>(
        &mut self,
        format: Format,
        ctx: &Context,
        counts: &mut LineCounts,
        out: &mut Vec<Event<'a>>,
    ) {
        if self.run.is_empty() {
            return;
        }
        for (joined, time) in self.run.take_records() {
            if joined.lines > 1
                && let Some(records) = crate::envelope::document_records(&joined.text)
            {
                self.end_document(&joined, records, format, ctx, counts, out);
                continue;
            }
            let mut events = Vec::new();
            let outcome = if joined.lines > 1 {
                self.parser
                    .feed(joined.line_no, &joined.text, ctx, &mut events)
            } else {
                Outcome::Unknown
            };
            let n = joined.lines as u64;
            match outcome {
                Outcome::Parsed => counts.parsed += n,
                Outcome::Skipped => counts.skipped += n,
                Outcome::Unknown => counts.unknown += n,
            }
            if outcome == Outcome::Unknown && mentions_oauth(&joined.text) {
                let mut event = unparsed_event(format, joined.line_no, &joined.text, ctx);
                if event.kind != EventKind::Unparsed {
                    // Read after all: it carries an OAuth error.
                    counts.unknown -= n;
                    counts.parsed += n;
                }
                if joined.lines > 1 {
                    // Evidence shows the lines as the file has them.
                    event.evidence = joined
                        .originals
                        .iter()
                        .map(|(line, text)| EvidenceLine {
                            line: *line,
                            text: Cow::Owned(ctx.redactor.redact(text).text.into_owned()),
                        })
                        .collect();
                }
                events.push(event);
            }
            // Records held in a run were fed outside `feed_record`: they
            // get their envelope's time and origin here.
            let meta = Meta {
                time: time.into(),
                ..Meta::default()
            };
            events.iter_mut().for_each(|e| self.stamp(e, &meta));
            out.extend(events.into_iter().map(|e| -> Event<'a> { e.into_owned() }));
        }
    }

    /// What an event read outside `feed_record` is given there: its
    /// envelope's time and origin, else this state's origin.
    fn stamp(&self, event: &mut Event<'_>, meta: &Meta) {
        apply_meta(event, meta);
        if !self.origin.is_empty() && event.origin.is_none() {
            event.origin = Some(Cow::Owned(self.origin.clone()));
        }
    }

    /// A shipper's document spread over the `joined` lines (a CloudWatch
    /// export as `aws logs filter-log-events` prints it): each record read
    /// as a line of its own would be, at the document's first line, its
    /// events numbered by record ([`Event::part`]) and given the record's
    /// time and origin. Read as one record, its three refused grants were
    /// one failure, with no time.
    fn end_document<'a>(
        &mut self,
        joined: &Joined,
        records: Vec<(String, Meta)>,
        format: Format,
        ctx: &Context,
        counts: &mut LineCounts,
        out: &mut Vec<Event<'a>>,
    ) {
        let mut read = false;
        for (part, (text, meta)) in records.iter().enumerate() {
            let mut events = Vec::new();
            let outcome = self.parser.feed(joined.line_no, text, ctx, &mut events);
            if outcome == Outcome::Unknown && mentions_oauth(text) {
                events.push(unparsed_event(format, joined.line_no, text, ctx));
            }
            read |=
                outcome != Outcome::Unknown || events.iter().any(|e| e.kind != EventKind::Unparsed);
            for event in &mut events {
                self.stamp(event, meta);
                event.part = u32::try_from(part).unwrap_or(u32::MAX);
            }
            out.extend(events.into_iter().map(|e| -> Event<'a> { e.into_owned() }));
        }
        let n = joined.lines as u64;
        if read {
            counts.parsed += n;
        } else {
            counts.unknown += n;
        }
    }
}

/// The envelope's time stands in for a line without one (Rails 8's
/// default logger writes none) and is kept beside one that has its own; the
/// envelope's origin is kept with the event.
pub(super) fn apply_meta(event: &mut Event<'_>, meta: &Meta) {
    if let Some(time) = meta.time.get() {
        if event.ts.is_none() {
            event.ts = Some(Timestamp {
                utc: time,
                basis: TimeBasis::Zoned,
            });
        }
        event.envelope_time = Some(time);
    }
    let origin = meta.origin();
    if !origin.is_empty() && event.origin.is_none() {
        event.origin = Some(Cow::Owned(origin));
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
        && (WORDS
            .iter()
            .any(|w| memchr::memmem::find(line.as_bytes(), w.as_bytes()).is_some())
            || crate::extract::carries_error(line)
            || crate::extract::omniauth::phase(line).is_some())
}

/// A line no grammar knows: when it carries an OAuth error in any shape
/// ([`crate::extract`]: a pasted response body, an exception's text, a
/// provider's words) it is a client-side error record; an OmniAuth phase
/// line is the login's step it names; otherwise it is kept as unparsed
/// evidence.
fn unparsed_event<'a>(format: Format, line_no: u64, line: &'a str, ctx: &Context) -> Event<'a> {
    let red = ctx.redactor.redact(line);
    let mut event = match &red.text {
        Cow::Borrowed(text) => error_in_text(text, format, ctx),
        Cow::Owned(text) => error_in_text(text, format, ctx).into_owned(),
    };
    red.apply_to(&mut event);
    event.evidence.push(EvidenceLine {
        line: line_no,
        text: red.text,
    });
    event
}

fn error_in_text<'t>(text: &'t str, format: Format, ctx: &Context) -> Event<'t> {
    crate::extract::error_event(text, format, ctx)
        .or_else(|| crate::extract::omniauth::phase_event(text, format, ctx, None))
        .unwrap_or_else(|| Event::new(EventKind::Unparsed, format))
}
