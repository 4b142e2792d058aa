//! Reading events back: the owned [`EventRow`] and the lookups correlation
//! and diagnosis need by client, source and time window (those by request
//! id, code, PKCE challenge or verifier, and refresh token are in
//! `keyed.rs`). Every lookup is served by an index of [`super::schema`], or
//! by the one a bulk load kept in memory instead (`event_index.rs`).

use grantwatch_parsers::{EventKind, Format, GrantType, ServerKind};
use rusqlite::{Row, params};
use serde::Serialize;

use super::{Result, Store};

/// A stored event, owned, with the path of the file it was read from.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EventRow {
    /// Row id.
    pub id: i64,
    /// Source row id.
    pub source_id: i64,
    /// Path of the source file.
    pub file: String,
    /// First line of the event.
    pub line: u64,
    /// Which record of that line it was read from (0 for a line that is
    /// one record): internal, not shown.
    #[serde(skip)]
    pub part: u32,
    /// Event kind.
    pub kind: EventKind,
    /// Format that produced it.
    #[serde(serialize_with = "format_name")]
    pub format: Format,
    /// Server kind.
    #[serde(serialize_with = "server_name")]
    pub server: Option<ServerKind>,
    /// UTC time in milliseconds since the epoch.
    pub ts_ms: Option<i64>,
    /// How the time was obtained.
    pub ts_basis: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Client id.
    pub client_id: Option<String>,
    /// Grant type, as logged.
    pub grant_type: Option<GrantType>,
    /// HTTP method.
    pub method: Option<String>,
    /// HTTP path.
    pub path: Option<String>,
    /// HTTP status.
    pub status: Option<u16>,
    /// OAuth error.
    pub error: Option<String>,
    /// OAuth error description.
    pub error_description: Option<String>,
    /// Provider hint or reason.
    pub provider_reason: Option<String>,
    /// Provider debug text.
    pub provider_debug: Option<String>,
    /// Provider error code.
    pub provider_code: Option<String>,
    /// redirect_uri.
    pub redirect_uri: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE challenge method.
    pub code_challenge_method: Option<String>,
    /// Code fingerprint.
    pub code_fp: Option<String>,
    /// Refresh token fingerprint.
    pub refresh_token_fp: Option<String>,
    /// Assertion fingerprint.
    pub assertion_fp: Option<String>,
    /// S256 of the verifier sent.
    pub verifier_s256: Option<String>,
    /// Whether a verifier was sent (when known).
    pub verifier_sent: Option<bool>,
    /// JWT iat.
    pub jwt_iat: Option<i64>,
    /// JWT exp.
    pub jwt_exp: Option<i64>,
    /// JWT nbf.
    pub jwt_nbf: Option<i64>,
    /// JWT iss.
    pub jwt_iss: Option<String>,
    /// Server `Date` header seen by the client, ms.
    pub server_date_ms: Option<i64>,
    /// Client IP.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Session id.
    pub session_id: Option<String>,
    /// User.
    pub user_name: Option<String>,
    /// Lifecycle change.
    pub lifecycle: Option<String>,
}

const COLUMNS: &str = "e.id, e.source_id, s.path, e.line, e.kind, e.format, e.server, e.ts_ms,
    e.ts_basis, e.request_id, e.client_id, e.grant_type, e.method, e.path, e.status, e.error,
    e.error_description, e.provider_reason, e.provider_debug, e.provider_code, e.redirect_uri,
    e.code_challenge, e.code_challenge_method, e.code_fp, e.refresh_token_fp, e.assertion_fp,
    e.verifier_s256, e.verifier_sent, e.jwt_iat, e.jwt_exp, e.jwt_nbf, e.jwt_iss,
    e.server_date_ms, e.ip, e.user_agent, e.session_id, e.user_name, e.lifecycle, e.part";

/// The condition and order of [`Store::events_of_source`] and
/// [`Store::dates_of_source`]. `+e.source_id` keeps SQLite off the
/// source's index: with two kinds or more it took that index and read
/// every event of the source for each failure (a client log of 3,000
/// failures took 2.5 s, three quarters of it here); the window of the
/// kinds' time index holds only the hour asked for.
pub(super) fn of_source(kinds: &[EventKind], limit: u32) -> String {
    format!(
        "e.kind IN ({}) AND e.ts_ms BETWEEN ?2 AND ?3 AND +e.source_id = ?1
         ORDER BY e.ts_ms DESC, e.id DESC LIMIT {limit}",
        kind_list(kinds)
    )
}

