//! The SQLite store: sources (files and how far they were read), events,
//! evidence lines, failures and their diagnoses.
//!
//! Invariants:
//! - Events and the file offset they were read up to are written in one
//!   transaction ([`Store::commit_batch`]): a crash can never record an offset
//!   for events that were not stored, nor store events twice.
//! - The schema is versioned with `PRAGMA user_version` (see [`schema`]); a
//!   database newer than this binary is refused, never modified.
//! - Every statement is prepared once per connection (`prepare_cached`).
//!
//! The schema is documented for users who query it with `sqlite3` in the
//! README.

pub mod alert_counts;
pub mod clocks;
pub mod events;
pub mod failure_record;
pub mod failures;
pub mod feed;
pub mod incident_schema;
pub mod incidents;
pub mod labels;
mod retention;
pub mod revisit;
pub mod rollups;
pub mod schema;
pub mod slots;
pub mod sources;
pub mod stats;
pub mod story;
pub mod streams;
mod writer;

mod error;
mod handle;
mod window;

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

pub use error::{Error, Result};
pub use events::EventRow;
pub use failure_record::{FailureFilter, FailureRecord};
pub use handle::Store;
pub use retention::PRUNE_CHUNK;
pub use writer::{BatchProgress, SourceInfo};

impl Store {
    /// Opens (creating or upgrading) the database at `path`, in WAL mode.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        let mut store = Store {
            conn,
            scratch: false,
            failure_window: Default::default(),
        };
        store.apply_pragmas(true)?;
        store.migrate()?;
        Ok(store)
    }

    /// A private in-memory database (for `analyze` without `--db`).
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        let mut store = Store {
            conn,
            scratch: false,
            failure_window: Default::default(),
        };
        store.apply_pragmas(false)?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database read-only (the web side).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > schema::VERSION {
            return Err(Error::NewerThanBinary {
                found: version,
                supported: schema::VERSION,
            });
        }
        Ok(Store {
            conn,
            scratch: false,
            failure_window: Default::default(),
        })
    }

    /// Opens an existing database read-only, upgrading a database of an
    /// older grantwatch first (once, in one transaction, as `watch` would on
    /// start): this binary's queries need its tables.
    pub fn open_upgraded_read_only(path: &Path) -> Result<Store> {
        let store = Store::open_read_only(path)?;
        match store.schema_version()? {
            v if (1..schema::VERSION).contains(&v) => {
                drop(store);
                drop(Store::open(path)?);
                Store::open_read_only(path)
            }
            _ => Ok(store),
        }
    }

    /// Runs `f` in one IMMEDIATE transaction: committed when it returns Ok,
    /// rolled back otherwise.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = f(self);
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        self.conn.execute_batch(end)?;
        feed::signal_commit();
        result
    }

    /// Opens a scratch database at `path` (for `analyze` without `--db`):
    /// like [`Store::open`] but without syncing to disk, since nothing in it
    /// needs to survive a crash, and without the daemon's records (the
    /// rollup triggers are dropped, incidents, live changes and the
    /// diagnosis history are not written), since the analysis that fills it
    /// reads only its events, evidence and failures. Other connections
    /// (the diagnosing follower) open it with [`Store::open`] and only read.
    pub fn open_scratch(path: &Path) -> Result<Store> {
        let mut store = Store::open(path)?;
        store.conn.pragma_update(None, "synchronous", "OFF")?;
        store.conn.pragma_update(None, "cache_size", -4_000)?;
        store.drop_schema_objects("TRIGGER", "type = 'trigger'")?;
        store.scratch = true;
        Ok(store)
    }

    /// Opens a scratch database for reading beside its writer (the
    /// diagnosis workers of `analyze`): like [`Store::open`] with the
    /// writer's page cache of 4 MB, since each worker's cache adds to the
    /// peak memory (1 MB made a Keycloak diagnosis a tenth slower and saved
    /// nothing measurable on a Rails log of 3 GB).
    pub fn open_scratch_reader(path: &Path) -> Result<Store> {
        let store = Store::open(path)?;
        store.conn.pragma_update(None, "cache_size", -4_000)?;
        Ok(store)
    }

    /// The schema version the database was written with (0: not a
    /// grantwatch database, or an empty one).
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Replaces the busy timeout with `handler` (called with the number of
    /// tries so far; `false` gives up with "database is locked").
    pub fn set_busy_handler(&mut self, handler: fn(i32) -> bool) -> Result<()> {
        self.conn.busy_handler(Some(handler))?;
        Ok(())
    }

    /// Checkpoints the WAL from this connection's commits only once it
    /// holds `pages` pages (SQLite's default is 1,000), leaving the
    /// checkpoints to another connection until then (see `watch`).
    pub fn checkpoint_after_pages(&mut self, pages: u32) -> Result<()> {
        self.conn.pragma_update(None, "wal_autocheckpoint", pages)?;
        Ok(())
    }

    /// Checkpoints the whole WAL and cuts its file to nothing when the file
    /// holds more than `bytes`; returns whether it did. SQLite only starts a
    /// WAL over, never shrinks it: after a burst (a backlog caught up) an
    /// idle daemon would keep tens of megabytes beside its database. The
    /// checkpoint waits for readers (the busy handler's time at most) and
    /// holds writers back while it copies; when a reader keeps it from
    /// finishing, the file stays as it is (`false`).
    pub fn truncate_wal_over(&self, bytes: u64) -> Result<bool> {
        let wal = match self.conn.path() {
            Some(path) if !path.is_empty() => format!("{path}-wal"),
            _ => return Ok(false),
        };
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if size <= bytes {
            return Ok(false);
        }
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(busy == 0)
    }

    /// The connection itself, for benchmarks and tests that build or
    /// inspect a store with SQL of their own (the dashboard bench's bulk
    /// builder). The application's SQL lives in `store/` only: no module of
    /// `src/` outside it calls this (`tests::sql_stays_in_the_store`).
    #[doc(hidden)]
    pub fn raw_connection(&self) -> &Connection {
        &self.conn
    }

    fn apply_pragmas(&mut self, on_disk: bool) -> Result<()> {
        if on_disk {
            let mode: String =
                self.conn
                    .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing_note(&format!("journal_mode is {mode}, not WAL"));
            }
        }
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        self.conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Bounded page cache (about 16 MiB) keeps memory flat on big inputs.
        self.conn.pragma_update(None, "cache_size", -16_000)?;
        self.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Correlation runs a few dozen distinct statements per failure; keep
        // them all prepared.
        self.conn.set_prepared_statement_cache_capacity(128);
        // Plans independent of bound values (the query planner stability
        // guarantee): without it, SQLite re-prepared `events_by_request` and
        // the line-neighbour query on nearly every new binding
        // (`StatementStatus::RePrepare`), a fifth of all instructions of
        // `analyze` in the profile (benches/README.md). No statement here
        // relies on a value-dependent plan.
        self.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        // A migration may rebuild a table that others reference: foreign
        // keys are off while it runs (the pragma is a no-op inside a
        // transaction) and the result is checked before they come back.
        self.conn.pragma_update(None, "foreign_keys", "OFF")?;
        let result = self.migrate_in_transaction();
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        result
    }

    fn migrate_in_transaction(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let has_tables: bool = tx.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if version > schema::VERSION {
            return Err(Error::NewerThanBinary {
                found: version,
                supported: schema::VERSION,
            });
        }
        if version == 0 && !has_tables {
            schema::init(&tx)?;
        } else {
            for v in version..schema::VERSION {
                schema::upgrade_from(&tx, v)?;
            }
        }
        let broken: Option<String> = tx
            .query_row(
                "SELECT \"table\" FROM pragma_foreign_key_check LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(table) = broken {
            return Err(Error::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!("migration left a broken foreign key in {table}")),
            )));
        }
        tx.pragma_update(None, "user_version", schema::VERSION)?;
        tx.commit()?;
        Ok(())
    }
}

