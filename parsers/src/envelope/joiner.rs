//! The stateful side of the envelope layer: layers peeled one after the
//! other, split lines joined, the file's envelope remembered.
//!
//! Invariants: a record's line number is the file line where it began (the
//! first piece of a joined line); a held piece is reported by
//! [`Unwrapper::oldest_pending_line`] so that a tailer never checkpoints
//! past it; a joined line is bounded by [`MAX_JOINED`] bytes and at most
//! [`MAX_HELD`] lines are held at once (the oldest is released, never
//! dropped). [`Unwrapper::quiet_line`] (`quiet_line.rs`) reads a docker,
//! CRI or syslog line for a skim without changing anything; only
//! [`Unwrapper::count_quiet_line`], for a line taken, counts it as
//! `unwrap_line` would. An indented CloudWatch export's lines go to its
//! reader (`indented.rs`) before any layer is peeled.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use super::indented::{IndentedExport, Step};
use super::model::{ALL_ENVELOPES, EnvelopeKind, MAX_DEPTH, Meta, Piece, Pieces, Stream};
use super::peel::peel;
use crate::parser::Context;

/// Longest line rebuilt from split pieces; the rest is dropped and counted.
pub const MAX_JOINED: usize = 1024 * 1024;
/// Split lines held at once (one per origin and stream).
const MAX_HELD: usize = 1024;

/// A line out of its envelopes, ready for format detection and parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The file line it began on.
    pub line_no: u64,
    /// The application's line.
    pub text: Cow<'a, str>,
    /// What the envelopes said (innermost first).
    pub meta: Meta,
    /// The outermost envelope, if any.
    pub envelope: Option<EnvelopeKind>,
}

impl Record<'_> {
    /// The same record, owning its text.
    pub fn into_owned(self) -> Record<'static> {
        Record {
            line_no: self.line_no,
            text: Cow::Owned(self.text.into_owned()),
            meta: self.meta,
            envelope: self.envelope,
        }
    }
}

#[derive(Debug)]
struct Held {
    first_line: u64,
    text: String,
    meta: Meta,
    envelope: Option<EnvelopeKind>,
}

type HeldKey = (EnvelopeKind, String, Option<Stream>);

/// What one file line was, out of its envelopes.
#[derive(Debug)]
pub enum Unwrapped<'a> {
    /// In no envelope: the line is the application's.
    Plain,
    /// One record (the common enveloped line).
    One(Record<'a>),
    /// Whatever it carried was pushed to the caller's list (possibly
    /// nothing, while a split line is held).
    Records,
}

/// Whether an inner line is itself in an envelope (checked on every
/// enveloped line; an application's line is ruled out by its first bytes).
pub(super) fn is_enveloped(text: &str, ctx: &Context) -> bool {
    if MAX_DEPTH < 2 {
        return false;
    }
    let mut scratch = Pieces::new();
    peel(text, None, ctx, &mut scratch).is_some()
}

/// Takes envelopes off the lines of one file.
#[derive(Debug, Default)]
pub struct Unwrapper {
    /// `Some(None)`: no envelope is looked for; `Some(Some(k))`: only `k`.
    pub(super) forced: Option<Option<EnvelopeKind>>,
    pub(super) sticky: Option<EnvelopeKind>,
    held: HashMap<HeldKey, Held>,
    /// File lines per outermost envelope, indexed by the envelope's place
    /// in [`ALL_ENVELOPES`] (counted on every line: no map lookup).
    pub(super) lines_by_envelope: [u64; ALL_ENVELOPES.len()],
    cut: u64,
    /// An indented CloudWatch export read line by line (`indented.rs`).
    pub(super) export: IndentedExport,
}

impl Unwrapper {
    /// Recognises every envelope, per line.
    pub fn new() -> Self {
        Unwrapper::default()
    }

    /// Only `envelope` (`None`: no envelope at all), as `--envelope` asks.
    pub fn forced(envelope: Option<EnvelopeKind>) -> Self {
        Unwrapper {
            forced: Some(envelope),
            sticky: envelope,
            ..Unwrapper::default()
        }
    }

