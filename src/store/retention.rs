//! Retention: pruning events (and the failures, evidence and links that
//! hang off them, by `ON DELETE CASCADE`) older than a cut-off, in chunks, so
//! that a large prune never holds the write lock for long.

use rusqlite::params;

use super::{Result, Store};

/// Events deleted per transaction.
pub const PRUNE_CHUNK: u32 = 5_000;

impl Store {
    /// Deletes up to [`PRUNE_CHUNK`] events older than `before_ms` (with their
    /// evidence and the failures they stand for), never the newest one. Returns how many were
    /// deleted; call again until it returns 0.
    pub fn prune_chunk(&mut self, before_ms: i64) -> Result<u64> {
        self.events_change()?;
        let tx = self.conn.transaction()?;
        // The newest event is kept, whatever its time: SQLite numbers a new
        // row max(id) + 1, so emptying the table would number new events
        // below the diagnosis cursor, and they would never be diagnosed.
        let deleted = tx.execute(
            "DELETE FROM events WHERE id IN (
                 SELECT id FROM events WHERE ts_ms < ?1
                 AND id < (SELECT max(id) FROM events) LIMIT ?2)",
            params![before_ms, PRUNE_CHUNK],
        )?;
        tx.commit()?;
        Ok(deleted as u64)
    }

    /// Prunes everything older than `before_ms`, chunk by chunk.
    pub fn prune_before(&mut self, before_ms: i64) -> Result<u64> {
        let mut total = 0;
        loop {
            let n = self.prune_chunk(before_ms)?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;

    #[test]
    fn pruning_takes_old_events_with_their_failures_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("app.jsonl");
        let mut text = String::new();
        for (day, n) in [("2025-03-01", 3), ("2025-03-20", 2)] {
            for i in 0..n {
                text.push_str(&format!(
                    "{{\"time\":\"{day}T09:00:0{i}Z\",\"error\":\"invalid_grant\",\"error_description\":\"Code was already redeemed.\",\"client_id\":\"c{i}\"}}\n"
                ));
            }
        }
        std::fs::write(&log, text).expect("write");
        let db = dir.path().join("g.db");
        let opts = crate::commands::AnalyzeOptions {
            paths: vec![log],
            db: Some(db.clone()),
            ..Default::default()
        };
        crate::commands::analyze(&opts, &mut |_| {}, &mut |_| {}).expect("analyze");
        let mut store = Store::open(&db).expect("open");
        let count = |store: &Store, table: &str| -> i64 {
            store
                .conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .expect("count")
        };
        assert_eq!(count(&store, "failures"), 5);
        let cut = crate::time::parse_ts("2025-03-10").expect("date");
        assert_eq!(store.prune_before(cut).expect("prune"), 3);
        assert_eq!(count(&store, "failures"), 2);
        assert_eq!(count(&store, "events"), 2);
        assert_eq!(count(&store, "evidence"), 2);
        assert_eq!(store.prune_before(cut).expect("again"), 0);
    }
}
