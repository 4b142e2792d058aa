//! The tables of incidents, of the live feed and of the monotonic counters
//! ([`SCHEMA`], one text for a fresh database and for the upgrade, which
//! the schema test compares), and the upgrade from the schema without them
//! ([`upgrade`]: every stored failure grouped, the counters started at
//! what is stored).

use crate::cause::{Cause, Confidence};
use grantwatch_parsers::ServerKind;
use rusqlite::Connection;

use super::Result;
use super::failure_record::{FailureContext, FailureRecord};
use super::incidents::assign;

/// The tables, indexes and triggers of incidents and of the monotonic
/// counters: created from this one text in a fresh database and in the
/// upgrade (the schema test compares them).
pub const SCHEMA: &str = r#"
CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY,
    key           TEXT NOT NULL UNIQUE,
    cause         TEXT NOT NULL,
    server        TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    discriminator TEXT NOT NULL,
    first_ms      INTEGER,
    last_ms       INTEGER,
    regressed_ms  INTEGER,
    n             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incidents_by_last ON incidents(last_ms);

CREATE TABLE incident_failures (
    failure_id  TEXT PRIMARY KEY REFERENCES failures(id) ON DELETE CASCADE,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    ts_ms       INTEGER,
    user_name   TEXT,
    ip          TEXT,
    user_agent  TEXT,
    app_release TEXT,
    os          TEXT,
    sdk         TEXT
) WITHOUT ROWID;
CREATE INDEX incident_failures_by_incident ON incident_failures(incident_id, ts_ms);
CREATE INDEX incident_failures_by_user ON incident_failures(user_name);
CREATE INDEX incident_failures_by_ip ON incident_failures(ip);

CREATE TABLE incident_hours (
    incident_id INTEGER NOT NULL,
    hour_ms     INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (incident_id, hour_ms)
) WITHOUT ROWID;

CREATE TABLE incident_releases (
    incident_id INTEGER NOT NULL,
    app_release TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (incident_id, app_release)
) WITHOUT ROWID;
CREATE INDEX incident_releases_by_release ON incident_releases(app_release);

CREATE TRIGGER incident_failures_added AFTER INSERT ON incident_failures BEGIN
    UPDATE incidents SET n = n + 1 WHERE id = new.incident_id;
    INSERT INTO incident_hours (incident_id, hour_ms, n)
        SELECT new.incident_id, new.ts_ms - ((new.ts_ms % 3600000) + 3600000) % 3600000, 1
        WHERE new.ts_ms IS NOT NULL
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO incident_releases (incident_id, app_release, n)
        SELECT new.incident_id, new.app_release, 1 WHERE new.app_release IS NOT NULL
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER incident_failures_removed AFTER DELETE ON incident_failures BEGIN
    UPDATE incidents SET n = n - 1 WHERE id = old.incident_id;
    DELETE FROM incidents WHERE id = old.incident_id AND n <= 0;
    UPDATE incident_hours SET n = n - 1 WHERE incident_id = old.incident_id
        AND hour_ms = old.ts_ms - ((old.ts_ms % 3600000) + 3600000) % 3600000;
    DELETE FROM incident_hours WHERE incident_id = old.incident_id AND n <= 0;
    UPDATE incident_releases SET n = n - 1 WHERE incident_id = old.incident_id
        AND app_release = old.app_release;
    DELETE FROM incident_releases WHERE incident_id = old.incident_id AND n <= 0;
END;
CREATE TRIGGER incident_failures_moved AFTER UPDATE OF incident_id ON incident_failures
WHEN old.incident_id != new.incident_id BEGIN
    UPDATE incidents SET n = n + 1 WHERE id = new.incident_id;
    UPDATE incidents SET n = n - 1 WHERE id = old.incident_id;
    DELETE FROM incidents WHERE id = old.incident_id AND n <= 0;
END;
CREATE TRIGGER incident_failures_rolled AFTER UPDATE ON incident_failures
WHEN old.incident_id != new.incident_id OR old.ts_ms IS NOT new.ts_ms
    OR old.app_release IS NOT new.app_release BEGIN
    UPDATE incident_hours SET n = n - 1 WHERE incident_id = old.incident_id
        AND hour_ms = old.ts_ms - ((old.ts_ms % 3600000) + 3600000) % 3600000;
    DELETE FROM incident_hours WHERE incident_id = old.incident_id AND n <= 0;
    UPDATE incident_releases SET n = n - 1 WHERE incident_id = old.incident_id
        AND app_release = old.app_release;
    DELETE FROM incident_releases WHERE incident_id = old.incident_id AND n <= 0;
    INSERT INTO incident_hours (incident_id, hour_ms, n)
        SELECT new.incident_id, new.ts_ms - ((new.ts_ms % 3600000) + 3600000) % 3600000, 1
        WHERE new.ts_ms IS NOT NULL
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO incident_releases (incident_id, app_release, n)
        SELECT new.incident_id, new.app_release, 1 WHERE new.app_release IS NOT NULL
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TABLE diagnosed_totals (
    cause     TEXT NOT NULL,
    server    TEXT NOT NULL,
    client_id TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (cause, server, client_id)
) WITHOUT ROWID;

