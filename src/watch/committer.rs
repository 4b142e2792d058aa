//! The reader's commits on a thread of their own: while one batch of
//! events is written with its checkpoint ([`Store::commit_batch`]) on the
//! committer's connection, the reader parses the next. Catching up a
//! backlog, the commits were half of the reader's time (benches/README.md).
//!
//! Invariants:
//! - Batches are committed in the order they were handed over, each with
//!   its checkpoint in one transaction, as the reader did itself: a crash
//!   leaves the store at a batch boundary, and a restart resumes there.
//! - At most one batch is in flight. While it is, a batch handed over is
//!   held, and the next batches of the same file are merged into it (their
//!   events appended, their checkpoints absorbed, `BatchProgress::absorb`),
//!   up to [`HOLD_EVENTS`] events; past that, or for another file,
//!   [`Committer::send`] waits. Memory holds one batch being written, at
//!   most [`HOLD_EVENTS`] events held, and one batch being parsed. A held
//!   batch is sent only once the one before it committed, so a failed
//!   commit is known before the next is sent.
//! - A pass of the diagnosis thread holds the write lock while it writes
//!   (tens to hundreds of milliseconds in a catch-up); the reader goes on
//!   parsing meanwhile instead of waiting for the committer, and the
//!   batches it read are committed in one transaction when the lock is
//!   free. Catching up a 1 GB backlog, the reading stalled 100–200 ms at a
//!   time without (benches/README.md).
//! - Work the reader hands over for the committer's connection (a first
//!   start's catch-up in bulk begun or ended, `watch/catch_up.rs`) runs
//!   after every batch handed over before it is committed
//!   ([`Committer::run`]), and the reader waits for it.
//! - The reader writes on its own connection only after [`Committer::wait`]
//!   (a new generation, retention, a diagnosis pass in `round`), so the two
//!   connections never wait on each other's write lock.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use grantwatch_parsers::Event;

use crate::store::{BatchProgress, Store};

use super::{Error, Result};

/// What the thread is handed: a batch to commit, or work of the reader's
/// on the committer's connection (a catch-up's start and end, which must
/// be that connection's).
enum Job {
    Commit(Batch),
    Run(StoreWork),
}

/// Work on the committer's connection.
type StoreWork = Box<dyn FnOnce(&mut Store) -> crate::store::Result<()> + Send>;

/// One batch of events and the checkpoint it brings its file to.
struct Batch {
    source_id: i64,
    events: Vec<Event<'static>>,
    progress: BatchProgress,
}

impl Batch {
    /// Appends the batch read next from the same file.
    fn absorb(&mut self, later: Batch) {
        self.events.extend(later.events);
        self.progress.absorb(later.progress);
    }
}

/// Events held, at most, while a batch is in flight. A backlog of Rails
/// logs gives a few hundred events a read; one of Keycloak or Hydra,
/// where every line is an event, tens of thousands, which are not held.
pub(super) const HOLD_EVENTS: usize = 8192;

/// The handle of the committing thread.
pub(super) struct Committer {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<crate::store::Result<()>>,
    in_flight: bool,
    /// Handed over while a batch was in flight, not sent yet.
    held: Option<Batch>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    /// Opens a connection to `db` for the commits (set up by `setup`, as
    /// the reader's own) and starts the thread.
    pub(super) fn start(
        db: &Path,
        setup: fn(&mut Store) -> crate::store::Result<()>,
    ) -> Result<Committer> {
        let mut store = Store::open(db)?;
        setup(&mut store)?;
        let (jobs, inbox) = sync_channel::<Job>(1);
        let (outbox, done) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || {
                for job in inbox {
                    let committed = match job {
                        Job::Commit(b) => store
                            .commit_batch(b.source_id, &b.events, &b.progress)
                            .map(drop),
                        Job::Run(f) => f(&mut store),
                    };
                    if outbox.send(committed).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| Error::Thread(e.to_string()))?;
        Ok(Committer {
            jobs: Some(jobs),
            done,
            in_flight: false,
            held: None,
            thread: Some(thread),
        })
    }

    /// Hands over `events` of `source_id` with their checkpoint: sent at
    /// once if nothing is in flight, else held (merged into the batch held
    /// if they fit); the error of a commit before it, if one failed.
    pub(super) fn send(
        &mut self,
        source_id: i64,
        events: Vec<Event<'static>>,
        progress: BatchProgress,
    ) -> Result<()> {
        let batch = Batch {
            source_id,
            events,
            progress,
        };
        self.collect()?;
        if self.in_flight {
            let fits = match &self.held {
                None => batch.events.len() <= HOLD_EVENTS,
                Some(held) => {
                    held.source_id == batch.source_id
                        && held.events.len() + batch.events.len() <= HOLD_EVENTS
                }
            };
            if fits {
                match &mut self.held {
                    Some(held) => held.absorb(batch),
                    None => self.held = Some(batch),
                }
                return Ok(());
            }
        }
        self.await_in_flight()?;
        if let Some(held) = self.held.take() {
            self.dispatch(held)?;
            if batch.events.len() <= HOLD_EVENTS {
                self.held = Some(batch);
                return Ok(());
            }
            self.await_in_flight()?;
        }
        self.dispatch(batch)
    }

    /// Waits until every batch handed over is committed.
    pub(super) fn wait(&mut self) -> Result<()> {
        self.await_in_flight()?;
        if let Some(held) = self.held.take() {
            self.dispatch(held)?;
            self.await_in_flight()?;
        }
        Ok(())
    }

    /// Runs `f` on the committer's connection once every batch handed
    /// over is committed, and returns what it returned.
    pub(super) fn run<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Store) -> crate::store::Result<T> + Send + 'static,
    ) -> Result<T> {
        self.wait()?;
        let (value, ran) = sync_channel(1);
        self.send_job(Job::Run(Box::new(move |store| {
            let _ = value.send(f(store)?);
            Ok(())
        })))?;
        self.await_in_flight()?;
        ran.recv().map_err(|_| gone())
    }

    /// Sends `batch` to the thread (nothing is in flight).
    fn dispatch(&mut self, batch: Batch) -> Result<()> {
        self.send_job(Job::Commit(batch))
    }

    fn send_job(&mut self, job: Job) -> Result<()> {
        let jobs = self.jobs.as_ref().ok_or_else(gone)?;
        jobs.send(job).map_err(|_| gone())?;
        self.in_flight = true;
        Ok(())
    }

    /// Takes the answer of the batch in flight if it has come, without
    /// waiting.
    fn collect(&mut self) -> Result<()> {
        if !self.in_flight {
            return Ok(());
        }
        match self.done.try_recv() {
            Ok(committed) => {
                self.in_flight = false;
                Ok(committed?)
            }
            Err(TryRecvError::Empty) => Ok(()),
            Err(TryRecvError::Disconnected) => Err(gone()),
        }
    }

    /// Waits for the answer of the batch in flight, if one is.
    fn await_in_flight(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.in_flight) {
            return Ok(());
        }
        match self.done.recv() {
            Ok(committed) => Ok(committed?),
            Err(_) => Err(gone()),
        }
    }
}

/// The thread ended without an answer: it panicked.
fn gone() -> Error {
    Error::Thread("the committing thread ended".into())
}

impl Drop for Committer {
    /// Lets the batch in flight be committed, then ends the thread. A batch
    /// held is not sent (the reader is going away on an error, and resumes
    /// from what was committed).
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests;
