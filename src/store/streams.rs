//! Received streams (`src/fleet`): a stream is a source row without a file
//! (no device, no inode), named `stream:` and what the shipper called it.
//! Its events, its line count, the lines its parser still holds and the
//! digests of the batches and records they came in are committed in one
//! transaction ([`Store::commit_streams`]), so a batch answered 200 is
//! stored, with its open records, and a retried batch, or a retried record
//! in a batch cut otherwise, is recognised.

use std::collections::BTreeMap;

use grantwatch_parsers::{Event, LineCounts};
use rusqlite::{OptionalExtension, params};

use super::insert::{Lines, insert_events};
use super::{Result, SourceInfo, Store};

/// What one stream adds in a commit.
#[derive(Debug)]
pub struct StreamCommit<'a, 'e> {
    /// The stream's source row.
    pub source_id: i64,
    /// Events to store.
    pub events: &'a [Event<'e>],
    /// Record counts added.
    pub counts: LineCounts,
    /// The last line number given out (never reused: events are unique by
    /// source, line and kind).
    pub line_no: u64,
    /// Held lines before this one are no longer needed.
    pub pending_from: u64,
    /// Lines newly held by the parser (numbered, at or past `pending_from`).
    pub new_pending: Vec<(u64, &'a str)>,
}

/// A received record's key: its stream's source row, its shipper time and
/// its digest.
pub type RecordKey<'a> = (i64, &'a str, [u8; 16]);

/// Digests committed with streams, and the age past which older ones are
/// forgotten.
#[derive(Debug, Default)]
pub struct Digests<'a> {
    /// Batches stored.
    pub batches: &'a [[u8; 16]],
    /// Records stored (those with a shipper time): stream's source row,
    /// shipper time, digest.
    pub records: &'a [RecordKey<'a>],
    /// Batch digests older than this are dropped.
    pub batches_since_ms: i64,
    /// Record digests older than this are dropped.
    pub records_since_ms: i64,
}

impl Store {
    /// The source row of the stream named `path` (created with `format`).
    pub fn stream_source(&mut self, path: &str, format: &str) -> Result<SourceInfo> {
        if let Some(s) = self.source_by_path(path)?.filter(|s| s.inode.is_none()) {
            return Ok(s);
        }
        self.conn.execute(
            "INSERT INTO sources (path, format) VALUES (?1, ?2)",
            params![path, format],
        )?;
        let id = self.conn.last_insert_rowid();
        self.source_by_id(id)?
            .ok_or(super::Error::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Records the format detected for a stream.
    pub fn set_stream_format(&mut self, source_id: i64, format: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE sources SET format = ?2 WHERE id = ?1")?
            .execute(params![source_id, format])?;
        Ok(())
    }

    /// The lines a stream's parser held when last committed, in order.
    pub fn stream_pending(&self, source_id: i64) -> Result<Vec<(u64, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT line, text FROM ingest_pending WHERE source_id = ?1 ORDER BY line",
        )?;
        let rows = stmt.query_map([source_id], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether a batch with this digest was stored since `since_ms`.
    pub fn batch_seen(&self, digest: &[u8], since_ms: i64) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM ingest_batches WHERE digest = ?1 AND seen_ms >= ?2")?
            .query_row(params![digest, since_ms], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The digests of a stream's records stored since `since_ms` in the
    /// commits whose time range meets `lo..=hi` (shipper times, as text): one
    /// range read per stream and batch (new records' times are past every
    /// stored range: the read finds nothing, at the end of the index).
    pub fn records_seen(
        &self,
        source_id: i64,
        lo: &str,
        hi: &str,
        since_ms: i64,
    ) -> Result<Vec<[u8; 16]>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT digests FROM ingest_record_sets
             WHERE source_id = ?1 AND max_time >= ?2 AND min_time <= ?3 AND seen_ms >= ?4",
        )?;
        let rows = stmt.query_map(params![source_id, lo, hi, since_ms], |r| {
            r.get::<_, Vec<u8>>(0)
        })?;
        let mut out = Vec::new();
        for set in rows {
            let set = set?;
            out.extend(
                set.chunks_exact(16)
                    .filter_map(|d| <[u8; 16]>::try_from(d).ok()),
            );
        }
        Ok(out)
    }

    /// Commits the streams' events, counts and held lines, and the digests
    /// of the batches and records they came from, in one transaction;
    /// digests older than the windows of `seen` are dropped. Returns the
    /// events stored.
    pub fn commit_streams(
        &mut self,
        streams: &[StreamCommit<'_, '_>],
        seen: &Digests<'_>,
        now_ms: i64,
    ) -> Result<u64> {
        if streams.iter().any(|s| !s.events.is_empty()) {
            self.events_change()?;
        }
        let tx = self.conn.transaction()?;
        let mut stored = 0;
        {
            let mut update = tx.prepare_cached(
                "UPDATE sources SET line_no = max(line_no, ?2), read_line_no = max(read_line_no, ?2),
                    lines_parsed = lines_parsed + ?3, lines_skipped = lines_skipped + ?4,
                    lines_unknown = lines_unknown + ?5, updated_ms = ?6
                 WHERE id = ?1",
            )?;
            let mut unhold =
                tx.prepare_cached("DELETE FROM ingest_pending WHERE source_id = ?1 AND line < ?2")?;
            let mut hold = tx.prepare_cached(
                "INSERT OR REPLACE INTO ingest_pending (source_id, line, text) VALUES (?1, ?2, ?3)",
            )?;
            for s in streams {
                stored +=
                    insert_events(&tx, s.source_id, s.events, Lines::of(self.spill.as_deref()))?
                        .len() as u64;
                update.execute(params![
                    s.source_id,
                    s.line_no as i64,
                    s.counts.parsed as i64,
                    s.counts.skipped as i64,
                    s.counts.unknown as i64,
                    now_ms,
                ])?;
                unhold.execute(params![s.source_id, s.pending_from as i64])?;
                for (line, text) in &s.new_pending {
                    hold.execute(params![s.source_id, *line as i64, text])?;
                }
            }
            let mut batch = tx.prepare_cached(
                "INSERT OR REPLACE INTO ingest_batches (digest, seen_ms) VALUES (?1, ?2)",
            )?;
            for d in seen.batches {
                batch.execute(params![&d[..], now_ms])?;
            }
            tx.prepare_cached("DELETE FROM ingest_batches WHERE seen_ms < ?1")?
                .execute([seen.batches_since_ms])?;
            let mut set = tx.prepare_cached(
                "INSERT INTO ingest_record_sets (source_id, min_time, max_time, digests, seen_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (source, (lo, hi, digests)) in record_sets(seen.records) {
                set.execute(params![source, lo, hi, digests, now_ms])?;
            }
            tx.prepare_cached("DELETE FROM ingest_record_sets WHERE seen_ms < ?1")?
                .execute([seen.records_since_ms])?;
        }
        tx.commit()?;
        Ok(stored)
    }
}

/// The records' digests gathered per stream: its time range and the
/// digests end to end (16 bytes each), one row of `ingest_record_sets`.
fn record_sets<'a>(records: &[RecordKey<'a>]) -> BTreeMap<i64, (&'a str, &'a str, Vec<u8>)> {
    let mut sets: BTreeMap<i64, (&str, &str, Vec<u8>)> = BTreeMap::new();
    for &(source, time, digest) in records {
        let set = sets
            .entry(source)
            .or_insert_with(|| (time, time, Vec::new()));
        set.0 = set.0.min(time);
        set.1 = set.1.max(time);
        set.2.extend_from_slice(&digest);
    }
    sets
}
