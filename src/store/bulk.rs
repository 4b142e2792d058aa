//! The bulk load of a scratch database, or of a kept one that held no
//! events ([`Store::bulk_load`]): the events' secondary indexes dropped
//! while a read in ranges stores its events, and built again once, from
//! all their keys, afterwards.
//!
//! An index most rows never enter (its column is NULL in them: a Keycloak
//! log names no request id, few logs carry a PKCE verifier) stays live
//! instead: a row it rejects costs its insert one condition, and rebuilding
//! it would cost a scan of the whole table (0.15–0.25 s each on a Keycloak
//! gigabyte, benches/README.md). Which ones those are is only known from
//! the rows, so each [`SPARSE`] index is watched while the load runs and
//! dropped (and rebuilt at the end) once [`LIVE_ROWS`] rows have entered
//! it: past a few, inserting each row at a scattered place of its B-tree
//! costs more than the rebuild.
//!
//! Invariant: when `bulk_load` returns, every index that was dropped, up
//! front or while it ran, exists again (also when the load failed). A
//! process stopped meanwhile leaves a kept database without them: the next
//! [`Store::open`] of it builds them (`restore_event_indexes`).

use grantwatch_parsers::Event;
use rusqlite::Connection;

use super::event_index::{self, BUDGET_BYTES, EventIndex, EventIndexBuilder};
use super::handle::{BulkLoad, SPARSE_INDEXES};
use super::{Error, Result, Store, Synchronous};

