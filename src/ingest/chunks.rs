//! A file read on one core, chunk after chunk (`analyze`): each chunk's
//! events and what it adds to the file's progress ([`ChunkDelta`]), parsed
//! ([`FileChunks`]) on the calling thread or, in a bulk load, on a thread of
//! its own beside the store's writer ([`Parsing`]). Beside the writer,
//! parsing and storing overlap on two cores: a folder of rotated logs or a
//! gzip file, read one file at a time on one core, took about twice as long
//! as the same bytes read in ranges (benches/README.md).
//!
//! Invariants: both give the same events, line numbers, counts and
//! progress for the same input, chunk for chunk. [`Parsing`] hands the
//! chunks over in the file's order, each event's evidence lines already in
//! the scratch database's spill file (their texts left out of the events,
//! the line numbers kept, as the range readers do), the parser's last
//! events (its flush) last; when storing a chunk fails, parsing stops and
//! that error is returned.

use std::convert::Infallible;
use std::io::Read;
use std::sync::{Arc, mpsc};

use grantwatch_parsers::quiet::QuietSkip;
use grantwatch_parsers::{Event, FileParser, LineCounts};

use super::owned_events::OwnedEvents;
use crate::feed::{NoHooks, feed_chunk, utf8};
use crate::source::lines::{Chunk, ChunkReader};
use crate::store::{EvidenceSpill, InFile, LogFileId, SpillBatch};
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

/// A file's parser and how far it has read, fed chunk after chunk.
pub(super) struct FileChunks {
    parser: FileParser,
    quiet: Option<Arc<QuietSkip>>,
    runs: BinaryRuns,
    /// Offset just past the last line read, and that line's number.
    byte_offset: u64,
    line_no: u64,
}

impl FileChunks {
    /// `parser` about to read the lines after `line_no`.
    pub(super) fn new(mut parser: FileParser, line_no: u64) -> FileChunks {
        FileChunks {
            quiet: parser.quiet_skip(),
            parser,
            runs: BinaryRuns::default(),
            byte_offset: 0,
            line_no,
        }
    }

    /// Parses `chunk`'s lines (`text`, its bytes as text) into `events`;
    /// returns what the chunk adds to the progress.
    pub(super) fn parse<'t>(
        &mut self,
        text: &'t str,
        chunk: &Chunk<'_>,
        events: &mut Vec<Event<'t>>,
    ) -> ChunkDelta {
        let before = self.parser.counts();
        let fed = feed_chunk(
            &mut self.parser,
            self.quiet.as_deref(),
            text,
            &mut self.line_no,
            &mut self.runs,
            events,
            &mut NoHooks,
        );
        let mut counts = since(self.parser.counts(), before);
        counts.skipped += fed.binary_only;
        self.byte_offset = chunk.end;
        ChunkDelta {
            byte_offset: chunk.end,
            line_no: self.line_no,
            lines_cut: chunk.cut,
            counts,
            envelope: self.parser.envelope().map(|e| e.as_str()),
            bytes: chunk.end - chunk.start,
        }
    }

    /// The parser's last events (what it held at the end of the file) into
    /// `events`, and what they add to the progress.
    pub(super) fn flush<'t>(&mut self, events: &mut Vec<Event<'t>>) -> ChunkDelta {
        let before = self.parser.counts();
        self.parser.flush(events);
        ChunkDelta {
            byte_offset: self.byte_offset,
            line_no: self.line_no,
            // Pieces of split lines (CRI `P`, docker) joined past the bound.
            lines_cut: self.parser.joined_lines_cut(),
            counts: since(self.parser.counts(), before),
            envelope: self.parser.envelope().map(|e| e.as_str()),
            bytes: 0,
        }
    }

    /// The parser (its counts and envelope) and the binary runs it met.
    pub(super) fn finish(self) -> (FileParser, BinaryRuns) {
        (self.parser, self.runs)
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
    pub(super) events: OwnedEvents,
    pub(super) places: Vec<u64>,
    pub(super) delta: ChunkDelta,
}

