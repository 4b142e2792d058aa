//! Receiving logs from the shippers teams already run: OTLP/HTTP
//! (`POST /v1/logs`, [`otlp`]), HTTP JSON (`POST /api/ingest`, [`records`])
//! and syslog over TCP and UDP (`--syslog`, [`syslog`]), served by `watch`.
//!
//! Every receiver turns what arrived into [`Record`]s (a stream name, the
//! shipper's time, the line) and hands them to the one [`Fleet`] writer
//! thread ([`writer`]), which gives each stream its own source row and its
//! own parser state (a `FileParser`: envelopes off, format detected from the
//! stream's first lines), exactly as a file is read.
//!
//! Invariants:
//! - A batch is answered only after its events, its streams' line counts
//!   and the lines their parsers still hold are committed to SQLite, in one
//!   transaction with the batch's digest: a crash before the answer makes
//!   the shipper retry, a crash after loses nothing (held lines are
//!   replayed into a fresh parser when the stream comes back).
//! - Shippers deliver at least once. A batch whose digest (stream, time and
//!   line of every record, in order) was stored within [`DEDUPE_WINDOW`] is
//!   answered as stored and stores nothing; a record with a shipper time
//!   whose digest (stream, time, line, and its rank among equal records of
//!   its batch) was stored within [`RECORD_WINDOW`] is skipped, so a retry
//!   cut into other batches, or sent after a restart, stores nothing twice.
//! - Memory is bounded ([`budget`]): a request body is at most `max_bytes`
//!   (413 beyond, inflated too); at most [`FleetOptions::max_bodies`]
//!   bodies are read at once (503 beyond), and as many as the cores
//!   decoded at once (the others wait, read and charged); what bodies, their
//!   decoding and the batches waiting for the writer take is charged to one
//!   budget of [`FleetOptions::queue_bytes`] before it is taken (429 when it
//!   does not fit); the streams' parser state is kept under
//!   [`FleetOptions::stream_bytes`] and [`FleetOptions::max_streams`] by
//!   dropping the quietest streams' state, committed first, from memory.

mod batch;
pub mod budget;
pub mod http;
pub mod metrics;
mod options;
pub mod otlp;
mod record;
pub mod records;
pub mod syslog;
mod writer;

use std::path::Path;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use batch::Job;
pub use batch::{Accepted, DEDUPE_WINDOW, RECORD_WINDOW, batch_digest, record_digests};
pub use options::{DEFAULT_MAX_BYTES, FleetOptions};
pub use record::{Record, source_path};

/// The answer's `Retry-After` when the writer is behind, in seconds.
pub const RETRY_AFTER_S: u64 = 1;

/// Why a batch was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    /// The writer is behind or the in-flight budget is spent: try again
    /// after [`RETRY_AFTER_S`] (429).
    #[error("the writer is behind; retry later")]
    Busy,
    /// As many bodies as allowed are being read: try again after
    /// [`RETRY_AFTER_S`] (503).
    #[error("too many request bodies in flight; retry later")]
    Crowded,
    /// The writer stopped or the store failed.
    #[error("cannot store now: {0}")]
    Down(String),
}

/// Why the receivers could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The writer's connection could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// The writer thread could not be started.
    #[error("cannot start the receivers' writer thread: {0}")]
    Thread(std::io::Error),
}

/// The receivers' shared side: the writer's queue, the budget, the bound on
/// bodies in flight and the counters.
pub struct Fleet {
    queue: Mutex<Option<SyncSender<Job>>>,
    budget: budget::Budget,
    bodies: Arc<tokio::sync::Semaphore>,
    /// Bodies inflated and decoded at once ([`DECODERS`]).
    decoders: Arc<tokio::sync::Semaphore>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    opts: FleetOptions,
    /// What `/metrics` shows of the receivers.
    pub counters: metrics::Counters,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("in_use", &self.budget.in_use())
            .finish_non_exhaustive()
    }
}

/// Batches waiting for the writer at most (each also counts its bytes).
const QUEUE_JOBS: usize = 256;

/// Bodies inflated and decoded at once (at least; the cores if more), on
/// tokio's blocking pool. Decoding is CPU work, so more than the cores
/// gains nothing; and every body decoded at once took a blocking thread of
/// its own (the pool grows to 512), each with its own allocator heap
/// holding the pages of what it decoded until the writer thread freed
/// them: 31 to 43 threads under the 500-client held flood, 12 to 20 with
/// this bound, and a peak of 223 MB against 262 MB (benches/README.md,
/// "The 500-client flood's memory, measured apart").
const DECODERS: usize = 2;

