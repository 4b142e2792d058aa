//! A scratch database's events by request id, kept in memory by its bulk
//! load instead of the index `events_by_request` (`event_index.rs` holds it
//! beside the orders by client and by time).
//!
//! A Hydra log names a request id on every event: after its gigabyte was
//! read, SQLite sorted 670,000 text keys to build that index, a third of a
//! second while nothing else ran (benches/README.md). The writer holds each
//! id as it stores the event; 8 bytes of it are kept here: 32 bits of a hash of the
//! id and the event's row id, sorted by hash when the load ends. The hash's
//! seed is drawn for each load, so a log cannot be written to make many ids
//! share one hash (each would be read for every ask of the others).
//!
//! Invariants: [`RequestOrder::candidates`] gives every event whose request
//! id is the one asked, in row-id order, and maybe others whose id shares
//! its hash: the caller compares each row's own id (`Store::events_by_request`),
//! so an answer is exactly SQL's `request_id = ?`. An event without a
//! request id is not kept, as `=` never holds for NULL.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;

/// The hasher of one load's request ids: the same for its build and every
/// query of its index.
pub(super) type RequestHasher = RandomState;

/// One event with a request id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct RequestKey {
    hash: u32,
    id: u32,
}

impl RequestKey {
    pub(super) fn new(hasher: &RequestHasher, request_id: &str, id: u32) -> RequestKey {
        RequestKey {
            hash: hash32(hasher, request_id),
            id,
        }
    }
}

/// 32 bits of `value`'s hash: two ids that share them are both read and
/// told apart by the caller (a few dozen pairs among a million ids), for
/// half the memory of a 64-bit hash.
pub(super) fn hash32(hasher: &RequestHasher, value: impl std::hash::Hash) -> u32 {
    hasher.hash_one(value) as u32
}

/// The kept events, sorted by the hash of their request id, then row id.
#[derive(Debug)]
pub(super) struct RequestOrder {
    keys: Vec<RequestKey>,
    hasher: RequestHasher,
}

impl RequestOrder {
    /// The order of `keys`, hashed by `hasher`.
    pub(super) fn sorted(mut keys: Vec<RequestKey>, hasher: RequestHasher) -> RequestOrder {
        keys.sort_unstable();
        RequestOrder { keys, hasher }
    }

    /// The row ids of the events whose request id may be `request_id`
    /// (each holds it, or one with the same hash), in row-id order.
    pub(super) fn candidates(&self, request_id: &str) -> Vec<i64> {
        let hash = hash32(&self.hasher, request_id);
        let start = self.keys.partition_point(|k| k.hash < hash);
        self.keys[start..]
            .iter()
            .take_while(|k| k.hash == hash)
            .map(|k| i64::from(k.id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event whose id hashes as the one asked, in row-id order: two
    /// ids that share a hash both come back (the caller tells them apart).
    #[test]
    fn candidates_are_the_events_whose_id_hashes_alike() {
        let hasher = RequestHasher::default();
        let mut keys: Vec<RequestKey> = [("a", 9), ("b", 2), ("a", 4), ("c", 7)]
            .iter()
            .map(|&(request, id)| RequestKey::new(&hasher, request, id))
            .collect();
        // Another id as if its hash were "a"'s.
        keys.push(RequestKey {
            hash: hash32(&hasher, "a"),
            id: 1,
        });
        let order = RequestOrder::sorted(keys, hasher);
        assert_eq!(order.candidates("a"), vec![1, 4, 9]);
        assert_eq!(order.candidates("b"), vec![2]);
        assert!(order.candidates("d").is_empty());
    }
}
