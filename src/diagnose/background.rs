//! The diagnosis passes of `watch` on a thread of their own, with a
//! connection of their own, so that storing a line never waits for a
//! re-diagnosis: the reader commits its batches and wakes this thread,
//! which runs [`revisit::run`] until the cursor covers the newest event.
//!
//! Invariants:
//! - The cursor is only ever moved by [`revisit::run`], in the transaction
//!   that writes the diagnoses it covers: a `kill -9` at any point leaves
//!   the stored events after the cursor to the next start.
//! - Wake-ups coalesce: however many rounds the reader commits during a
//!   pass, the next pass covers them all at once. While new events keep
//!   coming, the thread rests between two passes as long as the last one
//!   took (at least [`MIN_REST`], at most `recheck`, the poll interval): it
//!   takes at most about half a core from the reader and the web side,
//!   and a failure waits for a pass about as long as a pass lasts.
//! - New events the reader did not announce (another writer: the fleet
//!   receivers) are found by a look at the newest event id every
//!   `recheck` (one indexed query).
//! - Each time a whole `recheck` passes without new events from the reader,
//!   the WAL file is cut back if it grew past [`IDLE_WAL_BYTES`] (the reader
//!   leaves checkpoints to this thread's commits, so a backlog grows it),
//!   unless a writer or a reader is in the way (another writer, the fleet
//!   receivers, may still be writing: then it waits for the next time).
//! - [`Background::finish`] runs a last pass over everything committed
//!   before it was called, then ends the thread; a store error ends the
//!   thread at once and is handed to the reader ([`Background::failed`]),
//!   which restarts from the database like after its own errors.

use std::path::Path;
use std::sync::{Arc, Condvar, LazyLock, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::revisit;
use crate::config::DiagnoseSettings;
use crate::store::Store;
use crate::watch::{Error, Result};

/// The shortest rest between two passes while events keep coming: a pass
/// costs a transaction whatever it covers, so a steady trickle is diagnosed
/// in passes of a few rounds each rather than one per round.
pub const MIN_REST: Duration = Duration::from_millis(10);

/// The size past which the WAL file is cut back once the daemon is idle.
pub const IDLE_WAL_BYTES: u64 = 16 * 1024 * 1024;

/// What the reader tells the thread.
#[derive(Default)]
struct Signal {
    /// New events were committed since the last pass began.
    pending: bool,
    /// Run a last pass, then end.
    finish: bool,
    /// End now, without a last pass (the reader is restarting).
    abort: bool,
    /// When the reader first announced events no pass has started on.
    woken_at: Option<Instant>,
}

/// Whether each pass is told on stderr (`GRANTWATCH_TRACE_DIAGNOSIS=1`):
/// how long its events waited for it, and where it spent its time.
static TRACE: LazyLock<bool> =
    LazyLock::new(|| std::env::var_os("GRANTWATCH_TRACE_DIAGNOSIS").is_some_and(|v| v != "0"));

type Shared = Arc<(Mutex<Signal>, Condvar)>;

/// Whether `GRANTWATCH_TRACE_DIAGNOSIS` asks for the trace (the reader
/// tells its rounds with it).
pub fn tracing() -> bool {
    *TRACE
}

/// The handle of the diagnosis thread.
pub struct Background {
    shared: Shared,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Background {
    /// Opens a connection to `db` and starts the thread; the first pass
    /// starts at once from the committed cursor (events stored before a
    /// crash are diagnosed without waiting for new lines).
    pub fn start(db: &Path, settings: DiagnoseSettings, recheck: Duration) -> Result<Background> {
        let mut store = Store::open(db)?;
        let shared: Shared = Arc::new((
            Mutex::new(Signal {
                pending: true,
                ..Signal::default()
            }),
            Condvar::new(),
        ));
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("diagnosis".into())
            .spawn(move || passes(&mut store, &settings, &theirs, recheck))
            .map_err(|e| Error::Thread(e.to_string()))?;
        Ok(Background {
            shared,
            thread: Some(thread),
        })
    }

    /// New events were committed: a pass will cover them.
    pub fn wake(&self) {
        self.signal(|s| {
            s.pending = true;
            s.woken_at.get_or_insert_with(Instant::now);
        });
    }

    /// The error that ended the thread, if it ended on one.
    pub fn failed(&mut self) -> Option<Error> {
        if !self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            return None;
        }
        self.join().err()
    }

    /// Diagnoses what is committed and not diagnosed yet, then ends the
    /// thread.
    pub fn finish(mut self) -> Result<()> {
        self.signal(|s| s.finish = true);
        self.join()
    }

    fn signal(&self, f: impl FnOnce(&mut Signal)) {
        let (lock, cvar) = &*self.shared;
        f(&mut lock.lock().unwrap_or_else(PoisonError::into_inner));
        cvar.notify_one();
    }

    fn join(&mut self) -> Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Thread("it panicked".into())),
        }
    }
}

