//! The SQLite schema and its migrations, keyed by `PRAGMA user_version`.
//!
//! A fresh database gets [`SQL`], the full current schema, in one go. An
//! older database is upgraded one step at a time by [`upgrade_from`], each
//! step a `match` arm, inside the same IMMEDIATE transaction; a database newer
//! than this binary is refused. The test at the bottom upgrades every past
//! version's frozen schema and checks it ends up identical to a fresh one, so
//! a migration can never drift from [`SQL`].
//!
//! To change the schema: bump [`VERSION`], edit [`SQL`] (or the rollups),
//! add an arm to [`upgrade_from`] for the previous version; the test's frozen
//! version 1 then goes through every arm. Triggers are compared as SQL, so an
//! upgrade must create them from the same text as a fresh database.

use rusqlite::Transaction;

use super::{Error, Result, incident_schema, rollups};

/// The schema version this binary writes.
pub const VERSION: u32 = 13;

/// The full current schema, for a fresh database.
pub const SQL: &str = r#"
CREATE TABLE sources (
    id            INTEGER PRIMARY KEY,
    path          TEXT NOT NULL,
    format        TEXT NOT NULL,
    dev           INTEGER,
    inode         INTEGER,
    head_hash     TEXT,
    byte_offset   INTEGER NOT NULL DEFAULT 0,
    line_no       INTEGER NOT NULL DEFAULT 0,
    lines_parsed  INTEGER NOT NULL DEFAULT 0,
    lines_skipped INTEGER NOT NULL DEFAULT 0,
    lines_unknown INTEGER NOT NULL DEFAULT 0,
    lines_cut     INTEGER NOT NULL DEFAULT 0,
    clock_offset_ms INTEGER,
    clock_note    TEXT,
    updated_ms    INTEGER,
    read_line_no  INTEGER NOT NULL DEFAULT 0,
    envelope      TEXT
);
CREATE INDEX sources_by_path ON sources(path);
CREATE INDEX sources_by_file ON sources(dev, inode);

