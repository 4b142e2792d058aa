//! Failures and their diagnoses: the contract object of `analyze --json` and
//! `/api/failures`, stored and read back.
//!
//! A failure is keyed by a stable id derived from its primary event's file and
//! line, so re-diagnosing it (when later lines bring more evidence) updates the
//! same row, and every change of cause or confidence is appended to
//! `diagnosis_history`. A scratch analysis (`analyze` without `--db`) holds
//! its failures beside its tables instead (`scratch_failures.rs`), and
//! answers from there what the analysis asks.

use crate::cause::{Cause, Confidence};
use grantwatch_parsers::{GrantType, ServerKind};
use rusqlite::{OptionalExtension, Row, params};

use super::failure_details::FailureDetails;
pub use super::failure_record::{
    Candidate, ClockContext, Evidence, FailureContext, FailureFilter, FailureRecord, RedirectPair,
    RenderedJson, StoredFailure,
};
use super::scratch_failures::ScratchFailures;
use super::{Error, Result, Store};
use crate::time::format_ts;

/// The columns a failure is read from ([`from_row`]'s order).
macro_rules! columns {
    () => {
        "id, ts_ms, server, request_id, client_id, grant_type, error, http_status,
    cause, confidence, candidates, summary, fix, evidence, missing, context"
    };
}
const COLUMNS: &str = columns!();

/// One failure's row, by id.
const ONE_FAILURE: &str = concat!("SELECT ", columns!(), " FROM failures WHERE id = ?1");

/// The failures' ids, oldest first (ties by id).
const TIME_ORDER: &str = "SELECT id FROM failures ORDER BY coalesce(ts_ms, 0), id";

/// What [`Store::each_rendered_line`] hands each failure to: its id and
/// the rest of its line.
pub type RenderedLine<'a, E> = dyn FnMut(&str, &[u8]) -> std::result::Result<(), E> + 'a;

/// A row and its three JSON columns (candidates, evidence, context), parsed
/// by [`finish`].
type RawFailure = (FailureRecord, String, String, Option<String>);

fn from_row(r: &Row<'_>) -> rusqlite::Result<RawFailure> {
    let ts_ms: Option<i64> = r.get(1)?;
    Ok((
        FailureRecord {
            id: r.get(0)?,
            ts: ts_ms.and_then(format_ts),
            server: super::labels::server_column(r, 2)?,
            request_id: r.get(3)?,
            client_id: r.get(4)?,
            grant_type: super::events::grant(r, 5)?,
            error: r.get(6)?,
            http_status: r.get(7)?,
            cause: r.get(8)?,
            confidence: r.get(9)?,
            candidates: Vec::new(),
            summary: r.get(11)?,
            fix: r.get(12)?,
            evidence: Vec::new(),
            missing: r.get(14)?,
            context: FailureContext::default(),
        },
        r.get(10)?,
        r.get(13)?,
        r.get(15)?,
    ))
}

impl Store {
    /// The failures of the scratch analysis this connection is one of
    /// (`scratch_failures.rs`), and the file of their JSON: it keeps none
    /// in its tables.
    fn scratch_failures(&self) -> Option<ScratchAnalysis<'_>> {
        self.spill.as_deref().map(|spill| ScratchAnalysis {
            failures: &spill.failures,
            details: &spill.failure_details,
        })
    }
}

/// A row as a record, its JSON parsed.
fn finish(row: RawFailure) -> Result<FailureRecord> {
    let (mut rec, candidates, evidence, context) = row;
    rec.candidates = serde_json::from_str(&candidates)?;
    rec.evidence = serde_json::from_str(&evidence)?;
    with_context(rec, context)
}

/// `rec` with the context stored as `context` (JSON), if any.
fn with_context(mut rec: FailureRecord, context: Option<String>) -> Result<FailureRecord> {
    if let Some(context) = context {
        rec.context = serde_json::from_str(&context)?;
    }
    Ok(rec)
}

/// Where a scratch analysis keeps its failures.
struct ScratchAnalysis<'s> {
    failures: &'s ScratchFailures,
    details: &'s FailureDetails,
}

impl ScratchAnalysis<'_> {
    /// The failure `id` whose JSON is at `place`, parsed from the line its
    /// diagnosis rendered.
    fn failure(&self, id: &str, place: &str) -> Result<FailureRecord> {
        let (rest, context) = self
            .details
            .read_line(place)
            .map_err(Error::FailureDetails)?;
        let mut line = Vec::with_capacity(id.len() + rest.len() + 8);
        super::failure_record::write_failure_id(&mut line, id);
        line.extend_from_slice(rest.as_bytes());
        with_context(serde_json::from_slice(&line)?, context)
    }
}

