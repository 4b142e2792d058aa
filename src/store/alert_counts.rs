//! What alert rules count (`crate::alerts`): incidents with their failures
//! in a window of log time, incidents first seen in a window, incidents
//! that came back in one. Read-only; the rules' arithmetic (thresholds,
//! spikes against the day before) stays with the alerts.

use grantwatch_parsers::ServerKind;

use super::labels::server_column;
use super::{Result, Store};
use crate::cause::Cause;

/// One incident as a rule counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentCount {
    /// The incident's id.
    pub incident: i64,
    /// Its cause.
    pub cause: Cause,
    /// Its server (`None`: no log named one).
    pub server: Option<ServerKind>,
    /// Its client id (empty when unknown).
    pub client: String,
    /// The failures counted: in the window, or in all (first seen,
    /// regressed).
    pub count: u64,
}

impl Store {
    /// Per incident, its failures with a log time in `[since, until]`, of
    /// `cause` when one is given.
    pub fn incident_failures_between(
        &self,
        since: i64,
        until: i64,
        cause: Option<Cause>,
    ) -> Result<Vec<IncidentCount>> {
        self.incident_counts(
            "SELECT i.id, i.cause, i.server, i.client_id, count(*)
             FROM failures f JOIN incident_failures x ON x.failure_id = f.id
             JOIN incidents i ON i.id = x.incident_id
             WHERE f.ts_ms >= ?1 AND f.ts_ms <= ?2 AND (?3 IS NULL OR f.cause = ?3)
             GROUP BY i.id",
            &[&since, &until, &cause],
        )
    }

    /// Incidents first seen in `[since, until]`, with their counts.
    pub fn incidents_first_seen_between(
        &self,
        since: i64,
        until: i64,
        cause: Option<Cause>,
    ) -> Result<Vec<IncidentCount>> {
        self.incident_counts(
            "SELECT id, cause, server, client_id, n FROM incidents
             WHERE first_ms >= ?1 AND first_ms <= ?2 AND (?3 IS NULL OR cause = ?3)",
            &[&since, &until, &cause],
        )
    }

    /// Incidents that regressed in `[since, until]` and were last seen at
    /// or after `active_since` (still failing).
    pub fn incidents_regressed_between(
        &self,
        since: i64,
        until: i64,
        active_since: i64,
        cause: Option<Cause>,
    ) -> Result<Vec<IncidentCount>> {
        self.incident_counts(
            "SELECT id, cause, server, client_id, n FROM incidents
             WHERE regressed_ms >= ?1 AND regressed_ms <= ?2 AND last_ms >= ?3
               AND (?4 IS NULL OR cause = ?4)",
            &[&since, &until, &active_since, &cause],
        )
    }

    fn incident_counts(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<IncidentCount>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok(IncidentCount {
                incident: r.get(0)?,
                cause: r.get(1)?,
                server: server_column(r, 2)?,
                client: r.get(3)?,
                count: r.get::<_, i64>(4)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