CREATE TABLE events (
    id                    INTEGER PRIMARY KEY,
    source_id             INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    line                  INTEGER NOT NULL,
    kind                  TEXT NOT NULL,
    format                TEXT NOT NULL,
    server                TEXT,
    ts_ms                 INTEGER,
    ts_basis              TEXT,
    request_id            TEXT,
    client_id             TEXT,
    grant_type            TEXT,
    method                TEXT,
    path                  TEXT,
    status                INTEGER,
    error                 TEXT,
    error_description     TEXT,
    provider_reason       TEXT,
    provider_debug        TEXT,
    provider_code         TEXT,
    redirect_uri          TEXT,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    code_fp               TEXT,
    refresh_token_fp      TEXT,
    assertion_fp          TEXT,
    verifier_s256         TEXT,
    verifier_sent         INTEGER,
    jwt_iat               INTEGER,
    jwt_exp               INTEGER,
    jwt_nbf               INTEGER,
    jwt_iss               TEXT,
    jwt_aud               TEXT,
    jwt_jti               TEXT,
    server_date_ms        INTEGER,
    ip                    TEXT,
    user_agent            TEXT,
    session_id            TEXT,
    user_name             TEXT,
    lifecycle             TEXT,
    origin                TEXT,
    envelope_ts_ms        INTEGER,
    device_id             TEXT,
    part                  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_by_request   ON events(request_id) WHERE request_id IS NOT NULL;
CREATE INDEX events_by_client_kind ON events(client_id, kind, ts_ms);
CREATE INDEX events_by_client_ip ON events(client_id, ip, kind, ts_ms);
CREATE INDEX events_by_code      ON events(code_fp) WHERE code_fp IS NOT NULL;
CREATE INDEX events_by_challenge ON events(code_challenge) WHERE code_challenge IS NOT NULL;
CREATE INDEX events_by_verifier  ON events(verifier_s256) WHERE verifier_s256 IS NOT NULL;
CREATE INDEX events_by_refresh   ON events(refresh_token_fp) WHERE refresh_token_fp IS NOT NULL;
CREATE UNIQUE INDEX events_by_source ON events(source_id, line, kind, part);
CREATE INDEX events_by_kind_time ON events(kind, ts_ms);
CREATE INDEX events_by_format    ON events(format, server_date_ms) WHERE server_date_ms IS NOT NULL OR format IN ('logcat', 'ios-console');
CREATE INDEX events_phases       ON events(source_id, line) WHERE kind IN ('code_issued', 'authorize_request') AND provider_reason LIKE '% phase initiated.';
CREATE INDEX events_failing      ON events(ts_ms) WHERE (kind = 'token_response' OR kind = 'client_error' OR kind = 'provider_event') AND (kind = 'client_error' OR status >= 400 OR error IS NOT NULL OR provider_code IS NOT NULL OR provider_reason IS NOT NULL);

CREATE TABLE evidence (
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    line     INTEGER NOT NULL,
    text     TEXT NOT NULL,
    PRIMARY KEY (event_id, line)
) WITHOUT ROWID;

CREATE TABLE failures (
    id            TEXT PRIMARY KEY,
    event_id      INTEGER NOT NULL UNIQUE REFERENCES events(id) ON DELETE CASCADE,
    ts_ms         INTEGER,
    server        TEXT,
    request_id    TEXT,
    client_id     TEXT,
    grant_type    TEXT,
    error         TEXT,
    http_status   INTEGER,
    cause         TEXT NOT NULL,
    confidence    TEXT NOT NULL,
    summary       TEXT NOT NULL,
    fix           TEXT NOT NULL,
    missing       TEXT,
    candidates    TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    diagnosed_ms  INTEGER NOT NULL,
    context       TEXT
);
CREATE INDEX failures_by_time    ON failures(ts_ms);
CREATE INDEX failures_by_cause   ON failures(cause, ts_ms);
CREATE INDEX failures_by_client  ON failures(client_id, ts_ms);
CREATE INDEX failures_by_request ON failures(request_id);

CREATE TABLE failure_events (
    failure_id TEXT NOT NULL REFERENCES failures(id) ON DELETE CASCADE,
    event_id   INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    PRIMARY KEY (failure_id, event_id)
) WITHOUT ROWID;
CREATE INDEX failure_events_by_event ON failure_events(event_id);

CREATE TABLE diagnosis_history (
    failure_id   TEXT NOT NULL REFERENCES failures(id) ON DELETE CASCADE,
    diagnosed_ms INTEGER NOT NULL,
    cause        TEXT NOT NULL,
    confidence   TEXT NOT NULL
);
CREATE INDEX diagnosis_history_by_failure ON diagnosis_history(failure_id);

CREATE TABLE cursors (
    name     TEXT PRIMARY KEY,
    event_id INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE ingest_batches (
    digest  BLOB PRIMARY KEY,
    seen_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX ingest_batches_by_time ON ingest_batches(seen_ms);

CREATE TABLE ingest_pending (
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    line      INTEGER NOT NULL,
    text      TEXT NOT NULL,
    PRIMARY KEY (source_id, line)
) WITHOUT ROWID;

CREATE TABLE ingest_record_sets (
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    min_time  TEXT NOT NULL,
    max_time  TEXT NOT NULL,
    digests   BLOB NOT NULL,
    seen_ms   INTEGER NOT NULL
);
CREATE INDEX ingest_record_sets_by_time ON ingest_record_sets(source_id, max_time);
CREATE INDEX ingest_record_sets_by_seen ON ingest_record_sets(seen_ms);
"#;

/// Creates the current schema in an empty database.
pub fn init(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(SQL)?;
    tx.execute_batch(&rollups::create_sql())?;
    tx.execute_batch(incident_schema::SCHEMA)?;
    tx.execute_batch(incident_schema::DEVICES_SESSIONS)?;
    Ok(())
}

/// Upgrades a database from `version` to `version + 1`.
pub fn upgrade_from(tx: &Transaction<'_>, version: u32) -> Result<()> {
    match version {
        // Version 2 keeps the history of diagnoses (a diagnosis is upgraded
        // when later lines bring more evidence, and the change is kept),
        // counts lines cut for being over the length limit, and indexes a
        // client's events by kind (flows of a busy shared client id: a scan
        // of all of the client's events was the slowest part of diagnosis).
        // Sources became file generations (a rotated file and its successor
        // were both `app.log`: the path is no longer unique; the tailer
        // knows files by device and inode) with the highest line counted;
        // an event is unique per source, line and kind, so a record read
        // again after a crash is stored once.
        // Partial indexes became full ones: SQLite re-prepares a statement on
        // every new binding when a partial index's usability depends on it.
        // An index costs every insert: the plain time index served no query.
        1 => {
            tx.execute_batch(
                "CREATE TABLE sources_v2 (
                     id            INTEGER PRIMARY KEY,
                     path          TEXT NOT NULL,
                     format        TEXT NOT NULL,
                     dev           INTEGER,
                     inode         INTEGER,
                     head_hash     TEXT,
                     byte_offset   INTEGER NOT NULL DEFAULT 0,
                     line_no       INTEGER NOT NULL DEFAULT 0,
                     lines_parsed  INTEGER NOT NULL DEFAULT 0,
                     lines_skipped INTEGER NOT NULL DEFAULT 0,
                     lines_unknown INTEGER NOT NULL DEFAULT 0,
                     lines_cut     INTEGER NOT NULL DEFAULT 0,
                     clock_offset_ms INTEGER,
                     clock_note    TEXT,
                     updated_ms    INTEGER,
                     read_line_no  INTEGER NOT NULL DEFAULT 0
                 );
                 INSERT INTO sources_v2 (id, path, format, dev, inode, head_hash, byte_offset,
                     line_no, lines_parsed, lines_skipped, lines_unknown, clock_offset_ms,
                     clock_note, updated_ms, read_line_no)
                 SELECT id, path, format, dev, inode, head_hash, byte_offset, line_no,
                     lines_parsed, lines_skipped, lines_unknown, clock_offset_ms, clock_note,
                     updated_ms, line_no FROM sources;
                 DROP TABLE sources;
                 ALTER TABLE sources_v2 RENAME TO sources;
                 CREATE INDEX sources_by_path ON sources(path);
                 CREATE INDEX sources_by_file ON sources(dev, inode);
                 DROP INDEX events_by_source;
                 CREATE UNIQUE INDEX events_by_source ON events(source_id, line, kind);
                 CREATE TABLE diagnosis_history (
                     failure_id   TEXT NOT NULL REFERENCES failures(id) ON DELETE CASCADE,
                     diagnosed_ms INTEGER NOT NULL,
                     cause        TEXT NOT NULL,
                     confidence   TEXT NOT NULL
                 );
                 CREATE INDEX diagnosis_history_by_failure ON diagnosis_history(failure_id);
                 DROP INDEX events_by_client;
                 CREATE INDEX events_by_client_kind ON events(client_id, kind, ts_ms);
                 CREATE INDEX events_by_client_ip ON events(client_id, ip, ts_ms);
                 DROP INDEX events_by_request;
                 CREATE INDEX events_by_request   ON events(request_id);
                 DROP INDEX events_by_code;
                 CREATE INDEX events_by_code      ON events(code_fp);
                 DROP INDEX events_by_challenge;
                 CREATE INDEX events_by_challenge ON events(code_challenge);
                 DROP INDEX events_by_verifier;
                 CREATE INDEX events_by_verifier  ON events(verifier_s256);
                 DROP INDEX events_by_refresh;
                 CREATE INDEX events_by_refresh   ON events(refresh_token_fp);
                 DROP INDEX failures_by_request;
                 CREATE INDEX failures_by_request ON failures(request_id);
                 CREATE INDEX events_by_format    ON events(format, server_date_ms);
                 DROP INDEX events_by_time;",
            )?;
            Ok(())
        }
        2 => {
            tx.execute_batch("ALTER TABLE failures ADD COLUMN context TEXT;")?;
            tx.execute_batch(&rollups::create_sql())?;
            tx.execute_batch(&rollups::backfill_sql())?;
            Ok(())
        }
        // Version 4 commits the diagnosis cursor with the diagnoses it
        // covers (a crash between storing events and diagnosing them lost
        // those failures). An upgraded database has no cursor: the next
        // run looks at every candidate once, skipping those diagnosed.
        3 => {
            tx.execute_batch(
                "CREATE TABLE cursors (
                     name     TEXT PRIMARY KEY,
                     event_id INTEGER NOT NULL
                 ) WITHOUT ROWID;",
            )?;
            Ok(())
        }
        // Version 5 keeps what the envelope layer read: a source's envelope
        // (shown on `/sources`), and an event's origin (the pod, container,
        // host or unit inside an aggregated file) and envelope time (the
        // runtime's or journal's, beside the line's own: a clock sample).
        4 => {
            tx.execute_batch(
                "ALTER TABLE sources ADD COLUMN envelope TEXT;
                 ALTER TABLE events ADD COLUMN origin TEXT;
                 ALTER TABLE events ADD COLUMN envelope_ts_ms INTEGER;",
            )?;
            Ok(())
        }
        // Version 6 receives logs from shippers (src/fleet): the digests of
        // the batches stored lately (a batch retried after a timeout is
        // stored once) and the lines of each received stream that a parser
        // still holds (replayed after a restart: a batch answered 200 is
        // never lost with an open record).
        5 => {
            tx.execute_batch(
                "CREATE TABLE ingest_batches (
                     digest  BLOB PRIMARY KEY,
                     seen_ms INTEGER NOT NULL
                 ) WITHOUT ROWID;
                 CREATE INDEX ingest_batches_by_time ON ingest_batches(seen_ms);
                 CREATE TABLE ingest_pending (
                     source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
                     line      INTEGER NOT NULL,
                     text      TEXT NOT NULL,
                     PRIMARY KEY (source_id, line)
                 ) WITHOUT ROWID;",
            )?;
            Ok(())
        }
        // Version 7 groups failures into incidents (every stored failure is
        // grouped here) and keeps the counters of `/metrics` that only go
        // up, started at what is stored.
        6 => incident_schema::upgrade(tx),
        // Version 8 (fleet: per-record dedupe) keeps the digests of the
        // received records stored lately (stream, shipper time, line): a
        // retry cut into other batches than the first try, or sent after a
        // restart, stores nothing twice. One row per stream and commit holds
        // that commit's digests and their time range: a row per record made
        // the commit of every record an indexed insert (the OTLP receiver
        // fell from 289,561 to 71,373 records/s, benches/README.md).
        7 => {
            tx.execute_batch(
                "CREATE TABLE ingest_record_sets (
                     source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
                     min_time  TEXT NOT NULL,
                     max_time  TEXT NOT NULL,
                     digests   BLOB NOT NULL,
                     seen_ms   INTEGER NOT NULL
                 );
                 CREATE INDEX ingest_record_sets_by_time ON ingest_record_sets(source_id, max_time);
                 CREATE INDEX ingest_record_sets_by_seen ON ingest_record_sets(seen_ms);",
            )?;
            Ok(())
        }
        // Version 9 ("devices and sessions") keeps the installation or
        // device id a client log carries, and counts and searches the
        // devices and sessions of the failures.
        8 => incident_schema::upgrade_devices_sessions(tx),
        // Version 10 indexes the flow keys only where an event has one: a
        // Keycloak event carries no request id, no PKCE and no refresh
        // fingerprint, a Rails line mostly none but its request id, and
        // inserting a NULL key into five indexes was a quarter of storing
        // an event (benches/README.md). Every query on these columns is
        // an equality, which implies NOT NULL, so the planner still uses
        // them; `ENABLE_QPSG` keeps the plans from depending on bindings.
        // The `Date` header index holds only the events the clock samples
        // read: those with a `Date` header, and those of the mobile formats
        // (a server's events carry none). Its condition is what each sample
        // query's terms imply, so SQLite uses it; not an `IN` of three
        // formats, which SQLite evaluates through a table it builds on every
        // insert (that cost more than the index saved).
        9 => {
            tx.execute_batch(
                "DROP INDEX events_by_request;
                 CREATE INDEX events_by_request   ON events(request_id) WHERE request_id IS NOT NULL;
                 DROP INDEX events_by_code;
                 CREATE INDEX events_by_code      ON events(code_fp) WHERE code_fp IS NOT NULL;
                 DROP INDEX events_by_challenge;
                 CREATE INDEX events_by_challenge ON events(code_challenge) WHERE code_challenge IS NOT NULL;
                 DROP INDEX events_by_verifier;
                 CREATE INDEX events_by_verifier  ON events(verifier_s256) WHERE verifier_s256 IS NOT NULL;
                 DROP INDEX events_by_refresh;
                 CREATE INDEX events_by_refresh   ON events(refresh_token_fp) WHERE refresh_token_fp IS NOT NULL;
                 DROP INDEX events_by_format;
                 CREATE INDEX events_by_format    ON events(format, server_date_ms) WHERE server_date_ms IS NOT NULL OR format IN ('logcat', 'ios-console');",
            )?;
            Ok(())
        }
        // Version 11 indexes two rare kinds of event that every failure
        // looks for. The OmniAuth login phases, by line: each failure looks
        // 400 lines back for them, which walked every event of those lines
        // and read each issued code's row, though phases are rare (8% of a
        // Keycloak analysis, which has none). The events that may record a
        // failure, by time: the join window read every response of its
        // span to keep the few failed ones (benches/README.md). Each
        // condition is its query's own terms, so SQLite can use the index
        // whatever the bindings; the kinds are ORed, not an `IN`, which
        // SQLite would evaluate through a table built on every insert.
        10 => {
            tx.execute_batch(
                "CREATE INDEX events_phases       ON events(source_id, line) WHERE kind IN ('code_issued', 'authorize_request') AND provider_reason LIKE '% phase initiated.';
                 CREATE INDEX events_failing      ON events(ts_ms) WHERE (kind = 'token_response' OR kind = 'client_error' OR kind = 'provider_event') AND (kind = 'client_error' OR status >= 400 OR error IS NOT NULL OR provider_code IS NOT NULL OR provider_reason IS NOT NULL);",
            )?;
            Ok(())
        }
        // Version 12 indexes a client's events from one address by kind
        // too: the flow of a failed exchange is the latest issued code of
        // the client from the exchange's address, and a confidential
        // client's back end (one address, its users' logins logged from
        // theirs) has none, so every failure walked all of the back end's
        // events of the hour before it (a burst of 12,000 failures in two
        // minutes took 13 s, benches/README.md). Every query on the index
        // names one kind.
        11 => {
            tx.execute_batch(
                "DROP INDEX events_by_client_ip;
                 CREATE INDEX events_by_client_ip ON events(client_id, ip, kind, ts_ms);",
            )?;
            Ok(())
        }
        // Version 13 tells apart the records of one line: a CloudWatch
        // document or an OpenTelemetry batch is one line holding many log
        // records, and every event of a kind after the first of that line
        // was dropped as stored already (three refused grants in one
        // `filter-log-events` line were one failure). Each event says which
        // record it was (`part`, 0 for a line that is one record, so every
        // stored event keeps its key).
        12 => {
            tx.execute_batch(
                "ALTER TABLE events ADD COLUMN part INTEGER NOT NULL DEFAULT 0;
                 DROP INDEX events_by_source;
                 CREATE UNIQUE INDEX events_by_source ON events(source_id, line, kind, part);",
            )?;
            Ok(())
        }
        _ => Err(Error::IncompatibleVersion(version)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// The schema as version 1 shipped it. Frozen: never edit.
    const V1_SCHEMA: &str = r#"
CREATE TABLE sources (
    id            INTEGER PRIMARY KEY,
    path          TEXT NOT NULL UNIQUE,
    format        TEXT NOT NULL,
    dev           INTEGER,
    inode         INTEGER,
    head_hash     TEXT,
    byte_offset   INTEGER NOT NULL DEFAULT 0,
    line_no       INTEGER NOT NULL DEFAULT 0,
    lines_parsed  INTEGER NOT NULL DEFAULT 0,
    lines_skipped INTEGER NOT NULL DEFAULT 0,
    lines_unknown INTEGER NOT NULL DEFAULT 0,
    clock_offset_ms INTEGER,
    clock_note    TEXT,
    updated_ms    INTEGER
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    line INTEGER NOT NULL, kind TEXT NOT NULL, format TEXT NOT NULL, server TEXT, ts_ms INTEGER,
    ts_basis TEXT, request_id TEXT, client_id TEXT, grant_type TEXT, method TEXT, path TEXT,
    status INTEGER, error TEXT, error_description TEXT, provider_reason TEXT, provider_debug TEXT,
    provider_code TEXT, redirect_uri TEXT, code_challenge TEXT, code_challenge_method TEXT,
    code_fp TEXT, refresh_token_fp TEXT, assertion_fp TEXT, verifier_s256 TEXT,
    verifier_sent INTEGER, jwt_iat INTEGER, jwt_exp INTEGER, jwt_nbf INTEGER, jwt_iss TEXT,
    jwt_aud TEXT, jwt_jti TEXT, server_date_ms INTEGER, ip TEXT, user_agent TEXT,
    session_id TEXT, user_name TEXT, lifecycle TEXT
);
CREATE INDEX events_by_time      ON events(ts_ms);
CREATE INDEX events_by_request   ON events(request_id) WHERE request_id IS NOT NULL;
CREATE INDEX events_by_client    ON events(client_id, ts_ms) WHERE client_id IS NOT NULL;
CREATE INDEX events_by_code      ON events(code_fp) WHERE code_fp IS NOT NULL;
CREATE INDEX events_by_challenge ON events(code_challenge) WHERE code_challenge IS NOT NULL;
CREATE INDEX events_by_verifier  ON events(verifier_s256) WHERE verifier_s256 IS NOT NULL;
CREATE INDEX events_by_refresh   ON events(refresh_token_fp) WHERE refresh_token_fp IS NOT NULL;
CREATE INDEX events_by_source    ON events(source_id, line);
CREATE INDEX events_by_kind_time ON events(kind, ts_ms);
CREATE TABLE evidence (
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    line     INTEGER NOT NULL,
    text     TEXT NOT NULL,
    PRIMARY KEY (event_id, line)
) WITHOUT ROWID;
CREATE TABLE failures (
    id TEXT PRIMARY KEY, event_id INTEGER NOT NULL UNIQUE REFERENCES events(id) ON DELETE CASCADE,
    ts_ms INTEGER, server TEXT, request_id TEXT, client_id TEXT, grant_type TEXT, error TEXT,
    http_status INTEGER, cause TEXT NOT NULL, confidence TEXT NOT NULL, summary TEXT NOT NULL,
    fix TEXT NOT NULL, missing TEXT, candidates TEXT NOT NULL, evidence TEXT NOT NULL,
    diagnosed_ms INTEGER NOT NULL
);
CREATE INDEX failures_by_time    ON failures(ts_ms);
CREATE INDEX failures_by_cause   ON failures(cause, ts_ms);
CREATE INDEX failures_by_client  ON failures(client_id, ts_ms);
CREATE INDEX failures_by_request ON failures(request_id) WHERE request_id IS NOT NULL;
CREATE TABLE failure_events (
    failure_id TEXT NOT NULL REFERENCES failures(id) ON DELETE CASCADE,
    event_id   INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    PRIMARY KEY (failure_id, event_id)
) WITHOUT ROWID;
CREATE INDEX failure_events_by_event ON failure_events(event_id);
PRAGMA user_version = 1;
"#;

    /// Tables, columns (name and type, in order) and index names: what a
    /// query can observe of a schema.
    fn describe(conn: &Connection) -> Vec<String> {
        let mut out = Vec::new();
        let mut tables = conn
            .prepare("SELECT name, type FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' ORDER BY type, name")
            .expect("prepare");
        let names: Vec<(String, String)> = tables
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        for (name, kind) in names {
            let sql: Option<String> = conn
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE name = ?1",
                    [&name],
                    |r| r.get(0),
                )
                .expect("sql");
            if kind == "index" || kind == "trigger" {
                let normal = sql
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                out.push(format!("{kind} {name}: {normal}"));
                continue;
            }
            out.push(format!("{kind} {name}"));
            if kind == "table" {
                let mut cols = conn
                    .prepare(&format!("SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info('{name}') ORDER BY name"))
                    .expect("prepare");
                let c: Vec<String> = cols
                    .query_map([], |r| {
                        Ok(format!(
                            "  {} {} {} {:?}",
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, Option<String>>(3)?
                        ))
                    })
                    .expect("query")
                    .collect::<rusqlite::Result<_>>()
                    .expect("rows");
                out.extend(c);
            }
        }
        out
    }

    #[test]
    fn every_past_version_upgrades_to_the_fresh_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join("v1.db");
        let conn = Connection::open(&old).expect("open");
        conn.execute_batch(V1_SCHEMA).expect("v1 schema");
        // Two failures in one slot, one in another, one undated: the
        // upgrade must count them into `failure_slots`.
        conn.execute_batch(
            "INSERT INTO sources (id, path, format) VALUES (1, 'a.log', 'rails');
             INSERT INTO events (id, source_id, line, kind, format)
             VALUES (1, 1, 1, 'token_response', 'rails'), (2, 1, 2, 'token_response', 'rails'),
                    (3, 1, 3, 'token_response', 'rails'), (4, 1, 4, 'token_response', 'rails');
             INSERT INTO failures (id, event_id, ts_ms, server, client_id, cause, confidence,
                                   summary, fix, candidates, evidence, diagnosed_ms)
             VALUES ('a', 1, 1000, 'doorkeeper', 'app', 'code_reused', 'high', '', '', '[]', '[]', 0),
                    ('b', 2, 2000, 'doorkeeper', 'app', 'code_reused', 'high', '', '', '[]', '[]', 0),
                    ('c', 3, 900500, NULL, NULL, 'unknown', 'low', '', '', '[]', '[]', 0),
                    ('d', 4, NULL, NULL, NULL, 'unknown', 'low', '', '', '[]', '[]', 0);",
        )
        .expect("v1 rows");
        drop(conn);
        let upgraded = crate::store::Store::open(&old).expect("upgrade");
        let fresh = crate::store::Store::open(&dir.path().join("fresh.db")).expect("fresh");
        assert_eq!(describe(&upgraded.conn), describe(&fresh.conn));
        let version: u32 = upgraded
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, VERSION);
        let rows = |sql: &str| -> Vec<String> {
            upgraded
                .conn
                .prepare(sql)
                .expect("prepare")
                .query_map([], |r| {
                    let n = r.as_ref().column_count();
                    (0..n)
                        .map(|i| {
                            r.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<rusqlite::Result<Vec<_>>>()
                        .map(|v| v.join(" "))
                })
                .expect("query")
                .collect::<rusqlite::Result<_>>()
                .expect("rows")
        };
        assert_eq!(
            rows("SELECT slot_ms, cause, n FROM failure_slots ORDER BY slot_ms"),
            [
                "Integer(0) Text(\"code_reused\") Integer(2)",
                "Integer(900000) Text(\"unknown\") Integer(1)"
            ]
        );
        assert_eq!(
            rows("SELECT cause, server, client_id, n FROM failure_totals ORDER BY cause"),
            [
                "Text(\"code_reused\") Text(\"doorkeeper\") Text(\"app\") Integer(2)",
                "Text(\"unknown\") Text(\"unknown\") Text(\"\") Integer(2)"
            ]
        );
    }

    #[test]
    fn reading_an_older_database_upgrades_it_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v1.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(V1_SCHEMA).expect("v1 schema");
        drop(conn);
        // What `lookup` and `serve` open: read-only, after the upgrade.
        let store =
            crate::store::Store::open_upgraded_read_only(&path).expect("open an old database");
        assert_eq!(store.schema_version().expect("version"), VERSION);
        assert!(store.failure("none").expect("a v3 query").is_none());
        assert_eq!(store.total_failures().expect("the rollups exist"), 0);
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("new.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE x(a); PRAGMA user_version = 99;")
            .expect("future");
        drop(conn);
        match crate::store::Store::open(&path) {
            Err(Error::NewerThanBinary { found: 99, .. }) => {}
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// The flow keys' indexes hold only events that have the key; a lookup
    /// by a bound key (and the revisit join) must still be served by them,
    /// not by a scan of every event.
    #[test]
    fn a_lookup_by_a_flow_key_or_a_client_format_uses_its_partial_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::store::Store::open(&dir.path().join("g.db")).expect("open");
        let plan = |sql: &str| -> String {
            let mut stmt = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("prepare");
            let zeros = vec!["0"; stmt.parameter_count()];
            let rows: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(zeros), |r| r.get::<_, String>(3))
                .expect("query")
                .collect::<rusqlite::Result<_>>()
                .expect("rows");
            rows.join("; ")
        };
        for (column, index) in [
            ("request_id", "events_by_request"),
            ("code_fp", "events_by_code"),
            ("code_challenge", "events_by_challenge"),
            ("verifier_s256", "events_by_verifier"),
            ("refresh_token_fp", "events_by_refresh"),
        ] {
            let sql = format!(
                "SELECT e.id FROM events e WHERE e.{column} = ?1 ORDER BY coalesce(e.ts_ms, 0), e.id"
            );
            let used = plan(&sql);
            assert!(
                used.contains(&format!("{index} ({column}=?)")),
                "{column}: {used}"
            );
        }
        for (sql, uses) in crate::store::clocks::SAMPLE_QUERIES
            .iter()
            .zip(["(format=?", "(format=?"])
        {
            let used = plan(sql);
            assert!(
                used.contains(&format!("events_by_format {uses}")),
                "{sql}: {used}"
            );
        }
        let join = plan(
            "SELECT c.id FROM events n JOIN events c ON c.code_fp = n.code_fp WHERE n.id > ?1",
        );
        assert!(join.contains("events_by_code (code_fp=?)"), "{join}");
    }
}
