//! Incidents in the store: the grouping of a failure as it is stored
//! ([`assign`]) and the queries of `/incidents` and `/api/incidents`. The
//! tables and triggers are in [`super::incident_schema`].
//!
//! Invariants:
//! - Every failure belongs to exactly one incident (`incident_failures`,
//!   keyed by failure id, removed with the failure by `ON DELETE CASCADE`).
//! - `incidents.n` equals the number of its `incident_failures` rows, kept
//!   by triggers through inserts, moves (a re-diagnosis) and deletions
//!   (retention, a merge); an incident left with none is deleted.
//! - `incident_hours` (failures per incident and UTC hour) and
//!   `incident_releases` (per incident and release) equal a `GROUP BY` over
//!   `incident_failures`, kept by the same triggers: the list's sparklines,
//!   releases and release filter never scan an incident's failures.
//! - `first_ms` and `last_ms` span the times of its failures as they were
//!   stored (retention does not move "first seen": it is history); a
//!   failure that moves out makes them be computed again.

use grantwatch_parsers::ServerKind;
use rusqlite::{Connection, OptionalExtension, params};

use super::failure_record::FailureRecord;
use super::{Result, Store};
use crate::cause::Cause;
use crate::incidents::{self, QUIET_MS, State};

/// Who and what a failure's events name (the first value found among its
/// events, the primary event's first).
#[derive(Debug, Default)]
struct Who {
    user_name: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    provider_code: Option<String>,
    session_id: Option<String>,
    device_id: Option<String>,
}

