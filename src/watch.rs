//! `grantwatch watch`: follows log files as they grow ([`crate::tail`]),
//! parses what arrives, stores it with the checkpoint it was read up to, and
//! diagnoses new failures as they come (in [`Watcher::run`], on a thread of
//! their own: [`crate::diagnose::background`]; [`Watcher::round`] diagnoses
//! before it returns); the web side serves the database.
//!
//! Invariants (the "nothing lost, nothing twice" of docs/DESIGN.md):
//! - Every batch of events is committed with its file's checkpoint in one
//!   transaction ([`Store::commit_batch`]), in the order read, on the
//!   committer's thread (`watch/committer.rs`) while the next is parsed.
//! - The checkpoint never passes a record a parser still holds (a Rails
//!   request without its `Completed` line, an open dio block): it stays at
//!   the start of the chunk that record began in. After a crash those lines
//!   are read again; the events they give are stored once (an event is
//!   unique per source, line and kind) and the lines counted once (each
//!   source remembers the highest line it counted).
//! - A file is one source row per generation: a truncated or rewritten file
//!   starts a new generation, numbered from line 1.
//! - A record held too long (its file quiet for [`STALE_RECORD`]) is
//!   flushed as incomplete, so one lost `Completed` line cannot pin a
//!   checkpoint forever.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use grantwatch_parsers::{Event, FileParser, Format, LineCounts, detect};

use crate::diagnose;
use crate::feed::{feed_chunk, utf8};
use crate::live::{self, Live};
use crate::store::{SourceInfo, Store};
use crate::tail::{Checkpoint, FileKey, Lines, TailConfig, TailEvent, Tailer};
use crate::text::{BinaryRuns, text_of_line};

mod catch_up;
mod committer;
mod error;
mod followed;
mod options;
mod progress;
use catch_up::CatchUp;
use committer::Committer;
pub use error::{Error, Result};
use followed::Followed;
pub use options::{SourceSpec, WatchOptions};
use progress::{
    Counting, checkpoint, context_for, note_head, read_head, read_prefix, resume_point,
};

/// A file quiet this long with a record still held gets it flushed.
pub const STALE_RECORD: Duration = Duration::from_secs(30);

/// A file quiet this long has its lines held for reassembly cut into
/// records.
pub const RUN_QUIET: Duration = Duration::from_secs(1);

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Lines read.
    pub lines: u64,
    /// Events stored.
    pub events: u64,
    /// Failures diagnosed (new or re-diagnosed).
    pub diagnosed: usize,
}

/// The ingest side of `watch`: owns the reader's connection and the
/// committing thread's (`watch/committer.rs`).
pub struct Watcher {
    store: Store,
    /// Commits the batches the reader parses, on a thread of its own.
    committer: Committer,
    /// One tailer per source spec.
    tailers: Vec<Tailer>,
    opts: WatchOptions,
    files: HashMap<FileKey, Followed>,
    /// The latest generation the store knows of each file, at start.
    known: HashMap<FileKey, SourceInfo>,
    /// Files that were truncated: their next lines start a new generation.
    restarted: Vec<FileKey>,
    diagnosed_to: i64,
    /// When the last prune found nothing more to delete.
    pruned_at: Option<Instant>,
    /// What the web side shows of the daemon's current view.
    live: Arc<Live>,
    /// The database file's device and inode when it was opened.
    db_identity: Option<(u64, u64)>,
    /// When the database file was last looked at, and what was wrong.
    db_checked: Option<Instant>,
    db_problem: Option<String>,
}

/// The WAL's size, in pages of 4 KiB, at which the reader checkpoints it
/// itself: 64 MiB, sixteen times SQLite's default, which the diagnosis
/// thread's connection keeps (see [`Watcher::open`]).
const READER_CHECKPOINT_PAGES: u32 = 16_384;

/// The reader's busy handler: a millisecond between tries, for as long as
/// the store's usual busy timeout (5 s), then the commit fails (and reading
/// pauses and retries, as for any store error).
fn retry_each_millisecond(tries: i32) -> bool {
    std::thread::sleep(Duration::from_millis(1));
    tries < 5_000
}

