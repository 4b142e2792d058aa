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
mod block_cache;
mod bulk;
mod chunked;
pub mod clocks;
mod event_index;
pub mod events;
mod evidence;
mod failure_details;
pub mod failure_record;
pub mod failure_signs;
pub mod failures;
pub mod feed;
pub mod incident_schema;
pub mod incidents;
mod insert;
mod json_string;
mod kept;
mod kept_table;
pub mod labels;
mod retention;
pub mod revisit;
mod revoke_summary;
mod revokes;
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
mod index_reads;
mod keyed;
mod log_lines;
mod nearest;
mod request_order;
mod rows;
mod sampled;
mod scratch_failures;
mod spill;
mod time_order;
mod window;

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

pub use error::{Error, Result};
pub use events::EventRow;
pub use failure_record::{FailureFilter, FailureRecord, RenderedJson, write_failure_id};
pub use handle::Store;
pub(crate) use log_lines::{InFile, LogFileId};
pub use retention::PRUNE_CHUNK;
pub use spill::EvidenceSpill;
pub(crate) use spill::SpillBatch;
pub use writer::{BatchProgress, EventParts, SourceInfo};

/// The page size of a scratch database, twice SQLite's default: half the
/// pages for the bulk load to write and the index rebuild to sort, and
/// for the diagnosis to look failures up in. Keycloak and Hydra gigabytes
/// 8–23% faster and Rails 6% (median of five rounds, 100 MB–1 GB), with the
/// same `analyze --json`; 16 KiB made a Keycloak log slower again
/// (benches/README.md). A kept database keeps the default.
const SCRATCH_PAGE_SIZE: u32 = 8_192;

/// How a database waits for the disk: `NORMAL` (in WAL mode, durable but
/// for the last commits at a power loss), or not at all for a scratch
/// database, which no crash needs to find whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Synchronous {
    Normal,
    Off,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Off => "OFF",
        }
    }
}