/// The `WHERE` clause of a filter over `failures`, with numbered
/// placeholders.
pub(super) fn filter_sql(f: &FailureFilter) -> (String, Vec<rusqlite::types::Value>) {
    filter_sql_on(f, "ts_ms")
}

/// The `WHERE` clause of a filter whose times compare with `time_column`
/// (`failure_slots` has `slot_ms`, and its `server` is never null).
pub(super) fn filter_sql_on(
    f: &FailureFilter,
    time_column: &str,
) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut clauses = vec!["1 = 1".to_owned()];
    let mut values = Vec::new();
    let mut add = |clause: &str, v: Value| {
        values.push(v);
        clauses.push(clause.replace('?', &format!("?{}", values.len())));
    };
    if let Some(c) = f.cause {
        add("cause = ?", Value::Text(c.as_str().to_owned()));
    }
    if let Some(c) = &f.client {
        add("client_id = ?", Value::Text(c.clone()));
    }
    if let Some(s) = f.server {
        add(
            "coalesce(server, 'unknown') = ?",
            Value::Text(super::labels::server_label(s).to_owned()),
        );
    }
    if let Some(t) = f.since_ms {
        add(&format!("{time_column} >= ?"), Value::Integer(t));
    }
    if let Some(t) = f.until_ms {
        add(&format!("{time_column} < ?"), Value::Integer(t));
    }
    (clauses.join(" AND "), values)
}

