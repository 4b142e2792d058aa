//! Reading one large file on several cores (`analyze` into a scratch
//! database). The file is cut at line starts into one range per core; each
//! range's reader parses from its start with its own parser, and the lines
//! before that start are counted, not parsed (by all the readers at once,
//! `line_prefix.rs`), so its line numbers are the file's. A reader goes on
//! past its range's end, line by line, until it stands where the next
//! range's reader stood at rest at the end of one of its first chunks
//! (`FileParser::rest_mark` equal: nothing held that earlier lines set); it
//! hands over there. The next reader's events from
//! before that point are dropped, its counts from there on added.
//!
//! Invariants: what is stored and counted is what one reader of the whole
//! file stores and counts (`tests/it/ranges.rs` compares `analyze --json`
//! byte for byte); when no handover point is found within the window, or a
//! chunk holds binary bytes, nothing of the attempt is kept and the file
//! is read on one core. The store is written by the calling thread only.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use grantwatch_parsers::handover::{RestMark, Tally};
use grantwatch_parsers::{Context, Event, FileParser, Format};

use super::chunks::in_file;
use super::line_prefix::{LinePrefix, PrefixError};
use super::owned_events::OwnedEvents;
use crate::feed::{StopBefore, feed_chunk, utf8};
use crate::source::lines::{ChunkReader, read_full};
use crate::store::{
    BatchProgress, EventParts, EvidenceSpill, InFile, LogFileId, SpillBatch, Store,
};
use crate::text::BinaryRuns;

/// How `analyze` may split a file across cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// Readers at most (one per core).
    pub jobs: usize,
    /// No range is shorter: below twice this a file is read on one core.
    pub min_range_bytes: u64,
    /// Bytes per chunk a reader parses at once (its handover window is
    /// [`WINDOW_CHUNKS`] of them).
    pub chunk_bytes: usize,
}

impl Default for Split {
    /// One core.
    fn default() -> Self {
        Split {
            jobs: 1,
            // Files of 16 MiB and more are read in ranges: with 64 MiB the
            // least, a 100 MB log was read on one core, the diagnosis
            // following it, in 0.27-0.31 s; in two ranges it takes
            // 0.16-0.22 s (benches/README.md).
            min_range_bytes: 8 << 20,
            chunk_bytes: crate::source::lines::CHUNK_BYTES,
        }
    }
}

/// Whether handovers and give-ups are told on stderr
/// (`GRANTWATCH_TRACE_RANGES=1`), for the benches.
pub(super) static TRACE: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    std::env::var_os("GRANTWATCH_TRACE_RANGES").is_some_and(|v| v != "0")
});

/// Chunks at the start of a range (past the first) whose ends the previous
/// reader may hand over at.
const WINDOW_CHUNKS: usize = 16;

impl Split {
    /// How many ranges a file of `len` bytes is cut into at most (1: read
    /// on one core).
    pub(super) fn ranges(&self, len: u64) -> u64 {
        (len / self.min_range_bytes.max(1))
            .min(self.jobs as u64)
            .max(1)
    }

    /// Where the ranges of a file of `len` bytes start (the first at 0),
    /// each just after a newline; one start: read on one core.
    pub(super) fn starts(&self, path: &Path, len: u64) -> std::io::Result<Vec<u64>> {
        let n = self.ranges(len);
        let mut starts = vec![0];
        if n < 2 {
            return Ok(starts);
        }
        let mut file = File::open(path)?;
        let mut probe = vec![0u8; 64 * 1024];
        for k in 1..n {
            file.seek(SeekFrom::Start(len * k / n))?;
            let got = read_full(&mut file, &mut probe)?;
            let Some(nl) = memchr::memchr(b'\n', &probe[..got]) else {
                continue;
            };
            let start = len * k / n + nl as u64 + 1;
            if start < len && starts.last().is_some_and(|&s| start > s) {
                starts.push(start);
            }
        }
        Ok(starts)
    }
}

/// What a reader had counted at some point: its parser's tally and the
/// lines it cut.
#[derive(Clone, Copy, Debug, Default)]
struct Counted {
    tally: Tally,
    cut: u64,
}