/// A partial index of `events` whose column most rows leave NULL, and
/// whether an event enters it (its `WHERE` clause, on the event).
pub(super) struct SparseIndex {
    pub(super) name: &'static str,
    enters: fn(&Event<'_>) -> bool,
}

/// The indexes kept live through a bulk load until [`LIVE_ROWS`] rows
/// enter them (their `WHERE` clauses are in `schema.rs`).
pub(super) const SPARSE: [SparseIndex; SPARSE_INDEXES] = [
    SparseIndex {
        name: "events_by_request",
        enters: |e| e.request_id.is_some(),
    },
    SparseIndex {
        name: "events_by_code",
        enters: |e| e.code_fp.is_some(),
    },
    SparseIndex {
        name: "events_by_challenge",
        enters: |e| e.code_challenge.is_some(),
    },
    SparseIndex {
        name: "events_by_verifier",
        enters: |e| e.verifier_s256.is_some(),
    },
    SparseIndex {
        name: "events_by_refresh",
        enters: |e| e.refresh_token_fp.is_some(),
    },
    SparseIndex {
        name: "events_by_format",
        enters: |e| {
            e.server_date.is_some() || matches!(e.format.as_str(), "logcat" | "ios-console")
        },
    },
];

/// Rows a [`SPARSE`] index takes live before it is dropped for the
/// rebuild. Few: each row inserted at a scattered place of a B-tree cost
/// more than its share of the rebuild's sort (with 20,000, a Rails
/// gigabyte, whose request ids, codes and verifiers stayed live, took
/// 0.1–0.2 s longer, benches/README.md); an index no row, or a handful,
/// enters is the one worth keeping.
pub(super) const LIVE_ROWS: u64 = 1_000;

impl BulkLoad {
    /// Keeps the keys of a committed batch (`ids`: the rows `events` of
    /// `source_id` became, read back through `tx`) once the load has
    /// stored [`event_index::INDEX_FROM_EVENTS`] events, those before
    /// read from the table when it gets there.
    pub(super) fn keep_keys(
        &mut self,
        tx: &Connection,
        source_id: i64,
        events: &[Event<'_>],
        ids: &[i64],
    ) -> Result<()> {
        match (&mut self.index, self.index_from) {
            (Some(index), _) => index.add(source_id, events, ids),
            (None, Some(from)) if ids.last().is_some_and(|&id| id >= from) => {
                self.index = Some(EventIndexBuilder::from_table(tx, BUDGET_BYTES)?);
            }
            _ => {}
        }
        Ok(())
    }

    /// Counts the rows `events` add to each [`SPARSE`] index still live,
    /// and drops (in the caller's transaction, `tx`) each that passed
    /// [`LIVE_ROWS`], keeping its SQL for the rebuild.
    pub(super) fn watch(&mut self, tx: &Connection, events: &[Event<'_>]) -> Result<()> {
        for (i, index) in SPARSE.iter().enumerate() {
            if self.entered[i] > LIVE_ROWS {
                continue;
            }
            self.entered[i] += events.iter().filter(|e| (index.enters)(e)).count() as u64;
            if self.entered[i] > LIVE_ROWS {
                let sql: String = tx.query_row(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                    [index.name],
                    |r| r.get(0),
                )?;
                tx.execute_batch(&format!("DROP INDEX \"{}\"", index.name))?;
                self.dropped.push(sql);
            }
        }
        Ok(())
    }
}

impl Store {
    /// Runs `f`, a bulk load of events that nothing reads back until it
    /// returns, with the events' secondary indexes dropped, and builds them
    /// again afterwards, also when `f` fails. Only in a scratch database or a kept one that held no events ([`Store::load_in_bulk_while_empty`]):
    /// building an index once from all its keys is cheaper than inserting
    /// each event into nine B-trees at scattered places, which kept the
    /// writer of a read on every core busy while the readers waited
    /// (benches/README.md). Elsewhere (a kept database that held events,
    /// which the daemon's readers may query meanwhile, or one another
    /// process has open) `f` runs as is. The unique index that
    /// keeps an event from being stored twice stays. A bulk load started
    /// inside another is part of it: `f` runs as is, and the outer one
    /// builds the indexes.
    ///
    /// While `f` runs and the indexes are built, the connection holds the
    /// database alone, with a rollback journal instead of the WAL: every
    /// page is written once, to the database, instead of to the WAL and
    /// again at each checkpoint, and no lock is taken per transaction
    /// (Keycloak 150 MB: 1.5 → 1.2 s of system time, benches/README.md).
    /// The journal is a file (`PERSIST`), not memory: appended pages are not
    /// journalled, but a read in ranges that gives up deletes what it
    /// stored, and each page that deletes would be held in memory. No other
    /// connection may be open meanwhile. The WAL, which the diagnosis
    /// workers read beside the writer, is back when it returns, also when
    /// `f` or the rebuild fails; an error of `f` is returned before one of
    /// the rebuild.
    ///
    /// The indexes are built on `cores` cores: SQLite's sorter hands sorted
    /// runs to `cores - 1` helper threads (`PRAGMA threads`), and nothing
    /// else runs meanwhile. On a Keycloak gigabyte (1.56 M events) the
    /// rebuild took 8.4–10.4 s with the sorter's runs in memory, 7.0–7.2 s
    /// with them in files, 5.1–5.9 s with one helper (benches/README.md).
    pub fn bulk_load<T, E: From<Error>>(
        &mut self,
        cores: usize,
        f: impl FnOnce(&mut Store) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        // Inside a bulk load already (every file of an `analyze` loaded at
        // once): this one is part of it.
        if !self.may_load_in_bulk() || self.bulk.is_some() {
            return f(self);
        }
        if let Err(e) = self.hold_alone() {
            // A kept database another process has open (a daemon on it)
            // cannot be taken alone: it is loaded with its indexes live.
            if self.scratch {
                return Err(e.into());
            }
            return f(self);
        }
        let started = self.events_change().and_then(|()| {
            let index_from = self.may_keep_index()?.then_some(self.index_from_events);
            Ok((self.drop_event_indexes()?, index_from))
        });
        // From the first event: nothing stored yet to read back, and the
        // events themselves kept out of the table (`kept.rs`).
        let started = started.and_then(|(dropped, index_from)| {
            let kept = match index_from {
                Some(0) => Some(self.keep_events_from(1)?),
                _ => None,
            };
            Ok((dropped, index_from, kept))
        });
        let (dropped, index_from, kept) = match started {
            Ok(started) => started,
            Err(e) => {
                self.share_again()?;
                return Err(e.into());
            }
        };
        self.bulk = Some(BulkLoad {
            index_from,
            index: (index_from == Some(0)).then(|| EventIndexBuilder::with_budget(BUDGET_BYTES)),
            kept,
            ..BulkLoad::default()
        });
        let loaded = f(self);
        let mut dropped = dropped;
        let mut bulk = self.bulk.take().unwrap_or_default();
        dropped.extend(std::mem::take(&mut bulk.dropped));
        // The chunks joined and freed here are given back at once: kept
        // beside their copies, they made the load's peak (`memory.rs`).
        let (index, settled) = crate::memory::purging_promptly(|| {
            let mut kept = bulk.kept.take();
            let building = bulk.index.take().filter(|_| loaded.is_ok());
            let index = std::thread::scope(|s| {
                // Sorted for the index that will stand for the table's.
                if let Some(kept) = kept.as_mut().filter(|_| building.is_some()) {
                    s.spawn(|| kept.sort());
                }
                building.and_then(EventIndexBuilder::finish)
            });
            self.settle_kept(kept, index)
        });
        if index.is_some() {
            dropped.retain(|sql| {
                !created_index(sql).is_some_and(|(name, _)| event_index::REPLACED.contains(&name))
            });
        }
        // The rebuild's commits sync every page the load wrote.
        let synced = self.sync_as_opened();
        let rebuilt = self.build_indexes(&dropped, cores);
        let rebuilt = settled.and(rebuilt);
        if rebuilt.is_ok()
            && let Some(spill) = &self.spill
        {
            spill.event_index.set(index);
        }
        self.share_again()?;
        let value = loaded?;
        rebuilt?;
        synced?;
        Ok(value)
    }

    /// Makes a bulk load into this scratch database keep its events' keys
    /// in memory once it has stored `events` of them (`event_index.rs`),
    /// instead of [`event_index::INDEX_FROM_EVENTS`].
    pub fn keep_index_in_memory_from(&mut self, events: i64) {
        self.index_from_events = events;
    }

    /// Whether this bulk load keeps its events' keys in memory instead of
    /// building four of their indexes afterwards (`event_index.rs`): a
    /// scratch database that holds no events yet, so the load's events are
    /// all there are.
    fn may_keep_index(&self) -> Result<bool> {
        if !self.scratch || self.spill.is_none() {
            return Ok(false);
        }
        Ok(self
            .conn
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM events)", [], |r| r.get(0))?)
    }

    /// Called before anything adds or removes events outside a bulk load:
    /// the indexes an earlier load kept in memory would no longer hold
    /// every event, so they are built in SQL and the memory ones dropped,
    /// for every connection that shares them.
    pub(super) fn events_change(&mut self) -> Result<()> {
        let Some(spill) = &self.spill else {
            return Ok(());
        };
        let Some(index) = spill.event_index.get() else {
            return Ok(());
        };
        self.put_installed_kept_in_table(&index)?;
        self.restore_event_indexes()?;
        if let Some(spill) = &self.spill {
            spill.event_index.set(None);
        }
        Ok(())
    }

    /// The index a bulk load kept in memory, if any: what the queries
    /// by client and by kind and time read instead of SQL's.
    pub(super) fn event_index(&self) -> Option<std::sync::Arc<EventIndex>> {
        self.spill.as_ref()?.event_index.get()
    }

    /// Lets this kept database be loaded in bulk as a scratch one is, if
    /// it holds no events yet (`analyze --db` into a new file): a load
    /// that is stopped midway leaves it without the dropped indexes, which
    /// the next [`Store::open`] builds again ([`Store::restore_event_indexes`]),
    /// and the events it stored, which the next read of the file finds
    /// stored already. Returns whether it may.
    pub fn load_in_bulk_while_empty(&mut self) -> Result<bool> {
        let empty: bool =
            self.conn
                .query_row("SELECT NOT EXISTS (SELECT 1 FROM events)", [], |r| r.get(0))?;
        self.bulk_when_kept = empty && !self.scratch;
        Ok(empty)
    }

    /// Whether [`Store::bulk_load`] drops this database's indexes: a
    /// scratch database, or a kept one that held no events
    /// ([`Store::load_in_bulk_while_empty`]).
    pub fn may_load_in_bulk(&self) -> bool {
        self.scratch || self.bulk_when_kept
    }

    /// Builds every index of `events` the schema has and the database
    /// lacks: those a bulk load of a kept database dropped before it was
    /// stopped (killed, or the machine lost power). A no-op otherwise.
    pub(super) fn restore_event_indexes(&mut self) -> Result<()> {
        let present: Vec<String> = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let missing: Vec<&str> = schema_event_indexes()
            .filter(|(name, _)| !present.iter().any(|p| p == name))
            .map(|(_, sql)| sql)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for sql in missing {
            tx.execute_batch(sql)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Starts storing a backlog into this kept database as a bulk load
    /// does, with the database shared (WAL mode, synced as opened: the
    /// dashboard reads it meanwhile): the events' dense indexes dropped,
    /// the sparse ones watched: for `watch` started on an empty database
    /// beside a large backlog (the caller's decision), where every event
    /// inserted into eleven live B-trees made a Keycloak gigabyte catch up
    /// at 29 MB/s (benches/README.md). Returns whether it started (not in
    /// a scratch database, nor inside a bulk load). Until
    /// [`Store::end_catch_up`] nothing may query events by the dropped
    /// indexes (the diagnosis waits); a process stopped meanwhile has them
    /// built again at its next open.
    pub fn begin_catch_up(&mut self) -> Result<bool> {
        if self.scratch || self.bulk.is_some() {
            return Ok(false);
        }
        let dropped = self.drop_event_indexes()?;
        self.bulk = Some(BulkLoad {
            dropped,
            ..BulkLoad::default()
        });
        Ok(true)
    }

    /// Ends what [`Store::begin_catch_up`] began: builds every index it
    /// dropped, on `cores` cores. Nothing to do when none began.
    pub fn end_catch_up(&mut self, cores: usize) -> Result<()> {
        match self.bulk.take() {
            Some(bulk) => self.build_indexes(&bulk.dropped, cores),
            None => Ok(()),
        }
    }

    /// Whether a bulk load runs on this connection: events stored now are
    /// read back only after it ends (no diagnosis may follow the read).
    pub fn in_bulk_load(&self) -> bool {
        self.bulk.is_some()
    }

    /// Runs `sql`, the statements that create the dropped indexes, with
    /// `cores - 1` helper threads for the sorter; none again afterwards.
    /// The sorter's runs go to temporary files meanwhile: SQLite gives a
    /// sorter no helper when its temporary files are in memory, and a
    /// gigabyte's keys held there were tens of megabytes of peak memory.
    fn build_indexes(&mut self, sql: &[String], cores: usize) -> Result<()> {
        let helpers = i64::try_from(cores.saturating_sub(1)).unwrap_or(0);
        self.conn.pragma_update(None, "temp_store", "FILE")?;
        self.conn.pragma_update(None, "threads", helpers)?;
        // One already there was built by another connection's open
        // (`restore_event_indexes`) while a catch-up ran: it stays.
        let built = sql
            .iter()
            .try_for_each(|sql| self.conn.execute_batch(&if_not_exists(sql)));
        self.conn.pragma_update(None, "threads", 0)?;
        self.conn.pragma_update(None, "temp_store", "MEMORY")?;
        Ok(built?)
    }

    /// Takes the database for this connection alone, its journal a file
    /// of its own (see [`Store::bulk_load`]); as it was if that fails.
    ///
    /// Nothing is synced to disk until the load ends (a scratch database
    /// never is): a kept one held no events before it, and a load cut
    /// short by a crash is read again (Keycloak 150 MB into a new `--db`
    /// file: 2.04 → 1.71 s, benches/README.md).
    fn hold_alone(&mut self) -> Result<()> {
        self.conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        self.conn
            .pragma_update(None, "synchronous", Synchronous::Off.pragma())?;
        match self.journal_mode("PERSIST") {
            Ok(()) => Ok(()),
            Err(e) => {
                self.share_again()?;
                Err(e)
            }
        }
    }

    /// Gives the database back to other connections, in WAL mode. The
    /// order matters: the locking mode in force when a connection enters
    /// WAL mode stays until it leaves it, so the exclusive mode is ended
    /// first (and its lock released by a read).
    fn share_again(&mut self) -> Result<()> {
        self.sync_as_opened()?;
        self.conn.pragma_update(None, "locking_mode", "NORMAL")?;
        self.conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
        self.journal_mode("WAL")
    }

    /// Syncs commits to disk again as the database was opened to: a kept
    /// one at `NORMAL` ([`Store::open`]), a scratch one never.
    fn sync_as_opened(&mut self) -> Result<()> {
        let mode = if self.scratch {
            Synchronous::Off
        } else {
            Synchronous::Normal
        };
        Ok(self
            .conn
            .pragma_update(None, "synchronous", mode.pragma())?)
    }

    /// Sets the journal mode, or says which one SQLite kept instead.
    fn journal_mode(&mut self, mode: &str) -> Result<()> {
        let set: String = self
            .conn
            .pragma_update_and_check(None, "journal_mode", mode, |r| r.get(0))?;
        if set.eq_ignore_ascii_case(mode) {
            Ok(())
        } else {
            Err(Error::JournalMode {
                wanted: mode.to_string(),
                kept: set,
            })
        }
    }

    /// Drops the secondary indexes of `events` but the unique one, the
    /// partial ones of rare events (the login phases, the events that may
    /// record a failure: their conditions reject most rows on insert for
    /// less than a rebuild's scan of the table) and the [`SPARSE`] ones,
    /// which are dropped only when many rows enter them
    /// ([`BulkLoad::watch`]); returns the SQL that creates them.
    fn drop_event_indexes(&mut self) -> Result<Vec<String>> {
        let sparse: Vec<String> = SPARSE.iter().map(|s| format!("'{}'", s.name)).collect();
        self.drop_schema_objects(
            "INDEX",
            &format!(
                "type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL
                 AND name NOT IN ('events_by_source', 'events_phases', 'events_failing', {})",
                sparse.join(", ")
            ),
        )
    }

    /// Drops, in one transaction, the schema objects of `kind` (`INDEX`,
    /// `TRIGGER`) that the condition `which` on `sqlite_master` selects,
    /// and returns the SQL that creates them again.
    pub(super) fn drop_schema_objects(&mut self, kind: &str, which: &str) -> Result<Vec<String>> {
        let objects: Vec<(String, String)> = self
            .conn
            .prepare(&format!(
                "SELECT name, sql FROM sqlite_master WHERE {which}"
            ))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let tx = self.conn.transaction()?;
        for (name, _) in &objects {
            tx.execute_batch(&format!("DROP {kind} \"{name}\""))?;
        }
        tx.commit()?;
        Ok(objects.into_iter().map(|(_, sql)| sql).collect())
    }
}

/// The indexes of `events` in the current schema ([`super::schema::SQL`]),
/// each as its name and the statement that creates it.
fn schema_event_indexes() -> impl Iterator<Item = (&'static str, &'static str)> {
    super::schema::SQL.split(';').filter_map(|statement| {
        let statement = statement.trim();
        let (name, on) = created_index(statement)?;
        on.trim_start()
            .starts_with("ON events(")
            .then_some((name, statement))
    })
}

/// The name of the index a `CREATE [UNIQUE] INDEX` statement creates, and
/// what follows the name.
fn created_index(sql: &str) -> Option<(&str, &str)> {
    let rest = sql
        .strip_prefix("CREATE INDEX ")
        .or_else(|| sql.strip_prefix("CREATE UNIQUE INDEX "))?;
    let (name, on) = rest.split_once(' ')?;
    Some((name.trim_matches('"'), on))
}

/// `sql`, a `CREATE [UNIQUE] INDEX` statement, made a no-op when the index
/// exists.
fn if_not_exists(sql: &str) -> String {
    for head in ["CREATE INDEX ", "CREATE UNIQUE INDEX "] {
        if let Some(rest) = sql.strip_prefix(head)
            && !rest.starts_with("IF NOT EXISTS ")
        {
            return format!("{head}IF NOT EXISTS {rest}");
        }
    }
    sql.to_string()
}
