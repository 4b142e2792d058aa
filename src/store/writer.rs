//! Batched writes: a batch of events and the progress of the file they were
//! read from are committed in one transaction, with statements prepared once.

use grantwatch_parsers::{Event, GrantType, LineCounts};
use rusqlite::{OptionalExtension, params};

use super::spill::{EvidenceSpill, SpillBatch};
use super::{Result, Store};

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

const INSERT_EVENT: &str = "INSERT OR IGNORE INTO events (
    source_id, line, kind, format, server, ts_ms, ts_basis, request_id, client_id, grant_type,
    method, path, status, error, error_description, provider_reason, provider_debug,
    provider_code, redirect_uri, code_challenge, code_challenge_method, code_fp,
    refresh_token_fp, assertion_fp, verifier_s256, verifier_sent, jwt_iat, jwt_exp, jwt_nbf,
    jwt_iss, jwt_aud, jwt_jti, server_date_ms, ip, user_agent, session_id, user_name, lifecycle,
    origin, envelope_ts_ms, device_id, part)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34,
            ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42)";

fn basis_name(basis: grantwatch_parsers::TimeBasis) -> &'static str {
    use grantwatch_parsers::TimeBasis::*;
    match basis {
        Zoned => "zoned",
        AssumedZone => "assumed_zone",
        YearInferred => "year_inferred",
        DateInferred => "date_inferred",
    }
}