/// How long a connection waits for a lock before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Store {
    /// Opens (creating or upgrading) the database at `path`, in WAL mode.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_paged(path, None, None, Synchronous::Normal)
    }

    /// Opens a scratch database beside its writer, with the writer's
    /// evidence file, as [`Store::open`] does, except that the indexes a
    /// bulk load kept in memory (`event_index.rs`), which the shared
    /// evidence file holds, are not built in SQL.
    ///
    /// A connection given an evidence file, which only a scratch database
    /// has, closes without a checkpoint (`no_checkpoint_on_close`);
    /// a kept database's readers (`analyze --db` diagnosing on every core)
    /// are given none.
    pub fn open_beside(path: &Path, spill: Option<Arc<EvidenceSpill>>) -> Result<Store> {
        let store = Store::open_paged(path, None, spill, Synchronous::Normal)?;
        if store.of_scratch_analysis() {
            store.no_checkpoint_on_close()?;
        }
        Ok(store)
    }

    /// [`Store::open`], giving a database it creates pages of `page_size`
    /// bytes (SQLite's default, 4,096, when `None`). The size must be set
    /// before the WAL is: a WAL database keeps the size it was made with.
    fn open_paged(
        path: &Path,
        page_size: Option<u32>,
        spill: Option<Arc<EvidenceSpill>>,
        synchronous: Synchronous,
    ) -> Result<Store> {
        let conn = Connection::open(path)?;
        if let Some(size) = page_size {
            conn.pragma_update(None, "page_size", size)?;
        }
        let mut store = Store::on(conn).sharing_spill(spill);
        store.apply_pragmas(true, synchronous)?;
        store.migrate()?;
        if store.event_index().is_none() {
            store.restore_event_indexes()?;
        }
        Ok(store)
    }

    /// A private in-memory database (for `analyze` without `--db`).
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        let mut store = Store::on(conn);
        store.apply_pragmas(false, Synchronous::Normal)?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database read-only (the web side).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > schema::VERSION {
            return Err(Error::NewerThanBinary {
                found: version,
                supported: schema::VERSION,
            });
        }
        Ok(Store::on(conn))
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

    /// Runs `f` on each of `items` in IMMEDIATE transactions of `per_commit`
    /// items at most (the last may hold fewer), telling `committed` how many
    /// each commit made durable. An error rolls back the open transaction's
    /// items, not those committed before. A transaction stays open while
    /// `items` waits for its next one: only a connection that writes alone
    /// (a scratch database's one writer) should wait in one.
    pub fn write_in_groups<I: IntoIterator>(
        &mut self,
        items: I,
        per_commit: usize,
        f: &mut dyn FnMut(&mut Store, I::Item) -> Result<()>,
        committed: &mut dyn FnMut(usize),
    ) -> Result<()> {
        let per_commit = per_commit.max(1);
        let mut open = 0;
        for item in items {
            if open == 0 {
                self.conn.execute_batch("BEGIN IMMEDIATE")?;
            }
            if let Err(e) = f(self, item) {
                self.conn.execute_batch("ROLLBACK")?;
                return Err(e);
            }
            open += 1;
            if open == per_commit {
                self.commit_group(open, committed)?;
                open = 0;
            }
        }
        if open > 0 {
            self.commit_group(open, committed)?;
        }
        Ok(())
    }

    fn commit_group(&mut self, items: usize, committed: &mut dyn FnMut(usize)) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        feed::signal_commit();
        committed(items);
        Ok(())
    }

    /// Runs `f`'s reads as one read transaction (one snapshot, one lock
    /// taken and released, the page cache checked once) when the
    /// connection is in none; inside one, runs `f` as it is. The
    /// transaction ends also when `f` fails, whose error comes first.
    ///
    /// The snapshot's `data_version` is read once, as the transaction's
    /// first read: what the connection has seen (`Store::seen`, asked for
    /// every join window and every warning of a failure) is then told
    /// without a statement.
    pub fn reading<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if !self.conn.is_autocommit() {
            return f();
        }
        self.conn.execute_batch("BEGIN")?;
        let result = self.data_version().and_then(|version| {
            self.snapshot_version.set(Some(version));
            f()
        });
        self.snapshot_version.set(None);
        let ended = self.conn.execute_batch("COMMIT");
        let value = result?;
        ended?;
        Ok(value)
    }

    /// Opens a scratch database at `path` (for `analyze` without `--db`):
    /// like [`Store::open`] but without syncing to disk, since nothing in it
    /// needs to survive a crash, and without the daemon's records (rollups,
    /// incidents, live changes, the diagnosis history), since the analysis
    /// that fills it reads only its events, evidence and failures. Its
    /// evidence lines go to a file beside it ([`EvidenceSpill`], `path`
    /// with the extension `evidence`), which every connection opened beside
    /// it shares ([`Store::evidence_spill`]), with its failures, which its
    /// tables do not hold (`scratch_failures.rs`). Other connections (the
    /// diagnosing follower) open it with [`Store::open_beside`] and only
    /// read.
    pub fn open_scratch(path: &Path) -> Result<Store> {
        let mut store = Store::open_paged(path, Some(SCRATCH_PAGE_SIZE), None, Synchronous::Off)?;
        store.conn.pragma_update(None, "cache_size", -4_000)?;
        store.scratch = true;
        store.no_checkpoint_on_close()?;
        let spill = EvidenceSpill::create(&path.with_extension("evidence"))?;
        store.spill = Some(Arc::new(spill));
        Ok(store)
    }

    /// Opens a scratch database for reading beside its writer (the
    /// diagnosis workers of `analyze`), with the writer's evidence file:
    /// like [`Store::open`] with the writer's page cache of 4 MB, since
    /// each worker's cache adds to the peak memory (1 MB made a Keycloak
    /// diagnosis a tenth slower and saved nothing measurable on a Rails log
    /// of 3 GB).
    pub fn open_scratch_reader(path: &Path, spill: Option<Arc<EvidenceSpill>>) -> Result<Store> {
        let store = Store::open_beside(path, spill)?;
        store.conn.pragma_update(None, "cache_size", -4_000)?;
        Ok(store)
    }

    /// Closes this connection without copying the write-ahead log into the
    /// database first, as the last connection to close otherwise does:
    /// for a connection to a scratch database, which is removed right after
    /// (the copy was 9 ms of a Rails gigabyte's 0.9 s and 21 ms of a
    /// Keycloak one's, benches/README.md). A kept database's connections
    /// never call this: its log must end in the database.
    fn no_checkpoint_on_close(&self) -> Result<()> {
        self.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        Ok(())
    }

    /// A handle on `conn` with nothing kept yet: a kept database's, until
    /// a caller says otherwise.
    fn on(conn: Connection) -> Store {
        Store {
            conn,
            scratch: false,
            bulk_when_kept: false,
            failure_window: Default::default(),
            spill: None,
            events_final: false,
            revokes: Default::default(),
            bulk: None,
            last_request: Default::default(),
            near: Default::default(),
            snapshot_version: Default::default(),
            index_from_events: event_index::INDEX_FROM_EVENTS,
        }
    }

    /// Whether this is a scratch database (`analyze` without `--db`),
    /// which nothing but the analysis that fills it writes.
    pub fn is_scratch(&self) -> bool {
        self.scratch
    }

    /// Whether this connection is one of a scratch analysis's: the scratch
    /// database's own, or one opened beside it with its evidence file
    /// (only a scratch database has one). The failures it diagnoses go to
    /// a database that keeps none of the daemon's records, so they are
    /// written from their rendered JSON alone
    /// ([`Store::upsert_rendered`]).
    pub fn of_scratch_analysis(&self) -> bool {
        self.scratch || self.spill.is_some()
    }

    /// Where this connection's evidence lines are when not in its
    /// database: a scratch database's file, for a connection opened beside
    /// its writer ([`Store::sharing_spill`]).
    pub fn evidence_spill(&self) -> Option<Arc<EvidenceSpill>> {
        self.spill.clone()
    }

    /// This connection with the evidence file of the scratch database it
    /// opened (`None`: a kept database, whose evidence is in it).
    pub fn sharing_spill(mut self, spill: Option<Arc<EvidenceSpill>>) -> Store {
        self.spill = spill;
        self
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
    /// idle daemon would keep tens of megabytes beside its database.
    ///
    /// It tries once, without waiting: such a checkpoint holds the write
    /// lock while it waits for readers and while it copies, so with the
    /// usual busy timeout a reader holding a snapshot (a `sqlite3` shell, a
    /// backup) would hold every writer back for seconds. A writer or a
    /// reader in the way leaves the file as it is (`false`); the usual busy
    /// timeout is back afterwards.
    pub fn truncate_wal_over(&mut self, bytes: u64) -> Result<bool> {
        let wal = match self.conn.path() {
            Some(path) if !path.is_empty() => format!("{path}-wal"),
            _ => return Ok(false),
        };
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if size <= bytes {
            return Ok(false);
        }
        self.conn.busy_timeout(std::time::Duration::ZERO)?;
        let busy = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            });
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(busy? == 0)
    }

    /// The connection itself, for benchmarks and tests that build or
    /// inspect a store with SQL of their own (the dashboard bench's bulk
    /// builder). The application's SQL lives in `store/` only: no module of
    /// `src/` outside it calls this (`tests::sql_stays_in_the_store`).
    #[doc(hidden)]
    pub fn raw_connection(&self) -> &Connection {
        &self.conn
    }

    fn apply_pragmas(&mut self, on_disk: bool, synchronous: Synchronous) -> Result<()> {
        // Before the journal mode: switching a new database to WAL, and the
        // schema's first commit, sync the file, its journal and its folder
        // unless told not to (six `fsync`s, which a scratch database, gone
        // when its analysis ends, need not wait for).
        self.conn
            .pragma_update(None, "synchronous", synchronous.pragma())?;
        if on_disk {
            let mode: String =
                self.conn
                    .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing_note(&format!("journal_mode is {mode}, not WAL"));
            }
        }
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        self.conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Bounded page cache (about 16 MiB) keeps memory flat on big inputs.
        self.conn.pragma_update(None, "cache_size", -16_000)?;
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
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
        // A database of this version is only read: no write lock, no check
        // of every foreign key. Opening one beside a writer (the analysis's
        // follower and diagnosis workers) took the write lock and scanned
        // every event and evidence line (benches/README.md).
        let version: u32 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == schema::VERSION {
            return Ok(());
        }
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
mod kept_bulk_tests;
#[cfg(test)]
mod progress_tests;
#[cfg(test)]
mod scratch_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod window_tests;