/// Sets up a connection of the reader's (its own, and the committer's).
/// The diagnosis thread writes on a connection of its own: when a commit
/// meets its transaction, retry every millisecond rather than with SQLite's
/// default backoff (sleeps growing to 100 ms), so a line waits for the lock
/// no longer than the lock is held. The diagnosis thread's commits
/// checkpoint the WAL, on the other core, and it cuts the file back when
/// the reader is idle; these connections checkpoint only when the WAL
/// outgrows what that thread keeps up with. Checkpointing after its own
/// commits was a third of the reader's time catching up a backlog
/// (benches/README.md).
fn set_up_writer(store: &mut Store) -> crate::store::Result<()> {
    store.set_busy_handler(retry_each_millisecond)?;
    store.checkpoint_after_pages(READER_CHECKPOINT_PAGES)
}

/// The backlog left after a first start's first round from which it is
/// stored in bulk (`watch/catch_up.rs`): below, the first rounds' events go
/// to live indexes as any others.
pub const BULK_CATCH_UP_BYTES: u64 = 64 << 20;

/// How often the database file is looked at (deleted, replaced, overwritten).
const DB_CHECK_EVERY: Duration = Duration::from_secs(1);

/// How often retention looks for old data once it has caught up.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

impl Watcher {
    /// Opens (or creates) the database and resumes every file from its
    /// checkpoint.
    pub fn open(opts: WatchOptions) -> Result<Watcher> {
        // Before the daemon listens and the first line arrives, not on it
        // (see `grantwatch_parsers::warm_up`).
        grantwatch_parsers::warm_up();
        let mut store = Store::open(&opts.db)?;
        set_up_writer(&mut store)?;
        let committer = Committer::start(&opts.db, set_up_writer)?;
        let known: HashMap<FileKey, SourceInfo> = store
            .checkpoints()?
            .into_iter()
            .filter_map(|s| {
                let key = FileKey {
                    dev: s.dev?,
                    inode: s.inode?,
                };
                Some((key, s))
            })
            .collect();
        let checkpoints: Vec<Checkpoint> = known.values().filter_map(resume_point).collect();
        let tailers = opts
            .sources
            .iter()
            .map(|spec| {
                let config = TailConfig {
                    poll_read_bytes: opts.poll_read_bytes,
                    ..TailConfig::default()
                };
                Tailer::new(&spec.paths, checkpoints.clone(), config)
            })
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(Error::Specs)?;
        // The cursor committed with the last diagnoses, not the newest
        // event: events stored just before a crash are diagnosed now.
        let diagnosed_to = store.diagnosis_cursor()?;
        Ok(Watcher {
            store,
            committer,
            tailers,
            files: HashMap::new(),
            known,
            restarted: Vec::new(),
            diagnosed_to,
            pruned_at: None,
            live: Live::shared(),
            db_identity: live::database_identity(&opts.db),
            db_checked: None,
            db_problem: None,
            opts,
        })
    }

    /// The daemon's current view, for the web side.
    pub fn live(&self) -> Arc<Live> {
        Arc::clone(&self.live)
    }

    /// Writes the daemon's view into `live` (shared with the web side, and
    /// kept across the reader's restarts after a store error).
    #[must_use]
    pub fn with_live(mut self, live: Arc<Live>) -> Watcher {
        self.live = live;
        self
    }

    /// Looks at the database file now and then; a problem is told once on
    /// stderr (and on `/healthz`, which looks for itself).
    fn check_database(&mut self, now: Instant) {
        if self
            .db_checked
            .is_some_and(|at| now.saturating_duration_since(at) < DB_CHECK_EVERY)
        {
            return;
        }
        self.db_checked = Some(now);
        let problem = live::database_problem(&self.opts.db, self.db_identity);
        if let Some(p) = problem
            .as_ref()
            .filter(|p| self.db_problem.as_ref() != Some(*p))
        {
            eprintln!("grantwatch: {p}");
        }
        self.db_problem = problem;
    }