/// The daemon's records of a stored failure: the diagnosed totals, its
/// incident, the live feed's change and, when the diagnosis changed, its
/// history.
fn daemon_records(
    tx: &rusqlite::Connection,
    rec: &FailureRecord,
    seen_before: bool,
    changed: bool,
    ts_ms: Option<i64>,
    now: i64,
) -> Result<()> {
    if !seen_before {
        super::feed::count_diagnosed(tx, rec)?;
    }
    let incident = super::incidents::assign(tx, rec, ts_ms)?;
    let change = match (seen_before, changed) {
        (false, _) => Some(super::feed::ChangeKind::Failure),
        (true, true) => Some(super::feed::ChangeKind::Rediagnosis),
        (true, false) => None,
    };
    if let Some(kind) = change {
        super::feed::record_change(tx, kind, rec, incident)?;
    }
    if changed {
        tx.prepare_cached(
            "INSERT INTO diagnosis_history (failure_id, diagnosed_ms, cause, confidence)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![rec.id, now, rec.cause, rec.confidence])?;
    }
    Ok(())
}

impl Store {
    /// Stores or updates a failure, its primary event and the other events
    /// merged into it. A change of cause or confidence is kept in
    /// `diagnosis_history`. Returns whether the diagnosis changed (always
    /// `true` in a scratch database, which keeps no history).
    pub fn upsert_failure(
        &mut self,
        rec: &FailureRecord,
        primary_event: i64,
        merged_events: &[i64],
        ts_ms: Option<i64>,
    ) -> Result<bool> {
        let json = rec.render_json(ts_ms)?;
        self.upsert_rendered(rec, &json, (primary_event, merged_events), ts_ms)
    }

    /// [`Store::upsert_failure`] with the record's JSON rendered already
    /// (`json`, [`FailureRecord::render_json`] of the record as diagnosed,
    /// whose candidates, evidence and context `rec` no longer holds when it
    /// was diagnosed for a scratch database, which keeps no daemon record
    /// that reads them: [`Store::of_scratch_analysis`]); `events` are its
    /// primary event and those merged into it. A scratch analysis's
    /// connections keep it in memory, its JSON in the failures file
    /// (`scratch_failures.rs`).
    pub fn upsert_rendered(
        &mut self,
        rec: &FailureRecord,
        json: &RenderedJson,
        (primary_event, merged_events): (i64, &[i64]),
        ts_ms: Option<i64>,
    ) -> Result<bool> {
        if let Some(scratch) = self.scratch_failures() {
            let place = scratch
                .details
                .append(json)
                .map_err(Error::FailureDetails)?;
            let events = std::iter::once(primary_event).chain(merged_events.iter().copied());
            scratch
                .failures
                .upsert(&rec.id, (ts_ms, rec.cause), place, events);
            return Ok(true);
        }
        // Alone, in a transaction of its own; in a caller's transaction (a
        // batch of diagnoses), as part of it: an error there rolls the
        // whole batch back, so a savepoint per failure would only cost a
        // statement journal and two statements prepared each time.
        let own = self
            .conn
            .is_autocommit()
            .then(|| self.conn.unchecked_transaction())
            .transpose()?;
        let tx: &rusqlite::Connection = own.as_deref().unwrap_or(&self.conn);
        let previous: Option<(Cause, Confidence)> = tx
            .prepare_cached("SELECT cause, confidence FROM failures WHERE id = ?1")?
            .query_row([&rec.id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let changed = previous != Some((rec.cause, rec.confidence));
        let now = chrono::Utc::now().timestamp_millis();
        let (candidates, evidence, context) =
            (json.candidates(), json.evidence(), json.context.as_deref());
        // Cached: the rollup triggers make this statement costly to prepare.
        tx.prepare_cached(
            "INSERT INTO failures (id, event_id, ts_ms, server, request_id, client_id, grant_type,
                error, http_status, cause, confidence, summary, fix, missing, candidates, evidence,
                diagnosed_ms, context)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18)
             ON CONFLICT(id) DO UPDATE SET ts_ms = excluded.ts_ms, server = excluded.server,
                request_id = excluded.request_id, client_id = excluded.client_id,
                grant_type = excluded.grant_type, error = excluded.error,
                http_status = excluded.http_status, cause = excluded.cause,
                confidence = excluded.confidence, summary = excluded.summary, fix = excluded.fix,
                missing = excluded.missing, candidates = excluded.candidates,
                evidence = excluded.evidence, diagnosed_ms = excluded.diagnosed_ms,
                context = excluded.context",
        )?
        .execute(params![
            rec.id,
            primary_event,
            ts_ms,
            // NULL, not the label, when no log named one (the rollups
            // label it).
            rec.server.map(ServerKind::as_str),
            rec.request_id,
            rec.client_id,
            rec.grant_type.as_ref().map(GrantType::as_str),
            rec.error,
            rec.http_status,
            rec.cause,
            rec.confidence,
            rec.summary,
            rec.fix,
            rec.missing,
            candidates,
            evidence,
            now,
            context,
        ])?;
        {
            let mut link = tx.prepare_cached(
                "INSERT OR IGNORE INTO failure_events (failure_id, event_id) VALUES (?1, ?2)",
            )?;
            for id in std::iter::once(&primary_event).chain(merged_events) {
                link.execute(params![rec.id, id])?;
            }
        }
        daemon_records(tx, rec, previous.is_some(), changed, ts_ms, now)?;
        if let Some(own) = own {
            own.commit()?;
        }
        // Inside a caller's transaction, its commit signals.
        if self.conn.is_autocommit() {
            super::feed::signal_commit();
        }
        Ok(changed)
    }

    /// Whether `event_id` is already part of some failure (as primary or
    /// merged event), and which.
    pub fn failure_of_event(&self, event_id: i64) -> Result<Option<String>> {
        if let Some(scratch) = self.scratch_failures() {
            return Ok(scratch.failures.failure_of_event(event_id));
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT failure_id FROM failure_events WHERE event_id = ?1 LIMIT 1")?;
        Ok(stmt.query_row([event_id], |r| r.get(0)).optional()?)
    }

    /// Failures matching `filter`, newest first, paged; and how many match.
    pub fn failures(
        &self,
        filter: &FailureFilter,
        limit: u32,
        offset: u32,
    ) -> Result<(u64, Vec<FailureRecord>)> {
        let (where_sql, values) = filter_sql(filter);
        let total: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM failures WHERE {where_sql}"),
            rusqlite::params_from_iter(values.iter()),
            |r| r.get(0),
        )?;
        let total = total.max(0) as u64;
        let sql = format!(
            "SELECT {COLUMNS} FROM failures WHERE {where_sql}
             ORDER BY ts_ms DESC, id DESC LIMIT {limit} OFFSET {offset}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(finish(row?)?);
        }
        Ok((total, out))
    }

    /// The `limit` newest failures (without counting them all).
    pub fn newest_failures(&self, limit: u32) -> Result<Vec<FailureRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM failures ORDER BY ts_ms DESC, id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit], from_row)?;
        rows.map(|row| finish(row?)).collect()
    }

    /// Every failure in time order (oldest first), for `analyze`.
    pub fn failures_in_time_order(&self) -> Result<Vec<FailureRecord>> {
        let mut out = Vec::new();
        self.each_failure_in_time_order::<Error>(&mut |f| {
            out.push(f);
            Ok(())
        })?;
        Ok(out)
    }

    /// Hands every failure to `each`, oldest first, one at a time: memory
    /// stays flat however many there are.
    pub fn each_failure_in_time_order<E: From<Error>>(
        &self,
        each: &mut dyn FnMut(FailureRecord) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        if let Some(scratch) = self.scratch_failures() {
            for (id, place) in scratch.failures.in_time_order() {
                each(scratch.failure(&id, &place)?)?;
            }
            return Ok(());
        }
        self.each_row_in_time_order(from_row, &mut |row| each(finish(row)?))
    }

    /// [`Store::each_failure_in_time_order`] with the candidates and
    /// evidence as stored ([`StoredFailure`]), for `analyze --json` of a
    /// kept database, whose older rows are read as [`FailureRecord`]s,
    /// which brings them to the current shape (a scratch database's lines
    /// are printed as rendered: [`Store::each_rendered_line`]).
    pub fn each_stored_failure_in_time_order<E: From<Error>>(
        &self,
        each: &mut dyn FnMut(StoredFailure) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.each_failure_in_time_order(&mut |record| {
            let candidates = serde_json::to_string(&record.candidates).map_err(Error::from)?;
            let evidence = serde_json::to_string(&record.evidence).map_err(Error::from)?;
            each(StoredFailure {
                record,
                candidates,
                evidence,
            })
        })
    }

    /// Hands `each` every failure of a scratch analysis, oldest first (ties
    /// by id), as its id and the rest of the line its diagnosis rendered
    /// ([`RenderedJson`], kept in the failures file): `{"id":` and the id
    /// then that rest are the line [`StoredFailure::write_json`] writes for
    /// the failure. Returns `false`, having handed nothing, for a kept
    /// database.
    pub fn each_rendered_line<E: From<Error>>(
        &self,
        each: &mut RenderedLine<'_, E>,
    ) -> std::result::Result<bool, E> {
        let Some(scratch) = self.scratch_failures() else {
            return Ok(false);
        };
        let mut lines = scratch
            .details
            .line_reader()
            .map_err(Error::FailureDetails)?;
        for (id, place) in scratch.failures.in_time_order() {
            each(&id, lines.line(&place).map_err(Error::FailureDetails)?)?;
        }
        Ok(true)
    }

    /// Hands every failure row, read by `read`, to `each`, oldest first.
    fn each_row_in_time_order<T, E: From<Error>>(
        &self,
        read: fn(&Row<'_>) -> rusqlite::Result<T>,
        each: &mut dyn FnMut(T) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        // The order is sorted on the ids alone and each row read by its id:
        // sorting whole rows (evidence and all) held every failure in
        // memory at once, 60 MB for the 24,000 of a 3 GB log.
        let mut order = self.conn.prepare_cached(TIME_ORDER).map_err(Error::from)?;
        let mut one = self.conn.prepare_cached(ONE_FAILURE).map_err(Error::from)?;
        let ids = order
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(Error::from)?;
        for id in ids {
            let id = id.map_err(Error::from)?;
            each(one.query_row([&id], read).map_err(Error::from)?)?;
        }
        Ok(())
    }

    /// How many failures there are per cause, most first.
    pub fn cause_counts(&self) -> Result<Vec<(String, u64)>> {
        if let Some(scratch) = self.scratch_failures() {
            return Ok(scratch.failures.cause_counts());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT cause, count(*) FROM failures GROUP BY cause ORDER BY count(*) DESC, cause",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One failure by id.
    pub fn failure(&self, id: &str) -> Result<Option<FailureRecord>> {
        if let Some(scratch) = self.scratch_failures() {
            return match scratch.failures.place_of(id) {
                Some(place) => Ok(Some(scratch.failure(id, &place)?)),
                None => Ok(None),
            };
        }
        let mut stmt = self.conn.prepare_cached(ONE_FAILURE)?;
        match stmt.query_row([id], from_row).optional()? {
            Some(row) => Ok(Some(finish(row)?)),
            None => Ok(None),
        }
    }

    /// Failures whose request id is `request_id`, or that merged an event of
    /// that request id.
    pub fn failures_for_request(&self, request_id: &str) -> Result<Vec<FailureRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM failures WHERE request_id = ?1 OR id IN (
                 SELECT fe.failure_id FROM failure_events fe JOIN events e ON e.id = fe.event_id
                 WHERE e.request_id = ?1)
             ORDER BY coalesce(ts_ms, 0), id"
        ))?;
        let rows = stmt.query_map([request_id], from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(finish(row?)?);
        }
        Ok(out)
    }

    /// How each failure's diagnosis changed over time.
    pub fn diagnosis_history(&self, id: &str) -> Result<Vec<(i64, String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT diagnosed_ms, cause, confidence FROM diagnosis_history
             WHERE failure_id = ?1 ORDER BY rowid",
        )?;
        let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