/// Why a [`Parsing`] stopped early.
#[derive(Debug)]
pub(super) enum Stopped<E> {
    /// Reading the file failed.
    Read(std::io::Error),
    /// Writing the evidence file failed.
    Spill(std::io::Error),
    /// Storing a chunk failed.
    Store(E),
}

/// A file being parsed on a thread of its own ([`Parsing::start`]): its
/// chunks, in order, as they come. Dropped unread, the thread stops at its
/// next chunk.
pub(super) struct Parsing {
    chunks: mpsc::Receiver<Parsed>,
    queued: ClosedOnDrop,
    thread: std::thread::JoinHandle<Result<(FileParser, BinaryRuns), Stopped<Infallible>>>,
}

/// How far a parsing thread may run ahead of the one taking its chunks.
#[derive(Clone, Copy, Debug)]
pub(super) struct Lead {
    /// Chunks handed over and not taken yet, at most.
    pub(super) chunks: usize,
    /// Their events, at most (unless one chunk holds more): a chunk of a
    /// log whose every line is an event holds megabytes of them.
    pub(super) events: usize,
}

impl Parsing {
    /// Parses `chunks` with `file` on a thread of its own, at most `lead`
    /// ahead of the one taking them, each chunk's evidence lines written to
    /// `spill` (those read unchanged from `log_file`, when the chunks'
    /// offsets are that file's, as their place in it).
    pub(super) fn start<R: Read + Send + 'static>(
        mut file: FileChunks,
        mut chunks: ChunkReader<R>,
        (spill, log_file): (Arc<EvidenceSpill>, Option<LogFileId>),
        lead: Lead,
    ) -> std::io::Result<Parsing> {
        let (tx, rx) = mpsc::sync_channel::<Parsed>(lead.chunks);
        let queued = Queued::new(lead.events);
        let sender = queued.clone();
        let thread = std::thread::Builder::new()
            .name("parse".into())
            .spawn(move || {
                let mut room = SpillBatch::new();
                let to = (&tx, &sender);
                while let Some(chunk) = chunks.next_chunk().map_err(Stopped::Read)? {
                    let text = utf8(chunk.text);
                    let mut events = Vec::new();
                    let delta = file.parse(&text, &chunk, &mut events);
                    let spilled = (&*spill, &mut room, in_file(log_file, &chunk, 0));
                    if !hand_over(spilled, events, delta, to)? {
                        return Ok(file.finish());
                    }
                }
                let mut events = Vec::new();
                let delta = file.flush(&mut events);
                hand_over((&spill, &mut room, None), events, delta, to)?;
                Ok(file.finish())
            })?;
        Ok(Parsing {
            chunks: rx,
            queued: ClosedOnDrop(queued),
            thread,
        })
    }

    /// Hands each chunk, in order, to `store` on the calling thread;
    /// returns the parser (its counts and envelope) and the binary runs it
    /// met. A failed `store` stops the parsing.
    pub(super) fn store_each<E>(
        self,
        store: &mut dyn FnMut(Parsed) -> Result<(), E>,
    ) -> Result<(FileParser, BinaryRuns), Stopped<E>> {
        let Parsing {
            chunks,
            queued,
            thread,
        } = self;
        let mut stored = Ok(());
        // Ended by the parsing thread's end; leaving it early drops the
        // receiver and closes the queue, which stops that thread at its
        // next chunk.
        for parsed in chunks {
            queued.0.taken(parsed.events.len());
            stored = store(parsed);
            if stored.is_err() {
                break;
            }
        }
        drop(queued);
        let parsed = thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        stored.map_err(Stopped::Store)?;
        parsed.map_err(|stopped| match stopped {
            Stopped::Read(e) => Stopped::Read(e),
            Stopped::Spill(e) => Stopped::Spill(e),
            Stopped::Store(never) => match never {},
        })
    }
}

/// The taking side's hold on the queue: dropped (a [`Parsing`] dropped
/// unread, or read to its end), the parsing thread waits for room no more
/// and stops at its next chunk.
#[derive(Debug)]
struct ClosedOnDrop(Queued);