    /// Runs rounds until `stop` is set, waking on notify events or every
    /// `poll_interval`; `on_round` hears of every round that completed.
    pub fn run(mut self, stop: &AtomicBool, on_round: &mut dyn FnMut(&Round)) -> Result<()> {
        let wake = if self.opts.notify {
            let dirs: Vec<_> = self.tailers.iter().flat_map(Tailer::watch_dirs).collect();
            match crate::tail::waker(&dirs) {
                Ok(w) => Some(w),
                Err(e) => {
                    eprintln!("grantwatch: file events unavailable ({e}); polling only");
                    None
                }
            }
        } else {
            None
        };
        // Diagnosis on a thread of its own: storing a line never waits for
        // a re-diagnosis pass (append → visible stays in milliseconds).
        let mut diagnosis = diagnose::background::Background::start(
            &self.opts.db,
            self.opts.settings.clone(),
            self.opts.poll_interval,
        )?;
        let trace = diagnose::background::tracing();
        let empty = self.store.max_event_id()? == 0;
        let mut catch_up = CatchUp::new(empty, self.opts.bulk_catch_up_bytes, &diagnosis);
        while !stop.load(Ordering::Relaxed) {
            let began = Instant::now();
            let round = self.read_round(began)?;
            // Behind, the last batch is committed while the next is read;
            // caught up, everything read is committed before the wait.
            let behind = self.tailers.iter().any(Tailer::behind);
            let tailers = &self.tailers;
            let left = || {
                tailers
                    .iter()
                    .flat_map(|t| t.lag(began))
                    .map(|l| l.bytes)
                    .sum()
            };
            catch_up.after_round(&mut self.committer, &diagnosis, &left, behind)?;
            if !behind {
                self.committer.wait()?;
            }
            if round.events > 0 && !catch_up.in_bulk() {
                diagnosis.wake();
                if trace {
                    // The wall time it began, to set beside a writer's.
                    let wall = std::time::SystemTime::now()
                        .checked_sub(began.elapsed())
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0.0, |d| d.as_secs_f64());
                    eprintln!(
                        "grantwatch: read round: {:.1} ms, {} lines, {} events, began at {wall:.3}",
                        began.elapsed().as_secs_f64() * 1000.0,
                        round.lines,
                        round.events
                    );
                }
            }
            if let Some(e) = diagnosis.failed() {
                return Err(e);
            }
            on_round(&round);
            // Files waiting for a descriptor, or a budget spent: go on now.
            if behind {
                continue;
            }
            match &wake {
                Some((_, rx)) => {
                    let _ = rx.recv_timeout(self.opts.poll_interval);
                }
                None => std::thread::sleep(self.opts.poll_interval),
            }
        }
        // What was read is committed round by round: nothing to flush but
        // the batch in flight and the diagnosis of the last lines.
        self.committer.wait()?;
        catch_up.end(&mut self.committer, &diagnosis, false)?;
        diagnosis.finish()
    }

    /// One round: poll every file, store what arrived, diagnose it (and
    /// what it touches) before returning.
    pub fn round(&mut self, now: Instant) -> Result<Round> {
        let mut round = self.read_round(now)?;
        self.committer.wait()?;
        // Also when nothing new arrived but stored events are not diagnosed
        // yet (after a crash, or a store error that stopped a round).
        if round.events > 0 || self.diagnosed_to < self.store.max_event_id()? {
            round.diagnosed = self.diagnose()?;
        }
        Ok(round)
    }

    /// One round without the diagnosis: poll every file, store what
    /// arrived, flush stale records, prune.
    fn read_round(&mut self, now: Instant) -> Result<Round> {
        let mut round = Round::default();
        let mut events = Vec::new();
        for (stream, tailer) in self.tailers.iter_mut().enumerate() {
            match tailer.poll(now) {
                Ok(polled) => events.extend(polled.into_iter().map(|e| (stream, e))),
                Err(e) => eprintln!("grantwatch: polling failed: {e}"),
            }
        }
        for (stream, event) in events {
            if let Some(kind) = event.notice() {
                self.live.count_file_event(kind);
            }
            match event {
                TailEvent::Lines(lines) => {
                    let (l, e) = self.ingest(stream, lines, now)?;
                    round.lines += l;
                    round.events += e;
                }
                TailEvent::Truncated { file, path } => {
                    eprintln!(
                        "grantwatch: {} was truncated; reading it again from the start",
                        path.display()
                    );
                    self.close(file)?;
                    self.restarted.push(file);
                }
                // A checkpointed file whose head is no longer the one read
                // (rewritten while the daemon was down): its lines are a new
                // generation, never taken for the stored ones.
                TailEvent::Replaced {
                    file: Some(file), ..
                } => {
                    self.close(file)?;
                    self.restarted.push(file);
                }
                TailEvent::Closed { file, .. } => self.close(file)?,
                TailEvent::Unreadable { path, error } => {
                    eprintln!("grantwatch: cannot read {}: {error}", path.display());
                }
                TailEvent::Rotated { .. }
                | TailEvent::Replaced { .. }
                | TailEvent::Removed { .. } => {}
            }
        }
        let lag = self.tailers.iter().flat_map(|t| t.lag(now)).collect();
        self.live.set_lag(lag);
        self.check_database(now);
        round.events += self.flush_stale(now)?;
        self.prune(now)?;
        Ok(round)
    }

    /// One chunk of retention per round while there is old data, then a
    /// look every [`PRUNE_EVERY`]: a big prune never stalls reading.
    fn prune(&mut self, now: Instant) -> Result<()> {
        let Some(retain) = self.opts.retain else {
            return Ok(());
        };
        if self
            .pruned_at
            .is_some_and(|at| now.duration_since(at) < PRUNE_EVERY)
        {
            return Ok(());
        }
        let cut = chrono::Utc::now().timestamp_millis() - retain.as_millis() as i64;
        self.committer.wait()?;
        if self.store.prune_chunk(cut)? < u64::from(crate::store::PRUNE_CHUNK) {
            self.pruned_at = Some(now);
        }
        Ok(())
    }

    fn diagnose(&mut self) -> Result<usize> {
        // Late evidence re-diagnoses what it touches: live converges to
        // what `analyze` finds over the same files.
        let stats =
            diagnose::revisit::run(&mut self.store, &self.opts.settings, self.diagnosed_to)?;
        self.diagnosed_to = stats.last_event_id.max(self.diagnosed_to);
        Ok(stats.diagnosed)
    }

    /// Starts following the file that `lines` come from, if new: resumes its
    /// stored generation, or starts a new one.
    fn follow(&mut self, stream: usize, lines: &Lines, now: Instant) -> Result<()> {
        let spec = &self.opts.sources[stream];
        if !self.files.contains_key(&lines.file) {
            let fresh = lines.first_line_no == 1;
            let restarted = self.restarted.contains(&lines.file);
            let resumed = self
                .known
                .remove(&lines.file)
                .filter(|s| !(restarted || fresh && s.line_no > 0));
            self.restarted.retain(|k| *k != lines.file);
            let text = String::from_utf8_lossy(&lines.bytes);
            let (source, format) = match resumed {
                Some(s) => {
                    let format = Format::from_name(&s.format).unwrap_or(Format::Mixed);
                    (s, format)
                }
                None => {
                    let first: Vec<&str> = text
                        .lines()
                        .map(|l| text_of_line(l).1)
                        .take(grantwatch_parsers::DETECT_LINES)
                        .collect();
                    let format = spec.format.unwrap_or_else(|| detect(&first));
                    let key = (lines.file.dev, lines.file.inode);
                    let path = lines.path.to_string_lossy();
                    self.committer.wait()?;
                    let s =
                        self.store
                            .new_generation(&path, format.as_str(), key, &lines.head_hash)?;
                    (s, format)
                }
            };
            // The year and date of year-less lines come from the file's
            // head as `analyze` reads it (a logged `Date` header), not from
            // the lines this poll happened to read (after a restart, the
            // middle of the file).
            let on_disk = read_prefix(&lines.path, crate::source::SNIFF_BYTES);
            let head_text = on_disk
                .as_deref()
                .map_or(Cow::Borrowed(text.as_ref()), String::from_utf8_lossy);
            let ctx = context_for(&spec.context, &head_text, &lines.path);
            let start = (source.byte_offset, source.line_no);
            let head = read_head(&lines.path, start.0);
            // Read up to the resume point; this chunk moves it on.
            let read = Checkpoint {
                offset: start.0,
                line_no: start.1,
                ..lines.checkpoint()
            };
            self.files.insert(
                lines.file,
                Followed {
                    stream,
                    counted: source.read_line_no,
                    source,
                    parser: FileParser::new(format, ctx),
                    chunks: VecDeque::new(),
                    read,
                    last_data: now,
                    head,
                    binary: BinaryRuns::default(),
                },
            );
        }
        Ok(())
    }

    /// Parses and stores one batch of lines with its checkpoint.
    fn ingest(&mut self, stream: usize, lines: Lines, now: Instant) -> Result<(u64, u64)> {
        // A file two sources match is read by the first that found it.
        let taken = self
            .files
            .get(&lines.file)
            .is_some_and(|f| f.stream != stream);
        if taken {
            return Ok((0, 0));
        }
        if !self.files.contains_key(&lines.file) {
            // Judged on what arrived, and again when more arrives (a log
            // may start after a hole of NULs); JSON documents are read.
            let head = &lines.bytes[..lines.bytes.len().min(64 * 1024)];
            if let Some(why) = crate::text::not_a_log(head) {
                if self.live.set_skipped(&lines.path, Some(why)) {
                    eprintln!("grantwatch: skipping {}: {why}", lines.path.display());
                }
                return Ok((0, 0));
            }
            let _ = self.live.set_skipped(&lines.path, None);
        }
        self.follow(stream, &lines, now)?;
        let Some(f) = self.files.get_mut(&lines.file) else {
            return Ok((0, 0));
        };
        f.chunks.push_back((lines.first_line_no, f.read.offset));
        note_head(f, &lines);
        f.read = lines.checkpoint();
        f.last_data = now;
        let text = utf8(&lines.bytes);
        let mut events: Vec<Event<'_>> = Vec::new();
        let runs_before = f.binary;
        let quiet = f.parser.quiet_skip();
        let mut line_no = lines.first_line_no - 1;
        let mut counting = Counting {
            counted: f.counted,
            counts: LineCounts::default(),
        };
        feed_chunk(
            &mut f.parser,
            quiet.as_deref(),
            &text,
            &mut line_no,
            &mut f.binary,
            &mut events,
            &mut counting,
        );
        let counts = counting.counts;
        if f.binary != runs_before {
            self.live.set_binary(&lines.path, f.binary);
        }
        let progress = checkpoint(f, counts, lines.cut_lines);
        f.counted = f.counted.max(lines.end_line_no);
        let stored = events.len() as u64;
        let events = events.into_iter().map(Event::into_owned).collect();
        self.committer.send(f.source.id, events, progress)?;
        Ok((lines.end_line_no + 1 - lines.first_line_no, stored))
    }

    /// Flushes the records of files quiet for [`STALE_RECORD`].
    fn flush_stale(&mut self, now: Instant) -> Result<u64> {
        // Lines held for reassembly (an error body, a stack trace) are cut
        // into records once their file is quiet for a moment: a record a
        // logger was still writing when it was read is not cut in two, so
        // watch makes the records analyze makes.
        let quiet: Vec<FileKey> = self
            .files
            .iter()
            .filter(|(_, f)| {
                f.parser.oldest_pending_line().is_some()
                    && now.duration_since(f.last_data) >= RUN_QUIET
            })
            .map(|(k, _)| *k)
            .collect();
        let mut stored = 0;
        for key in quiet {
            stored += self.release(key)?;
        }
        let stale: Vec<FileKey> = self
            .files
            .iter()
            .filter(|(_, f)| {
                f.parser.oldest_pending_line().is_some()
                    && now.duration_since(f.last_data) >= STALE_RECORD
            })
            .map(|(k, _)| *k)
            .collect();
        for key in stale {
            stored += self.flush(key)?;
        }
        Ok(stored)
    }

    /// Cuts a file's held unknown lines into records and commits them.
    fn release(&mut self, key: FileKey) -> Result<u64> {
        let Some(f) = self.files.get_mut(&key) else {
            return Ok(0);
        };
        let mut events = Vec::new();
        f.parser.release(&mut events);
        if events.is_empty() {
            return Ok(0);
        }
        let progress = checkpoint(f, LineCounts::default(), 0);
        let stored = events.len() as u64;
        let events = events.into_iter().map(Event::into_owned).collect();
        self.committer.send(f.source.id, events, progress)?;
        Ok(stored)
    }

    /// Flushes a file's held records and commits its end as checkpoint.
    fn flush(&mut self, key: FileKey) -> Result<u64> {
        let Some(f) = self.files.get_mut(&key) else {
            return Ok(0);
        };
        let mut events = Vec::new();
        f.parser.flush(&mut events);
        let progress = checkpoint(f, LineCounts::default(), 0);
        let stored = events.len() as u64;
        let events = events.into_iter().map(Event::into_owned).collect();
        self.committer.send(f.source.id, events, progress)?;
        Ok(stored)
    }

    /// Stops following a file (gone, or truncated: its old generation ends).
    fn close(&mut self, key: FileKey) -> Result<()> {
        self.flush(key)?;
        self.files.remove(&key);
        Ok(())
    }
}
