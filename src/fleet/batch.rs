//! A batch on its way to the writer ([`Job`]), what storing it gave
//! ([`Accepted`]), and how a batch or a record sent again is known: their
//! digests, kept for [`DEDUPE_WINDOW`] and [`RECORD_WINDOW`]. The
//! receivers' side (`mod.rs`) makes jobs and the writer (`writer.rs`)
//! answers them; a leaf, so that those two do not import each other.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::record::Record;

/// How long a batch's digest is kept: a retry later than this is stored
/// again.
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(3600);

/// How long a record's digest is kept: longer than the shippers' own retry
/// horizons (the OTel Collector gives up after 5 minutes by default), short
/// enough that one row per record received stays a small table.
pub const RECORD_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What a stored batch gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Records stored.
    pub records: u64,
    /// Records skipped as stored before (a retry).
    pub deduplicated: u64,
    /// Events stored (records about OAuth, assembled).
    pub events: u64,
    /// The whole batch was stored before (a retry): nothing stored again.
    pub duplicate: bool,
}

/// A batch on its way to the writer.
pub(super) struct Job {
    pub(super) records: Vec<Record>,
    /// `None`: not checked for a retry.
    pub(super) digest: Option<[u8; 16]>,
    /// The records' charge on the budget, given back when the writer is
    /// done with the job (before its answer is sent).
    pub(super) charge: Option<tokio::sync::OwnedSemaphorePermit>,
    pub(super) reply: tokio::sync::oneshot::Sender<Result<Accepted, String>>,
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

/// Each record's digest (stream, shipper time, line, and its rank among the
/// equal records before it in the batch), or `None` for a record without a
/// shipper time: without one, two equal lines cannot be told from a record
/// sent twice, and only an identical retried batch is recognised.
pub fn record_digests(records: &[Record]) -> Vec<Option<[u8; 16]>> {
    let mut ranks: std::collections::HashMap<[u8; 32], u64> = std::collections::HashMap::new();
    records
        .iter()
        .map(|r| {
            if r.time.is_empty() {
                return None;
            }
            let mut h = Sha256::new();
            for part in [&r.stream, &r.time, &r.body] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part.as_bytes());
            }
            let key: [u8; 32] = h.clone().finalize().into();
            let rank = ranks.entry(key).or_insert(0);
            h.update(rank.to_le_bytes());
            *rank += 1;
            let full = h.finalize();
            let mut out = [0u8; 16];
            out.copy_from_slice(&full[..16]);
            Some(out)
        })
        .collect()
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
    fn equal_records_of_a_batch_differ_by_rank_and_a_recut_retry_keeps_them() {
        let a = vec![
            rec("p", "t1", "Completed 200 OK"),
            rec("p", "t1", "Completed 200 OK"),
            rec("p", "t2", "x"),
            rec("p", "", "no time"),
        ];
        let d = record_digests(&a);
        assert_ne!(d[0], d[1], "two equal records of one batch are two");
        assert!(d[0].is_some() && d[3].is_none());
        // The same records cut differently: the first two again, then the rest.
        let first = record_digests(&a[..2]);
        let second = record_digests(&a[2..]);
        assert_eq!(first[..], d[..2]);
        assert_eq!(second[..], d[2..]);
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
