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
//! - While paused ([`Background::pause`], a first start storing its backlog
//!   with the events' indexes dropped: `watch/catch_up.rs`) no pass starts,
//!   and a pass under way stops before its next step; `pause` returns once
//!   none runs. [`Background::resume`] starts one at once.
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
    /// No pass starts until resumed (a catch-up stores the backlog with
    /// the events' indexes dropped).
    paused: bool,
    /// A pass (or the WAL's cut) runs now.
    passing: bool,
    /// The next pass diagnoses a backlog stored in bulk, as `analyze` does
    /// after its read ([`Background::resume_after_catch_up`]).
    after_catch_up: bool,
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
        let db = db.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("diagnosis".into())
            .spawn(move || passes(&mut store, &db, &settings, &theirs, recheck))
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

    /// Starts no pass until [`Background::resume`]; returns once the pass
    /// running now, if any, has ended (it stops at its next step).
    pub fn pause(&self) {
        let (lock, cvar) = &*self.shared;
        let mut s = lock.lock().unwrap_or_else(PoisonError::into_inner);
        s.paused = true;
        cvar.notify_all();
        while s.passing && !self.thread.as_ref().is_none_or(JoinHandle::is_finished) {
            s = cvar
                .wait_timeout(s, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Lets passes run again, the next one at once.
    pub fn resume(&self) {
        self.signal(|s| {
            s.paused = false;
            s.pending = true;
        });
    }

    /// [`Background::resume`] after a backlog was stored in bulk into a
    /// database that held no events: the next pass diagnoses it on every
    /// core, [`SLICE`](super::SLICE) failures a transaction, as `analyze`
    /// diagnoses after its read (one pass of `revisit` over a Keycloak
    /// gigabyte held all its 45,808 diagnoses at once, 280 MB of peak
    /// memory, and wrote them in one transaction).
    pub fn resume_after_catch_up(&self) {
        self.signal(|s| {
            s.paused = false;
            s.pending = true;
            s.after_catch_up = true;
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
        cvar.notify_all();
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
    db: &Path,
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
            if !s.pending && !s.finish && !s.abort && !s.paused {
                let (guard, waited) = cvar
                    .wait_timeout(s, recheck)
                    .unwrap_or_else(PoisonError::into_inner);
                s = guard;
                idle = waited.timed_out() && !s.pending;
            }
            while s.paused && !s.finish && !s.abort {
                s = cvar.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
            if s.abort {
                return Ok(());
            }
            s.pending = false;
            s.passing = true;
            (s.finish, idle)
        };
        let passed = catch_up_pass(store, db, settings, shared, &mut cursor).and_then(|()| {
            pass_until_caught_up(store, settings, shared, recheck, &mut cursor, idle)
        });
        {
            let mut s = lock.lock().unwrap_or_else(PoisonError::into_inner);
            s.passing = false;
            cvar.notify_all();
        }
        if !passed? || finishing {
            return Ok(());
        }
    }
}

/// The diagnosis of a backlog stored in bulk, when one was announced: on
/// every core from `cursor`, as `analyze --db` diagnoses, the events read
/// as they change (the reader goes on committing meanwhile).
fn catch_up_pass(
    store: &mut Store,
    db: &Path,
    settings: &DiagnoseSettings,
    shared: &Shared,
    cursor: &mut i64,
) -> Result<()> {
    let announced = std::mem::take(
        &mut shared
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .after_catch_up,
    );
    if !announced {
        return Ok(());
    }
    let cores = super::Cores {
        jobs: std::thread::available_parallelism().map_or(1, usize::from),
        ..super::Cores::default()
    };
    let stats = super::run_on_cores(store, db, settings, *cursor, cores)?;
    *cursor = (*cursor).max(stats.last_event_id);
    Ok(())
}

/// Cuts the WAL back when `idle`, then runs passes until `cursor` covers
/// the newest event, or until paused. `Ok(false)`: told to end now.
fn pass_until_caught_up(
    store: &mut Store,
    settings: &DiagnoseSettings,
    shared: &Shared,
    recheck: Duration,
    cursor: &mut i64,
    idle: bool,
) -> Result<bool> {
    let (lock, cvar) = &**shared;
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
    while store.max_event_id()? > *cursor {
        let began = Instant::now();
        let woken_at = {
            let mut s = lock.lock().unwrap_or_else(PoisonError::into_inner);
            if s.paused {
                return Ok(true);
            }
            s.woken_at.take()
        };
        let mut trace = revisit::PassTrace::default();
        let stats = revisit::run_traced(store, settings, *cursor, &mut trace)?;
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
        *cursor = (*cursor).max(stats.last_event_id);
        let ended = Instant::now();
        let rest = ended
            .saturating_duration_since(began)
            .clamp(MIN_REST, recheck.max(MIN_REST));
        let mut s = lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !s.abort && !s.finish && !s.paused {
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
            return Ok(false);
        }
    }
    Ok(true)
}