fn who(conn: &Connection, failure_id: &str) -> Result<Who> {
    // Two plain lookups, the primary event put first here: a join with
    // `failures` ordered by it made SQLite prepare the statement again at
    // every new binding (a tenth of `analyze` on a log full of failures).
    let primary: Option<i64> = conn
        .prepare_cached("SELECT event_id FROM failures WHERE id = ?1")?
        .query_row([failure_id], |r| r.get(0))
        .optional()?;
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, e.user_name, e.ip, e.user_agent, e.provider_code, e.session_id, e.device_id
         FROM failure_events fe JOIN events e ON e.id = fe.event_id
         WHERE fe.failure_id = ?1",
    )?;
    type Row = (i64, [Option<String>; 6]);
    let mut rows: Vec<Row> = stmt
        .query_map([failure_id], |r| {
            Ok((
                r.get(0)?,
                [
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ],
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.sort_by_key(|(id, _)| (Some(*id) != primary, *id));
    let mut out = Who::default();
    for (_, [user, ip, agent, code, session, device]) in rows {
        let fill = |slot: &mut Option<String>, v: Option<String>| {
            if slot.is_none() {
                *slot = v.filter(|s| !s.is_empty());
            }
        };
        fill(&mut out.user_name, user);
        fill(&mut out.ip, ip);
        fill(&mut out.user_agent, agent);
        fill(&mut out.provider_code, code);
        fill(&mut out.session_id, session);
        fill(&mut out.device_id, device);
    }
    Ok(out)
}

/// Puts failure `rec` (stored, with its events linked) into its incident,
/// creating the incident or moving the failure out of another one. A
/// failure later than the incident's last one by more than [`QUIET_MS`]
/// marks it regressed. Returns the incident id.
pub fn assign(conn: &Connection, rec: &FailureRecord, ts_ms: Option<i64>) -> Result<i64> {
    let who = who(conn, &rec.id)?;
    let disc = incidents::discriminator(rec, who.provider_code.as_deref());
    let key = incidents::key(rec, &disc);
    let existing: Option<(i64, Option<i64>)> = conn
        .prepare_cached("SELECT id, last_ms FROM incidents WHERE key = ?1")?
        .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let incident = match existing {
        Some((id, last)) => {
            let regressed = match (ts_ms, last) {
                (Some(t), Some(l)) if t > l + QUIET_MS => Some(t),
                _ => None,
            };
            conn.prepare_cached(
                "UPDATE incidents SET first_ms = min(coalesce(first_ms, ?2), coalesce(?2, first_ms)),
                    last_ms = max(coalesce(last_ms, ?2), coalesce(?2, last_ms)),
                    regressed_ms = coalesce(?3, regressed_ms)
                 WHERE id = ?1",
            )?
            .execute(params![id, ts_ms, regressed])?;
            id
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO incidents (key, cause, server, client_id, discriminator, first_ms,
                    last_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )?
            .execute(params![
                key,
                rec.cause,
                super::labels::server_label(rec.server),
                rec.client_id.as_deref().unwrap_or(""),
                disc,
                ts_ms
            ])?;
            conn.last_insert_rowid()
        }
    };
    let agent = who
        .user_agent
        .as_deref()
        .map(incidents::agent::parse)
        .unwrap_or_default();
    let previous: Option<i64> = conn
        .prepare_cached("SELECT incident_id FROM incident_failures WHERE failure_id = ?1")?
        .query_row([&rec.id], |r| r.get(0))
        .optional()?;
    conn.prepare_cached(
        "INSERT INTO incident_failures (failure_id, incident_id, ts_ms, user_name, ip, user_agent,
            app_release, os, sdk, session_id, device_id)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(failure_id) DO UPDATE SET incident_id = excluded.incident_id,
            ts_ms = excluded.ts_ms, user_name = excluded.user_name, ip = excluded.ip,
            user_agent = excluded.user_agent, app_release = excluded.app_release,
            os = excluded.os, sdk = excluded.sdk, session_id = excluded.session_id,
            device_id = excluded.device_id",
    )?
    .execute(params![
        rec.id,
        incident,
        ts_ms,
        who.user_name,
        who.ip,
        who.user_agent,
        agent.release(),
        agent.os,
        agent.sdk,
        who.session_id,
        who.device_id
    ])?;
    if let Some(old) = previous.filter(|old| *old != incident) {
        // The failure moved out (a re-diagnosis): the old incident's span is
        // what its remaining failures say (it may be gone altogether).
        conn.prepare_cached(
            "UPDATE incidents SET
                first_ms = (SELECT min(ts_ms) FROM incident_failures WHERE incident_id = ?1),
                last_ms = (SELECT max(ts_ms) FROM incident_failures WHERE incident_id = ?1)
             WHERE id = ?1",
        )?
        .execute([old])?;
    }
    Ok(incident)
}

/// One incident as the list and the API show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Incident {
    /// Row id (the `/incidents/{id}` path).
    pub id: i64,
    /// The cause.
    pub cause: Cause,
    /// Server kind (`None`, shown `unknown`: no log named one).
    #[serde(serialize_with = "super::labels::serialize_server")]
    pub server: Option<ServerKind>,
    /// Client id (empty when the logs named none).
    pub client_id: String,
    /// What tells it apart from others of its cause (may be empty).
    pub discriminator: String,
    /// First seen (ms).
    pub first_ms: Option<i64>,
    /// Last seen (ms).
    pub last_ms: Option<i64>,
    /// When it last came back after a quiet spell (ms).
    pub regressed_ms: Option<i64>,
    /// Failures stored in it.
    pub count: u64,
    /// State at the "now" it was read at.
    pub state: State,
}

/// Filters of the incident list (all optional).
#[derive(Clone, Debug, Default)]
pub struct IncidentFilter {
    /// Only in this state (`None`: any); [`IncidentFilter::open`] for the
    /// open ones.
    pub state: Option<State>,
    /// Only open incidents (not resolved).
    pub open: bool,
    /// Only this cause.
    pub cause: Option<Cause>,
    /// Only this client id.
    pub client: Option<String>,
    /// Only this server (`Some(None)`: no log named one).
    pub server: Option<Option<ServerKind>>,
    /// Only incidents with a failure on this release (`app version`).
    pub release: Option<String>,
}

const INCIDENT_COLUMNS: &str =
    "id, cause, server, client_id, discriminator, first_ms, last_ms, regressed_ms, n";

fn incident_row(r: &rusqlite::Row<'_>, now: i64) -> rusqlite::Result<Incident> {
    let first_ms: Option<i64> = r.get(5)?;
    let last_ms: Option<i64> = r.get(6)?;
    let regressed_ms: Option<i64> = r.get(7)?;
    Ok(Incident {
        id: r.get(0)?,
        cause: r.get(1)?,
        server: super::labels::server_column(r, 2)?,
        client_id: r.get(3)?,
        discriminator: r.get(4)?,
        first_ms,
        last_ms,
        regressed_ms,
        count: r.get::<_, i64>(8)?.max(0) as u64,
        state: incidents::state(
            first_ms.unwrap_or(0),
            last_ms.unwrap_or(0),
            regressed_ms,
            now,
        ),
    })
}

fn filter_sql(f: &IncidentFilter, now: i64) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut clauses = vec!["1 = 1".to_owned()];
    let mut values: Vec<Value> = Vec::new();
    let mut add = |clause: &str, v: Vec<Value>| {
        // Each `?` becomes the number of the value it stands for.
        let mut parts = clause.split('?');
        let mut numbered = parts.next().unwrap_or("").to_owned();
        for (part, value) in parts.zip(v) {
            values.push(value);
            numbered.push_str(&format!("?{}{part}", values.len()));
        }
        clauses.push(numbered);
    };
    let quiet = Value::Integer(now - QUIET_MS);
    let young = Value::Integer(now - incidents::NEW_MS);
    let open = "coalesce(last_ms, 0) >= ?";
    match f.state {
        Some(State::Resolved) => add("coalesce(last_ms, 0) < ?", vec![quiet]),
        Some(State::Regressed) => add(&format!("{open} AND regressed_ms IS NOT NULL"), vec![quiet]),
        Some(State::New) => add(
            &format!("{open} AND regressed_ms IS NULL AND coalesce(first_ms, 0) >= ?"),
            vec![quiet, young],
        ),
        Some(State::Ongoing) => add(
            &format!("{open} AND regressed_ms IS NULL AND coalesce(first_ms, 0) < ?"),
            vec![quiet, young],
        ),
        None if f.open => add(open, vec![quiet]),
        None => {}
    }
    if let Some(c) = f.cause {
        add("cause = ?", vec![Value::Text(c.as_str().to_owned())]);
    }
    if let Some(c) = &f.client {
        add("client_id = ?", vec![Value::Text(c.clone())]);
    }
    if let Some(s) = f.server {
        add(
            "server = ?",
            vec![Value::Text(super::labels::server_label(s).to_owned())],
        );
    }
    if let Some(r) = &f.release {
        add(
            "id IN (SELECT incident_id FROM incident_releases WHERE app_release = ?)",
            vec![Value::Text(r.clone())],
        );
    }
    (clauses.join(" AND "), values)
}

