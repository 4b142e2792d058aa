//! Counts read from the rollups of `failures` (see [`super::rollups`]), so
//! that the overview, `/api/stats` and `/metrics` cost the same with a
//! million stored failures as with a hundred.
//!
//! A window whose ends fall inside a 15-minute slot is still counted
//! exactly: the whole slots between its ends come from `failure_slots`, the
//! two partial edges from `failures` by its time index (at most two slots'
//! worth of rows). Failures without a time are in no slot or day; callers
//! that need them count them apart ([`Store::undated_failures`]).

use std::collections::BTreeMap;

use rusqlite::params;

use super::rollups::SLOT_MS;
use super::rollups::slot_floor;
use super::stats::FailureCount;
use super::{Result, Store};

/// `ms` rounded up to a slot boundary.
fn slot_ceil(ms: i64) -> i64 {
    let floor = slot_floor(ms);
    if floor == ms { ms } else { floor + SLOT_MS }
}

fn count(n: i64) -> u64 {
    n.max(0) as u64
}

/// Adds the `(cause, count)` rows of `stmt` into `into`.
fn add_per_cause(
    stmt: &mut rusqlite::CachedStatement<'_>,
    args: impl rusqlite::Params,
    into: &mut BTreeMap<String, u64>,
) -> Result<()> {
    let rows = stmt.query_map(args, |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (cause, n) = row?;
        *into.entry(cause).or_insert(0) += count(n);
    }
    Ok(())
}