/// A chunk end where a reader stood at rest, and what it had counted.
#[derive(Clone, Copy, Debug)]
struct Mark {
    offset: u64,
    rest: RestMark,
    counted: Counted,
}

/// The events of one chunk of one range.
struct Batch {
    range: usize,
    /// Offset just past the last line fed.
    end: u64,
    /// In the handover window: held until the previous reader hands over.
    window: bool,
    events: OwnedEvents,
    /// Where each event's evidence lines are in the spill file, when the
    /// reader wrote them there (their texts are then left out of `events`).
    places: Option<Vec<u64>>,
    /// Bytes of the reader's own range this chunk covered (for progress).
    bytes: u64,
}

enum Msg {
    Batch(Batch),
    /// Reader `range` stopped at `at`, where the next one's count resumes
    /// (`next_from`); `counted` is its own count there.
    HandedOver {
        range: usize,
        at: u64,
        next_from: Counted,
        counted: Counted,
    },
    /// The last reader reached the end of the file.
    Finished(Counted),
    /// No handover point, or binary bytes: read on one core.
    GiveUp,
    /// Reading the file failed, or writing the evidence file.
    Failed(ReadError),
}

/// What reading a file in ranges stored and counted.
#[derive(Debug, Default)]
pub(super) struct RangesRead {
    pub(super) tally: Tally,
    /// Lines cut, by the readers and by joining split lines.
    pub(super) lines_cut: u64,
    pub(super) events: u64,
}

/// One file to read in ranges.
pub(super) struct Job<'a> {
    pub(super) path: &'a Path,
    pub(super) len: u64,
    pub(super) starts: Vec<u64>,
    pub(super) format: Format,
    pub(super) ctx: &'a Context,
    pub(super) chunk_bytes: usize,
    pub(super) source_id: i64,
    /// The file's identity, written with every batch.
    pub(super) progress: BatchProgress,
    /// The scratch database's evidence file, which the readers write each
    /// event's lines to themselves: copying and writing every line was an
    /// eighth of a Keycloak gigabyte's read, on the one thread that
    /// stores (benches/README.md).
    pub(super) spill: Option<Arc<EvidenceSpill>>,
    /// This file as the spill names it: an evidence line the readers read
    /// from it unchanged is written as its place in it.
    pub(super) log_file: Option<LogFileId>,
}

/// Reads `job` on one thread per range and stores its events;
/// [`ReadError::GaveUp`] leaves nothing of the attempt in the store.
pub(super) fn read(
    store: &mut Store,
    job: &Job<'_>,
    on_batch: &mut dyn FnMut(&mut Store, u64) -> crate::store::Result<()>,
) -> Result<RangesRead, ReadError> {
    let n = job.starts.len();
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<Msg>(4 * n);
    let mut writer = Writer::new(n);
    let prefix = LinePrefix::new(job.path, &job.starts)?;
    let outcome = std::thread::scope(|s| {
        let mut marks_in = None;
        for index in (0..n).rev() {
            let (marks_tx, next_marks) = mpsc::channel();
            let range = Range {
                index,
                start: job.starts[index],
                end: job.starts.get(index + 1).copied(),
                job,
                prefix: &prefix,
                marks_in: marks_in.take(),
                marks_out: (index > 0).then_some(marks_tx),
            };
            marks_in = Some(next_marks);
            let tx = tx.clone();
            let stop = &stop;
            s.spawn(move || {
                if let Err(e) = range.read(&tx, stop) {
                    let _ = tx.send(Msg::Failed(e));
                }
            });
        }
        drop(tx);
        let mut outcome = Ok(());
        for msg in rx {
            if outcome.is_err() {
                continue;
            }
            outcome = writer.take(store, job, msg, on_batch);
            if outcome.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
        }
        outcome.and_then(|()| writer.flush(store, job, on_batch))
    });
    match outcome {
        Ok(()) => Ok(writer.totals()),
        Err(ReadError::GaveUp) => {
            store.forget_source_reading(job.source_id)?;
            Err(ReadError::GaveUp)
        }
        Err(e) => Err(e),
    }
}