/// Column `i`, a name `from_name` reads back into the type it was written
/// from (an unknown name is an error, not a silent default).
fn named<T>(r: &Row<'_>, i: usize, from_name: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let name: String = r.get(i)?;
    from_name(&name).ok_or_else(|| unknown_name(i, "name", &name))
}

/// Column `i`, a grant type as logged: every text is one (an unknown
/// grant is [`GrantType::Other`]), so it reads back unchanged.
pub(super) fn grant(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<GrantType>> {
    Ok(r.get::<_, Option<String>>(i)?
        .map(|g| GrantType::from_name(&g)))
}

fn unknown_name(i: usize, what: &str, name: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Text,
        format!("unknown {what} {name:?}").into(),
    )
}

/// The API writes a format by its stored name (`identityserver`), not its
/// serde name.
fn format_name<S: serde::Serializer>(f: &Format, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(f.as_str())
}

fn server_name<S: serde::Serializer>(
    k: &Option<ServerKind>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match k {
        Some(k) => s.serialize_str(k.as_str()),
        None => s.serialize_none(),
    }
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        id: r.get(0)?,
        source_id: r.get(1)?,
        file: r.get(2)?,
        line: r.get::<_, i64>(3)? as u64,
        kind: named(r, 4, EventKind::from_name)?,
        format: named(r, 5, Format::from_name)?,
        server: r
            .get::<_, Option<String>>(6)?
            .map(|name| {
                ServerKind::from_name(&name).ok_or_else(|| unknown_name(6, "server kind", &name))
            })
            .transpose()?,
        ts_ms: r.get(7)?,
        ts_basis: r.get(8)?,
        request_id: r.get(9)?,
        client_id: r.get(10)?,
        grant_type: grant(r, 11)?,
        method: r.get(12)?,
        path: r.get(13)?,
        status: r.get(14)?,
        error: r.get(15)?,
        error_description: r.get(16)?,
        provider_reason: r.get(17)?,
        provider_debug: r.get(18)?,
        provider_code: r.get(19)?,
        redirect_uri: r.get(20)?,
        code_challenge: r.get(21)?,
        code_challenge_method: r.get(22)?,
        code_fp: r.get(23)?,
        refresh_token_fp: r.get(24)?,
        assertion_fp: r.get(25)?,
        verifier_s256: r.get(26)?,
        verifier_sent: r.get(27)?,
        jwt_iat: r.get(28)?,
        jwt_exp: r.get(29)?,
        jwt_nbf: r.get(30)?,
        jwt_iss: r.get(31)?,
        server_date_ms: r.get(32)?,
        ip: r.get(33)?,
        user_agent: r.get(34)?,
        session_id: r.get(35)?,
        user_name: r.get(36)?,
        lifecycle: r.get(37)?,
        part: r.get(38)?,
    })
}

/// One stored evidence line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceRow {
    /// Source file path.
    pub file: String,
    /// Line number.
    pub line: u64,
    /// Redacted text.
    pub text: String,
}

impl EventRow {
    /// Whether a client (an app) wrote this event, not the server.
    pub fn is_client_side(&self) -> bool {
        self.kind == EventKind::ClientError
            || matches!(self.format, Format::Logcat | Format::IosConsole)
    }
}

/// How far past a join window's start [`Store::failure_events_between`]
/// reads, so that the windows of the failures after it are already read.
const WINDOW_AHEAD_MS: i64 = 16_000;

/// How far before a join window's start [`Store::failure_events_between`]
/// reads: the windows around a failure's neighbours (a server's warning two
/// seconds before it, `correlate::explains_only`) start before its own.
const WINDOW_BEHIND_MS: i64 = 4_000;

