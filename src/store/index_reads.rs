//! The rows of the event ids the in-memory index answers with
//! (`event_index.rs`): a query it serves finds its ids there, in the order
//! its SQL gives, and reads each row by id here.
//!
//! Invariant: rows come back in the order of the ids given; an id no event
//! has (none while the index is installed: anything that deletes events
//! drops it first) is passed over.

use rusqlite::OptionalExtension;

use super::event_index::EventIndex;
use super::events::EventRow;
use super::{Result, Store};

impl Store {
    /// The events of `ids`, in that order.
    pub(super) fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<EventRow>> {
        if let Some(rows) = self.with_kept(|kept| kept.rows_of(ids)) {
            return rows;
        }
        let mut rows = Vec::with_capacity(ids.len());
        for &id in ids {
            rows.extend(self.event(id)?);
        }
        Ok(rows)
    }

    /// The events whose request id is `request_id`, in time order (no time
    /// counts as 0), then id: `e.request_id = ?1 ORDER BY
    /// coalesce(e.ts_ms, 0), e.id`. The index gives the events whose id
    /// hashes alike; each row's own id decides.
    pub(super) fn events_with_request(
        &self,
        index: &EventIndex,
        request_id: &str,
    ) -> Result<Vec<EventRow>> {
        let mut rows = self.events_by_ids(&index.requests.candidates(request_id))?;
        rows.retain(|e| e.request_id.as_deref() == Some(request_id));
        rows.sort_by_key(|e| (e.ts_ms.unwrap_or(0), e.id));
        Ok(rows)
    }

    /// The (time, `Date` header time) of the events of `ids`, in that
    /// order.
    pub(super) fn dates_by_ids(&self, ids: &[i64]) -> Result<Vec<(Option<i64>, Option<i64>)>> {
        if let Some(rows) = self.with_kept(|kept| kept.rows_of(ids)) {
            return Ok(rows?.iter().map(|e| (e.ts_ms, e.server_date_ms)).collect());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT ts_ms, server_date_ms FROM events WHERE id = ?1")?;
        let mut dates = Vec::with_capacity(ids.len());
        for &id in ids {
            dates.extend(
                stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?,
            );
        }
        Ok(dates)
    }
}
