//! The rollups of `failures` that the overview, `/api/stats` and `/metrics`
//! read instead of scanning a million rows, and the SQL that creates them:
//! a table per rollup and three triggers on `failures` (insert, delete,
//! update of the time or a label) that keep its counts equal to a `GROUP BY`
//! over `failures` through inserts, re-diagnoses and retention. Rows whose
//! count falls to zero are deleted.
//!
//! - `failure_slots`: per 15-minute slot and cause (charts, windows, spikes).
//! - `failure_days`: per UTC day, cause, server and client (top clients and
//!   servers per cause).
//! - `failure_totals`: per cause, server and client, all time, dated or not
//!   (the `/metrics` counters).
//!
//! Labels are stored as the API shows them: a missing server is `unknown`, a
//! missing client the empty string. The same text creates them in a fresh
//! database and in the upgrade from version 2 (the schema test compares
//! trigger SQL), and [`backfill_sql`] fills them from existing failures.

/// Width of a `failure_slots` slot.
pub const SLOT_MS: i64 = 900_000;

/// `ms` rounded down to a slot boundary.
pub fn slot_floor(ms: i64) -> i64 {
    ms - ms.rem_euclid(SLOT_MS)
}
/// Width of a `failure_days` bucket.
pub const DAY_MS: i64 = 86_400_000;

/// One rollup: its table, its time bucket (column and width) if any, and
/// its labels (column and the expression over a `failures` row `{r}`).
struct Rollup {
    table: &'static str,
    bucket: Option<(&'static str, i64)>,
    labels: &'static [(&'static str, &'static str)],
}

const CAUSE: (&str, &str) = ("cause", "{r}.cause");
const SERVER: (&str, &str) = ("server", "coalesce({r}.server, 'unknown')");
const CLIENT: (&str, &str) = ("client_id", "coalesce({r}.client_id, '')");

const ROLLUPS: [Rollup; 3] = [
    Rollup {
        table: "failure_slots",
        bucket: Some(("slot_ms", SLOT_MS)),
        labels: &[CAUSE],
    },
    Rollup {
        table: "failure_days",
        bucket: Some(("day_ms", DAY_MS)),
        labels: &[CAUSE, SERVER, CLIENT],
    },
    Rollup {
        table: "failure_totals",
        bucket: None,
        labels: &[CAUSE, SERVER, CLIENT],
    },
];

impl Rollup {
    fn columns(&self) -> Vec<&'static str> {
        self.bucket
            .iter()
            .map(|(c, _)| *c)
            .chain(self.labels.iter().map(|(c, _)| *c))
            .collect()
    }

    /// The key expressions over row `r` (`new`, `old` or `failures`).
    fn exprs(&self, r: &str) -> Vec<String> {
        self.bucket
            .iter()
            .map(|(_, w)| format!("{r}.ts_ms - (({r}.ts_ms % {w}) + {w}) % {w}"))
            .chain(self.labels.iter().map(|(_, e)| e.replace("{r}", r)))
            .collect()
    }

    /// Whether row `r` counts in this rollup.
    fn counts(&self, r: &str) -> String {
        match self.bucket {
            Some(_) => format!("{r}.ts_ms IS NOT NULL"),
            None => "1".to_owned(),
        }
    }

    fn key_matches(&self, r: &str) -> String {
        self.columns()
            .iter()
            .zip(self.exprs(r))
            .map(|(c, e)| format!("{c} = {e}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    fn increment(&self, r: &str) -> String {
        format!(
            "INSERT INTO {t} ({cols}, n) SELECT {exprs}, 1 WHERE {cond}\n    ON CONFLICT DO UPDATE SET n = n + 1;",
            t = self.table,
            cols = self.columns().join(", "),
            exprs = self.exprs(r).join(", "),
            cond = self.counts(r),
        )
    }

    fn decrement(&self, r: &str) -> String {
        let (t, cond, key) = (self.table, self.counts(r), self.key_matches(r));
        format!(
            "UPDATE {t} SET n = n - 1 WHERE {cond} AND {key};\n    DELETE FROM {t} WHERE {cond} AND {key} AND n <= 0;"
        )
    }

    fn create(&self) -> String {
        let t = self.table;
        let cols: Vec<String> = self
            .bucket
            .iter()
            .map(|(c, _)| format!("{c} INTEGER NOT NULL"))
            .chain(
                self.labels
                    .iter()
                    .map(|(c, _)| format!("{c} TEXT NOT NULL")),
            )
            .collect();
        format!(
            "CREATE TABLE {t} (\n    {cols},\n    n INTEGER NOT NULL,\n    PRIMARY KEY ({key})\n) WITHOUT ROWID;
CREATE TRIGGER {t}_insert AFTER INSERT ON failures BEGIN\n    {inc_new}\nEND;
CREATE TRIGGER {t}_delete AFTER DELETE ON failures BEGIN\n    {dec_old}\nEND;
CREATE TRIGGER {t}_update AFTER UPDATE OF ts_ms, cause, server, client_id ON failures
WHEN old.ts_ms IS NOT new.ts_ms OR old.cause IS NOT new.cause
  OR old.server IS NOT new.server OR old.client_id IS NOT new.client_id BEGIN
    {dec_old}\n    {inc_new}\nEND;\n",
            cols = cols.join(",\n    "),
            key = self.columns().join(", "),
            inc_new = self.increment("new"),
            dec_old = self.decrement("old"),
        )
    }

    fn backfill(&self) -> String {
        format!(
            "INSERT INTO {t} ({cols}, n) SELECT {exprs}, count(*) FROM failures WHERE {cond} GROUP BY {group};\n",
            t = self.table,
            cols = self.columns().join(", "),
            exprs = self.exprs("failures").join(", "),
            cond = self.counts("failures"),
            group = (1..=self.columns().len())
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// The tables and triggers of every rollup.
pub fn create_sql() -> String {
    ROLLUPS.iter().map(Rollup::create).collect()
}

/// Fills every (empty) rollup from the failures already stored.
pub fn backfill_sql() -> String {
    ROLLUPS.iter().map(Rollup::backfill).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_sql_reads_as_written_by_hand() {
        let sql = create_sql();
        assert!(sql.contains(
            "CREATE TABLE failure_slots (\n    slot_ms INTEGER NOT NULL,\n    cause TEXT NOT NULL,\n    n INTEGER NOT NULL,\n    PRIMARY KEY (slot_ms, cause)\n) WITHOUT ROWID;"
        ));
        assert!(sql.contains(
            "INSERT INTO failure_totals (cause, server, client_id, n) SELECT new.cause, coalesce(new.server, 'unknown'), coalesce(new.client_id, ''), 1 WHERE 1"
        ));
        assert!(sql.contains(
            "UPDATE failure_days SET n = n - 1 WHERE old.ts_ms IS NOT NULL AND day_ms = old.ts_ms - ((old.ts_ms % 86400000) + 86400000) % 86400000 AND cause = old.cause"
        ));
    }
}
