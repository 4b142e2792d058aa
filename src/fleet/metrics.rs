//! The receivers' counters and gauges on `/metrics`: per receiver (`otlp`,
//! `ingest`, `syslog`), the records received, accepted (stored),
//! rejected (no line) and deduplicated (stored before), and the batches
//! answered by status (`200`, `4xx`, `429`, `503`, `5xx`); the in-flight
//! budget and the streams kept in memory.
//!
//! Invariant: counters only go up (they live in memory, so a restart starts
//! them at zero, which Prometheus' `rate()` and `increase()` read as a
//! reset); gauges are read at scrape time.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Which receiver counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receiver {
    /// `POST /v1/logs`.
    Otlp,
    /// `POST /api/ingest`.
    Ingest,
    /// `--syslog`.
    Syslog,
}

const RECEIVERS: [(Receiver, &str); 3] = [
    (Receiver::Otlp, "otlp"),
    (Receiver::Ingest, "ingest"),
    (Receiver::Syslog, "syslog"),
];

/// The status classes batches are counted by.
const STATUSES: [&str; 5] = ["200", "4xx", "429", "503", "5xx"];

/// One counter of a receiver's.
type Field = fn(&PerReceiver) -> &AtomicU64;

#[derive(Debug, Default)]
struct PerReceiver {
    received: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    deduplicated: AtomicU64,
    answered: [AtomicU64; STATUSES.len()],
}

/// What the writer reports about the streams it keeps in memory.
#[derive(Debug, Default)]
pub struct StreamGauges {
    /// Streams whose parser state is in memory.
    pub live: AtomicUsize,
    /// Their estimated bytes.
    pub bytes: AtomicUsize,
    /// Streams dropped from memory so far (a counter).
    pub dropped: AtomicU64,
}

/// The receivers' counters.
#[derive(Debug, Default)]
pub struct Counters {
    per: [PerReceiver; RECEIVERS.len()],
    /// Written by the writer thread.
    pub streams: Arc<StreamGauges>,
}

fn index(r: Receiver) -> usize {
    match r {
        Receiver::Otlp => 0,
        Receiver::Ingest => 1,
        Receiver::Syslog => 2,
    }
}

impl Counters {
    fn of(&self, r: Receiver) -> &PerReceiver {
        &self.per[index(r)]
    }

    /// Records decoded from a body (with a line or not).
    pub fn received(&self, r: Receiver, n: u64) {
        self.of(r).received.fetch_add(n, Ordering::Relaxed);
    }

    /// A committed batch's outcome: records stored, without a line, and
    /// stored before.
    pub fn stored(&self, r: Receiver, accepted: u64, rejected: u64, deduplicated: u64) {
        let c = self.of(r);
        c.accepted.fetch_add(accepted, Ordering::Relaxed);
        c.rejected.fetch_add(rejected, Ordering::Relaxed);
        c.deduplicated.fetch_add(deduplicated, Ordering::Relaxed);
    }

    /// A batch answered with `status`.
    pub fn answered(&self, r: Receiver, status: u16) {
        let class = match status {
            200..=299 => 0,
            429 => 2,
            503 => 3,
            400..=499 => 1,
            _ => 4,
        };
        self.of(r).answered[class].fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text, with the budget's `in_use` and `total` bytes.
    pub fn render(&self, in_use: usize, total: usize) -> String {
        let mut out = String::new();
        let families: [(&str, &str, Field); 4] = [
            (
                "grantwatch_ingest_records_received_total",
                "Records decoded from shippers' batches, by receiver.",
                |c| &c.received,
            ),
            (
                "grantwatch_ingest_records_accepted_total",
                "Records of shippers' batches stored, by receiver.",
                |c| &c.accepted,
            ),
            (
                "grantwatch_ingest_records_rejected_total",
                "Records of shippers' batches refused for carrying no line, by receiver.",
                |c| &c.rejected,
            ),
            (
                "grantwatch_ingest_records_deduplicated_total",
                "Records of shippers' batches skipped as stored before (a retry), by receiver.",
                |c| &c.deduplicated,
            ),
        ];
        for (name, help, field) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (r, label) in RECEIVERS {
                let v = field(self.of(r)).load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}{{receiver=\"{label}\"}} {v}");
            }
        }
        let name = "grantwatch_ingest_batches_total";
        let _ = writeln!(
            out,
            "# HELP {name} Shippers' HTTP batches answered, by receiver and status.\n# TYPE {name} counter"
        );
        for (r, label) in RECEIVERS
            .into_iter()
            .filter(|(r, _)| *r != Receiver::Syslog)
        {
            for (i, status) in STATUSES.iter().enumerate() {
                let v = self.of(r).answered[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "{name}{{receiver=\"{label}\",status=\"{status}\"}} {v}"
                );
            }
        }
        let gauges = [
            (
                "grantwatch_ingest_inflight_bytes",
                "Bytes charged to the receivers' in-flight budget now (bodies read and decoded, batches waiting for the writer).",
                in_use,
            ),
            (
                "grantwatch_ingest_inflight_budget_bytes",
                "The receivers' in-flight budget.",
                total,
            ),
            (
                "grantwatch_ingest_streams_live",
                "Received streams whose parser state is in memory.",
                self.streams.live.load(Ordering::Relaxed),
            ),
            (
                "grantwatch_ingest_streams_bytes",
                "Estimated bytes of the received streams' parser state in memory.",
                self.streams.bytes.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let name = "grantwatch_ingest_streams_dropped_total";
        let _ = writeln!(
            out,
            "# HELP {name} Received streams whose state was dropped from memory (rebuilt from the store when they send again).\n# TYPE {name} counter\n{name} {}",
            self.streams.dropped.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_under_their_receiver_and_status_class() {
        let c = Counters::default();
        c.received(Receiver::Otlp, 5);
        c.stored(Receiver::Otlp, 3, 1, 1);
        c.answered(Receiver::Otlp, 200);
        c.answered(Receiver::Ingest, 413);
        c.answered(Receiver::Ingest, 429);
        c.answered(Receiver::Ingest, 503);
        let text = c.render(10, 100);
        for line in [
            "grantwatch_ingest_records_received_total{receiver=\"otlp\"} 5\n",
            "grantwatch_ingest_records_accepted_total{receiver=\"otlp\"} 3\n",
            "grantwatch_ingest_records_rejected_total{receiver=\"otlp\"} 1\n",
            "grantwatch_ingest_records_deduplicated_total{receiver=\"otlp\"} 1\n",
            "grantwatch_ingest_records_received_total{receiver=\"ingest\"} 0\n",
            "grantwatch_ingest_batches_total{receiver=\"otlp\",status=\"200\"} 1\n",
            "grantwatch_ingest_batches_total{receiver=\"ingest\",status=\"4xx\"} 1\n",
            "grantwatch_ingest_batches_total{receiver=\"ingest\",status=\"429\"} 1\n",
            "grantwatch_ingest_batches_total{receiver=\"ingest\",status=\"503\"} 1\n",
            "grantwatch_ingest_inflight_bytes 10\n",
            "grantwatch_ingest_inflight_budget_bytes 100\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
