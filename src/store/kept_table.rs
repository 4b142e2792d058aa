//! The writer's side of the events a scratch load keeps out of its table
//! (`kept.rs`): starting to keep them, keeping each batch's, and either
//! handing them to the index when the load ends or putting every kept row
//! into the table under its id when they cannot stay out of it.
//!
//! Invariants: once the rows are put into the table nothing is kept any
//! more, and the table holds exactly the events kept, under the ids they
//! were given (so the evidence file and the index keys, which name those
//! ids, stay right); a database whose events are kept has no foreign keys
//! checked on this connection (its failures name events the table does not
//! hold), and has them again once the rows are in the table.

use std::collections::HashMap;
use std::sync::LazyLock;

use grantwatch_parsers::Event;
use rusqlite::Connection;

use super::event_index::{BUDGET_BYTES, EventIndex};
use super::handle::BulkLoad;
use super::insert::{INSERT_EVENT, Lines, store_events};
use super::kept::{Kept, KeptBuilder};
use super::rows::{self, Cell, Rows};
use super::{Error, Result, Store};

/// `INSERT INTO events (id, <the columns of a record>)`: a kept row put
/// into the table under its id.
static INSERT_KEPT: LazyLock<String> = LazyLock::new(|| {
    let columns = INSERT_EVENT
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or("", |(columns, _)| columns);
    let marks: Vec<String> = (1..=rows::COLUMNS + 1).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO events (id, {columns}) VALUES ({})",
        marks.join(", ")
    )
});

impl BulkLoad {
    /// Stores `events` of `source_id` as kept rows when the load keeps
    /// them (`None` otherwise), their lines where `lines` says.
    pub(super) fn keep_events(
        &mut self,
        tx: &Connection,
        source_id: i64,
        events: &[Event<'_>],
        lines: Lines<'_>,
    ) -> Option<Result<Vec<i64>>> {
        let kept = self.kept.as_mut()?;
        Some(store_events(tx, events, lines, |e| {
            Ok(Some(kept.keep(source_id, e).map_err(Error::Rows)?))
        }))
    }

    /// Puts the kept rows into the table (`tx`: the caller's transaction)
    /// when they can no longer stay out of it: the index's builder gave
    /// up, or they passed the memory budget.
    pub(super) fn keep_within_budget(&mut self, tx: &Connection) -> Result<()> {
        let Some(kept) = &self.kept else {
            return Ok(());
        };
        let index_kept = self.index.as_ref().is_some_and(|i| !i.is_spoiled());
        if index_kept && !kept.is_spoiled() && kept.bytes() <= BUDGET_BYTES {
            return Ok(());
        }
        self.put_kept_in_table(tx)
    }

    /// Puts the kept rows, if any, into the table (`tx`: the caller's
    /// transaction); from then on the load inserts its events.
    pub(super) fn put_kept_in_table(&mut self, tx: &Connection) -> Result<()> {
        let Some(kept) = self.kept.take() else {
            return Ok(());
        };
        let (first_id, rows) = kept.into_rows().map_err(Error::Rows)?;
        insert_rows(tx, first_id, &rows)
    }

    /// Whether the load keeps its events out of the table, those of
    /// `source_id` among them.
    pub(super) fn keeps_source(&self, source_id: i64) -> bool {
        self.kept
            .as_ref()
            .is_some_and(|k| k.sources.contains(&source_id))
    }
}

/// Inserts every row of `rows` (record `i` is event `first_id + i`).
fn insert_rows(tx: &Connection, first_id: i64, rows: &Rows) -> Result<()> {
    let mut insert = tx.prepare_cached(&INSERT_KEPT)?;
    for i in 0..rows.count() {
        let inserted = rows.read_in_place(i, |bytes| -> Result<()> {
            let cells = rows::decode(bytes, rows.names()).map_err(Error::Rows)?;
            insert.clear_bindings();
            insert.raw_bind_parameter(1, first_id + i as i64)?;
            for (c, cell) in cells.iter().enumerate() {
                match *cell {
                    Cell::Null => {}
                    Cell::Int(v) => insert.raw_bind_parameter(c + 2, v)?,
                    Cell::Text(t) => insert.raw_bind_parameter(c + 2, t)?,
                }
            }
            insert.raw_execute()?;
            Ok(())
        });
        match inserted.map_err(Error::Rows)? {
            Some(done) => done?,
            None => break,
        }
    }
    Ok(())
}

impl Store {
    /// A keeper of the load's events out of the table, the first under
    /// `first_id`, in a file beside the database.
    pub(super) fn keep_events_from(&self, first_id: i64) -> Result<KeptBuilder> {
        let path = self
            .conn
            .path()
            .map(|p| std::path::Path::new(p).with_extension("rows"))
            .ok_or_else(|| {
                Error::Rows(std::io::Error::other("a scratch database without a file"))
            })?;
        KeptBuilder::create(&path, first_id).map_err(Error::Rows)
    }

    /// At the end of a bulk load: the kept events, if any, handed to the
    /// index that stands for the table's, or else put into the table.
    pub(super) fn settle_kept(
        &mut self,
        kept: Option<KeptBuilder>,
        index: Option<EventIndex>,
    ) -> (Option<EventIndex>, Result<()>) {
        let Some(kept) = kept else {
            return (index, Ok(()));
        };
        match index {
            Some(mut index) => {
                let settled = self.source_paths().and_then(|paths| {
                    index.kept = Some(kept.finish(paths).map_err(Error::Rows)?);
                    // Failures name events the table does not hold.
                    self.conn.pragma_update(None, "foreign_keys", "OFF")?;
                    Ok(())
                });
                (Some(index), settled)
            }
            None => {
                let put = self.conn.transaction().map_err(Error::from).and_then(|tx| {
                    let (first_id, rows) = kept.into_rows().map_err(Error::Rows)?;
                    insert_rows(&tx, first_id, &rows)?;
                    Ok(tx.commit()?)
                });
                (None, put)
            }
        }
    }

    /// Puts the rows the installed index keeps into the table, before
    /// anything changes the events (`Store::events_change`).
    pub(super) fn put_installed_kept_in_table(&mut self, index: &EventIndex) -> Result<()> {
        let Some(kept) = &index.kept else {
            return Ok(());
        };
        let (first_id, rows) = kept.rows();
        let tx = self.conn.transaction()?;
        insert_rows(&tx, first_id, rows)?;
        tx.commit()?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }

    /// Each source's path, by id.
    fn source_paths(&self) -> Result<HashMap<i64, String>> {
        let mut stmt = self.conn.prepare("SELECT id, path FROM sources")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// `f` of the kept events, when the installed index holds them (the
    /// queries then answer from them, not from the table).
    pub(super) fn with_kept<T>(&self, f: impl FnOnce(&Kept) -> T) -> Option<T> {
        let index = self.event_index()?;
        index.kept.as_ref().map(f)
    }

    /// Whether the events are kept out of the table.
    #[cfg(test)]
    pub(super) fn keeps_events(&self) -> bool {
        self.with_kept(|_| ()).is_some()
    }
}