impl Fleet {
    /// Opens a writer connection to `db` and starts the writer thread.
    pub fn start(db: &Path, opts: FleetOptions) -> Result<Arc<Fleet>, StartError> {
        let store = crate::store::Store::open(db)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_JOBS);
        let counters = metrics::Counters::default();
        let thread = {
            let (opts, gauges) = (opts.clone(), counters.streams.clone());
            std::thread::Builder::new()
                .name("fleet-writer".into())
                .spawn(move || writer::run(store, rx, &opts, &gauges))
                .map_err(StartError::Thread)?
        };
        Ok(Arc::new(Fleet {
            queue: Mutex::new(Some(tx)),
            budget: budget::Budget::new(opts.queue_bytes),
            bodies: Arc::new(tokio::sync::Semaphore::new(opts.max_bodies.max(1))),
            decoders: Arc::new(tokio::sync::Semaphore::new(decoders())),
            writer: Mutex::new(Some(thread)),
            opts,
            counters,
        }))
    }

    /// The in-flight budget.
    pub fn budget(&self) -> &budget::Budget {
        &self.budget
    }

    /// The receivers' samples on `/metrics`.
    pub fn metrics(&self) -> String {
        self.counters
            .render(self.budget.in_use(), self.budget.total())
    }

    /// A place among the bodies read at once; `None` when all are taken
    /// (answer 503).
    pub fn admit_body(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.bodies).try_acquire_owned().ok()
    }

    /// A turn to inflate and decode a body, waited for (the body is read
    /// and charged already); `None` only if the semaphore were closed,
    /// which nothing does.
    pub async fn decode_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.decoders).acquire_owned().await.ok()
    }

    /// The receivers' settings.
    pub fn options(&self) -> &FleetOptions {
        &self.opts
    }

    /// Reserves `bytes` of the in-flight budget; `None` when they do not
    /// fit (answer 429).
    pub fn reserve(&self, bytes: usize) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.budget.try_charge(bytes)
    }

    /// Hands `records` to the writer and waits for their commit; a batch
    /// stored before (same digest, within [`DEDUPE_WINDOW`]) stores nothing,
    /// nor does a record with a time stored before (within
    /// [`RECORD_WINDOW`]). `charge` is what the records take on the budget
    /// (charged here when `None`, refused when it does not fit).
    pub async fn submit(
        &self,
        records: Vec<Record>,
        charge: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<Accepted, Refused> {
        let digest = batch_digest(&records);
        let charge = match charge {
            Some(c) => c,
            None => self
                .budget
                .try_charge(budget::records_cost(&records))
                .ok_or(Refused::Busy)?,
        };
        self.enqueue(records, Some(digest), Some(charge)).await
    }

    /// [`Fleet::submit`] without the duplicate checks (a transport with no
    /// retried request, where two equal lines are two lines), charged on
    /// the budget by the caller.
    pub async fn submit_undeduplicated(
        &self,
        records: Vec<Record>,
        charge: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<Accepted, Refused> {
        self.enqueue(records, None, charge).await
    }

    async fn enqueue(
        &self,
        records: Vec<Record>,
        digest: Option<[u8; 16]>,
        charge: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<Accepted, Refused> {
        if records.is_empty() {
            return Ok(Accepted::default());
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            digest,
            records,
            charge,
            reply,
        };
        let sent = {
            let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            match queue.as_ref() {
                Some(q) => q.try_send(job),
                None => return Err(Refused::Down("shutting down".into())),
            }
        };
        match sent {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Refused::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(Refused::Down("the writer stopped".into()));
            }
        }
        match answer.await {
            Ok(Ok(accepted)) => Ok(accepted),
            Ok(Err(why)) => Err(Refused::Down(why)),
            Err(_) => Err(Refused::Down("the writer stopped".into())),
        }
    }

    /// Stops taking batches, lets the writer commit the batches already
    /// queued (their senders get their answers), and waits for it.
    pub fn stop(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        let thread = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// [`DECODERS`] or the cores, whichever is more.
fn decoders() -> usize {
    std::thread::available_parallelism().map_or(DECODERS, |n| n.get().max(DECODERS))
}
