//! A file read on one core, chunk after chunk (`analyze`): each chunk's
//! events and what it adds to the file's progress ([`ChunkDelta`]), parsed
//! on the calling thread ([`parse_chunk`]) or, in a bulk load, on a thread of
//! its own beside the store's writer ([`parse_beside`]). Beside the writer,
//! parsing and storing overlap on two cores: a folder of rotated logs or a
//! gzip file, read one file at a time on one core, took about twice as long
//! as the same bytes read in ranges (benches/README.md).
//!
//! Invariants: both give the same events, line numbers, counts and
//! progress for the same input, chunk for chunk. [`parse_beside`] hands the
//! chunks over in the file's order, each event's evidence lines already in
//! the scratch database's spill file (their texts left out of the events,
//! the line numbers kept, as the range readers do), the parser's last
//! events (its flush) last; when storing a chunk fails, parsing stops and
//! that error is returned.

use std::convert::Infallible;
use std::io::Read;
use std::sync::mpsc;

use grantwatch_parsers::quiet::QuietSkip;
use grantwatch_parsers::{Event, FileParser, LineCounts};

use crate::feed::{NoHooks, feed_chunk, utf8};
use crate::source::lines::{Chunk, ChunkReader};
use crate::store::{EvidenceSpill, SpillBatch};
use crate::text::BinaryRuns;

/// What one chunk (or the parser's flush at the end) adds to its file's
/// progress.
#[derive(Clone, Copy, Debug)]
pub(super) struct ChunkDelta {
    /// Offset just past the last line read, and that line's number.
    pub(super) byte_offset: u64,
    pub(super) line_no: u64,
    /// Lines cut at the length bound.
    pub(super) lines_cut: u64,
    /// Its lines by outcome.
    pub(super) counts: LineCounts,
    /// The envelope most lines came in, once detected.
    pub(super) envelope: Option<&'static str>,
    /// Bytes of the file it covered (0 for the flush).
    pub(super) bytes: u64,
}

/// A chunk of the file: its text (valid UTF-8 or mended) and place.
pub(super) struct ChunkText<'t> {
    pub(super) text: &'t str,
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) cut: u64,
}

impl<'t> ChunkText<'t> {
    /// `chunk`'s place, with `text`, its bytes as text.
    pub(super) fn of(text: &'t str, chunk: &Chunk<'_>) -> ChunkText<'t> {
        ChunkText {
            text,
            start: chunk.start,
            end: chunk.end,
            cut: chunk.cut,
        }
    }
}

/// Parses one chunk's lines, numbered after `line_no` (moved past them),
/// into `events`; returns what the chunk adds to the progress.
pub(super) fn parse_chunk<'t>(
    parser: &mut FileParser,
    quiet: Option<&QuietSkip>,
    chunk: ChunkText<'t>,
    line_no: &mut u64,
    runs: &mut BinaryRuns,
    events: &mut Vec<Event<'t>>,
) -> ChunkDelta {
    let before = parser.counts();
    let fed = feed_chunk(
        parser,
        quiet,
        chunk.text,
        line_no,
        runs,
        events,
        &mut NoHooks,
    );
    let mut counts = since(parser.counts(), before);
    counts.skipped += fed.binary_only;
    ChunkDelta {
        byte_offset: chunk.end,
        line_no: *line_no,
        lines_cut: chunk.cut,
        counts,
        envelope: parser.envelope().map(|e| e.as_str()),
        bytes: chunk.end - chunk.start,
    }
}

/// The parser's last events (what it held at the end of the file) into
/// `events`, and what they add to the progress of a file read up to
/// `byte_offset`, line `line_no`.
pub(super) fn flush<'t>(
    parser: &mut FileParser,
    (byte_offset, line_no): (u64, u64),
    events: &mut Vec<Event<'t>>,
) -> ChunkDelta {
    let before = parser.counts();
    parser.flush(events);
    ChunkDelta {
        byte_offset,
        line_no,
        // Pieces of split lines (CRI `P`, docker) joined past the bound.
        lines_cut: parser.joined_lines_cut(),
        counts: since(parser.counts(), before),
        envelope: parser.envelope().map(|e| e.as_str()),
        bytes: 0,
    }
}

