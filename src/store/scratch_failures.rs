//! The failures of a scratch analysis (`analyze` without `--db`), held in
//! memory instead of in the `failures` and `failure_events` tables: each
//! failure's time, cause and the place of its JSON in the failures file
//! (`failure_details.rs`), and, for each event a failure stands on, the
//! least id of the failures that took it.
//!
//! The tables cost their writer four B-trees a failure and two a link, a
//! write-ahead log rewritten at every commit, and the settling thread a
//! query an event: on a Hydra gigabyte the writer thread was a third of
//! the diagnosis's samples, on a Keycloak one a fifth (benches/README.md).
//! Nothing but the analysis that fills a scratch database reads it, and it
//! asks only which failure an event belongs to, the failures in time
//! order, one failure by id and the count of each cause: those are
//! answered here, as the tables would answer them.
//!
//! Invariants: only the scratch database's writer adds failures here; every
//! connection of the analysis (those that share its evidence file) reads
//! here, and sees a failure as soon as the writer added it (the tables'
//! readers saw it at the commit: the settling thread, which answers for
//! the batches not yet written, gets the same answers). A failure written
//! again under its id keeps its links and takes the new time, cause and
//! place, as the tables' upsert did. Nothing here is rolled back: a write
//! that fails ends the analysis, whose database is then removed. The
//! revisits refuse a scratch analysis (`revisit.rs`), and the dashboard's
//! queries (filters, rollups, incidents) are never asked of one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use foldhash::fast::RandomState;

use crate::cause::Cause;

/// The failures of one scratch analysis, shared by its connections.
#[derive(Debug, Default)]
pub(crate) struct ScratchFailures {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    failures: HashMap<Arc<str>, Failure, RandomState>,
    /// Each event's least failure id among those linked to it.
    links: HashMap<i64, Arc<str>, RandomState>,
}

/// What a failure is read by: its time, its cause, where its JSON is.
#[derive(Debug)]
struct Failure {
    ts_ms: Option<i64>,
    cause: Cause,
    place: Box<str>,
}

/// A failure as the report reads it: its id and the place of its JSON.
pub(super) type Placed = (Arc<str>, Box<str>);

impl ScratchFailures {
    /// Adds the failure `id` (or replaces the one of that id) with its
    /// events, the first its primary one.
    pub(super) fn upsert(
        &self,
        id: &str,
        (ts_ms, cause): (Option<i64>, Cause),
        place: String,
        events: impl IntoIterator<Item = i64>,
    ) {
        let mut table = self.lock();
        let failure = Failure {
            ts_ms,
            cause,
            place: place.into_boxed_str(),
        };
        let id = match table.failures.get_key_value(id) {
            Some((kept, _)) => Arc::clone(kept),
            None => Arc::from(id),
        };
        table.failures.insert(Arc::clone(&id), failure);
        for event in events {
            match table.links.get_mut(&event) {
                Some(least) if **least <= *id => {}
                Some(least) => *least = Arc::clone(&id),
                None => {
                    table.links.insert(event, Arc::clone(&id));
                }
            }
        }
    }

    /// The least id of the failures linked to `event_id`.
    pub(super) fn failure_of_event(&self, event_id: i64) -> Option<String> {
        self.lock().links.get(&event_id).map(|id| id.to_string())
    }

    /// Where the JSON of the failure `id` is.
    pub(super) fn place_of(&self, id: &str) -> Option<Box<str>> {
        self.lock().failures.get(id).map(|f| f.place.clone())
    }

    /// Every failure, oldest first (an undated one at time 0, ties by id).
    pub(super) fn in_time_order(&self) -> Vec<Placed> {
        let table = self.lock();
        let mut order: Vec<(i64, &Arc<str>, &Failure)> = table
            .failures
            .iter()
            .map(|(id, f)| (f.ts_ms.unwrap_or(0), id, f))
            .collect();
        order.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        order
            .into_iter()
            .map(|(_, id, f)| (Arc::clone(id), f.place.clone()))
            .collect()
    }

    /// How many failures there are per cause, most first (ties by name).
    pub(super) fn cause_counts(&self) -> Vec<(String, u64)> {
        let mut counts: HashMap<Cause, u64> = HashMap::new();
        for f in self.lock().failures.values() {
            *counts.entry(f.cause).or_default() += 1;
        }
        let mut counts: Vec<(String, u64)> = counts
            .into_iter()
            .map(|(cause, n)| (cause.as_str().to_owned(), n))
            .collect();
        counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts
    }

    /// The table, even if a thread panicked holding it (an upsert only
    /// inserts into maps: no panic of its own comes between two of them).
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