/// Why reading in ranges stopped.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReadError {
    /// Read on one core instead.
    #[error("no handover point")]
    GaveUp,
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

/// The calling thread's side: commits batches in the order the handovers
/// allow and adds up the counts.
struct Writer {
    /// Window batches of each range, held until the previous hands over.
    held: Vec<Vec<Batch>>,
    /// Where each range's predecessor handed over to it (range 0: at 0).
    handed_at: Vec<Option<u64>>,
    /// Each range's count where it took over, and where it stopped.
    from: Vec<Counted>,
    to: Vec<Option<Counted>>,
    events: u64,
    /// The batches' events taken and not yet committed, each with where
    /// their lines are in the spill file (when the readers wrote them);
    /// how many events they hold, and the bytes they covered.
    pending: Vec<(OwnedEvents, Option<Vec<u64>>)>,
    pending_events: usize,
    pending_bytes: u64,
}

/// Events committed at once: the readers' batches are small (a chunk of a
/// log where a few lines in a hundred are about OAuth), and a transaction
/// per batch cost more in SQLite than the inserts.
const COMMIT_EVENTS: usize = 2048;

impl Writer {
    fn new(n: usize) -> Self {
        let mut handed_at = vec![None; n];
        handed_at[0] = Some(0);
        Writer {
            held: (0..n).map(|_| Vec::new()).collect(),
            handed_at,
            from: vec![Counted::default(); n],
            to: vec![None; n],
            events: 0,
            pending: Vec::new(),
            pending_events: 0,
            pending_bytes: 0,
        }
    }

    fn take(
        &mut self,
        store: &mut Store,
        job: &Job<'_>,
        msg: Msg,
        on_batch: &mut dyn FnMut(&mut Store, u64) -> crate::store::Result<()>,
    ) -> Result<(), ReadError> {
        match msg {
            Msg::Batch(batch) => match self.handed_at[batch.range] {
                None if batch.window => self.held[batch.range].push(batch),
                Some(at) if batch.end <= at => {}
                _ => self.commit(store, job, batch, on_batch)?,
            },
            Msg::HandedOver {
                range,
                at,
                next_from,
                counted,
            } => {
                let next = range + 1;
                if *TRACE {
                    eprintln!("ranges: {range} handed over to {next} at byte {at}");
                }
                self.handed_at[next] = Some(at);
                self.from[next] = next_from;
                self.to[range] = Some(counted);
                for batch in std::mem::take(&mut self.held[next]) {
                    if batch.end > at {
                        self.commit(store, job, batch, on_batch)?;
                    }
                }
            }
            Msg::Finished(counted) => {
                if let Some(last) = self.to.last_mut() {
                    *last = Some(counted);
                }
            }
            Msg::GiveUp => {
                if *TRACE {
                    eprintln!("ranges: no handover point, read on one core");
                }
                return Err(ReadError::GaveUp);
            }
            Msg::Failed(e) => return Err(e),
        }
        Ok(())
    }

    fn commit(
        &mut self,
        store: &mut Store,
        job: &Job<'_>,
        batch: Batch,
        on_batch: &mut dyn FnMut(&mut Store, u64) -> crate::store::Result<()>,
    ) -> Result<(), ReadError> {
        self.pending_events += batch.events.len();
        self.pending.push((batch.events, batch.places));
        self.pending_bytes += batch.bytes;
        if self.pending_events >= COMMIT_EVENTS {
            self.flush(store, job, on_batch)?;
        }
        Ok(())
    }

    /// Commits the events taken so far in one transaction.
    fn flush(
        &mut self,
        store: &mut Store,
        job: &Job<'_>,
        on_batch: &mut dyn FnMut(&mut Store, u64) -> crate::store::Result<()>,
    ) -> Result<(), ReadError> {
        // The readers' places when they wrote the lines (a batch without
        // any holds no event), else the store writes them.
        let spilled = job.spill.is_some();
        let parts: Vec<EventParts<'_, '_>> = self
            .pending
            .iter()
            .map(|(events, places)| {
                let places = spilled.then(|| places.as_deref().unwrap_or_default());
                (events.events(), places)
            })
            .collect();
        store.commit_parts(job.source_id, &parts, &job.progress)?;
        self.events += self.pending_events as u64;
        self.pending.clear();
        self.pending_events = 0;
        on_batch(store, std::mem::take(&mut self.pending_bytes))?;
        Ok(())
    }

