//! What lies near a failure's events: the failed token responses around a
//! server's warning, and what the diagnosis found a warning or a client's
//! error to belong to. A busy server writes hundreds of failures a second,
//! each with its warning (and a client its error), and every failure asks
//! about every such event of its window; so the responses are picked from
//! the join window the connection keeps (`window.rs`) without copying the
//! rest, and each event's answer is kept while the connection sees the
//! same database.
//!
//! Invariant: what is given back is what reading the database now would
//! give; an answer kept for an event is the caller's, computed from the
//! events and the event's own clock offset alone.

use grantwatch_parsers::EventKind;
use rusqlite::params;

use super::events::EventRow;
use super::{Result, Store};

impl Store {
    /// Token responses between two times that may record a failure (a
    /// status of 400 or more, an error, or a provider code), nearest to
    /// `at` first (then by time and id), at most `limit`. Taken from the
    /// join window kept for the failure being diagnosed when it spans them
    /// (`window.rs`), else read.
    pub fn failed_responses_near(
        &self,
        at: i64,
        window: (i64, i64),
        limit: u32,
    ) -> Result<Vec<EventRow>> {
        let kept = self.failure_window.get_with(self.seen()?, window, |rows| {
            nearest(rows, at, limit as usize)
        });
        if let Some(rows) = kept {
            return Ok(rows);
        }
        if let Some(index) = self.event_index() {
            return self.events_by_ids(&index.times.failed_near(at, window, limit as usize));
        }
        self.query_events(
            "e.kind = 'token_response' AND e.ts_ms BETWEEN ?1 AND ?2
             AND (e.status >= 400 OR e.error IS NOT NULL OR e.provider_code IS NOT NULL)
             ORDER BY abs(e.ts_ms - ?3), e.ts_ms, e.id LIMIT ?4",
            params![window.0, window.1, at, limit],
        )
    }

    /// The failed response the event `event_id` near failures belongs to,
    /// as `find` says (a server's warning explains one; a client's error
    /// with no request id joins the one server failure that fits it), or
    /// `None`; found once while this connection sees the same database.
    /// `find` must depend on the stored events and on `clock_offset_ms`
    /// alone: the offset of the event's own clock, by which a client's
    /// time is corrected (0 for a server's event, whose time is its own).
    pub fn belongs_to(
        &self,
        event_id: i64,
        clock_offset_ms: i64,
        find: impl FnOnce() -> Result<Option<i64>>,
    ) -> Result<Option<i64>> {
        let seen = self.seen()?;
        let key = (event_id, clock_offset_ms);
        if let Some(answer) = self.near.get(seen, key) {
            return Ok(answer);
        }
        let answer = find()?;
        self.near.keep(seen, key, answer);
        Ok(answer)
    }
}

/// The failed token responses among `rows` nearest to `at` (then by time
/// and id), at most `limit`, as the query of
/// [`Store::failed_responses_near`] orders them; only those are copied.
fn nearest(rows: &[EventRow], at: i64, limit: usize) -> Vec<EventRow> {
    let mut failed: Vec<&EventRow> = rows
        .iter()
        .filter(|e| {
            e.kind == EventKind::TokenResponse
                && (e.status.is_some_and(|s| s >= 400)
                    || e.error.is_some()
                    || e.provider_code.is_some())
        })
        .collect();
    let key = |e: &&EventRow| (e.ts_ms.map(|t| (t - at).abs()), e.ts_ms, e.id);
    if failed.len() > limit && limit > 0 {
        // The key ends with the id: a total order, so the first `limit`
        // are the same whichever way they are found.
        failed.select_nth_unstable_by_key(limit - 1, key);
    }
    failed.truncate(limit);
    failed.sort_by_key(key);
    failed.into_iter().cloned().collect()
}
