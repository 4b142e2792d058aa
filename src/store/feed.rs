//! The live feed of `/api/events` and the counters of `/metrics` that only
//! go up, written in the transaction that stores a diagnosis or a batch.
//!
//! Invariants:
//! - `live_changes` holds one row per new failure and per re-diagnosis,
//!   numbered in commit order; the last [`LIVE_KEPT`] are kept.
//! - `diagnosed_totals` counts a failure once, when it is first stored,
//!   under the labels of that first diagnosis; `ingest_totals` adds the
//!   records of each batch. Neither retention nor a re-diagnosis lowers
//!   them. (Their tables are created with the incidents',
//!   [`super::incident_schema::SCHEMA`].)

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, OptionalExtension, params};

use super::failure_record::FailureRecord;
use super::{Result, Store};
use crate::cause::Cause;

/// Rows of `live_changes` kept: a client further behind reloads its page.
pub const LIVE_KEPT: i64 = 10_000;

/// What changed, for `/api/events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A failure stored for the first time.
    Failure,
    /// A stored failure's cause or confidence changed.
    Rediagnosis,
}

impl ChangeKind {
    /// The SSE event name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Failure => "failure",
            ChangeKind::Rediagnosis => "rediagnosis",
        }
    }
}

/// A change was recorded in a transaction of this process not yet
/// signalled as committed.
static PENDING: AtomicBool = AtomicBool::new(false);

/// Bumped after a commit of this process that recorded a change: wakes the
/// producer of `/api/events` (src/web/events.rs) before its next poll. A
/// hint only (another process's commits are found by polling).
static COMMITTED: LazyLock<tokio::sync::watch::Sender<u64>> =
    LazyLock::new(|| tokio::sync::watch::Sender::new(0));

/// A receiver woken after each commit of this process that recorded a
/// change.
pub fn committed() -> tokio::sync::watch::Receiver<u64> {
    COMMITTED.subscribe()
}

/// Called after a commit: signals it if a change was recorded since the
/// last signal.
pub(super) fn signal_commit() {
    if PENDING.swap(false, Ordering::AcqRel) {
        COMMITTED.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Appends a change to the live feed (and forgets what is older than the
/// last [`LIVE_KEPT`]).
pub fn record_change(
    conn: &Connection,
    kind: ChangeKind,
    rec: &FailureRecord,
    incident: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO live_changes (at_ms, kind, failure_id, incident_id, cause)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        chrono::Utc::now().timestamp_millis(),
        kind.as_str(),
        rec.id,
        incident,
        rec.cause
    ])?;
    let seq = conn.last_insert_rowid();
    PENDING.store(true, Ordering::Release);
    if seq % 1000 == 0 {
        conn.prepare_cached("DELETE FROM live_changes WHERE seq <= ?1")?
            .execute([seq - LIVE_KEPT])?;
    }
    Ok(())
}

/// One row of the live feed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// Its number (the SSE event id).
    pub seq: i64,
    /// When it was committed (ms, wall clock).
    pub at_ms: i64,
    /// `failure` or `rediagnosis`.
    pub kind: String,
    /// The failure.
    pub failure_id: String,
    /// Its incident.
    pub incident_id: i64,
    /// Its cause (after the change).
    pub cause: Cause,
}

/// Counts a failure stored for the first time in the monotonic
/// `grantwatch_failures_diagnosed_total`, under the labels it was first
/// diagnosed with (a later re-diagnosis is no new failure).
pub fn count_diagnosed(conn: &Connection, rec: &FailureRecord) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO diagnosed_totals (cause, server, client_id, n) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT DO UPDATE SET n = n + 1",
    )?
    .execute(params![
        rec.cause,
        super::labels::server_label(rec.server),
        rec.client_id.as_deref().unwrap_or("")
    ])?;
    Ok(())
}

/// Adds `n` to the monotonic counter `name` (`records`: records stored).
pub fn count_ingested(conn: &Connection, name: &str, n: u64) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO ingest_totals (name, n) VALUES (?1, ?2)
         ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?
    .execute(params![name, n as i64])?;
    Ok(())
}

impl Store {
    /// The number of the newest change of the live feed (0: none).
    pub fn last_change(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(seq), 0) FROM live_changes", [], |r| {
                r.get(0)
            })?)
    }

    /// The changes after `seq`, oldest first, at most `limit`.
    pub fn changes_after(&self, seq: i64, limit: u32) -> Result<Vec<Change>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, at_ms, kind, failure_id, incident_id, cause FROM live_changes
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![seq, limit], |r| {
            Ok(Change {
                seq: r.get(0)?,
                at_ms: r.get(1)?,
                kind: r.get(2)?,
                failure_id: r.get(3)?,
                incident_id: r.get(4)?,
                cause: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The monotonic count of failures diagnosed, per cause, server and
    /// client (labels as `/metrics` shows them).
    pub fn diagnosed_totals(&self) -> Result<Vec<super::stats::FailureCount>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT cause, server, client_id, n FROM diagnosed_totals ORDER BY cause, server, client_id",
        )?;
        let rows = stmt.query_map([], super::stats::FailureCount::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The monotonic counter `name` of `ingest_totals` (0 when never
    /// counted).
    pub fn ingest_total(&self, name: &str) -> Result<u64> {
        let n: Option<i64> = self
            .conn
            .prepare_cached("SELECT n FROM ingest_totals WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }
}
