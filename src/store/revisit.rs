//! The queries of re-diagnosis ([`crate::diagnose::revisit`]): where new
//! events fall in time, which stored failures they may change, and the
//! removal of a failure that late evidence merged into another.
//!
//! Invariant: a failure's links (`failure_events`) name the events it
//! stands for, each event linked to at most one failure; these functions
//! keep that while failures are regrouped.

use std::collections::HashMap;

use rusqlite::params;

use super::{Result, Store};

/// Where the events after some id fall, per source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSpan {
    /// The source.
    pub source_id: i64,
    /// The earliest log time among its new events.
    pub earliest_ms: Option<i64>,
    /// Whether some have no time (they join by line, within the source).
    pub untimed: bool,
    /// Whether some were written by a client (their times are on its
    /// clock, which may be off by hours).
    pub client: bool,
}

impl Store {
    /// Per source, the earliest time of the events after event id `after`.
    pub fn new_spans(&self, after: i64) -> Result<Vec<NewSpan>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT source_id, min(ts_ms), max(ts_ms IS NULL),
                    max(kind = 'client_error' OR format IN ('logcat', 'ios-console'))
             FROM events WHERE id > ?1 GROUP BY source_id",
        )?;
        let rows = stmt.query_map([after], |r| {
            Ok(NewSpan {
                source_id: r.get(0)?,
                earliest_ms: r.get(1)?,
                untimed: r.get(2)?,
                client: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The clock offsets stored with the sources (by the last diagnosis).
    pub fn stored_clock_offsets(&self) -> Result<HashMap<i64, i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, clock_offset_ms FROM sources WHERE clock_offset_ms IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Ids of the failures at or after `since_ms` (server time), and of
    /// those with an event from one of `sources`.
    pub fn failures_touched(&self, since_ms: Option<i64>, sources: &[i64]) -> Result<Vec<String>> {
        let mut ids: Vec<String> = Vec::new();
        if let Some(since) = since_ms {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id FROM failures WHERE ts_ms >= ?1")?;
            for id in stmt.query_map([since], |r| r.get(0))? {
                ids.push(id?);
            }
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT fe.failure_id FROM failure_events fe
             JOIN events e ON e.id = fe.event_id WHERE e.source_id = ?1",
        )?;
        for source in sources {
            for id in stmt.query_map([source], |r| r.get(0))? {
                ids.push(id?);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The events linked to failure `id`.
    pub fn events_of_failure(&self, id: &str) -> Result<Vec<i64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT event_id FROM failure_events WHERE failure_id = ?1")?;
        let rows = stmt.query_map([id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes failure `id` (its links and history go with it).
    pub fn remove_failure(&self, id: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM failures WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    /// Frees `events` for failure `id`, whose primary event becomes
    /// `primary`: their links to other failures go, as do this failure's
    /// links to other events, and a failure other than `id` whose primary
    /// is one of them (it was merged into `id`).
    pub fn regroup(&self, id: &str, primary: i64, events: &[i64]) -> Result<()> {
        let mut unlink = self.conn.prepare_cached(
            "DELETE FROM failure_events WHERE event_id = ?1 AND failure_id != ?2",
        )?;
        let mut merged = self
            .conn
            .prepare_cached("DELETE FROM failures WHERE event_id = ?1 AND id != ?2")?;
        for e in events {
            merged.execute(params![e, id])?;
            unlink.execute(params![e, id])?;
        }
        self.conn
            .prepare_cached("DELETE FROM failure_events WHERE failure_id = ?1")?
            .execute([id])?;
        self.conn
            .prepare_cached("UPDATE failures SET event_id = ?2 WHERE id = ?1")?
            .execute(params![id, primary])?;
        Ok(())
    }
}