CREATE TABLE live_changes (
    seq         INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    failure_id  TEXT NOT NULL,
    incident_id INTEGER NOT NULL,
    cause       TEXT NOT NULL
);

CREATE TABLE ingest_totals (
    name TEXT PRIMARY KEY,
    n    INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// The devices and sessions of grouped failures (schema version 9): a
/// column each, indexed for the search box, after [`SCHEMA`] in a fresh
/// database and in the upgrade.
pub const DEVICES_SESSIONS: &str = "
ALTER TABLE incident_failures ADD COLUMN device_id TEXT;
ALTER TABLE incident_failures ADD COLUMN session_id TEXT;
CREATE INDEX incident_failures_by_device ON incident_failures(device_id);
CREATE INDEX incident_failures_by_session ON incident_failures(session_id);
";

/// The upgrade to schema version 9: the columns and indexes of
/// [`DEVICES_SESSIONS`], the sessions of stored failures filled from their
/// events (no stored event has a device id yet).
pub fn upgrade_devices_sessions(conn: &Connection) -> Result<()> {
    add_device_columns(conn)?;
    conn.execute_batch(
        "UPDATE incident_failures SET session_id = (
             SELECT e.session_id FROM failure_events fe JOIN events e ON e.id = fe.event_id
             WHERE fe.failure_id = incident_failures.failure_id AND e.session_id IS NOT NULL
                 AND e.session_id != ''
             ORDER BY e.id LIMIT 1);",
    )?;
    Ok(())
}

/// Adds the columns of version 9 where they are missing: a database
/// upgraded from before incidents gets them with the incidents (its
/// grouping reads and writes them), then passes the step to version 9.
fn add_device_columns(conn: &Connection) -> Result<()> {
    let has = |table: &str| -> Result<bool> {
        let n: i64 = conn.query_row(
            "SELECT count(*) FROM pragma_table_info(?1) WHERE name = 'device_id'",
            [table],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    };
    if !has("events")? {
        conn.execute_batch("ALTER TABLE events ADD COLUMN device_id TEXT;")?;
    }
    if !has("incident_failures")? {
        conn.execute_batch(DEVICES_SESSIONS)?;
    }
    Ok(())
}

/// The upgrade from the schema without incidents: the tables, then every
/// stored failure grouped, and the diagnosed counter started at what is
/// stored.
pub fn upgrade(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)?;
    // The grouping below reads and writes the columns of version 9.
    add_device_columns(conn)?;
    conn.execute_batch(
        "INSERT INTO diagnosed_totals (cause, server, client_id, n)
         SELECT cause, server, client_id, n FROM failure_totals;
         INSERT INTO ingest_totals (name, n) SELECT 'records', count(*) FROM events;",
    )?;
    let rows: Vec<(FailureRecord, Option<i64>)> = {
        let mut stmt = conn.prepare(
            "SELECT id, cause, server, client_id, context, ts_ms FROM failures
             ORDER BY coalesce(ts_ms, 0), id",
        )?;
        let rows = stmt.query_map([], |r| {
            let context: Option<String> = r.get(4)?;
            Ok((
                bare_record(
                    r.get(0)?,
                    r.get(1)?,
                    super::labels::server_column(r, 2)?,
                    r.get(3)?,
                    context
                        .and_then(|c| serde_json::from_str(&c).ok())
                        .unwrap_or_default(),
                ),
                r.get(5)?,
            ))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (rec, ts) in rows {
        assign(conn, &rec, ts)?;
    }
    Ok(())
}

/// A failure record with only what grouping reads.
fn bare_record(
    id: String,
    cause: Cause,
    server: Option<ServerKind>,
    client_id: Option<String>,
    context: FailureContext,
) -> FailureRecord {
    FailureRecord {
        id,
        ts: None,
        server,
        request_id: None,
        client_id,
        grant_type: None,
        error: None,
        http_status: None,
        cause,
        // Grouping does not read it.
        confidence: Confidence::Low,
        candidates: Vec::new(),
        summary: String::new(),
        fix: String::new(),
        evidence: Vec::new(),
        missing: None,
        context,
    }
}
