//! Counts read from `failure_slots`, the per-15-minute rollup of `failures`
//! that triggers keep (see [`super::schema::SLOTS_SQL`]), so that the
//! overview, `/api/stats` and `/metrics` cost the same with a million stored
//! failures as with a hundred.
//!
//! A window whose ends fall inside a slot is still counted exactly: the whole
//! slots between its ends come from the rollup, the two partial edges from
//! `failures` by its time index (at most two slots' worth of rows). Failures
//! without a time are in no slot; callers that need them count them apart.

use std::collections::BTreeMap;

use rusqlite::params;

use super::schema::SLOT_MS;
use super::stats::FailureCount;
use super::{Result, Store};

/// `ms` rounded down to a slot boundary.
pub fn slot_floor(ms: i64) -> i64 {
    ms - ms.rem_euclid(SLOT_MS)
}

/// `ms` rounded up to a slot boundary.
fn slot_ceil(ms: i64) -> i64 {
    let floor = slot_floor(ms);
    if floor == ms { ms } else { floor + SLOT_MS }
}

type Key = (String, String, String);

fn add_rows(
    stmt: &mut rusqlite::CachedStatement<'_>,
    args: impl rusqlite::Params,
    into: &mut BTreeMap<Key, u64>,
) -> Result<()> {
    let rows = stmt.query_map(args, |r| {
        Ok((
            (
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ),
            r.get::<_, i64>(3)?,
        ))
    })?;
    for row in rows {
        let (key, n) = row?;
        *into.entry(key).or_insert(0) += n.max(0) as u64;
    }
    Ok(())
}

fn sorted_counts(map: BTreeMap<Key, u64>) -> Vec<FailureCount> {
    let mut out: Vec<FailureCount> = map
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((cause, server, client), count)| FailureCount {
            cause,
            server,
            client,
            count,
        })
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.count));
    out
}

impl Store {
    /// Failures per (cause, server, client) with a time in
    /// `[since_ms, until_ms)`, most first (ties in label order).
    pub fn window_counts(&self, since_ms: i64, until_ms: i64) -> Result<Vec<FailureCount>> {
        let mut counts = BTreeMap::new();
        let (inner_start, inner_end) = (slot_ceil(since_ms), slot_floor(until_ms));
        let mut raw = self.conn.prepare_cached(
            "SELECT cause, coalesce(server, 'unknown'), coalesce(client_id, ''), count(*)
             FROM failures WHERE ts_ms >= ?1 AND ts_ms < ?2 GROUP BY 1, 2, 3",
        )?;
        if inner_start >= inner_end {
            add_rows(&mut raw, params![since_ms, until_ms], &mut counts)?;
            return Ok(sorted_counts(counts));
        }
        add_rows(&mut raw, params![since_ms, inner_start], &mut counts)?;
        add_rows(&mut raw, params![inner_end, until_ms], &mut counts)?;
        let mut slots = self.conn.prepare_cached(
            "SELECT cause, server, client_id, sum(n) FROM failure_slots
             WHERE slot_ms >= ?1 AND slot_ms < ?2 GROUP BY 1, 2, 3",
        )?;
        add_rows(&mut slots, params![inner_start, inner_end], &mut counts)?;
        Ok(sorted_counts(counts))
    }

    /// Failures per cause in each slot of `[since_ms, until_ms)` (both on
    /// slot boundaries): `(slot start, cause, count)`.
    pub fn slot_counts(&self, since_ms: i64, until_ms: i64) -> Result<Vec<(i64, String, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT slot_ms, cause, sum(n) FROM failure_slots
             WHERE slot_ms >= ?1 AND slot_ms < ?2 GROUP BY 1, 2",
        )?;
        let rows = stmt.query_map(params![since_ms, until_ms], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many failures have no time (and so are in no slot).
    pub fn undated_failures(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM failures WHERE ts_ms IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }

    /// Every failure per (cause, server, client), dated or not, in label
    /// order (for `/metrics`).
    pub fn failure_counts(&self) -> Result<Vec<FailureCount>> {
        let mut counts = BTreeMap::new();
        let mut slots = self.conn.prepare_cached(
            "SELECT cause, server, client_id, sum(n) FROM failure_slots GROUP BY 1, 2, 3",
        )?;
        add_rows(&mut slots, [], &mut counts)?;
        let mut undated = self.conn.prepare_cached(
            "SELECT cause, coalesce(server, 'unknown'), coalesce(client_id, ''), count(*)
             FROM failures WHERE ts_ms IS NULL GROUP BY 1, 2, 3",
        )?;
        add_rows(&mut undated, [], &mut counts)?;
        Ok(counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|((cause, server, client), count)| FailureCount {
                cause,
                server,
                client,
                count,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with `n` failures spread over two days, some undated, over
    /// three causes, two servers (one unknown) and three clients.
    fn store_with_failures(n: i64) -> Store {
        let store = Store::open_in_memory().expect("open");
        let conn = store.conn();
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

    /// The same counts straight from `failures`.
    fn raw_counts(store: &Store, since: i64, until: i64) -> Vec<FailureCount> {
        let mut map = BTreeMap::new();
        let mut stmt = store
            .conn()
            .prepare_cached(
                "SELECT cause, coalesce(server, 'unknown'), coalesce(client_id, ''), count(*)
                 FROM failures WHERE ts_ms >= ?1 AND ts_ms < ?2 GROUP BY 1, 2, 3",
            )
            .expect("prepare");
        add_rows(&mut stmt, params![since, until], &mut map).expect("rows");
        sorted_counts(map)
    }

    fn assert_rollup_matches(store: &Store) {
        let start = 1_700_000_000_000;
        for (since, until) in [
            (start, start + 172_800_000),
            (start + 123_456, start + 86_400_000 + 7),
            (start + 1, start + 2),
            (start + 600_000, start + 1_900_000),
            (i64::MIN / 2, i64::MAX / 2),
        ] {
            assert_eq!(
                store.window_counts(since, until).expect("window"),
                raw_counts(store, since, until),
                "{since}..{until}"
            );
        }
        let all: u64 = store
            .failure_counts()
            .expect("all")
            .iter()
            .map(|c| c.count)
            .sum();
        let total: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM failures", [], |r| r.get(0))
            .expect("count");
        assert_eq!(all, total as u64);
    }

    #[test]
    fn the_rollup_follows_inserts_rediagnoses_and_deletes() {
        let store = store_with_failures(500);
        assert_rollup_matches(&store);
        let conn = store.conn();
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
        assert_rollup_matches(&store);
        conn.execute("DELETE FROM events WHERE id % 3 = 0", [])
            .expect("prune");
        assert_rollup_matches(&store);
        conn.execute("DELETE FROM events", []).expect("prune all");
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM failure_slots", [], |r| r.get(0))
            .expect("slots");
        assert_eq!(rows, 0, "empty slots are deleted");
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
