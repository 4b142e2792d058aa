//! Storing events in the `events` table: the value each column of an
//! event takes ([`put_event`], shared with the rows file a scratch load
//! keeps instead, `rows.rs`), the insert, and the evidence lines sent where
//! the database keeps them.

use grantwatch_parsers::{Event, GrantType};
use rusqlite::params;

use super::Result;
use super::spill::{EvidenceSpill, SpillBatch};

pub(super) const INSERT_EVENT: &str = "INSERT OR IGNORE INTO events (
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

/// Where the values of an event's columns go, in the column order of the
/// insert statement (1 to 42, each at most once, in increasing order; a
/// column not given is NULL): bound to the statement, or encoded into a
/// scratch load's rows file (`rows.rs`). One function ([`put_event`]) says
/// which value each column takes, for both.
pub(super) trait Columns {
    fn int(&mut self, column: usize, value: i64) -> rusqlite::Result<()>;
    fn text(&mut self, column: usize, value: &str) -> rusqlite::Result<()>;
}

/// Binding to the insert statement, whose bindings the caller cleared.
impl Columns for rusqlite::Statement<'_> {
    fn int(&mut self, column: usize, value: i64) -> rusqlite::Result<()> {
        self.raw_bind_parameter(column, value)
    }

    fn text(&mut self, column: usize, value: &str) -> rusqlite::Result<()> {
        self.raw_bind_parameter(column, value)
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
    put_event(stmt, source_id, e)
}

/// Gives each column of event `e` of `source_id` its value (see
/// [`Columns`]).
pub(super) fn put_event<C: Columns + ?Sized>(
    out: &mut C,
    source_id: i64,
    e: &Event<'_>,
) -> rusqlite::Result<()> {
    let jwt = e.jwt.as_deref();
    let hex = |fp: Option<grantwatch_parsers::Fingerprint>| fp.map(|f| f.to_hex());
    out.int(1, source_id)?;
    out.int(2, e.line() as i64)?;
    out.text(3, e.kind.as_str())?;
    out.text(4, e.format.as_str())?;
    text(out, 5, e.server.map(|s| s.as_str()))?;
    int(out, 6, e.ts.map(|t| t.utc.timestamp_millis()))?;
    text(out, 7, e.ts.map(|t| basis_name(t.basis)))?;
    text(out, 8, e.request_id.as_deref())?;
    text(out, 9, e.client_id.as_deref())?;
    text(out, 10, e.grant_type.as_ref().map(GrantType::as_str))?;
    text(out, 11, e.method.as_deref())?;
    text(out, 12, e.path.as_deref())?;
    int(out, 13, e.status.map(i64::from))?;
    text(out, 14, e.error.as_deref())?;
    text(out, 15, e.error_description.as_deref())?;
    text(out, 16, e.provider_reason.as_deref())?;
    text(out, 17, e.provider_debug.as_deref())?;
    text(out, 18, e.provider_code.as_deref())?;
    text(out, 19, e.redirect_uri.as_deref())?;
    text(out, 20, e.code_challenge.as_deref())?;
    text(out, 21, e.code_challenge_method.as_deref())?;
    text(out, 22, hex(e.code_fp).as_deref())?;
    text(out, 23, hex(e.refresh_token_fp).as_deref())?;
    text(out, 24, hex(e.assertion_fp).as_deref())?;
    text(out, 25, e.verifier_s256.as_deref())?;
    int(out, 26, e.verifier_sent.map(i64::from))?;
    int(out, 27, jwt.and_then(|j| j.iat))?;
    int(out, 28, jwt.and_then(|j| j.exp))?;
    int(out, 29, jwt.and_then(|j| j.nbf))?;
    text(out, 30, jwt.and_then(|j| j.iss.as_deref()))?;
    text(out, 31, jwt.and_then(|j| j.aud.as_deref()))?;
    text(out, 32, jwt.and_then(|j| j.jti.as_deref()))?;
    int(out, 33, e.server_date.map(|d| d.timestamp_millis()))?;
    text(out, 34, e.ip.as_deref())?;
    text(out, 35, e.user_agent.as_deref())?;
    text(out, 36, e.session_id.as_deref())?;
    text(out, 37, e.user.as_deref())?;
    text(out, 38, e.lifecycle.map(lifecycle_name))?;
    text(out, 39, e.origin.as_deref())?;
    int(out, 40, e.envelope_time.map(|t| t.timestamp_millis()))?;
    text(out, 41, e.device_id.as_deref())?;
    // Always given: the column is NOT NULL.
    out.int(42, i64::from(e.part))
}

/// The value of `column` when there is one (else it stays NULL). Inlined,
/// as [`text`]: most of an event's columns are NULL, and a call for each
/// (the compiler left `Option::map_or` outlined) was a fifth of encoding a
/// Keycloak log's rows, a fortieth of its analysis (benches/README.md).
#[inline(always)]
fn int<C: Columns + ?Sized>(
    out: &mut C,
    column: usize,
    value: Option<i64>,
) -> rusqlite::Result<()> {
    match value {
        Some(v) => out.int(column, v),
        None => Ok(()),
    }
}

/// The text of `column` when there is one (else it stays NULL).
#[inline(always)]
fn text<C: Columns + ?Sized>(
    out: &mut C,
    column: usize,
    value: Option<&str>,
) -> rusqlite::Result<()> {
    match value {
        Some(v) => out.text(column, v),
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
    let mut insert = tx.prepare_cached(INSERT_EVENT)?;
    store_events(tx, events, lines, |e| {
        bind_event(&mut insert, source_id, e)?;
        // None: read again after a restart, stored already.
        Ok((insert.raw_execute()? > 0).then(|| tx.last_insert_rowid()))
    })
}

/// Stores each of `events` with `store` (which gives its new id, or `None`
/// when it was stored already) and sends the lines of those stored where
/// `lines` says; returns their ids, in order.
pub(super) fn store_events(
    tx: &rusqlite::Connection,
    events: &[Event<'_>],
    lines: Lines<'_>,
    mut store: impl FnMut(&Event<'_>) -> Result<Option<i64>>,
) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(events.len());
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
        let Some(id) = store(e)? else {
            continue;
        };
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