/// One row of a breakdown: a value and how many failures carry it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Share {
    /// The value (`unknown` when the failures did not say).
    pub value: String,
    /// Failures with it.
    pub count: u64,
}

/// The columns an incident can be broken down by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// App name and version.
    Release,
    /// Operating system and version.
    Os,
    /// HTTP stack or SDK.
    Sdk,
}

impl Dimension {
    fn column(self) -> &'static str {
        match self {
            Dimension::Release => "app_release",
            Dimension::Os => "os",
            Dimension::Sdk => "sdk",
        }
    }
}

/// Who and what one failure names (see [`Store::failure_who`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureWho {
    /// Its incident.
    pub incident_id: i64,
    /// User name or subject.
    pub user: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// User agent as logged.
    pub user_agent: Option<String>,
    /// App name and version.
    pub release: Option<String>,
    /// OS and version.
    pub os: Option<String>,
    /// HTTP stack or SDK.
    pub sdk: Option<String>,
    /// Session id (a server's login session).
    pub session: Option<String>,
    /// The app installation's or device's id.
    pub device: Option<String>,
}

/// Distinct users, devices, IPs and user agents among an incident's
/// failures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Affected {
    /// Distinct user names or subjects.
    pub users: u64,
    /// Distinct installation or device ids.
    pub devices: u64,
    /// Distinct client IPs.
    pub ips: u64,
    /// Distinct user agents.
    pub user_agents: u64,
}

/// What the search box can match among the failures' "who" values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhoColumn {
    /// A user name or subject.
    User,
    /// A client IP.
    Ip,
    /// A session id.
    Session,
    /// An installation or device id.
    Device,
}

impl WhoColumn {
    fn column(self) -> &'static str {
        match self {
            WhoColumn::User => "user_name",
            WhoColumn::Ip => "ip",
            WhoColumn::Session => "session_id",
            WhoColumn::Device => "device_id",
        }
    }
}

