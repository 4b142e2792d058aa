//! What the live feed (`GET /api/events`) of a server shares between its
//! one producer and its streams: a `tokio::sync::broadcast` channel that
//! keeps the last [`CAPACITY`] changes, and whether the producer task runs.
//! The producer and the streams are in `events.rs`; [`super::AppState`]
//! holds the hub. A leaf, so that the handler and the state do not import
//! each other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::store::feed::Change;

/// Changes the channel keeps for connections that are behind.
pub const CAPACITY: usize = 4096;

/// The one producer of a server's live feed and its channel.
#[derive(Debug)]
pub struct Hub {
    sender: broadcast::Sender<Arc<Change>>,
    /// Whether the producer task runs; taken with the receiver count so
    /// that a stream opening as the producer stops still gets one.
    running: Mutex<bool>,
    /// Looks at the table the producer made (for the tests: one per poll,
    /// whatever the number of streams).
    reads: AtomicU64,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub::with_capacity(CAPACITY)
    }
}

impl Hub {
    /// A hub whose channel keeps `capacity` changes.
    pub fn with_capacity(capacity: usize) -> Hub {
        Hub {
            sender: broadcast::channel(capacity.max(1)).0,
            running: Mutex::new(false),
            reads: AtomicU64::new(0),
        }
    }

    /// How many times the producer read the table.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// A receiver of every change published from now on; calls `start`
    /// (which spawns the producer, `events.rs`) when it is not running,
    /// under the lock [`Hub::stop_if_idle`] takes.
    pub(super) fn subscribe(&self, start: impl FnOnce()) -> broadcast::Receiver<Arc<Change>> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let receiver = self.sender.subscribe();
        if !*running {
            *running = true;
            start();
        }
        receiver
    }

    /// Whether the producer should stop (no stream open); if so, marks it
    /// stopped under the same lock [`Hub::subscribe`] takes.
    pub(super) fn stop_if_idle(&self) -> bool {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if self.sender.receiver_count() == 0 {
            *running = false;
            return true;
        }
        false
    }

    /// Counts one look at the table by the producer.
    pub(super) fn count_read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends `change` to every open stream. No receiver is not an error:
    /// the producer's next look stops it.
    pub(super) fn publish(&self, change: Change) {
        let _ = self.sender.send(Arc::new(change));
    }
}
