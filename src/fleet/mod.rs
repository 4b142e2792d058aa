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
//! - A batch whose digest (stream, time and line of every record, in order)
//!   was stored within [`DEDUPE_WINDOW`] is answered as stored and stores
//!   nothing: shippers deliver at least once and retry the same request.
//! - Memory is bounded: a request body is at most `max_bytes` (413 beyond),
//!   bodies being read and decoded at most [`FleetOptions::queue_bytes`]
//!   together, and batches waiting for the writer at most as many bytes;
//!   past that the receivers answer 429 with `Retry-After` (503 once the
//!   writer has stopped) instead of buffering.

pub mod http;
pub mod otlp;
pub mod records;
pub mod syslog;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grantwatch_parsers::Context;
use sha2::{Digest, Sha256};

/// How long a batch's digest is kept: a retry later than this is stored
/// again.
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(3600);

/// The default request-size limit (`--ingest-max-bytes`).
pub const DEFAULT_MAX_BYTES: usize = 16 * 1024 * 1024;

/// The answer's `Retry-After` when the writer is behind, in seconds.
pub const RETRY_AFTER_S: u64 = 1;

/// One received log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The stream it belongs to (pod, container, host, file, service).
    pub stream: String,
    /// The shipper's time of the record, as sent (only part of the digest:
    /// the line's own time is what the parsers read).
    pub time: String,
    /// The log line (several lines when the record carried a multi-line
    /// message).
    pub body: String,
}

/// How the receivers behave.
#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// The largest request body accepted, compressed or not.
    pub max_bytes: usize,
    /// Bytes of bodies in flight and batches queued for the writer, each.
    pub queue_bytes: usize,
    /// `--syslog ADDR`: TCP and UDP.
    pub syslog: Option<String>,
    /// Parser settings of every stream.
    pub context: Context,
    /// A stream quiet this long has its open records flushed (as a quiet
    /// file's are).
    pub flush_after: Duration,
    /// Streams kept in memory at once: past this the one quiet longest is
    /// dropped from memory (its held lines are in the store and replayed
    /// when it sends again), so many stream names cannot exhaust memory.
    pub max_streams: usize,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            max_bytes: DEFAULT_MAX_BYTES,
            queue_bytes: 4 * DEFAULT_MAX_BYTES,
            syslog: None,
            context: Context::default(),
            flush_after: crate::watch::STALE_RECORD,
            max_streams: 4096,
        }
    }
}

/// Why a batch was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    /// The writer is behind: try again after [`RETRY_AFTER_S`].
    #[error("the writer is behind; retry later")]
    Busy,
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

/// What a stored batch gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Records taken.
    pub records: u64,
    /// Events stored (records about OAuth, assembled).
    pub events: u64,
    /// The batch was stored before (a retry): nothing stored again.
    pub duplicate: bool,
}

/// A batch on its way to the writer.
struct Job {
    records: Vec<Record>,
    /// `None`: not checked for a retry.
    digest: Option<[u8; 16]>,
    bytes: usize,
    reply: tokio::sync::oneshot::Sender<Result<Accepted, String>>,
}

