//! Batched writes: a batch of events and the progress of the file they were
//! read from are committed in one transaction, with statements prepared once.

use grantwatch_parsers::{Event, LineCounts};
use rusqlite::{OptionalExtension, params};

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
    /// Lines read and committed.
    pub line_no: u64,
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
    /// Number of the last complete line read.
    pub line_no: u64,
    /// Line counts added by this batch.
    pub counts: LineCounts,
    /// Lines cut for being longer than the limit, added by this batch.
    pub lines_cut: u64,
}

const INSERT_EVENT: &str = "INSERT INTO events (
    source_id, line, kind, format, server, ts_ms, ts_basis, request_id, client_id, grant_type,
    method, path, status, error, error_description, provider_reason, provider_debug,
    provider_code, redirect_uri, code_challenge, code_challenge_method, code_fp,
    refresh_token_fp, assertion_fp, verifier_s256, verifier_sent, jwt_iat, jwt_exp, jwt_nbf,
    jwt_iss, jwt_aud, jwt_jti, server_date_ms, ip, user_agent, session_id, user_name, lifecycle)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34,
            ?35, ?36, ?37, ?38)";

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
    /// The source row for `path`, created if new. A known path keeps its
    /// offsets; its format is updated.
    pub fn source(&mut self, path: &str, format: &str) -> Result<SourceInfo> {
        self.conn.execute(
            "INSERT INTO sources (path, format) VALUES (?1, ?2)
             ON CONFLICT(path) DO UPDATE SET format = excluded.format",
            params![path, format],
        )?;
        self.source_by_path(path)?
            .ok_or(super::Error::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// The source row for `path`, if known.
    pub fn source_by_path(&self, path: &str) -> Result<Option<SourceInfo>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, path, format, dev, inode, head_hash, byte_offset, line_no
             FROM sources WHERE path = ?1",
        )?;
        Ok(stmt
            .query_row([path], |r| {
                Ok(SourceInfo {
                    id: r.get(0)?,
                    path: r.get(1)?,
                    format: r.get(2)?,
                    dev: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
                    inode: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                    head_hash: r.get(5)?,
                    byte_offset: r.get::<_, i64>(6)? as u64,
                    line_no: r.get::<_, i64>(7)? as u64,
                })
            })
            .optional()?)
    }

    /// Stores `events` read from `source_id` and records `progress`, in one
    /// transaction. Returns the new events' row ids, in order.
    pub fn commit_batch(
        &mut self,
        source_id: i64,
        events: &[Event<'_>],
        progress: &BatchProgress,
    ) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(events.len());
        {
            let mut insert = tx.prepare_cached(INSERT_EVENT)?;
            let mut evidence = tx.prepare_cached(
                "INSERT OR IGNORE INTO evidence (event_id, line, text) VALUES (?1, ?2, ?3)",
            )?;
            for e in events {
                let jwt = e.jwt.as_ref();
                insert.execute(params![
                    source_id,
                    e.line() as i64,
                    e.kind.as_str(),
                    e.format.as_str(),
                    e.server.map(|s| s.as_str()),
                    e.ts.map(|t| t.utc.timestamp_millis()),
                    e.ts.map(|t| basis_name(t.basis)),
                    e.request_id.as_deref(),
                    e.client_id.as_deref(),
                    e.grant_type.as_deref(),
                    e.method.as_deref(),
                    e.path.as_deref(),
                    e.status,
                    e.error.as_deref(),
                    e.error_description.as_deref(),
                    e.provider_reason.as_deref(),
                    e.provider_debug.as_deref(),
                    e.provider_code.as_deref(),
                    e.redirect_uri.as_deref(),
                    e.code_challenge.as_deref(),
                    e.code_challenge_method.as_deref(),
                    e.code_fp.map(|f| f.to_hex()),
                    e.refresh_token_fp.map(|f| f.to_hex()),
                    e.assertion_fp.map(|f| f.to_hex()),
                    e.verifier_s256.as_deref(),
                    e.verifier_sent,
                    jwt.and_then(|j| j.iat),
                    jwt.and_then(|j| j.exp),
                    jwt.and_then(|j| j.nbf),
                    jwt.and_then(|j| j.iss.as_deref()),
                    jwt.and_then(|j| j.aud.as_deref()),
                    jwt.and_then(|j| j.jti.as_deref()),
                    e.server_date.map(|d| d.timestamp_millis()),
                    e.ip.as_deref(),
                    e.user_agent.as_deref(),
                    e.session_id.as_deref(),
                    e.user.as_deref(),
                    e.lifecycle.map(lifecycle_name),
                ])?;
                let id = tx.last_insert_rowid();
                for line in &e.evidence {
                    evidence.execute(params![id, line.line as i64, line.text.as_ref()])?;
                }
                ids.push(id);
            }
            let mut update = tx.prepare_cached(
                "UPDATE sources SET dev = ?2, inode = ?3, head_hash = ?4, byte_offset = ?5,
                    line_no = ?6, lines_parsed = lines_parsed + ?7,
                    lines_skipped = lines_skipped + ?8, lines_unknown = lines_unknown + ?9,
                    lines_cut = lines_cut + ?10,
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
            ])?;
        }
        tx.commit()?;
        Ok(ids)
    }
}
