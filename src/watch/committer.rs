//! The reader's commits on a thread of their own: while one batch of
//! events is written with its checkpoint ([`Store::commit_batch`]) on the
//! committer's connection, the reader parses the next. Catching up a
//! backlog, the commits were half of the reader's time (benches/README.md).
//!
//! Invariants:
//! - Batches are committed in the order they were handed over, each with
//!   its checkpoint in one transaction, as the reader did itself: a crash
//!   leaves the store at a batch boundary, and a restart resumes there.
//! - At most one batch is in flight: [`Committer::send`] waits for the
//!   previous one first, so memory holds one batch being written and one
//!   being parsed, and a failed commit is known before the next is sent.
//! - The reader writes on its own connection only after [`Committer::wait`]
//!   (a new generation, retention, a diagnosis pass in `round`), so the two
//!   connections never wait on each other's write lock.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use grantwatch_parsers::Event;

use crate::store::{BatchProgress, Store};

use super::{Error, Result};

/// One batch of events and the checkpoint it brings its file to.
struct Batch {
    source_id: i64,
    events: Vec<Event<'static>>,
    progress: BatchProgress,
}

/// The handle of the committing thread.
pub(super) struct Committer {
    jobs: Option<SyncSender<Batch>>,
    done: Receiver<crate::store::Result<()>>,
    in_flight: bool,
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
        let (jobs, inbox) = sync_channel::<Batch>(1);
        let (outbox, done) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || {
                for b in inbox {
                    let committed = store
                        .commit_batch(b.source_id, &b.events, &b.progress)
                        .map(drop);
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
            thread: Some(thread),
        })
    }

    /// Hands over `events` of `source_id` with their checkpoint, once the
    /// previous batch is committed; its error, if it failed, instead.
    pub(super) fn send(
        &mut self,
        source_id: i64,
        events: Vec<Event<'static>>,
        progress: BatchProgress,
    ) -> Result<()> {
        self.wait()?;
        let batch = Batch {
            source_id,
            events,
            progress,
        };
        let jobs = self.jobs.as_ref().ok_or_else(gone)?;
        jobs.send(batch).map_err(|_| gone())?;
        self.in_flight = true;
        Ok(())
    }

    /// Waits until every batch handed over is committed.
    pub(super) fn wait(&mut self) -> Result<()> {
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
    /// Lets the batch in flight be committed, then ends the thread.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