/// The `(cause, server, client, count)` rows of `stmt`.
fn label_counts(
    stmt: &mut rusqlite::CachedStatement<'_>,
    args: impl rusqlite::Params,
) -> Result<Vec<FailureCount>> {
    let rows = stmt.query_map(args, FailureCount::from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

impl Store {
    /// Failures per cause with a time in `[since_ms, until_ms)`.
    pub fn cause_counts_between(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        let (inner_start, inner_end) = (slot_ceil(since_ms), slot_floor(until_ms));
        let mut raw = self.conn.prepare_cached(
            "SELECT cause, count(*) FROM failures WHERE ts_ms >= ?1 AND ts_ms < ?2 GROUP BY 1",
        )?;
        if inner_start >= inner_end {
            add_per_cause(&mut raw, params![since_ms, until_ms], &mut counts)?;
            return Ok(counts);
        }
        add_per_cause(&mut raw, params![since_ms, inner_start], &mut counts)?;
        add_per_cause(&mut raw, params![inner_end, until_ms], &mut counts)?;
        let mut slots = self.conn.prepare_cached(
            "SELECT cause, sum(n) FROM failure_slots WHERE slot_ms >= ?1 AND slot_ms < ?2
             GROUP BY 1",
        )?;
        add_per_cause(&mut slots, params![inner_start, inner_end], &mut counts)?;
        Ok(counts)
    }

    /// Failures per cause in each slot of `[since_ms, until_ms)` (both on
    /// slot boundaries): `(slot start, cause, count)`.
    pub fn slot_counts(&self, since_ms: i64, until_ms: i64) -> Result<Vec<(i64, String, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT slot_ms, cause, n FROM failure_slots WHERE slot_ms >= ?1 AND slot_ms < ?2",
        )?;
        let rows = stmt.query_map(params![since_ms, until_ms], |r| {
            Ok((r.get(0)?, r.get(1)?, count(r.get(2)?)))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Failures per (cause, server, client) in the UTC days that start in
    /// `[since_day_ms, until_ms)`, most first (ties in label order).
    pub fn day_label_counts(&self, since_day_ms: i64, until_ms: i64) -> Result<Vec<FailureCount>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT cause, server, client_id, sum(n) AS total FROM failure_days
             WHERE day_ms >= ?1 AND day_ms < ?2
             GROUP BY 1, 2, 3 ORDER BY total DESC, 1, 2, 3",
        )?;
        label_counts(&mut stmt, params![since_day_ms, until_ms])
    }

    /// How many failures have no time (and so are in no slot).
    pub fn undated_failures(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM failures WHERE ts_ms IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(count(n))
    }

    /// How many failures are stored, dated or not.
    pub fn total_failures(&self) -> Result<u64> {
        let n: i64 =
            self.conn
                .query_row("SELECT coalesce(sum(n), 0) FROM failure_totals", [], |r| {
                    r.get(0)
                })?;
        Ok(count(n))
    }

    /// Every failure per (cause, server, client), dated or not, in label
    /// order (for `/metrics`).
    pub fn failure_counts(&self) -> Result<Vec<FailureCount>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT cause, server, client_id, n FROM failure_totals ORDER BY 1, 2, 3",
        )?;
        label_counts(&mut stmt, [])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rollups::DAY_MS;

    /// A store with `n` failures spread over two days, some undated, over
    /// three causes, two servers (one unknown) and three clients.
    fn store_with_failures(n: i64) -> Store {
        let store = Store::open_in_memory().expect("open");
        let conn = &store.conn;
        conn.execute(
            "INSERT INTO sources (id, path, format) VALUES (1, 'a.log', 'rails')",
            [],
        )
        .expect("source");
        let causes = ["code_reused", "clock_skew", "pkce_missing"];
        for i in 0..n {
            conn.execute(
                "INSERT INTO events (id, source_id, line, kind, format)
                 VALUES (?1, 1, ?1, 'token_response', 'rails')",
                [i],
            )
            .expect("event");
            let ts = (i % 17 != 0).then_some(1_700_000_000_000 + i * 1_234_567 % 172_800_000);
            conn.execute(
                "INSERT INTO failures (id, event_id, ts_ms, server, client_id, cause, confidence,
                     summary, fix, candidates, evidence, diagnosed_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'high', '', '', '[]', '[]', 0)",
                params![
                    format!("f{i}"),
                    i,
                    ts,
                    (i % 4 != 0).then_some("doorkeeper"),
                    (i % 5 != 0).then(|| format!("client-{}", i % 3)),
                    causes[(i % 3) as usize],
                ],
            )
            .expect("failure");
        }
        store
    }

    fn raw(store: &Store, sql: &str, args: impl rusqlite::Params) -> Vec<String> {
        store
            .conn
            .prepare(sql)
            .expect("prepare")
            .query_map(args, |r| {
                Ok(format!(
                    "{} {} {} {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?
                ))
            })
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    fn text(counts: Vec<FailureCount>) -> Vec<String> {
        counts
            .into_iter()
            .map(|c| {
                let server = crate::store::labels::server_label(c.server);
                format!("{} {server} {} {}", c.cause, c.client, c.count)
            })
            .collect()
    }

    fn assert_rollups_match(store: &Store) {
        let start = 1_700_000_000_000;
        for (since, until) in [
            (start, start + 172_800_000),
            (start + 123_456, start + 86_400_000 + 7),
            (start + 1, start + 2),
            (start + 600_000, start + 1_900_000),
            (i64::MIN / 2, i64::MAX / 2),
        ] {
            let per_cause: Vec<String> = raw(
                store,
                "SELECT cause, '', '', count(*) FROM failures WHERE ts_ms >= ?1 AND ts_ms < ?2
                 GROUP BY 1 ORDER BY 1",
                params![since, until],
            );
            let rolled: Vec<String> = store
                .cause_counts_between(since, until)
                .expect("window")
                .into_iter()
                .map(|(c, n)| format!("{c}   {n}"))
                .collect();
            assert_eq!(rolled, per_cause, "{since}..{until}");
        }
        let day = 1_699_920_000_000; // a UTC midnight before `start`
        assert_eq!(
            text(store.day_label_counts(day, day + 3 * DAY_MS).expect("days")),
            raw(
                store,
                "SELECT cause, coalesce(server, 'unknown'), coalesce(client_id, ''), count(*) AS t
                 FROM failures WHERE ts_ms >= ?1 AND ts_ms < ?2
                 GROUP BY 1, 2, 3 ORDER BY t DESC, 1, 2, 3",
                params![day, day + 3 * DAY_MS],
            )
        );
        assert_eq!(
            text(store.failure_counts().expect("totals")),
            raw(
                store,
                "SELECT cause, coalesce(server, 'unknown'), coalesce(client_id, ''), count(*)
                 FROM failures GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                [],
            )
        );
        let total: i64 = store
            .conn
            .query_row("SELECT count(*) FROM failures", [], |r| r.get(0))
            .expect("count");
        assert_eq!(store.total_failures().expect("total"), total as u64);
    }

    #[test]
    fn the_rollups_follow_inserts_rediagnoses_and_deletes() {
        let store = store_with_failures(500);
        assert_rollups_match(&store);
        let conn = &store.conn;
        conn.execute(
            "UPDATE failures SET cause = 'refresh_token_reused' WHERE rowid % 7 = 0",
            [],
        )
        .expect("re-diagnose");
        conn.execute(
            "UPDATE failures SET ts_ms = ts_ms + 3600000 WHERE rowid % 11 = 0",
            [],
        )
        .expect("re-time");
        conn.execute("UPDATE failures SET ts_ms = NULL WHERE rowid % 13 = 0", [])
            .expect("undate");
        assert_rollups_match(&store);
        conn.execute("DELETE FROM events WHERE id % 3 = 0", [])
            .expect("prune");
        assert_rollups_match(&store);
        conn.execute("DELETE FROM events", []).expect("prune all");
        for table in ["failure_slots", "failure_days", "failure_totals"] {
            let rows: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .expect("rows");
            assert_eq!(rows, 0, "{table}: empty rows are deleted");
        }
    }

    #[test]
    fn slot_bounds_round_towards_their_side() {
        assert_eq!(slot_floor(0), 0);
        assert_eq!(slot_floor(SLOT_MS - 1), 0);
        assert_eq!(slot_floor(-1), -SLOT_MS);
        assert_eq!(slot_ceil(1), SLOT_MS);
        assert_eq!(slot_ceil(SLOT_MS), SLOT_MS);
    }
}
