//! Batched writes: a batch of events and the progress of the file they were
//! read from are committed in one transaction, with statements prepared once.

use grantwatch_parsers::{Event, LineCounts};
use rusqlite::{OptionalExtension, params};

use super::insert::{Lines, insert_events};
use super::{Result, Store};

/// Events committed together with others ([`Store::commit_parts`]): a
/// slice of them and, when a reader wrote their lines to the spill file,
/// where each event's are.
pub type EventParts<'p, 'e> = (&'p [Event<'e>], Option<&'p [u64]>);

/// A tailed or read file, as the store knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    /// Row id.
    pub id: i64,
    /// The path as given (or found in a folder).
    pub path: String,
    /// The detected or forced format name.
    pub format: String,
    /// Device of the file read up to `byte_offset`.
    pub dev: Option<u64>,
    /// Inode of the file read up to `byte_offset`.
    pub inode: Option<u64>,
    /// Hash of the file's first bytes, to tell a replaced file.
    pub head_hash: Option<String>,
    /// Bytes read and committed.
    pub byte_offset: u64,
    /// Lines read and committed (the resume point).
    pub line_no: u64,
    /// The highest line ever read and counted (at or past `line_no`: a
    /// record still open when the resume point was committed is read again
    /// after a restart, and its lines are not counted twice).
    pub read_line_no: u64,
}

/// How far a file has been read, committed with the batch read up to there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchProgress {
    /// Device of the file.
    pub dev: Option<u64>,
    /// Inode of the file.
    pub inode: Option<u64>,
    /// Hash of the file's first bytes.
    pub head_hash: Option<String>,
    /// Offset just past the last complete line read.
    pub byte_offset: u64,
    /// Number of the last complete line read: the resume point.
    pub line_no: u64,
    /// The highest line read and counted so far.
    pub read_line_no: u64,
    /// Line counts added by this batch.
    pub counts: LineCounts,
    /// Lines cut for being longer than the limit, added by this batch.
    pub lines_cut: u64,
    /// The envelope most lines came in (`cri`, `journald-json`, …), once
    /// detected.
    pub envelope: Option<&'static str>,
}

impl BatchProgress {
    /// Takes in the progress of the batch read next from the same file, so
    /// that the two batches' events committed at once with the result leave
    /// the source's row as committing them one after the other would
    /// ([`Store::commit_batch`]): the counts added up, the position and the
    /// file's identity the later batch's, the envelope the later one's if
    /// it names one.
    pub fn absorb(&mut self, later: BatchProgress) {
        let mut counts = self.counts;
        counts += later.counts;
        *self = BatchProgress {
            read_line_no: self.read_line_no.max(self.line_no).max(later.read_line_no),
            counts,
            lines_cut: self.lines_cut + later.lines_cut,
            envelope: later.envelope.or(self.envelope),
            ..later
        };
    }
}

const SOURCE_COLUMNS: &str =
    "id, path, format, dev, inode, head_hash, byte_offset, line_no, read_line_no";

fn source_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SourceInfo> {
    Ok(SourceInfo {
        id: r.get(0)?,
        path: r.get(1)?,
        format: r.get(2)?,
        dev: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
        inode: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
        head_hash: r.get(5)?,
        byte_offset: r.get::<_, i64>(6)? as u64,
        line_no: r.get::<_, i64>(7)? as u64,
        read_line_no: r.get::<_, i64>(8)? as u64,
    })
}

/// Whether two head hashes can be of one file: equal. (A head hash covers
/// the first `min(size, 1 KiB)` bytes, so a file that grew past a short
/// head gets a new hash; such a file keeps its row through the tailer's own
/// identity, which re-hashes as it grows.)
fn is_prefix_hash(stored: &str, now: &str) -> bool {
    stored == now
}