    /// Each range's count from where it took over to where it stopped,
    /// added up.
    fn totals(&self) -> RangesRead {
        let mut tally = Tally::default();
        let mut cut = 0;
        for (from, to) in self.from.iter().zip(&self.to) {
            let to = to.unwrap_or_default();
            tally.add(&to.tally.since(&from.tally));
            cut += to.cut - from.cut;
        }
        RangesRead {
            lines_cut: cut + tally.joined_cut,
            tally,
            events: self.events,
        }
    }
}

/// One reader's range.
struct Range<'a> {
    index: usize,
    start: u64,
    /// Where the next range starts (`None`: the last range).
    end: Option<u64>,
    job: &'a Job<'a>,
    /// The lines before each range's start, counted by all the readers.
    prefix: &'a LinePrefix,
    /// The next reader's rest marks.
    marks_in: Option<mpsc::Receiver<Vec<Mark>>>,
    /// Where this reader sends its own (not for the first range).
    marks_out: Option<mpsc::Sender<Vec<Mark>>>,
}

/// Whether a reader past its range's end goes on, hands over, or gives up.
enum Step {
    Go,
    Hand(Box<Mark>),
    GiveUp,
}

impl Range<'_> {
    fn read(mut self, tx: &mpsc::SyncSender<Msg>, stop: &AtomicBool) -> Result<(), ReadError> {
        let job = self.job;
        let mut line_no = match self.prefix.lines_before(self.start, stop) {
            Ok(lines) => lines,
            Err(PrefixError::Io(e)) => return Err(e.into()),
            // Another reader failed and says why, or the read was stopped.
            Err(PrefixError::Stopped) => return Ok(()),
        };
        let mut file = File::open(job.path)?;
        file.seek(SeekFrom::Start(self.start))?;
        let mut chunks = ChunkReader::with_chunk_bytes(file, job.chunk_bytes);
        let mut parser = FileParser::new(job.format, job.ctx.clone());
        let quiet = parser.quiet_skip();
        let mut runs = BinaryRuns::default();
        let mut cut = 0;
        let mut marks = Vec::new();
        // Past the range's end: the next reader's marks, and the next to try.
        let mut seeking: Option<(Vec<Mark>, usize)> = None;
        let mut chunk_index = 0;
        let mut spilled = job.spill.as_ref().map(|_| SpillBatch::new());
        // Room for as many events as the last chunk gave and a quarter
        // more: an event is large, and growing the vector by doubling
        // copied each many times (with room for exactly as many, a chunk
        // with one event more than the last still grew it once, copying
        // all: about 1% of a Hydra log's samples, benches/README.md).
        let mut last_events = 0;
        while let Some(chunk) = chunks.next_chunk()? {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let (start, end) = (self.start + chunk.start, self.start + chunk.end);
            let text = utf8(chunk.text);
            let mut events = Vec::with_capacity(last_events + last_events / 4);
            let mut step = Step::Go;
            let fed = feed_chunk(
                &mut parser,
                quiet.as_deref(),
                &text,
                &mut line_no,
                &mut runs,
                &mut events,
                &mut StopBefore(|at, parser: &FileParser| {
                    let pos = start + at as u64;
                    if seeking.is_none() && Some(pos) == self.end {
                        // This range's marks first: the previous reader
                        // may be waiting for them.
                        if let Some(out) = self.marks_out.take() {
                            let _ = out.send(std::mem::take(&mut marks));
                        }
                        let next = self.marks_in.take().and_then(|rx| rx.recv().ok());
                        seeking = Some((next.unwrap_or_default(), 0));
                    }
                    let Some((marks, i)) = seeking.as_mut() else {
                        return false;
                    };
                    step = seek(marks, i, pos, parser.rest_mark());
                    !matches!(step, Step::Go)
                }),
            );
            if fed.stopped_at.is_none() {
                cut += chunk.cut;
            }
            let stopped = fed.stopped_at.map_or(end, |at| start + at as u64);
            let own_end = self.end.map_or(stopped, |e| stopped.min(e));
            let window = self.index > 0 && chunk_index < WINDOW_CHUNKS;
            last_events = events.len();
            let in_file = in_file(job.log_file, &chunk, self.start);
            let places = self.spill_lines(&mut events, spilled.as_mut(), in_file)?;
            let batch = Batch {
                range: self.index,
                end: stopped,
                window,
                events: OwnedEvents::copy_of(events),
                places,
                bytes: own_end.saturating_sub(start),
            };
            if tx.send(Msg::Batch(batch)).is_err() {
                return Ok(());
            }
            if runs.lines > 0 {
                let _ = tx.send(Msg::GiveUp);
                return Ok(());
            }
            match step {
                Step::Go => {}
                Step::GiveUp => {
                    let _ = tx.send(Msg::GiveUp);
                    return Ok(());
                }
                Step::Hand(mark) => {
                    let counted = Counted {
                        tally: parser.tally(),
                        cut,
                    };
                    let _ = tx.send(Msg::HandedOver {
                        range: self.index,
                        at: mark.offset,
                        next_from: mark.counted,
                        counted,
                    });
                    return Ok(());
                }
            }
            if window
                && seeking.is_none()
                && end < job.len
                && let Some(rest) = parser.rest_mark()
            {
                let counted = Counted {
                    tally: parser.tally(),
                    cut,
                };
                marks.push(Mark {
                    offset: end,
                    rest,
                    counted,
                });
            }
            chunk_index += 1;
            if chunk_index == WINDOW_CHUNKS {
                self.send_marks(&mut marks);
            }
        }
        self.send_marks(&mut marks);
        if self.end.is_some() {
            // Past its end and no handover before the end of the file.
            let _ = tx.send(Msg::GiveUp);
            return Ok(());
        }
        let mut events = Vec::new();
        parser.flush(&mut events);
        let places = self.spill_lines(&mut events, spilled.as_mut(), None)?;
        let batch = Batch {
            range: self.index,
            end: job.len,
            window: false,
            events: OwnedEvents::copy_of(events),
            places,
            bytes: 0,
        };
        let counted = Counted {
            tally: parser.tally(),
            cut,
        };
        let _ = tx.send(Msg::Batch(batch));
        let _ = tx.send(Msg::Finished(counted));
        Ok(())
    }

    /// Writes the evidence lines of `events` to the spill file when there
    /// is one (with `batch`, this reader's room for them; a line that is a
    /// slice of `in_file` as its place there) and leaves their texts out
    /// of the events, keeping the line numbers: returns where each event's
    /// lines are.
    fn spill_lines(
        &self,
        events: &mut [Event<'_>],
        batch: Option<&mut SpillBatch>,
        in_file: Option<InFile<'_>>,
    ) -> Result<Option<Vec<u64>>, ReadError> {
        let (Some(spill), Some(batch)) = (&self.job.spill, batch) else {
            return Ok(None);
        };
        // The evidence file's errors are the store's, not the log's: the
        // log is not unreadable because the temporary folder is full.
        let places = spill
            .append_events(events, batch, in_file)
            .map_err(|e| ReadError::Store(e.into()))?;
        Ok(Some(places))
    }

    fn send_marks(&mut self, marks: &mut Vec<Mark>) {
        if let Some(out) = self.marks_out.take() {
            let _ = out.send(std::mem::take(marks));
        }
    }
}

/// At line start `pos`, past the range's end: hand over at the next
/// reader's mark there if this reader stands as it stood, give up past the
/// last mark.
fn seek(marks: &[Mark], next: &mut usize, pos: u64, rest: Option<RestMark>) -> Step {
    while marks.get(*next).is_some_and(|m| m.offset < pos) {
        *next += 1;
    }
    match marks.get(*next) {
        None => Step::GiveUp,
        Some(m) if m.offset == pos && Some(m.rest) == rest => Step::Hand(Box::new(*m)),
        Some(_) => Step::Go,
    }
}