/// An SQL list of event kinds (their names are constants of snake_case
/// letters: nothing to escape).
fn kind_list(kinds: &[EventKind]) -> String {
    kinds
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The condition of [`Store::failure_events_between`]'s read: the
/// condition of the `events_failing` index, spelled the same, and that of
/// `FailureSigns::fills_join_window` (a provider event records a failure:
/// it gives a reason, or an error on a path holding `token`; `instr` is
/// case-sensitive, as `str::contains` is).
pub(super) const FAILING_EVENTS: &str =
    "(e.kind = 'token_response' OR e.kind = 'client_error' OR e.kind = 'provider_event')
     AND e.ts_ms BETWEEN ?1 AND ?2
     AND (e.kind = 'client_error' OR e.status >= 400 OR e.error IS NOT NULL
          OR e.provider_code IS NOT NULL OR e.provider_reason IS NOT NULL)
     AND (e.kind <> 'provider_event' OR e.provider_reason IS NOT NULL
          OR ((e.error IS NOT NULL OR e.provider_code IS NOT NULL)
              AND instr(e.path, 'token') > 0))
     ORDER BY e.ts_ms, e.id";

/// The condition of [`Store::phase_events_between_lines`].
pub(super) const PHASE_EVENTS: &str = "e.source_id = ?1 AND e.line BETWEEN ?2 AND ?3
     AND e.kind IN ('code_issued', 'authorize_request')
     AND e.provider_reason LIKE '% phase initiated.'
     ORDER BY e.line";

/// What [`Store::seen`] gives while the events are final: no state
/// SQLite reports (its `data_version` starts at 1).
const EVENTS_FINAL_SEEN: (i64, u64) = (i64::MIN, u64::MAX);

/// How many of a client's newest revokes before a failed refresh are
/// looked at for one that explains it ([`Store::revokes_for_client`]).
pub const REVOKES_LOOKED_AT: u32 = 200;

impl Store {
    pub(super) fn query_events(
        &self,
        where_sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<EventRow>> {
        self.query_events_from("events e", where_sql, p)
    }

    /// Like `query_events` with an explicit `FROM` item (an index hint).
    fn query_events_from(
        &self,
        from: &str,
        where_sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<EventRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {from} JOIN sources s ON s.id = e.source_id WHERE {where_sql}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(p, from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One event by id.
    pub fn event(&self, id: i64) -> Result<Option<EventRow>> {
        if let Some(rows) = self.with_kept(|kept| kept.rows_of(&[id])) {
            return Ok(rows?.pop());
        }
        Ok(self.query_events("e.id = ?1", [id])?.pop())
    }

    /// Events with id greater than `after`, in id order, of the kinds that can
    /// record a failed token request.
    pub fn failure_candidates(&self, after: i64) -> Result<Vec<EventRow>> {
        self.failure_candidates_page((after, i64::MAX), u32::MAX)
    }

    /// The first `limit` of [`Store::failure_candidates`] with ids up to
    /// `until`: a diagnosis of a gigabyte of logs reads them a page at a
    /// time, so memory stays flat, and a unit of a diagnosis on several
    /// cores reads only its own.
    pub fn failure_candidates_page(
        &self,
        (after, until): (i64, i64),
        limit: u32,
    ) -> Result<Vec<EventRow>> {
        if let Some(rows) =
            self.with_kept(|kept| kept.rows_of(kept.candidates((after, until), limit as usize)))
        {
            return rows;
        }
        // `+e.kind` keeps SQLite off the kind index: the new rows are a rowid
        // range, and a kind-index scan would visit every old candidate again
        // on each call of a pipeline that diagnoses as it reads.
        self.query_events(
            "e.id > ?1 AND e.id <= ?3
             AND +e.kind IN ('token_response', 'client_error', 'provider_event')
             AND (e.status >= 400 OR e.error IS NOT NULL OR e.provider_code IS NOT NULL
                  OR e.provider_reason IS NOT NULL
                  OR (+e.kind = 'client_error' AND e.error_description IS NOT NULL))
             ORDER BY e.id LIMIT ?2",
            params![after, limit, until],
        )
    }

    /// Events of `client_id` and one of `kinds` (and from `ip`, when given)
    /// between two times (inclusive), newest first, at most `limit`.
    pub fn events_for_client(
        &self,
        client_id: &str,
        kinds: &[EventKind],
        ip: Option<&str>,
        (from_ms, to_ms): (i64, i64),
        limit: u32,
    ) -> Result<Vec<EventRow>> {
        if let Some(index) = self.event_index() {
            let ids = index.newest(client_id, kinds, ip, (from_ms, to_ms), limit as usize);
            return self.events_by_ids(&ids);
        }
        // Two statements rather than `?4 IS NULL OR ...`, which would make
        // SQLite re-plan on every binding. With an address, the index on it:
        // the planner took the one on the kind and walked every response of
        // the client in the window to find five from that address, which
        // made a day's lookback cost a failure as many rows as the client
        // had requests that day (a 20 MB Keycloak log spent a sixth of its
        // time there; benches/README.md). The index holds the kind after the
        // address: a client's back end asks from one address for a kind it
        // never logs (an issued code), and the walk over its other events
        // of the hour made a burst of its failures quadratic.
        let (from, ip_clause) = if ip.is_some() {
            ("events e INDEXED BY events_by_client_ip", "AND e.ip = ?4")
        } else {
            ("events e", "AND ?4 IS NULL")
        };
        self.query_events_from(
            from,
            &format!(
                "e.client_id = ?1 AND e.kind IN ({}) AND e.ts_ms BETWEEN ?2 AND ?3 {ip_clause}
                 ORDER BY e.ts_ms DESC, e.id DESC LIMIT {limit}",
                kind_list(kinds)
            ),
            params![client_id, from_ms, to_ms, ip],
        )
    }

    /// Events of one source and one of `kinds` between two times (that
    /// source's own clock), newest first, at most `limit`.
    pub fn events_of_source(
        &self,
        source_id: i64,
        kinds: &[EventKind],
        (from_ms, to_ms): (i64, i64),
        limit: u32,
    ) -> Result<Vec<EventRow>> {
        if let Some(index) = self.event_index() {
            let ids =
                index
                    .times
                    .newest_of_source(source_id, kinds, (from_ms, to_ms), limit as usize);
            return self.events_by_ids(&ids);
        }
        self.query_events(&of_source(kinds, limit), params![source_id, from_ms, to_ms])
    }

    /// The (time, `Date` header time) of the events [`Store::events_of_source`]
    /// would return for the same arguments, in the same order: two columns
    /// instead of every column, for a diagnosis that only looks for the
    /// latest `Date` header among them.
    pub fn dates_of_source(
        &self,
        source_id: i64,
        kinds: &[EventKind],
        (from_ms, to_ms): (i64, i64),
        limit: u32,
    ) -> Result<Vec<(Option<i64>, Option<i64>)>> {
        if let Some(index) = self.event_index() {
            let ids =
                index
                    .times
                    .newest_of_source(source_id, kinds, (from_ms, to_ms), limit as usize);
            return self.dates_by_ids(&ids);
        }
        let sql = format!(
            "SELECT e.ts_ms, e.server_date_ms FROM events e WHERE {}",
            of_source(kinds, limit)
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![source_id, from_ms, to_ms], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Events of the given kinds between two times, in time order.
    pub fn events_between(
        &self,
        kinds: &[EventKind],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<EventRow>> {
        if let Some(index) = self.event_index() {
            return self.events_by_ids(&index.times.between(kinds, (from_ms, to_ms)));
        }
        self.kinds_between(kinds, (from_ms, to_ms), "TRUE")
    }

    /// Events of the given kinds between two times that may record a
    /// failure, in time order: a superset of what
    /// `correlate::is_failure_event` accepts (every client error; any other
    /// event with a status of 400 or more, an error, a provider code or a
    /// provider reason, less the provider events that record no failure:
    /// `FailureSigns::fills_join_window`), which the caller still applies.
    /// A Keycloak or Hydra log is nearly all provider events and token
    /// responses, hundreds a second: reading them all as rows around each
    /// failure to keep the few failures was a third of a Keycloak
    /// diagnosis (benches/README.md).
    ///
    /// The rows are read from [`WINDOW_BEHIND_MS`] before `from_ms` to
    /// [`WINDOW_AHEAD_MS`] past it, of every
    /// kind that may record a failure, and kept for the windows of the next
    /// failures while the database is unchanged (`window.rs`). They are
    /// found through the `events_failing` index, which holds only them: by
    /// the kind and time index, every response of the span was read to
    /// test the condition.
    pub fn failure_events_between(
        &self,
        kinds: &[EventKind],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<EventRow>> {
        self.failure_events_where(kinds, (from_ms, to_ms), |_| true)
    }

    /// [`Store::failure_events_between`], of which only the rows `wanted`
    /// accepts are copied out of the kept window: a failure in a burst
    /// keeps few of the thousands its window holds.
    pub fn failure_events_where(
        &self,
        kinds: &[EventKind],
        (from_ms, to_ms): (i64, i64),
        wanted: impl Fn(&EventRow) -> bool,
    ) -> Result<Vec<EventRow>> {
        let seen = self.seen()?;
        if let Some(rows) = self
            .failure_window
            .get(seen, kinds, (from_ms, to_ms), &wanted)
        {
            return Ok(rows);
        }
        let span = (
            from_ms.saturating_sub(WINDOW_BEHIND_MS),
            to_ms.max(from_ms.saturating_add(WINDOW_AHEAD_MS)),
        );
        // What the span kept holds of this one is kept; the rest of it is
        // not needed now (memory holds one span's rows), and only what
        // comes after it is read.
        let (mut rows, read_from) = match self.failure_window.take_overlap(seen, span) {
            Some((rows, kept_to)) => (rows, kept_to.saturating_add(1)),
            None => (Vec::new(), span.0),
        };
        rows.retain(|r| r.ts_ms.is_some_and(|t| t <= span.1));
        if read_from <= span.1 {
            rows.extend(self.failing_events_in((read_from, span.1))?);
        }
        Ok(self
            .failure_window
            .keep(seen, span, rows, kinds, (from_ms, to_ms), wanted))
    }

    /// The rows of every event that may record a failure between two times
    /// (inclusive) that the join window holds, in time order
    /// ([`FAILING_EVENTS`]).
    fn failing_events_in(&self, (from_ms, to_ms): (i64, i64)) -> Result<Vec<EventRow>> {
        match self.with_kept(|kept| kept.rows_of(&kept.failing((from_ms, to_ms)))) {
            Some(rows) => rows,
            None => self.query_events_from(
                "events e INDEXED BY events_failing",
                FAILING_EVENTS,
                params![from_ms, to_ms],
            ),
        }
    }

    /// What this connection has seen of the database: SQLite's
    /// `data_version` and the rows it changed itself (see `window.rs`).
    /// Once the events are final nothing that changes can change a kept
    /// window's rows (events), so the same value stands for every state.
    pub(super) fn seen(&self) -> Result<(i64, u64)> {
        if self.events_final {
            return Ok(EVENTS_FINAL_SEEN);
        }
        let data_version = match self.snapshot_version.get() {
            Some(version) => version,
            None => self.data_version()?,
        };
        Ok((data_version, self.conn.total_changes()))
    }

    /// SQLite's `data_version` of this connection, asked now: it changes
    /// when another connection commits. Asked for every window and every
    /// warning of a failure outside a read transaction: prepared once, not
    /// parsed each time.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?)
    }

    /// Events of `kinds` between two times for which `condition` holds, in
    /// time order.
    fn kinds_between(
        &self,
        kinds: &[EventKind],
        (from_ms, to_ms): (i64, i64),
        condition: &str,
    ) -> Result<Vec<EventRow>> {
        self.query_events(
            &format!(
                "e.kind IN ({}) AND e.ts_ms BETWEEN ?1 AND ?2 AND ({condition})
                 ORDER BY e.ts_ms, e.id",
                kind_list(kinds)
            ),
            params![from_ms, to_ms],
        )
    }

    /// Events of one source between two line numbers (inclusive).
    pub fn events_of_source_between_lines(
        &self,
        source_id: i64,
        from: u64,
        to: u64,
    ) -> Result<Vec<EventRow>> {
        let lines = (from as i64, to as i64);
        if let Some(rows) =
            self.with_kept(|kept| kept.rows_of(&kept.between_lines(source_id, lines)))
        {
            return rows;
        }
        self.query_events(
            "e.source_id = ?1 AND e.line BETWEEN ?2 AND ?3 ORDER BY e.line",
            params![source_id, from as i64, to as i64],
        )
    }

    /// The OmniAuth login phases (`… phase initiated.`, case aside) of one
    /// source between two line numbers (inclusive), in line order: picked in
    /// SQL, so a 400-line reach back from every failure of a log full of
    /// issued codes reads only the few rows it wants. The kind and reason
    /// terms are the condition of the `events_phases` index, spelled the
    /// same: SQLite uses a partial index only for a query whose terms
    /// imply its condition.
    pub fn phase_events_between_lines(
        &self,
        source_id: i64,
        from: u64,
        to: u64,
    ) -> Result<Vec<EventRow>> {
        let lines = (from as i64, to as i64);
        if let Some(rows) =
            self.with_kept(|kept| kept.rows_of(&kept.phases_between(source_id, lines)))
        {
            return rows;
        }
        self.query_events(PHASE_EVENTS, params![source_id, from as i64, to as i64])
    }

    /// The largest event id stored (0 when none).
    pub fn max_event_id(&self) -> Result<i64> {
        if let Some(max) = self.with_kept(|kept| kept.max_id()) {
            return Ok(max);
        }
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))?)
    }
}