/// Store-level notes go to stderr only when something is off; the store has
/// no logger of its own.
fn tracing_note(note: &str) {
    eprintln!("grantwatch: note: {note}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantwatch_parsers::EventKind;
    use rusqlite::params;

    /// The seam the store keeps: SQL (and the SQLite crate) only under
    /// `src/store/`; other stages call the store's typed methods.
    #[test]
    fn sql_stays_in_the_store() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        for entry in walkdir::WalkDir::new(&src) {
            let entry = entry.expect("walk src");
            let path = entry.path();
            if path.starts_with(src.join("store")) || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(path).expect("read source");
            if text.contains("rusqlite") || text.contains("raw_connection(") {
                offenders.push(path.display().to_string());
            }
        }
        assert!(offenders.is_empty(), "SQL outside src/store: {offenders:?}");
    }

    fn schema_of(store: &Store) -> Vec<(String, String)> {
        store
            .conn
            .prepare("SELECT name, coalesce(sql, '') FROM sqlite_master ORDER BY name")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    /// A bulk load into a scratch database drops the events' secondary
    /// indexes and builds every one of them again, also when the load
    /// fails; a kept database keeps its indexes throughout.
    #[test]
    fn a_bulk_load_gives_back_every_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut scratch = Store::open_scratch(&dir.path().join("s.db")).expect("scratch");
        let before = schema_of(&scratch);
        let during = scratch
            .bulk_load(|s| Ok::<_, Error>(schema_of(s)))
            .expect("load");
        assert!(
            during.len() + 9 <= before.len(),
            "indexes dropped: {during:?}"
        );
        assert!(during.iter().any(|(n, _)| n == "events_by_source"));
        assert_eq!(schema_of(&scratch), before);
        let failed: Result<()> = scratch.bulk_load(|_| Err(Error::IncompatibleVersion(0)));
        assert!(failed.is_err());
        assert_eq!(schema_of(&scratch), before);
        assert_eq!(journal_mode(&scratch), "wal");

        let mut kept = Store::open(&dir.path().join("k.db")).expect("kept");
        kept.bulk_load(|_| Ok::<_, Error>(())).expect("load");
        assert_eq!(journal_mode(&kept), "wal");
        let before = schema_of(&kept);
        let during = kept
            .bulk_load(|s| Ok::<_, Error>(schema_of(s)))
            .expect("load");
        assert_eq!(during, before);
    }

    /// The failure events of a join window kept for the next one
    /// (`window.rs`) are given back only while nothing was written since:
    /// a failure another connection or this one writes into the kept span
    /// is in the next answer.
    #[test]
    fn a_kept_join_window_sees_every_failure_written_after_it() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("w.db");
        let writer = Store::open(&path).expect("writer");
        let reader = Store::open(&path).expect("reader");
        let add = |store: &Store, line: i64, ts: i64, status: i64| {
            store
                .conn
                .execute(
                    "INSERT INTO events (source_id, line, kind, format, ts_ms, status)
                     VALUES (1, ?1, 'token_response', 'rails', ?2, ?3)",
                    params![line, ts, status],
                )
                .expect("event");
        };
        writer
            .conn
            .execute(
                "INSERT INTO sources (id, path, format) VALUES (1, 'a.log', 'rails')",
                [],
            )
            .expect("source");
        add(&writer, 1, 1_000, 400);
        add(&writer, 2, 1_500, 200);
        let kinds = [EventKind::TokenResponse];
        let lines = |rows: Vec<EventRow>| rows.iter().map(|r| r.line).collect::<Vec<_>>();
        let window = |store: &Store, from, to| {
            lines(
                store
                    .failure_events_between(&kinds, from, to)
                    .expect("window"),
            )
        };
        assert_eq!(window(&reader, 0, 3_000), [1]);
        add(&writer, 3, 2_000, 400);
        assert_eq!(
            window(&reader, 0, 3_000),
            [1, 3],
            "another connection's write"
        );
        add(&reader, 4, 2_500, 401);
        assert_eq!(
            window(&reader, 0, 3_000),
            [1, 3, 4],
            "this connection's write"
        );
        // Inside the span kept: the same rows as read afresh.
        assert_eq!(window(&reader, 1_200, 2_200), [3]);
        assert_eq!(window(&writer, 1_200, 2_200), [3]);
        // The nearest failed responses, from the kept window and as read
        // by a connection that kept none.
        let fresh = Store::open(&path).expect("fresh");
        let near = |store: &Store| {
            lines(
                store
                    .failed_responses_near(2_400, (500, 2_900), 2)
                    .expect("near"),
            )
        };
        assert_eq!(near(&reader), [4, 3]);
        assert_eq!(near(&fresh), [4, 3]);
    }

    /// During a scratch database's bulk load the writer holds it alone, its
    /// journal in memory; afterwards, also after a failed load, it is in
    /// WAL mode again and a reader opened beside the writer reads what was
    /// loaded while the writer goes on writing (as the diagnosis workers
    /// do).
    #[test]
    fn a_bulk_load_holds_the_database_alone_and_gives_it_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        let mut scratch = Store::open_scratch(&path).expect("scratch");
        let add = |store: &Store, line: i64| {
            store
                .conn
                .execute(
                    "INSERT INTO events (source_id, line, kind, format) VALUES (1, ?1, 'token_response', 'rails')",
                    [line],
                )
                .map_err(Error::from)
        };
        scratch
            .conn
            .execute(
                "INSERT INTO sources (id, path, format) VALUES (1, 'a.log', 'rails')",
                [],
            )
            .expect("source");
        let (mode, beside) = scratch
            .bulk_load(|s| {
                add(s, 1)?;
                // Gives up at once instead of after a busy timeout.
                let other = Connection::open(&path)?;
                other.busy_timeout(std::time::Duration::ZERO)?;
                let beside = other
                    .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))
                    .is_ok();
                Ok::<_, Error>((journal_mode(s), beside))
            })
            .expect("load");
        assert_eq!(mode, "memory");
        assert!(!beside, "another connection read during the bulk load");
        assert_eq!(journal_mode(&scratch), "wal");
        let reader = Store::open_scratch_reader(&path).expect("reader");
        assert_eq!(reader.max_event_id().expect("max"), 1);
        let _reading = reader
            .conn
            .execute_batch("BEGIN; SELECT count(*) FROM events;");
        add(&scratch, 2).expect("a write beside a reader");
        assert_eq!(scratch.max_event_id().expect("max"), 2);
    }

    /// A connection told to checkpoint only after `pages` pages does not
    /// checkpoint at SQLite's default of 1,000 (`watch` leaves those
    /// checkpoints to the diagnosis thread's connection), and still bounds
    /// the WAL of its own commits to about `pages`.
    #[test]
    fn a_writer_that_checkpoints_late_still_bounds_the_wal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let mut writer = Store::open(&path).expect("writer");
        writer.checkpoint_after_pages(1_500).expect("pragma");
        let wal_pages = || {
            let bytes = std::fs::metadata(dir.path().join("w.db-wal")).map_or(0, |m| m.len());
            bytes.saturating_sub(32) / (4096 + 24)
        };
        writer
            .conn
            .execute(
                "INSERT INTO sources (id, path, format) VALUES (1, 'a.log', 'rails')",
                [],
            )
            .expect("source");
        let mut most = 0;
        for batch in 0..400 {
            let tx = writer.conn.transaction().expect("tx");
            for line in 0..40 {
                tx.execute(
                    "INSERT INTO events (source_id, line, kind, format, error_description)
                     VALUES (1, ?1, 'token_response', 'rails', ?2)",
                    params![batch * 40 + line, "x".repeat(400)],
                )
                .expect("event");
            }
            tx.commit().expect("commit");
            most = most.max(wal_pages());
        }
        assert!(most > 1_200, "the writer checkpointed early: {most} pages");
        // One batch writes a few dozen pages past the bound before the
        // checkpoint at its commit.
        assert!(most < 1_500 + 100, "the WAL grew to {most} pages");
    }

    /// A WAL file grown past the bound is checkpointed and cut to nothing,
    /// and what it held is in the database; one under it is left alone.
    #[test]
    fn a_grown_wal_is_cut_back_once_checkpointed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let mut writer = Store::open(&path).expect("writer");
        writer.checkpoint_after_pages(100_000).expect("pragma");
        let wal_bytes = || std::fs::metadata(dir.path().join("w.db-wal")).map_or(0, |m| m.len());
        writer
            .conn
            .execute(
                "INSERT INTO sources (id, path, format) VALUES (1, 'a.log', 'rails')",
                [],
            )
            .expect("source");
        for line in 0..2_000 {
            writer
                .conn
                .execute(
                    "INSERT INTO events (source_id, line, kind, format, error_description)
                     VALUES (1, ?1, 'token_response', 'rails', ?2)",
                    params![line, "x".repeat(400)],
                )
                .expect("event");
        }
        let other = Store::open(&path).expect("other");
        let grown = wal_bytes();
        assert!(grown > 1_000_000, "the WAL holds {grown} bytes");
        assert!(!other.truncate_wal_over(grown).expect("left"));
        assert_eq!(wal_bytes(), grown);
        assert!(other.truncate_wal_over(1_000_000).expect("cut"));
        assert_eq!(wal_bytes(), 0);
        drop(writer);
        drop(other);
        let reopened = Store::open(&path).expect("reopen");
        assert_eq!(reopened.max_event_id().expect("max"), 2_000);
    }

    fn journal_mode(store: &Store) -> String {
        store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode")
    }

    #[test]
    fn on_disk_databases_use_wal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("g.db")).expect("open");
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
    }

    #[test]
    fn reopening_keeps_the_schema_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.db");
        drop(Store::open(&path).expect("first"));
        let store = Store::open(&path).expect("second");
        let v: u32 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("v");
        assert_eq!(v, schema::VERSION);
    }
}