fn lifecycle_name(l: grantwatch_parsers::Lifecycle) -> &'static str {
    use grantwatch_parsers::Lifecycle::*;
    match l {
        Paused => "paused",
        Resumed => "resumed",
        ColdStart => "cold_start",
        Terminated => "terminated",
    }
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
        self.commit_placed_batch(source_id, events, None, progress)
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
        self.commit_placed_batch(source_id, events, Some(places), progress)
    }

    fn commit_placed_batch(
        &mut self,
        source_id: i64,
        events: &[Event<'_>],
        placed: Option<&[u64]>,
        progress: &BatchProgress,
    ) -> Result<Vec<i64>> {
        if self.bulk.is_none() && !events.is_empty() {
            self.events_change()?;
        }
        let tx = self.conn.transaction()?;
        let lines = match (placed, self.spill.as_deref()) {
            (Some(places), Some(spill)) => Lines::Spilled(spill, places),
            (_, spill) => Lines::of(spill),
        };
        let ids = insert_events(&tx, source_id, events, lines)?;
        if let Some(bulk) = self.bulk.as_mut() {
            bulk.watch(&tx, events)?;
            bulk.keep_keys(&tx, source_id, events, &ids)?;
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
        match self.bulk.as_mut() {
            Some(bulk) => {
                if let Some(index) = bulk.index.as_mut() {
                    index.forget(source_id);
                }
            }
            None => self.events_change()?,
        }
        let tx = self.conn.transaction()?;
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

/// Binds event `e` of `source_id` to the insert statement: its NULLs by
/// clearing every binding once, its values one by one. Binding each of
/// the forty-one columns, NULL or not, through `params!` was a sixth of
/// storing an event, and most of an event's columns are NULL.
fn bind_event(
    stmt: &mut rusqlite::Statement<'_>,
    source_id: i64,
    e: &Event<'_>,
) -> rusqlite::Result<()> {
    stmt.clear_bindings();
    let jwt = e.jwt.as_ref();
    stmt.raw_bind_parameter(1, source_id)?;
    stmt.raw_bind_parameter(2, e.line() as i64)?;
    stmt.raw_bind_parameter(3, e.kind.as_str())?;
    stmt.raw_bind_parameter(4, e.format.as_str())?;
    bind_some(stmt, 5, e.server.map(|s| s.as_str()))?;
    bind_some(stmt, 6, e.ts.map(|t| t.utc.timestamp_millis()))?;
    bind_some(stmt, 7, e.ts.map(|t| basis_name(t.basis)))?;
    bind_some(stmt, 8, e.request_id.as_deref())?;
    bind_some(stmt, 9, e.client_id.as_deref())?;
    bind_some(stmt, 10, e.grant_type.as_ref().map(GrantType::as_str))?;
    bind_some(stmt, 11, e.method.as_deref())?;
    bind_some(stmt, 12, e.path.as_deref())?;
    bind_some(stmt, 13, e.status)?;
    bind_some(stmt, 14, e.error.as_deref())?;
    bind_some(stmt, 15, e.error_description.as_deref())?;
    bind_some(stmt, 16, e.provider_reason.as_deref())?;
    bind_some(stmt, 17, e.provider_debug.as_deref())?;
    bind_some(stmt, 18, e.provider_code.as_deref())?;
    bind_some(stmt, 19, e.redirect_uri.as_deref())?;
    bind_some(stmt, 20, e.code_challenge.as_deref())?;
    bind_some(stmt, 21, e.code_challenge_method.as_deref())?;
    bind_some(stmt, 22, e.code_fp.map(|f| f.to_hex()))?;
    bind_some(stmt, 23, e.refresh_token_fp.map(|f| f.to_hex()))?;
    bind_some(stmt, 24, e.assertion_fp.map(|f| f.to_hex()))?;
    bind_some(stmt, 25, e.verifier_s256.as_deref())?;
    bind_some(stmt, 26, e.verifier_sent)?;
    bind_some(stmt, 27, jwt.and_then(|j| j.iat))?;
    bind_some(stmt, 28, jwt.and_then(|j| j.exp))?;
    bind_some(stmt, 29, jwt.and_then(|j| j.nbf))?;
    bind_some(stmt, 30, jwt.and_then(|j| j.iss.as_deref()))?;
    bind_some(stmt, 31, jwt.and_then(|j| j.aud.as_deref()))?;
    bind_some(stmt, 32, jwt.and_then(|j| j.jti.as_deref()))?;
    bind_some(stmt, 33, e.server_date.map(|d| d.timestamp_millis()))?;
    bind_some(stmt, 34, e.ip.as_deref())?;
    bind_some(stmt, 35, e.user_agent.as_deref())?;
    bind_some(stmt, 36, e.session_id.as_deref())?;
    bind_some(stmt, 37, e.user.as_deref())?;
    bind_some(stmt, 38, e.lifecycle.map(lifecycle_name))?;
    bind_some(stmt, 39, e.origin.as_deref())?;
    bind_some(stmt, 40, e.envelope_time.map(|t| t.timestamp_millis()))?;
    bind_some(stmt, 41, e.device_id.as_deref())?;
    // Always bound: the column is NOT NULL and the bindings were cleared.
    stmt.raw_bind_parameter(42, e.part)?;
    Ok(())
}

/// Binds `value` at `index` when there is one (the binding stays NULL).
fn bind_some<T: rusqlite::ToSql>(
    stmt: &mut rusqlite::Statement<'_>,
    index: usize,
    value: Option<T>,
) -> rusqlite::Result<()> {
    match value {
        Some(v) => stmt.raw_bind_parameter(index, v),
        None => Ok(()),
    }
}

/// Where the evidence lines of a batch of events go.
#[derive(Clone, Copy)]
pub(super) enum Lines<'a> {
    /// To the `evidence` table (a kept database).
    Table,
    /// To the scratch database's spill file, written here.
    Spill(&'a EvidenceSpill),
    /// In the spill file already ([`EvidenceSpill::append`]): each event's
    /// record place, in the events' order, published under its new id.
    Spilled(&'a EvidenceSpill, &'a [u64]),
}

impl<'a> Lines<'a> {
    /// Where a store's lines go: its spill file if it has one.
    pub(super) fn of(spill: Option<&'a EvidenceSpill>) -> Lines<'a> {
        spill.map_or(Lines::Table, Lines::Spill)
    }
}

/// Inserts `events` of `source_id` (an event already stored, same source,
/// line and kind, is skipped) and returns the new rows' ids, in order; the
/// caller owns the transaction. Their evidence lines go where `lines`
/// says, written (or published) before the caller commits.
pub(super) fn insert_events(
    tx: &rusqlite::Connection,
    source_id: i64,
    events: &[Event<'_>],
    lines: Lines<'_>,
) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(events.len());
    let mut insert = tx.prepare_cached(INSERT_EVENT)?;
    // Prepared once a batch, and only for a database that keeps its lines.
    let mut evidence = match lines {
        Lines::Table => Some(tx.prepare_cached(
            "INSERT OR IGNORE INTO evidence (event_id, line, text) VALUES (?1, ?2, ?3)",
        )?),
        _ => None,
    };
    let mut spilled = match lines {
        Lines::Spill(_) => SpillBatch::new(),
        _ => SpillBatch::default(),
    };
    let mut published = Vec::new();
    for (i, e) in events.iter().enumerate() {
        bind_event(&mut insert, source_id, e)?;
        let inserted = insert.raw_execute()?;
        if inserted == 0 {
            // Read again after a restart: stored already.
            continue;
        }
        let id = tx.last_insert_rowid();
        ids.push(id);
        let texts = e.evidence.iter().map(|l| (l.line, l.text.as_ref()));
        match lines {
            Lines::Table => {
                if let Some(evidence) = evidence.as_mut() {
                    for (line, text) in texts {
                        evidence.execute(params![id, line as i64, text])?;
                    }
                }
            }
            Lines::Spill(spill) => {
                spilled.add(id, texts)?;
                if spilled.is_full() {
                    spill.write(&mut spilled)?;
                }
            }
            Lines::Spilled(_, places) => {
                published.push((id, places.get(i).copied().unwrap_or(0)));
            }
        }
    }
    match lines {
        Lines::Spill(spill) => spill.write(&mut spilled)?,
        Lines::Spilled(spill, _) => spill.publish(&published),
        Lines::Table => {}
    }
    Ok(ids)
}