impl Store {
    /// Incidents matching `filter` at `now`, most recently seen first,
    /// paged; and how many match.
    pub fn incidents(
        &self,
        filter: &IncidentFilter,
        now: i64,
        limit: u32,
        offset: u32,
    ) -> Result<(u64, Vec<Incident>)> {
        let (where_sql, values) = filter_sql(filter, now);
        let total: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM incidents WHERE {where_sql}"),
            rusqlite::params_from_iter(values.iter()),
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE {where_sql}
             ORDER BY coalesce(last_ms, 0) DESC, id DESC LIMIT {limit} OFFSET {offset}"
        ))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), |r| {
            incident_row(r, now)
        })?;
        Ok((total.max(0) as u64, rows.collect::<rusqlite::Result<_>>()?))
    }

    /// One incident, its state at `now`.
    pub fn incident(&self, id: i64, now: i64) -> Result<Option<Incident>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([id], |r| incident_row(r, now)).optional()?)
    }

    /// The incident failure `failure_id` belongs to.
    pub fn incident_of_failure(&self, failure_id: &str) -> Result<Option<i64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT incident_id FROM incident_failures WHERE failure_id = ?1")?;
        Ok(stmt.query_row([failure_id], |r| r.get(0)).optional()?)
    }

    /// Who and what a failure names, as grouped: its incident, user, IP,
    /// user agent and what the agent says (release, OS, SDK).
    pub fn failure_who(&self, failure_id: &str) -> Result<Option<FailureWho>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT incident_id, user_name, ip, user_agent, app_release, os, sdk, session_id,
                device_id
             FROM incident_failures WHERE failure_id = ?1",
        )?;
        Ok(stmt
            .query_row([failure_id], |r| {
                Ok(FailureWho {
                    incident_id: r.get(0)?,
                    user: r.get(1)?,
                    ip: r.get(2)?,
                    user_agent: r.get(3)?,
                    release: r.get(4)?,
                    os: r.get(5)?,
                    sdk: r.get(6)?,
                    session: r.get(7)?,
                    device: r.get(8)?,
                })
            })
            .optional()?)
    }

    /// The newest `limit` failures whose logs name `value` as `who` (a
    /// user, an IP, a session, a device), newest first; and how many there
    /// are. Each column has an index: the search stays fast at a million
    /// failures.
    pub fn failures_of_who(
        &self,
        value: &str,
        who: WhoColumn,
        limit: u32,
    ) -> Result<(u64, Vec<FailureRecord>)> {
        let column = who.column();
        let total: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM incident_failures WHERE {column} = ?1"),
            [value],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT failure_id FROM incident_failures WHERE {column} = ?1
             ORDER BY ts_ms DESC LIMIT ?2"
        ))?;
        let ids: Vec<String> = stmt
            .query_map(params![value, limit], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(f) = self.failure(&id)? {
                out.push(f);
            }
        }
        Ok((total.max(0) as u64, out))
    }

    /// An incident's failures counted by `dim`, most first.
    /// (Releases come from the `incident_releases` rollup and leave out
    /// failures whose logs named none.)
    pub fn incident_breakdown(&self, id: i64, dim: Dimension) -> Result<Vec<Share>> {
        let col = dim.column();
        let sql = match dim {
            Dimension::Release => "SELECT app_release, n FROM incident_releases
                 WHERE incident_id = ?1 ORDER BY 2 DESC, 1"
                .to_owned(),
            _ => format!(
                "SELECT coalesce({col}, 'unknown'), count(*) FROM incident_failures
                 WHERE incident_id = ?1 GROUP BY 1 ORDER BY 2 DESC, 1"
            ),
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([id], |r| {
            Ok(Share {
                value: r.get(0)?,
                count: r.get::<_, i64>(1)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Distinct users, IPs and user agents of an incident.
    pub fn incident_affected(&self, id: i64) -> Result<Affected> {
        Ok(self.conn.query_row(
            "SELECT count(DISTINCT user_name), count(DISTINCT ip), count(DISTINCT user_agent),
                count(DISTINCT device_id)
             FROM incident_failures WHERE incident_id = ?1",
            [id],
            |r| {
                Ok(Affected {
                    users: r.get::<_, i64>(0)?.max(0) as u64,
                    ips: r.get::<_, i64>(1)?.max(0) as u64,
                    user_agents: r.get::<_, i64>(2)?.max(0) as u64,
                    devices: r.get::<_, i64>(3)?.max(0) as u64,
                })
            },
        )?)
    }

    /// An incident's failures per UTC hour, the `hours` hours up to the
    /// one holding `now` (oldest first), from the `incident_hours` rollup.
    pub fn incident_hourly(&self, id: i64, now: i64, hours: usize) -> Result<Vec<u64>> {
        const HOUR: i64 = 3_600_000;
        let last = now - now.rem_euclid(HOUR);
        let first = last - (hours as i64 - 1) * HOUR;
        let mut out = vec![0u64; hours];
        let mut stmt = self.conn.prepare_cached(
            "SELECT hour_ms, n FROM incident_hours
             WHERE incident_id = ?1 AND hour_ms >= ?2 AND hour_ms <= ?3",
        )?;
        let rows = stmt.query_map(params![id, first, last], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (hour, n) = row?;
            let i = usize::try_from((hour - first) / HOUR).ok();
            if let Some(slot) = i.and_then(|i| out.get_mut(i)) {
                *slot += n.max(0) as u64;
            }
        }
        Ok(out)
    }

    /// The ids of an incident's newest `limit` failures, newest first.
    pub fn incident_failure_ids(&self, id: i64, limit: u32) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT failure_id FROM incident_failures WHERE incident_id = ?1
             ORDER BY ts_ms DESC, failure_id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![id, limit], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
