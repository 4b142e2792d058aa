//! How the receivers behave ([`FleetOptions`]): body and in-flight
//! limits, the syslog address, the streams' parser settings and how many
//! streams' state is kept. `watch`'s settings build it; the receivers'
//! side (`mod.rs`) and the writer (`writer.rs`) read it. A leaf, so that
//! those two do not import each other.

use std::time::Duration;

use grantwatch_parsers::Context;

/// The default request-size limit (`--ingest-max-bytes`).
pub const DEFAULT_MAX_BYTES: usize = 16 * 1024 * 1024;

/// How the receivers behave.
#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// The largest request body accepted, compressed or not.
    pub max_bytes: usize,
    /// The in-flight budget: bytes that bodies being read, inflated and
    /// decoded, and batches queued for the writer, take in memory
    /// together ([`budget`]).
    pub queue_bytes: usize,
    /// Request bodies read and decoded at once at most (503 beyond).
    pub max_bodies: usize,
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
    /// The streams' parser state in memory at most (estimated from the
    /// lines they hold): past this the quietest streams are dropped from
    /// memory as past `max_streams`.
    pub stream_bytes: usize,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            max_bytes: DEFAULT_MAX_BYTES,
            queue_bytes: 4 * DEFAULT_MAX_BYTES,
            max_bodies: 32,
            syslog: None,
            context: Context::default(),
            flush_after: crate::watch::STALE_RECORD,
            max_streams: 4096,
            stream_bytes: 64 * 1024 * 1024,
        }
    }
}