/// The receivers' shared side: the writer's queue and the byte budgets.
pub struct Fleet {
    queue: Mutex<Option<SyncSender<Job>>>,
    queued: Arc<AtomicUsize>,
    inflight: Arc<tokio::sync::Semaphore>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    opts: FleetOptions,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Batches waiting for the writer at most (each also counts its bytes).
const QUEUE_JOBS: usize = 256;

impl Fleet {
    /// Opens a writer connection to `db` and starts the writer thread.
    pub fn start(db: &Path, opts: FleetOptions) -> Result<Arc<Fleet>, StartError> {
        let store = crate::store::Store::open(db)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_JOBS);
        let queued = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (queued, opts) = (queued.clone(), opts.clone());
            std::thread::Builder::new()
                .name("fleet-writer".into())
                .spawn(move || writer::run(store, rx, &queued, &opts))
                .map_err(StartError::Thread)?
        };
        let permits = opts.queue_bytes.min(tokio::sync::Semaphore::MAX_PERMITS);
        Ok(Arc::new(Fleet {
            queue: Mutex::new(Some(tx)),
            queued,
            inflight: Arc::new(tokio::sync::Semaphore::new(permits)),
            writer: Mutex::new(Some(thread)),
            opts,
        }))
    }

    /// The receivers' settings.
    pub fn options(&self) -> &FleetOptions {
        &self.opts
    }

    /// Reserves `bytes` of the in-flight budget for a body being read and
    /// decoded; `None` when the budget is spent (answer 429).
    pub fn reserve(&self, bytes: usize) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let n = u32::try_from(bytes.max(1)).unwrap_or(u32::MAX);
        Arc::clone(&self.inflight).try_acquire_many_owned(n).ok()
    }

    /// Hands `records` to the writer and waits for their commit; a batch
    /// stored before (same digest, within [`DEDUPE_WINDOW`]) stores nothing.
    pub async fn submit(&self, records: Vec<Record>) -> Result<Accepted, Refused> {
        let digest = batch_digest(&records);
        self.enqueue(records, Some(digest)).await
    }

    /// [`Fleet::submit`] without the duplicate check (a transport with no
    /// retried request, where two equal lines are two lines).
    pub async fn submit_undeduplicated(&self, records: Vec<Record>) -> Result<Accepted, Refused> {
        self.enqueue(records, None).await
    }

    async fn enqueue(
        &self,
        records: Vec<Record>,
        digest: Option<[u8; 16]>,
    ) -> Result<Accepted, Refused> {
        if records.is_empty() {
            return Ok(Accepted::default());
        }
        let bytes: usize = records
            .iter()
            .map(|r| r.body.len() + r.stream.len() + r.time.len() + 64)
            .sum();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            digest,
            records,
            bytes,
            reply,
        };
        // Counted before it is queued, so two requests cannot both pass.
        let before = self.queued.fetch_add(bytes, Ordering::AcqRel);
        if before > 0 && before + bytes > self.opts.queue_bytes {
            self.queued.fetch_sub(bytes, Ordering::AcqRel);
            return Err(Refused::Busy);
        }
        let sent = {
            let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            match queue.as_ref() {
                Some(q) => q.try_send(job),
                None => {
                    self.queued.fetch_sub(bytes, Ordering::AcqRel);
                    return Err(Refused::Down("shutting down".into()));
                }
            }
        };
        match sent {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.queued.fetch_sub(bytes, Ordering::AcqRel);
                return Err(Refused::Busy);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(bytes, Ordering::AcqRel);
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

/// The digest of a batch: every record's stream, time and line, in order.
/// A shipper's retry sends the same records again, so it has the same.
pub fn batch_digest(records: &[Record]) -> [u8; 16] {
    let mut h = Sha256::new();
    for r in records {
        for part in [&r.stream, &r.time, &r.body] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
    }
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// The name of a stream's source row (`/sources` lists it next to files).
pub fn source_path(stream: &str) -> String {
    format!("stream:{stream}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(stream: &str, time: &str, body: &str) -> Record {
        Record {
            stream: stream.into(),
            time: time.into(),
            body: body.into(),
        }
    }

    #[test]
    fn a_retried_batch_has_the_digest_of_the_first() {
        let a = vec![rec("pod-a", "1", "x"), rec("pod-b", "2", "y")];
        assert_eq!(batch_digest(&a), batch_digest(&a.clone()));
    }

    #[test]
    fn any_difference_of_stream_time_line_or_order_changes_the_digest() {
        let base = vec![rec("pod-a", "1", "x"), rec("pod-b", "2", "y")];
        let d = batch_digest(&base);
        for other in [
            vec![rec("pod-c", "1", "x"), rec("pod-b", "2", "y")],
            vec![rec("pod-a", "9", "x"), rec("pod-b", "2", "y")],
            vec![rec("pod-a", "1", "z"), rec("pod-b", "2", "y")],
            vec![rec("pod-b", "2", "y"), rec("pod-a", "1", "x")],
            // Field boundaries count: "ab"+"c" is not "a"+"bc".
            vec![rec("pod-a1", "", "x"), rec("pod-b", "2", "y")],
        ] {
            assert_ne!(batch_digest(&other), d, "{other:?}");
        }
    }
}
