//! Aggregates for `/api/stats` and `/metrics`, computed in SQL: failures
//! per cause per time bucket (from the `failure_slots` rollup when the range
//! allows, see `slots.rs`). What is known of each source is `sources.rs`'s.
//!
//! Buckets are aligned on UTC (an hour or a day since the epoch); only buckets
//! holding at least one failure are returned, oldest first. Failures without
//! a time cannot be placed in a bucket: [`CauseSeries::undated`] counts them,
//! so the buckets and it always add up to the number of matching failures.

use std::collections::BTreeMap;

use grantwatch_parsers::ServerKind;

use super::failures::FailureFilter;
use super::labels::server_column;
use super::{Result, Store};
use crate::cause::Cause;
use crate::time::format_ts;

/// The width of a time bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// One UTC hour.
    Hour,
    /// One UTC day.
    Day,
}

impl Bucket {
    /// Parses `hour` or `day`.
    pub fn from_name(name: &str) -> Option<Bucket> {
        match name {
            "hour" => Some(Bucket::Hour),
            "day" => Some(Bucket::Day),
            _ => None,
        }
    }

    /// `hour` or `day`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
        }
    }

    /// The width in milliseconds.
    pub fn width_ms(self) -> i64 {
        match self {
            Bucket::Hour => 3_600_000,
            Bucket::Day => 86_400_000,
        }
    }
}

/// Failures per cause in one time bucket.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BucketCounts {
    /// Start of the bucket, RFC 3339 UTC with milliseconds.
    pub start: String,
    /// Failures per cause id (only causes that occurred).
    pub counts: BTreeMap<String, u64>,
}

/// Failures per cause over time.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CauseSeries {
    /// `hour` or `day`.
    pub bucket: &'static str,
    /// The buckets holding failures, oldest first.
    pub series: Vec<BucketCounts>,
    /// Matching failures without a time (in no bucket).
    pub undated: u64,
}

/// Failures of one (cause, server, client) combination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureCount {
    /// The cause.
    pub cause: Cause,
    /// Server kind, `None` when not known (labelled `unknown`).
    pub server: Option<ServerKind>,
    /// Client id, empty when not known.
    pub client: String,
    /// How many failures.
    pub count: u64,
}

impl FailureCount {
    /// A `(cause, server, client_id, count)` row of a rollup.
    pub(super) fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FailureCount> {
        Ok(FailureCount {
            cause: r.get(0)?,
            server: server_column(r, 1)?,
            client: r.get(2)?,
            count: count(r.get(3)?),
        })
    }
}

pub(super) fn count(v: i64) -> u64 {
    v.max(0) as u64
}

impl Store {
    /// Failures matching `filter`, per cause per `bucket`, oldest bucket
    /// first.
    pub fn cause_series(&self, bucket: Bucket, filter: &FailureFilter) -> Result<CauseSeries> {
        // The failure list's own filter: stats and list agree on what matches.
        // Hours and days are whole slots, so the per-cause rollup answers
        // whenever the range's ends are on slot boundaries too and no client
        // or server is asked for.
        let on_slots = filter.client.is_none()
            && filter.server.is_none()
            && [filter.since_ms, filter.until_ms]
                .iter()
                .flatten()
                .all(|&t| t == super::rollups::slot_floor(t));
        let (table, time, n) = if on_slots {
            ("failure_slots", "slot_ms", "sum(n)")
        } else {
            ("failures", "ts_ms", "count(*)")
        };
        let (where_sql, values) = super::failures::filter_sql_on(filter, time);
        let width = bucket.width_ms();
        // Floor division, so that times before the epoch land in the bucket
        // that starts before them.
        let sql = format!(
            "SELECT {time} - (({time} % {width}) + {width}) % {width} AS start, cause, {n}
             FROM {table} WHERE {time} IS NOT NULL AND {where_sql}
             GROUP BY start, cause ORDER BY start, cause"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut series: Vec<(i64, BucketCounts)> = Vec::new();
        for row in rows {
            let (start, cause, n) = row?;
            if series.last().is_none_or(|(s, _)| *s != start) {
                let Some(label) = format_ts(start) else {
                    continue;
                };
                series.push((
                    start,
                    BucketCounts {
                        start: label,
                        counts: BTreeMap::new(),
                    },
                ));
            }
            if let Some((_, b)) = series.last_mut() {
                b.counts.insert(cause, count(n));
            }
        }
        let (where_sql, values) = super::failures::filter_sql(filter);
        let undated: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM failures WHERE ts_ms IS NULL AND {where_sql}"),
            rusqlite::params_from_iter(values.iter()),
            |r| r.get(0),
        )?;
        Ok(CauseSeries {
            bucket: bucket.as_str(),
            series: series.into_iter().map(|(_, b)| b).collect(),
            undated: count(undated),
        })
    }

    /// The time of the newest failure at or before `at_most` (ms), if any.
    pub fn latest_failure_ms(&self, at_most: i64) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT max(ts_ms) FROM failures WHERE ts_ms <= ?1",
            [at_most],
            |r| r.get(0),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_round_trip() {
        for b in [Bucket::Hour, Bucket::Day] {
            assert_eq!(Bucket::from_name(b.as_str()), Some(b));
        }
        assert_eq!(Bucket::from_name("week"), None);
    }

    #[test]
    fn an_empty_store_has_no_buckets() {
        let store = Store::open_in_memory().expect("open");
        let s = store
            .cause_series(Bucket::Day, &FailureFilter::default())
            .expect("series");
        assert!(s.series.is_empty());
        assert_eq!(s.undated, 0);
        assert!(store.failure_counts().expect("counts").is_empty());
        assert_eq!(store.latest_failure_ms(i64::MAX).expect("latest"), None);
    }
}