    /// File lines seen in each (outermost) envelope.
    pub fn lines_by_envelope(&self) -> BTreeMap<EnvelopeKind, u64> {
        crate::handover::envelope_lines_map(&self.lines_by_envelope)
    }

    /// File lines per envelope, indexed as [`ALL_ENVELOPES`].
    pub(crate) fn envelope_line_counts(&self) -> [u64; ALL_ENVELOPES.len()] {
        self.lines_by_envelope
    }

    /// The envelope tried first on the next line, when nothing is held
    /// (see [`crate::handover::RestMark`]); `None` while a split line is
    /// held, or the tail of an export's event object seen without its `{`.
    pub(crate) fn rest_mark(&self) -> Option<crate::handover::RestMark> {
        let export_hold = self.export.rest()?;
        self.held.is_empty().then_some(crate::handover::RestMark {
            sticky: self.sticky,
            in_export: self.export.in_export(),
            export_hold,
            plain_fresh: false,
            origins: 0,
        })
    }

    /// The envelope most lines came in, if any.
    pub fn main_envelope(&self) -> Option<EnvelopeKind> {
        self.lines_by_envelope()
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(k, _)| k)
    }

    /// Bytes of split lines dropped past [`MAX_JOINED`], in lines.
    pub fn lines_cut(&self) -> u64 {
        self.cut
    }

    /// Whether a split line is held.
    pub(super) fn holds_split_line(&self) -> bool {
        !self.held.is_empty()
    }

    /// The first file line of the oldest split line still held.
    pub fn oldest_pending_line(&self) -> Option<u64> {
        let split = self.held.values().map(|h| h.first_line).min();
        split.into_iter().chain(self.export.oldest_line()).min()
    }

    /// Takes the envelopes off one file line. Most lines are in no
    /// envelope ([`Unwrapped::Plain`]: the caller reads the line itself) or
    /// in one layer that carries one whole line ([`Unwrapped::One`]: no
    /// list, no second pass over the layers); otherwise the records it
    /// carries are pushed to `out` (none while a split line is incomplete,
    /// several for a document of records).
    pub fn unwrap_line<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Record<'a>>,
    ) -> Unwrapped<'a> {
        // A line whose start leads to no envelope (a Ruby Logger line's
        // `I, [`) is plain before any piece is made: most lines of a large
        // log are, and the pieces' setup cost more than the answer.
        if self.forced == Some(None) {
            return Unwrapped::Plain;
        }
        let mark = out.len();
        if self.read_export(line_no, line, ctx, out) {
            return Unwrapped::Records;
        }
        if out.len() > mark {
            // Lines held for an export that was not one go first.
            self.layer_line(line_no, line, ctx, out);
            return Unwrapped::Records;
        }
        if super::peel::rules_out(line) {
            return Unwrapped::Plain;
        }
        let mut pieces = Pieces::new();
        let Some(kind) = self.peel_outer(line, ctx, &mut pieces) else {
            return Unwrapped::Plain;
        };
        // The common case, checked before anything moves: one whole line,
        // nothing held to join it to, no envelope inside (detected per line:
        // a stream may interleave lines of several inner shapes).
        let single = self.held.is_empty()
            && pieces.len() == 1
            && !pieces[0].partial
            && !is_enveloped(&pieces[0].text, ctx);
        if single && let Some(piece) = pieces.pop() {
            self.sticky = Some(kind);
            self.lines_by_envelope[kind as usize] += 1;
            return Unwrapped::One(Record {
                line_no,
                text: piece.text,
                meta: piece.meta,
                envelope: Some(kind),
            });
        }
        self.peeled(
            line_no,
            Some(kind),
            pieces,
            Meta::default(),
            None,
            0,
            ctx,
            out,
        );
        Unwrapped::Records
    }

    /// The outermost layer of a file line, as `--envelope` allows.
    fn peel_outer<'a>(
        &self,
        line: &'a str,
        ctx: &Context,
        out: &mut Pieces<'a>,
    ) -> Option<EnvelopeKind> {
        let kind = peel(line, self.sticky, ctx, out)?;
        match self.forced {
            Some(Some(forced)) if kind != forced => {
                out.clear();
                None
            }
            _ => Some(kind),
        }
    }

    /// Unwraps one file line into the records it carries (none while a
    /// split line is incomplete, several for a document of records).
    pub fn unwrap<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Record<'a>>,
    ) {
        if self.forced == Some(None) {
            out.push(Record {
                line_no,
                text: Cow::Borrowed(line),
                meta: Meta::default(),
                envelope: None,
            });
            return;
        }
        if self.read_export(line_no, line, ctx, out) {
            return;
        }
        self.layer_line(line_no, line, ctx, out);
    }

    /// A file line through the layers, from the outermost.
    fn layer_line<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Record<'a>>,
    ) {
        let meta = Meta::default();
        self.layer(line_no, Cow::Borrowed(line), meta, None, 0, ctx, out);
    }

    /// Offers a line to the indented export's reader (unless `--envelope`
    /// names another): `true` when it took the line, its records (an
    /// event's) pushed to `out`. Lines it held and gives back are pushed
    /// first, as plain lines, whether it took this one or not.
    fn read_export<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Record<'a>>,
    ) -> bool {
        let kind = EnvelopeKind::CloudWatchJson;
        let allowed = self.forced.is_none_or(|forced| forced == Some(kind));
        // A first line past the file's first is a range's or a resumed
        // read's start, which may fall inside an export's event object;
        // the file's own first line is read as it always was.
        let first = self.export.start_line() && line_no > 1;
        if !allowed || !self.export.may_take(line) {
            return false;
        }
        let taken = self.export.take(line_no, line, first);
        out.extend(taken.released.into_iter().map(plain_record));
        match taken.step {
            Step::Pass => return false,
            Step::Held | Step::Released => {}
            Step::Frame(lines) => self.lines_by_envelope[kind as usize] += lines,
            Step::Event {
                line_no,
                piece,
                lines,
            } => {
                self.lines_by_envelope[kind as usize] += lines;
                let text = Cow::Owned(piece.text.into_owned());
                self.layer(line_no, text, piece.meta, Some(kind), 1, ctx, out);
            }
        }
        true
    }

    /// Forgets the lines of an indented export's event object held at
    /// the end of a sample of the file's first lines (format detection).
    pub fn forget_export_hold(&mut self) {
        self.export.release();
    }

    /// Releases every held split line as it is (end of input).
    pub fn flush(&mut self, ctx: &Context, out: &mut Vec<Record<'static>>) {
        let mark = out.len();
        out.extend(self.export.release().into_iter().map(plain_record));
        let mut held: Vec<Held> = self.held.drain().map(|(_, h)| h).collect();
        held.sort_by_key(|h| h.first_line);
        for h in held {
            self.release(h, ctx, out);
        }
        out[mark..].sort_by_key(|r| r.line_no);
    }

    /// A held split line, whole or not, through the layers under its own.
    fn release<'a>(&mut self, h: Held, ctx: &Context, out: &mut Vec<Record<'a>>) {
        let mut records = Vec::new();
        self.layer(
            h.first_line,
            Cow::Owned(h.text),
            h.meta,
            h.envelope,
            1,
            ctx,
            &mut records,
        );
        for record in records {
            out.push(record.into_owned());
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn layer<'a>(
        &mut self,
        line_no: u64,
        text: Cow<'a, str>,
        meta: Meta,
        outer: Option<EnvelopeKind>,
        depth: usize,
        ctx: &Context,
        out: &mut Vec<Record<'a>>,
    ) {
        let (kind, pieces) = if depth >= MAX_DEPTH {
            (None, Pieces::new())
        } else {
            self.peel_text(&text, depth, ctx)
        };
        if kind.is_none() {
            out.push(Record {
                line_no,
                text,
                meta,
                envelope: outer,
            });
            return;
        }
        self.peeled(line_no, kind, pieces, meta, outer, depth, ctx, out);
    }

    /// Goes on with the pieces one layer gave.
    #[allow(clippy::too_many_arguments)]
    fn peeled<'a>(
        &mut self,
        line_no: u64,
        kind: Option<EnvelopeKind>,
        pieces: Pieces<'a>,
        meta: Meta,
        outer: Option<EnvelopeKind>,
        depth: usize,
        ctx: &Context,
        out: &mut Vec<Record<'a>>,
    ) {
        let Some(kind) = kind else {
            return;
        };
        if depth == 0 {
            self.sticky = Some(kind);
            self.lines_by_envelope[kind as usize] += 1;
        }
        let outer = outer.or(Some(kind));
        for piece in pieces {
            let inner_meta = if meta == Meta::default() {
                // The outermost layer (most lines): nothing to merge into.
                piece.meta
            } else {
                let mut m = meta.clone();
                m.merge_inner(piece.meta);
                m
            };
            if piece.partial {
                let key = (kind, inner_meta.origin(), inner_meta.stream);
                self.hold(key, line_no, &piece.text, inner_meta, outer, ctx, out);
                continue;
            }
            // Most lines are whole and nothing is held: no key to build.
            let held = if self.held.is_empty() {
                None
            } else {
                self.held
                    .remove(&(kind, inner_meta.origin(), inner_meta.stream))
            };
            let (first_line, whole) = match held {
                Some(mut h) => {
                    self.append(&mut h.text, &piece.text);
                    (h.first_line, Cow::Owned(h.text))
                }
                None => (line_no, piece.text),
            };
            self.layer(first_line, whole, inner_meta, outer, depth + 1, ctx, out);
        }
    }

    /// Peels one layer; pieces of an owned text are made owned.
    fn peel_text<'a>(
        &self,
        text: &Cow<'a, str>,
        depth: usize,
        ctx: &Context,
    ) -> (Option<EnvelopeKind>, Pieces<'a>) {
        let sticky = if depth == 0 { self.sticky } else { None };
        let mut pieces = Pieces::new();
        let kind = match text {
            Cow::Borrowed(s) => {
                let s: &'a str = s;
                peel(s, sticky, ctx, &mut pieces)
            }
            Cow::Owned(s) => {
                let mut local = Pieces::new();
                let kind = peel(s, sticky, ctx, &mut local);
                pieces = local
                    .into_iter()
                    .map(|p| -> Piece<'a> { p.into_owned() })
                    .collect();
                kind
            }
        };
        match (self.forced, kind) {
            (Some(Some(forced)), Some(k)) if depth == 0 && k != forced => (None, Pieces::new()),
            _ => (kind, pieces),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn hold<'a>(
        &mut self,
        key: HeldKey,
        line_no: u64,
        piece: &str,
        meta: Meta,
        outer: Option<EnvelopeKind>,
        ctx: &Context,
        out: &mut Vec<Record<'a>>,
    ) {
        if let Some(h) = self.held.get_mut(&key) {
            let mut text = std::mem::take(&mut h.text);
            self.append(&mut text, piece);
            if let Some(h) = self.held.get_mut(&key) {
                h.text = text;
            }
            return;
        }
        if self.held.len() >= MAX_HELD {
            // Release the oldest rather than hold without bound.
            self.release_oldest(ctx, out);
        }
        let mut text = String::new();
        self.append(&mut text, piece);
        self.held.insert(
            key,
            Held {
                first_line: line_no,
                text,
                meta,
                envelope: outer,
            },
        );
    }

    fn release_oldest<'a>(&mut self, ctx: &Context, out: &mut Vec<Record<'a>>) {
        let oldest = self
            .held
            .iter()
            .min_by_key(|(_, h)| h.first_line)
            .map(|(k, _)| k.clone());
        if let Some(h) = oldest.and_then(|k| self.held.remove(&k)) {
            self.release(h, ctx, out);
        }
    }

    fn append(&mut self, text: &mut String, piece: &str) {
        let room = MAX_JOINED.saturating_sub(text.len());
        if piece.len() <= room {
            text.push_str(piece);
            return;
        }
        let mut end = room;
        while !piece.is_char_boundary(end) {
            end -= 1;
        }
        text.push_str(&piece[..end]);
        self.cut += 1;
    }
}

/// A file line read as no envelope's, given back by the export's reader.
fn plain_record<'a>(line: (u64, String)) -> Record<'a> {
    Record {
        line_no: line.0,
        text: Cow::Owned(line.1),
        meta: Meta::default(),
        envelope: None,
    }
}
