//! The queries of re-diagnosis ([`crate::diagnose::revisit`]): where new
//! events fall in time and in their files, which stored failures they may
//! change (by time, by a request id or code they share, by lines next to
//! theirs), and the removal of a failure that late evidence merged into
//! another.
//!
//! Invariant: a failure's links (`failure_events`) name the events it
//! stands for, each event linked to at most one failure; these functions
//! keep that while failures are regrouped. A scratch analysis, whose
//! failures are not in these tables (`scratch_failures.rs`), is never
//! revisited: asked of its connections, the queries of failures are
//! refused ([`Error::ScratchRevisited`]) rather than answered from empty
//! tables.

use std::collections::HashMap;

use rusqlite::params;

use super::{Error, Result, Store};

/// Where the events after some id fall, per source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSpan {
    /// The source.
    pub source_id: i64,
    /// The earliest log time among its new events.
    pub earliest_ms: Option<i64>,
    /// The earliest among its new client errors and provider events (they
    /// join a server's failed response by time).
    pub earliest_join_ms: Option<i64>,
    /// The earliest among its new token responses (a client error or a
    /// provider event joins them by time).
    pub earliest_response_ms: Option<i64>,
    /// Whether some were written by a client (their times are on its
    /// clock, which may be off by hours).
    pub client: bool,
    /// The first and last line of its new events (other than lines no
    /// grammar read).
    pub lines: Option<(u64, u64)>,
}

impl Store {
    /// Per source, the earliest time of the events after event id `after`.
    pub fn new_spans(&self, after: i64) -> Result<Vec<NewSpan>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT source_id, min(ts_ms),
                    min(CASE WHEN kind IN ('client_error', 'provider_event') THEN ts_ms END),
                    min(CASE WHEN kind = 'token_response' THEN ts_ms END),
                    max(kind = 'client_error' OR format IN ('logcat', 'ios-console')),
                    min(CASE WHEN kind != 'unparsed' THEN line END),
                    max(CASE WHEN kind != 'unparsed' THEN line END)
             FROM events WHERE id > ?1 GROUP BY source_id",
        )?;
        let rows = stmt.query_map([after], |r| {
            let first: Option<i64> = r.get(5)?;
            let last: Option<i64> = r.get(6)?;
            Ok(NewSpan {
                source_id: r.get(0)?,
                earliest_ms: r.get(1)?,
                earliest_join_ms: r.get(2)?,
                earliest_response_ms: r.get(3)?,
                client: r.get(4)?,
                lines: first
                    .zip(last)
                    .map(|(a, b)| (a.max(0) as u64, b.max(0) as u64)),
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
        self.not_scratch()?;
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

    /// Ids of the failures at or after `since_ms` (server time) with a
    /// client error or a provider event among their events: those a new
    /// token response can take from them by time.
    pub fn failures_joined_since(&self, since_ms: i64) -> Result<Vec<String>> {
        self.not_scratch()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT f.id FROM failures f
               JOIN failure_events fe ON fe.failure_id = f.id
               JOIN events e ON e.id = fe.event_id
              WHERE f.ts_ms >= ?1 AND e.kind IN ('client_error', 'provider_event')",
        )?;
        let rows = stmt.query_map([since_ms], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Ids of the failures an event after event id `after` names by key:
    /// one of their events (or an event of the same request) has its
    /// request id, or exchanged the code a new `code_issued` issued. These
    /// are the lookups of a diagnosis that do not look back in time
    /// (`events_by_request`, the flow's `events_by_code`).
    pub fn failures_sharing_keys(&self, after: i64) -> Result<Vec<String>> {
        self.not_scratch()?;
        // Each part starts from the new rows (a rowid range) and follows an
        // index per step; `+n.kind` keeps SQLite on that range.
        let mut stmt = self.conn.prepare_cached(
            "SELECT fe.failure_id FROM events n
               JOIN events e ON e.request_id = n.request_id
               JOIN failure_events fe ON fe.event_id = e.id
              WHERE n.id > ?1 AND n.request_id IS NOT NULL
             UNION
             SELECT fe.failure_id FROM events n
               JOIN events c ON c.code_fp = n.code_fp
               JOIN failure_events fe ON fe.event_id = c.id
              WHERE n.id > ?1 AND +n.kind = 'code_issued' AND n.code_fp IS NOT NULL
             UNION
             SELECT fe.failure_id FROM events n
               JOIN events c ON c.code_fp = n.code_fp
               JOIN events e ON e.request_id = c.request_id
               JOIN failure_events fe ON fe.event_id = e.id
              WHERE n.id > ?1 AND +n.kind = 'code_issued' AND n.code_fp IS NOT NULL",
        )?;
        let rows = stmt.query_map([after], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Ids of the failures with an event of source `source_id` between
    /// lines `from` and `to` (inclusive), counting an event before line
    /// `sided_from` only when a client wrote it (only a client's records
    /// of one exchange reach that far apart).
    pub fn failures_between_lines(
        &self,
        source_id: i64,
        (from, sided_from, to): (u64, u64, u64),
    ) -> Result<Vec<String>> {
        self.not_scratch()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT fe.failure_id FROM events e
               JOIN failure_events fe ON fe.event_id = e.id
              WHERE e.source_id = ?1 AND e.line BETWEEN ?2 AND ?3
                AND (e.line >= ?4 OR e.kind = 'client_error'
                     OR e.format IN ('logcat', 'ios-console'))",
        )?;
        let rows = stmt.query_map(
            params![source_id, from as i64, to as i64, sided_from as i64],
            |r| r.get(0),
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The events linked to failure `id`.
    pub fn events_of_failure(&self, id: &str) -> Result<Vec<i64>> {
        self.not_scratch()?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT event_id FROM failure_events WHERE failure_id = ?1")?;
        let rows = stmt.query_map([id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes failure `id` (its links and history go with it). The links
    /// are deleted here, not left to `ON DELETE CASCADE`, which a
    /// connection with its foreign keys off would not run.
    pub fn remove_failure(&self, id: &str) -> Result<()> {
        self.not_scratch()?;
        self.conn
            .prepare_cached("DELETE FROM failure_events WHERE failure_id = ?1")?
            .execute([id])?;
        self.conn
            .prepare_cached("DELETE FROM failures WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    /// Frees `events` for failure `id`, whose primary event becomes
    /// `primary`: their links to other failures go, as do this failure's
    /// links to other events, and a failure other than `id` whose primary
    /// is one of them (it was merged into `id`), with its own links
    /// (deleted here, as [`Store::remove_failure`] says).
    pub fn regroup(&self, id: &str, primary: i64, events: &[i64]) -> Result<()> {
        self.not_scratch()?;
        let mut unlink = self.conn.prepare_cached(
            "DELETE FROM failure_events WHERE event_id = ?1 AND failure_id != ?2",
        )?;
        let mut merged_links = self.conn.prepare_cached(
            "DELETE FROM failure_events WHERE failure_id IN (
                 SELECT id FROM failures WHERE event_id = ?1 AND id != ?2)",
        )?;
        let mut merged = self
            .conn
            .prepare_cached("DELETE FROM failures WHERE event_id = ?1 AND id != ?2")?;
        for e in events {
            merged_links.execute(params![e, id])?;
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

    /// [`Error::ScratchRevisited`] on a scratch analysis's connection.
    fn not_scratch(&self) -> Result<()> {
        match self.of_scratch_analysis() {
            true => Err(Error::ScratchRevisited),
            false => Ok(()),
        }
    }
}