impl Drop for ClosedOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The events handed over by a parsing thread and not taken yet, bounded.
#[derive(Clone, Debug)]
struct Queued(Arc<(std::sync::Mutex<QueueState>, std::sync::Condvar)>);

#[derive(Debug)]
struct QueueState {
    events: usize,
    limit: usize,
    closed: bool,
}

impl Queued {
    fn new(limit: usize) -> Queued {
        let state = QueueState {
            events: 0,
            limit,
            closed: false,
        };
        Queued(Arc::new((
            std::sync::Mutex::new(state),
            std::sync::Condvar::new(),
        )))
    }

    /// Waits until `n` more events fit (always when none is queued), then
    /// counts them; `false` when the taker is gone.
    fn wait_for_room(&self, n: usize) -> bool {
        let (lock, room) = &*self.0;
        let mut q = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while !q.closed && q.events > 0 && q.events + n > q.limit {
            q = room
                .wait(q)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        q.events += n;
        !q.closed
    }

    /// `n` events were taken.
    fn taken(&self, n: usize) {
        let (lock, room) = &*self.0;
        let mut q = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        q.events = q.events.saturating_sub(n);
        room.notify_all();
    }

    /// The taker is gone: no more waiting.
    fn close(&self) {
        let (lock, room) = &*self.0;
        lock.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .closed = true;
        room.notify_all();
    }
}

impl std::fmt::Debug for Parsing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsing").finish_non_exhaustive()
    }
}

/// Where `chunk`'s text lies in the log file `log_file` names, the stream
/// it was read from starting at offset `base` of the file: `None` without
/// such a file, or for a chunk holding a cut line (its text is then not
/// the file's bytes as they are).
pub(super) fn in_file<'c>(
    log_file: Option<LogFileId>,
    chunk: &Chunk<'c>,
    base: u64,
) -> Option<InFile<'c>> {
    log_file.filter(|_| chunk.cut == 0).map(|file| InFile {
        file,
        bytes: chunk.text,
        offset: base + chunk.start,
    })
}

/// Writes the evidence lines of `events` to the spill file (with `room`,
/// the batch to copy them to; those that are slices of `in_file` as their
/// place there) and hands the chunk over once the queue has room for it;
/// `false` when the taker is gone.
fn hand_over(
    (spill, room, in_file): (&EvidenceSpill, &mut SpillBatch, Option<InFile<'_>>),
    mut events: Vec<Event<'_>>,
    delta: ChunkDelta,
    (tx, queued): (&mpsc::SyncSender<Parsed>, &Queued),
) -> Result<bool, Stopped<Infallible>> {
    let places = spill
        .append_events(&mut events, room, in_file)
        .map_err(Stopped::Spill)?;
    let parsed = Parsed {
        events: OwnedEvents::copy_of(events),
        places,
        delta,
    };
    Ok(queued.wait_for_room(parsed.events.len()) && tx.send(parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// A chunk always fits an empty queue; one that would pass the bound
    /// waits until the taker takes what is queued; once the taker is gone
    /// nothing waits, and the parsing thread is told to stop.
    #[test]
    fn the_queue_holds_the_parser_back_by_its_events_until_taken() {
        let queued = Queued::new(10);
        assert!(queued.wait_for_room(25), "an empty queue takes any chunk");
        let parser = queued.clone();
        let (done, waited) = mpsc::channel();
        let thread = std::thread::spawn(move || done.send(parser.wait_for_room(5)));
        assert!(
            waited.recv_timeout(Duration::from_millis(100)).is_err(),
            "25 queued and 5 more: past the bound of 10"
        );
        queued.taken(25);
        assert_eq!(waited.recv_timeout(Duration::from_secs(5)), Ok(true));
        thread.join().expect("join").expect("sent");

        let parser = queued.clone();
        let (done, waited) = mpsc::channel();
        let thread = std::thread::spawn(move || done.send(parser.wait_for_room(10)));
        assert!(waited.recv_timeout(Duration::from_millis(100)).is_err());
        queued.close();
        assert_eq!(waited.recv_timeout(Duration::from_secs(5)), Ok(false));
        thread.join().expect("join").expect("sent");
    }
}