impl Store {
    /// The last event id the diagnosis has looked at: every failure among
    /// the events up to it is diagnosed. Committed with those diagnoses
    /// ([`Store::advance_diagnosis_cursor`] inside their transaction), so a
    /// crash between storing events and diagnosing them loses nothing: the
    /// next run starts here, not at the newest stored event.
    pub fn diagnosis_cursor(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row(
                "SELECT event_id FROM cursors WHERE name = 'diagnosis'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Moves the diagnosis cursor forward to `event_id` (never back: two
    /// writers of diagnoses may commit out of order). Call it in the
    /// transaction that writes the diagnoses it covers.
    pub fn advance_diagnosis_cursor(&self, event_id: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO cursors (name, event_id) VALUES ('diagnosis', ?1)
                 ON CONFLICT(name) DO UPDATE SET event_id = max(event_id, excluded.event_id)",
            )?
            .execute([event_id])?;
        Ok(())
    }

    /// The source row of the file at `path` with this identity (device,
    /// inode and head hash): the latest generation of that file, or a new
    /// row. A file the store knew at another path (rotated) keeps its row and
    /// offsets under its new path; a file with new first bytes (a reused
    /// inode, a rewrite) is a new generation from offset 0.
    pub fn source_for_file(
        &mut self,
        path: &str,
        format: &str,
        (dev, inode): (u64, u64),
        head_hash: &str,
    ) -> Result<SourceInfo> {
        let known = self.conn.query_row(
            "SELECT id, head_hash FROM sources WHERE dev = ?1 AND inode = ?2
             ORDER BY id DESC LIMIT 1",
            params![dev as i64, inode as i64],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?)),
        );
        let id = match known.optional()? {
            Some((id, Some(hash))) if is_prefix_hash(&hash, head_hash) => {
                self.conn.execute(
                    "UPDATE sources SET path = ?2, format = ?3 WHERE id = ?1",
                    params![id, path, format],
                )?;
                id
            }
            _ => {
                self.conn.execute(
                    "INSERT INTO sources (path, format, dev, inode, head_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![path, format, dev as i64, inode as i64, head_hash],
                )?;
                self.conn.last_insert_rowid()
            }
        };
        // A file read again in one load may give events stored already,
        // which only the table's unique index tells.
        if let Some(bulk) = self.bulk.as_mut().filter(|b| b.keeps_source(id)) {
            let tx = self.conn.transaction()?;
            bulk.put_kept_in_table(&tx)?;
            tx.commit()?;
        }
        self.source_by_id(id)?
            .ok_or(super::Error::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// A new generation row for a file that was truncated or rewritten in
    /// place: its lines are numbered from 1 again.
    pub fn new_generation(
        &mut self,
        path: &str,
        format: &str,
        (dev, inode): (u64, u64),
        head_hash: &str,
    ) -> Result<SourceInfo> {
        self.conn.execute(
            "INSERT INTO sources (path, format, dev, inode, head_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![path, format, dev as i64, inode as i64, head_hash],
        )?;
        let id = self.conn.last_insert_rowid();
        self.source_by_id(id)?
            .ok_or(super::Error::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Every file generation that has a checkpoint, latest per file first.
    pub fn checkpoints(&self) -> Result<Vec<SourceInfo>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SOURCE_COLUMNS} FROM sources s
             WHERE inode IS NOT NULL AND id = (
                 SELECT max(id) FROM sources t WHERE t.dev = s.dev AND t.inode = s.inode)"
        ))?;
        let rows = stmt.query_map([], source_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One source row by id.
    pub fn source_by_id(&self, id: i64) -> Result<Option<SourceInfo>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SOURCE_COLUMNS} FROM sources WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([id], source_row).optional()?)
    }

    /// The latest source row for `path`, if known.
    pub fn source_by_path(&self, path: &str) -> Result<Option<SourceInfo>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SOURCE_COLUMNS} FROM sources WHERE path = ?1 ORDER BY id DESC LIMIT 1"
        ))?;
        Ok(stmt.query_row([path], source_row).optional()?)
    }

    /// Stores `events` read from `source_id` and records `progress`, in one
    /// transaction. Returns the new events' row ids, in order; an event
    /// already stored (same source, line and kind: read again after a
    /// restart) is skipped.
    pub fn commit_batch(
        &mut self,
        source_id: i64,
        events: &[Event<'_>],
        progress: &BatchProgress,
    ) -> Result<Vec<i64>> {
        self.commit_parts(source_id, &[(events, None)], progress)
    }

    /// [`Store::commit_batch`] for events whose evidence lines a reader
    /// wrote to the scratch database's spill file already
    /// ([`EvidenceSpill::append`]): `places[i]` is where event `i`'s are.
    /// Without a spill file (a kept database) the events' own lines are
    /// stored, as `commit_batch` does.
    pub fn commit_spilled_batch(
        &mut self,
        source_id: i64,
        events: &[Event<'_>],
        places: &[u64],
        progress: &BatchProgress,
    ) -> Result<Vec<i64>> {
        self.commit_parts(source_id, &[(events, Some(places))], progress)
    }

    /// Stores the events of every part, in order, and records `progress`,
    /// in one transaction, as [`Store::commit_spilled_batch`] stores a
    /// part whose places are given and [`Store::commit_batch`] one without:
    /// the batches of a read in ranges are committed a few at a time
    /// without being moved into one vector first (copying the events was
    /// about 2% of reading a Keycloak log, benches/README.md). Returns the
    /// new events' row ids, in order.
    pub fn commit_parts(
        &mut self,
        source_id: i64,
        parts: &[EventParts<'_, '_>],
        progress: &BatchProgress,
    ) -> Result<Vec<i64>> {
        let total = parts.iter().map(|(events, _)| events.len()).sum();
        if self.bulk.is_none() && total > 0 {
            self.events_change()?;
        }
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(total);
        for &(events, placed) in parts {
            let lines = match (placed, self.spill.as_deref()) {
                (Some(places), Some(spill)) => Lines::Spilled(spill, places),
                (_, spill) => Lines::of(spill),
            };
            let kept = self
                .bulk
                .as_mut()
                .and_then(|bulk| bulk.keep_events(&tx, source_id, events, lines));
            let part_ids = match kept {
                Some(ids) => ids?,
                None => insert_events(&tx, source_id, events, lines)?,
            };
            if let Some(bulk) = self.bulk.as_mut() {
                if bulk.kept.is_none() {
                    bulk.watch(&tx, events)?;
                }
                bulk.keep_keys(&tx, source_id, events, &part_ids)?;
                bulk.keep_within_budget(&tx)?;
            }
            ids.extend(part_ids);
        }
        {
            let mut update = tx.prepare_cached(
                "UPDATE sources SET dev = ?2, inode = ?3, head_hash = ?4, byte_offset = ?5,
                    line_no = ?6, lines_parsed = lines_parsed + ?7,
                    lines_skipped = lines_skipped + ?8, lines_unknown = lines_unknown + ?9,
                    lines_cut = lines_cut + ?10, read_line_no = max(read_line_no, ?11),
                    envelope = coalesce(?12, envelope),
                    updated_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
                 WHERE id = ?1",
            )?;
            update.execute(params![
                source_id,
                progress.dev.map(|v| v as i64),
                progress.inode.map(|v| v as i64),
                progress.head_hash,
                progress.byte_offset as i64,
                progress.line_no as i64,
                progress.counts.parsed as i64,
                progress.counts.skipped as i64,
                progress.counts.unknown as i64,
                progress.lines_cut as i64,
                progress.read_line_no.max(progress.line_no) as i64,
                progress.envelope,
            ])?;
        }
        super::feed::count_ingested(&tx, "records", ids.len() as u64)?;
        tx.commit()?;
        Ok(ids)
    }
}

impl Store {
    /// Forgets what was read of `source_id`: its events (and what hangs on
    /// them) and its position and counts, so that it is read again from
    /// its first line. `analyze` does this when reading a file in ranges
    /// finds no line to hand over at, before reading it on one core.
    pub fn forget_source_reading(&mut self, source_id: i64) -> Result<()> {
        if self.bulk.is_none() {
            self.events_change()?;
        }
        let tx = self.conn.transaction()?;
        if let Some(bulk) = self.bulk.as_mut() {
            // Kept rows are not deleted one source at a time: into the
            // table with them first.
            bulk.put_kept_in_table(&tx)?;
            if let Some(index) = bulk.index.as_mut() {
                index.forget(source_id);
            }
        }
        tx.execute("DELETE FROM events WHERE source_id = ?1", [source_id])?;
        tx.execute(
            "UPDATE sources SET byte_offset = 0, line_no = 0, read_line_no = 0,
                lines_parsed = 0, lines_skipped = 0, lines_unknown = 0, lines_cut = 0
             WHERE id = ?1",
            [source_id],
        )?;
        tx.commit()?;
        Ok(())
    }
}