/// The counts added between `before` and `after`.
pub(super) fn since(after: LineCounts, before: LineCounts) -> LineCounts {
    LineCounts {
        parsed: after.parsed - before.parsed,
        skipped: after.skipped - before.skipped,
        unknown: after.unknown - before.unknown,
    }
}

/// One chunk parsed beside the writer: its events (texts in the spill
/// file), where their lines are, and its progress.
pub(super) struct Parsed {
    pub(super) events: Vec<Event<'static>>,
    pub(super) places: Vec<u64>,
    pub(super) delta: ChunkDelta,
}

/// Why [`parse_beside`] stopped early.
#[derive(Debug)]
pub(super) enum Stopped<E> {
    /// Reading the file failed.
    Read(std::io::Error),
    /// Writing the evidence file failed.
    Spill(std::io::Error),
    /// Storing a chunk failed.
    Store(E),
}

/// Parses `chunks` (the file from line `line_no` on) on a thread of its own
/// and hands each chunk, in order, to `store` on the calling thread;
/// returns the parser (its counts and envelope) and the binary runs it met.
pub(super) fn parse_beside<R: Read + Send, E>(
    mut parser: FileParser,
    mut chunks: ChunkReader<R>,
    mut line_no: u64,
    spill: &EvidenceSpill,
    store: &mut dyn FnMut(Parsed) -> Result<(), E>,
) -> Result<(FileParser, BinaryRuns), Stopped<E>> {
    // Two chunks ahead at most: memory stays flat when the writer is the
    // slower.
    let (tx, rx) = mpsc::sync_channel::<Parsed>(2);
    std::thread::scope(|s| {
        let parsing = s.spawn(move || {
            let quiet = parser.quiet_skip();
            let mut runs = BinaryRuns::default();
            let mut room = SpillBatch::new();
            let mut at = (0, line_no);
            while let Some(chunk) = chunks.next_chunk().map_err(Stopped::Read)? {
                let text = utf8(chunk.text);
                let mut events = Vec::new();
                let delta = parse_chunk(
                    &mut parser,
                    quiet.as_deref(),
                    ChunkText::of(&text, &chunk),
                    &mut line_no,
                    &mut runs,
                    &mut events,
                );
                at = (delta.byte_offset, delta.line_no);
                if !hand_over(spill, &mut room, events, delta, &tx)? {
                    return Ok((parser, runs));
                }
            }
            let mut events = Vec::new();
            let delta = flush(&mut parser, at, &mut events);
            hand_over(spill, &mut room, events, delta, &tx)?;
            Ok::<_, Stopped<Infallible>>((parser, runs))
        });
        let mut stored = Ok(());
        // Ended by the parsing thread's end; leaving it early drops the
        // receiver, which stops that thread at its next chunk.
        for parsed in rx {
            stored = store(parsed);
            if stored.is_err() {
                break;
            }
        }
        let parsed = parsing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        stored.map_err(Stopped::Store)?;
        parsed.map_err(|stopped| match stopped {
            Stopped::Read(e) => Stopped::Read(e),
            Stopped::Spill(e) => Stopped::Spill(e),
            Stopped::Store(never) => match never {},
        })
    })
}

/// Writes the evidence lines of `events` to the spill file and sends the
/// chunk to the writer; `false` when the writer stopped taking chunks.
fn hand_over(
    spill: &EvidenceSpill,
    room: &mut SpillBatch,
    mut events: Vec<Event<'_>>,
    delta: ChunkDelta,
    tx: &mpsc::SyncSender<Parsed>,
) -> Result<bool, Stopped<Infallible>> {
    let places = spill
        .append_events(&mut events, room)
        .map_err(Stopped::Spill)?;
    let parsed = Parsed {
        events: events.into_iter().map(Event::into_owned).collect(),
        places,
        delta,
    };
    Ok(tx.send(parsed).is_ok())
}