impl Drop for Background {
    /// The reader is going away on an error: the thread ends after its
    /// current pass (which commits or not as a whole).
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.signal(|s| s.abort = true);
            let _ = self.join();
        }
    }
}

/// The thread: a pass whenever there is something new, until told to end.
fn passes(
    store: &mut Store,
    settings: &DiagnoseSettings,
    shared: &Shared,
    recheck: Duration,
) -> Result<()> {
    let (lock, cvar) = &**shared;
    let mut cursor = store.diagnosis_cursor()?;
    loop {
        let (finishing, idle) = {
            let mut s = lock.lock().unwrap_or_else(PoisonError::into_inner);
            let mut idle = false;
            if !s.pending && !s.finish && !s.abort {
                let (guard, waited) = cvar
                    .wait_timeout(s, recheck)
                    .unwrap_or_else(PoisonError::into_inner);
                s = guard;
                idle = waited.timed_out() && !s.pending;
            }
            if s.abort {
                return Ok(());
            }
            s.pending = false;
            (s.finish, idle)
        };
        // A whole poll interval without new events: the reader checkpoints
        // only past 64 MiB (`Watcher::open`), so the WAL file may have grown
        // that far; cut it back if no one is writing or reading it then. A
        // failure to is said and costs nothing else: the file stays.
        if idle && let Err(e) = store.truncate_wal_over(IDLE_WAL_BYTES) {
            eprintln!("grantwatch: could not cut the WAL file back: {e}");
        }
        // Passes until caught up: events committed during a pass are
        // covered by the next one, which starts after a rest as long as
        // this one took (unless finishing). A pass costs what its new
        // events can change (`revisit`), so under a steady stream the
        // passes keep pace with it; the rest keeps back-to-back passes
        // from taking a core from the reader and the web side. (It was a
        // whole poll interval, 250 ms, when a pass re-diagnosed every
        // failure of the last minute: then the wait for the next pass was
        // most of a failure's time to the dashboard.)
        while store.max_event_id()? > cursor {
            let began = Instant::now();
            let woken_at = lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .woken_at
                .take();
            let mut trace = revisit::PassTrace::default();
            let stats = revisit::run_traced(store, settings, cursor, &mut trace)?;
            if *TRACE {
                let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                eprintln!(
                    "grantwatch: diagnosis pass: waited {:.1} ms, select {:.1} ms, regroup {:.1} ms, write {:.1} ms; {} new candidates, {} failures touched, {} diagnosed",
                    woken_at.map_or(0.0, |w| ms(began.saturating_duration_since(w))),
                    ms(trace.select),
                    ms(trace.regroup),
                    ms(trace.write),
                    trace.new_candidates,
                    trace.touched,
                    stats.diagnosed
                );
            }
            cursor = cursor.max(stats.last_event_id);
            let ended = Instant::now();
            let rest = ended
                .saturating_duration_since(began)
                .clamp(MIN_REST, recheck.max(MIN_REST));
            let mut s = lock.lock().unwrap_or_else(PoisonError::into_inner);
            while !s.abort && !s.finish {
                let left = rest.saturating_sub(ended.elapsed());
                if left.is_zero() {
                    break;
                }
                s = cvar
                    .wait_timeout(s, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if s.abort {
                return Ok(());
            }
        }
        if finishing {
            return Ok(());
        }
    }
}
