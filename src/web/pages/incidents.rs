//! Incidents on the dashboard and in the API: `/incidents` (filtered by
//! state, cause, client, server and release), `/incidents/{id}` (summary,
//! fix, a 24-hour sparkline drawn on the server as SVG, who is affected,
//! breakdowns by release, OS and SDK, the newest failures), and the same as
//! JSON under `/api/incidents` and `/api/incidents/{id}`.
//!
//! States are read against the dashboard's "now": the newest failure's time
//! when it is older than the wall clock (old logs still show what was
//! open when they end), else the wall clock. Filter values follow the rules
//! of `/failures` (an unknown cause or server is a 400); the API refuses
//! parameters it does not take.

use askama::Template;
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::{Choice, PageError, PageResult, Row, encode, ms_text, ok, row};
use crate::diagnose::cause::ALL_CAUSES;
use crate::incidents::State as IncidentState;
use crate::store::Store;
use crate::store::incidents::{Affected, Dimension, Incident, IncidentFilter, Share, WhoColumn};
use crate::store::labels::server_label;
use crate::time::format_ts;
use crate::web::error::WebError;
use crate::web::state::AppState;

/// Incidents per page of `/incidents` and default of the API.
pub const PAGE_SIZE: u32 = 50;
/// Failures listed on an incident.
const FAILURES_SHOWN: u32 = 100;
/// Open incidents the overview leads with.
pub(super) const OVERVIEW_OPEN: u32 = 10;
/// Hours of the sparkline.
const SPARK_HOURS: usize = 24;

/// The dashboard's "now" (see the module doc).
pub(crate) fn now_ms(store: &Store) -> Result<i64, WebError> {
    let wall = chrono::Utc::now().timestamp_millis();
    Ok(match store.latest_failure_ms(wall)? {
        Some(l) if l < wall => l,
        _ => wall,
    })
}

/// The query of `/incidents` and `/api/incidents`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    state: String,
    #[serde(default)]
    cause: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    server: String,
    #[serde(default)]
    release: String,
    #[serde(default)]
    limit: String,
    #[serde(default)]
    offset: String,
    #[serde(default)]
    page: String,
}

fn filter(p: &Params) -> Result<IncidentFilter, WebError> {
    let checked = super::super::api::filter_of(&p.cause, &p.client, &p.server, "", "")?;
    let (state, open) = match p.state.as_str() {
        "" => (None, false),
        "open" => (None, true),
        s => (
            Some(IncidentState::parse(s).ok_or_else(|| {
                WebError::BadRequest(
                    "bad state: expected open, new, ongoing, regressed or resolved".into(),
                )
            })?),
            false,
        ),
    };
    Ok(IncidentFilter {
        state,
        open,
        cause: checked.cause,
        client: checked.client,
        server: checked.server,
        release: (!p.release.is_empty()).then(|| p.release.clone()),
    })
}

fn number(value: &str, name: &str, default: u32) -> Result<u32, WebError> {
    if value.is_empty() {
        return Ok(default);
    }
    value
        .parse()
        .map_err(|_| WebError::BadRequest(format!("bad {name}: expected a whole number")))
}

fn query_params(query: Result<Query<Params>, QueryRejection>) -> Result<Params, WebError> {
    query
        .map(|Query(p)| p)
        .map_err(|e| WebError::BadRequest(format!("bad query: {}", e.body_text())))
}

fn incident_id(path: Result<Path<String>, PathRejection>) -> Result<i64, WebError> {
    let Path(text) = path.map_err(|e| WebError::BadRequest(e.body_text()))?;
    text.parse()
        .map_err(|_| WebError::NotFound("no such incident".into()))
}

fn incident_href(id: i64) -> String {
    format!("/incidents/{id}")
}

// ---------------------------------------------------------------------------
// JSON

/// An incident as the API shows it.
#[derive(Debug, Serialize)]
pub struct IncidentJson {
    id: i64,
    cause: String,
    server: String,
    client_id: Option<String>,
    discriminator: Option<String>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    regressed_at: Option<String>,
    count: u64,
    state: IncidentState,
    releases: Vec<Share>,
}

fn json_of(store: &Store, i: &Incident) -> Result<IncidentJson, WebError> {
    Ok(IncidentJson {
        id: i.id,
        cause: i.cause.as_str().to_owned(),
        server: server_label(i.server).to_owned(),
        client_id: (!i.client_id.is_empty()).then(|| i.client_id.clone()),
        discriminator: (!i.discriminator.is_empty()).then(|| i.discriminator.clone()),
        first_seen: i.first_ms.and_then(format_ts),
        last_seen: i.last_ms.and_then(format_ts),
        regressed_at: i.regressed_ms.and_then(format_ts),
        count: i.count,
        state: i.state,
        releases: store.incident_breakdown(i.id, Dimension::Release)?,
    })
}

/// The answer of `/api/incidents`.
#[derive(Debug, Serialize)]
pub struct IncidentList {
    now: Option<String>,
    total: u64,
    incidents: Vec<IncidentJson>,
}

/// `GET /api/incidents?state=&cause=&client=&server=&release=&limit=&offset=`.
pub async fn api_incidents(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<IncidentList>, WebError> {
    let p = query_params(query)?;
    if !p.page.is_empty() {
        return Err(WebError::BadRequest(
            "parameter page is not taken by this route".into(),
        ));
    }
    let f = filter(&p)?;
    let limit = number(&p.limit, "limit", PAGE_SIZE)?.min(super::super::api::MAX_LIMIT);
    let offset = number(&p.offset, "offset", 0)?;
    let list = state
        .read(move |store| {
            let now = now_ms(store)?;
            let (total, rows) = store.incidents(&f, now, limit, offset)?;
            Ok(IncidentList {
                now: format_ts(now),
                total,
                incidents: rows
                    .iter()
                    .map(|i| json_of(store, i))
                    .collect::<Result<_, _>>()?,
            })
        })
        .await?;
    Ok(Json(list))
}

/// The answer of `/api/incidents/{id}`.
#[derive(Debug, Serialize)]
pub struct IncidentDetail {
    #[serde(flatten)]
    incident: IncidentJson,
    summary: Option<String>,
    fix: Option<String>,
    affected: Affected,
    os: Vec<Share>,
    sdk: Vec<Share>,
    /// Failures per UTC hour, the 24 hours up to the one holding `now`,
    /// oldest first.
    hourly: Vec<u64>,
    now: Option<String>,
    /// The newest failures' ids (at most 100).
    failures: Vec<String>,
}

fn detail(store: &Store, id: i64) -> Result<(IncidentDetail, Vec<Row>), WebError> {
    let now = now_ms(store)?;
    let incident = store
        .incident(id, now)?
        .ok_or_else(|| WebError::NotFound("no such incident".into()))?;
    let ids = store.incident_failure_ids(id, FAILURES_SHOWN)?;
    let mut rows = Vec::new();
    let mut newest = None;
    for fid in &ids {
        if let Some(f) = store.failure(fid)? {
            rows.push(row(&f));
            if newest.is_none() {
                newest = Some(f);
            }
        }
    }
    Ok((
        IncidentDetail {
            incident: json_of(store, &incident)?,
            summary: newest.as_ref().map(|f| f.summary.clone()),
            fix: newest.map(|f| f.fix),
            affected: store.incident_affected(id)?,
            os: store.incident_breakdown(id, Dimension::Os)?,
            sdk: store.incident_breakdown(id, Dimension::Sdk)?,
            hourly: store.incident_hourly(id, now, SPARK_HOURS)?,
            now: format_ts(now),
            failures: ids,
        },
        rows,
    ))
}

/// `GET /api/incidents/{id}`.
pub async fn api_incident(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<IncidentDetail>, WebError> {
    let id = incident_id(path)?;
    let (d, _) = state.read(move |store| detail(store, id)).await?;
    Ok(Json(d))
}

// ---------------------------------------------------------------------------
// Pages

/// The open incidents the overview leads with (at most [`OVERVIEW_OPEN`]),
/// and how many are open.
pub(super) fn open_incidents(store: &Store, now: i64) -> Result<(u64, Vec<IncidentRow>), WebError> {
    let open = IncidentFilter {
        open: true,
        ..IncidentFilter::default()
    };
    let (total, list) = store.incidents(&open, now, OVERVIEW_OPEN, 0)?;
    let rows = list
        .iter()
        .map(|i| incident_row(store, i, now))
        .collect::<Result<_, _>>()?;
    Ok((total, rows))
}

/// One bar of a sparkline.
pub(super) struct SparkBar {
    pub(super) x: u32,
    pub(super) y: u32,
    pub(super) h: u32,
    pub(super) title: String,
}

/// A 24-hour sparkline: 4 px per hour, 20 px high, drawn as rects.
pub(super) fn sparkline(hourly: &[u64]) -> Vec<SparkBar> {
    let max = hourly.iter().copied().max().unwrap_or(0).max(1);
    hourly
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, &n)| {
            let h = ((n as f64 / max as f64) * 20.0).ceil().clamp(1.0, 20.0) as u32;
            SparkBar {
                x: i as u32 * 5,
                y: 20 - h,
                h,
                title: format!("{n} in hour {} of {}", i + 1, hourly.len()),
            }
        })
        .collect()
}

/// One incident as a table row.
pub(super) struct IncidentRow {
    pub(super) href: String,
    pub(super) state: &'static str,
    pub(super) cause: String,
    pub(super) client: String,
    pub(super) server: String,
    pub(super) discriminator: String,
    pub(super) first: String,
    pub(super) last: String,
    pub(super) count: u64,
    pub(super) spark: Vec<SparkBar>,
}

pub(super) fn incident_row(store: &Store, i: &Incident, now: i64) -> Result<IncidentRow, WebError> {
    Ok(IncidentRow {
        href: incident_href(i.id),
        state: i.state.as_str(),
        cause: i.cause.as_str().to_owned(),
        client: if i.client_id.is_empty() {
            "—".into()
        } else {
            i.client_id.clone()
        },
        server: server_label(i.server).to_owned(),
        discriminator: i.discriminator.clone(),
        first: ms_text(i.first_ms),
        last: ms_text(i.last_ms),
        count: i.count,
        spark: sparkline(&store.incident_hourly(i.id, now, SPARK_HOURS)?),
    })
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    now: String,
    states: Vec<Choice>,
    causes: Vec<Choice>,
    servers: Vec<Choice>,
    client: String,
    release: String,
    total: u64,
    incidents: Vec<IncidentRow>,
    next_href: Option<String>,
}

/// `GET /incidents?state=&cause=&client=&server=&release=&page=`.
pub async fn incidents(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> PageResult {
    let p = query_params(query)?;
    let f = filter(&p)?;
    let page = number(&p.page, "page", 1)?.max(1);
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    let (now, total, rows) = state
        .read(move |store| {
            let now = now_ms(store)?;
            let (total, list) = store.incidents(&f, now, PAGE_SIZE, offset)?;
            let rows = list
                .iter()
                .map(|i| incident_row(store, i, now))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((now, total, rows))
        })
        .await?;
    let pick = |values: &mut dyn Iterator<Item = &'static str>, chosen: &str| {
        values
            .map(|value| Choice {
                value,
                selected: value == chosen,
            })
            .collect()
    };
    let next_href = (u64::from(offset) + u64::from(PAGE_SIZE) < total).then(|| {
        let mut q: Vec<String> = [
            ("state", &p.state),
            ("cause", &p.cause),
            ("client", &p.client),
            ("server", &p.server),
            ("release", &p.release),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
        q.push(format!("page={}", page + 1));
        format!("/incidents?{}", q.join("&"))
    });
    ok(&IncidentsPage {
        now: ms_text(Some(now)),
        states: pick(
            &mut ["open"]
                .into_iter()
                .chain(IncidentState::ALL.iter().map(|s| s.as_str())),
            &p.state,
        ),
        causes: pick(&mut ALL_CAUSES.iter().map(|c| c.as_str()), &p.cause),
        servers: pick(&mut crate::store::labels::server_labels(), &p.server),
        client: p.client,
        release: p.release,
        total,
        incidents: rows,
        next_href,
    })
}

struct ShareRow {
    value: String,
    count: u64,
    href: Option<String>,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    id: i64,
    state: &'static str,
    cause: String,
    server: String,
    client: String,
    discriminator: String,
    first: String,
    last: String,
    regressed: Option<String>,
    count: u64,
    now: String,
    summary: String,
    fix: String,
    affected: Affected,
    spark: Vec<SparkBar>,
    releases: Vec<ShareRow>,
    os: Vec<ShareRow>,
    sdk: Vec<ShareRow>,
    rows: Vec<Row>,
    shown: usize,
}

/// `GET /incidents/{id}`.
pub async fn incident(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> PageResult {
    let id = incident_id(path)?;
    let (d, rows) = state.read(move |store| detail(store, id)).await?;
    let i = &d.incident;
    let shares = |list: &[Share], link: bool| -> Vec<ShareRow> {
        list.iter()
            .map(|s| ShareRow {
                value: s.value.clone(),
                count: s.count,
                href: (link && s.value != "unknown")
                    .then(|| format!("/incidents?release={}", encode(&s.value))),
            })
            .collect()
    };
    let releases = shares(&i.releases, true);
    let page = IncidentPage {
        id: i.id,
        state: i.state.as_str(),
        cause: i.cause.clone(),
        server: i.server.clone(),
        client: i.client_id.clone().unwrap_or_else(|| "—".into()),
        discriminator: i.discriminator.clone().unwrap_or_default(),
        first: i.first_seen.clone().unwrap_or_else(|| "—".into()),
        last: i.last_seen.clone().unwrap_or_else(|| "—".into()),
        regressed: i.regressed_at.clone(),
        count: i.count,
        now: d.now.clone().unwrap_or_default(),
        summary: d.summary.clone().unwrap_or_default(),
        fix: d.fix.clone().unwrap_or_default(),
        affected: d.affected,
        spark: sparkline(&d.hourly),
        releases,
        os: shares(&d.os, false),
        sdk: shares(&d.sdk, false),
        shown: rows.len(),
        rows,
    };
    Ok(ok(&page)?.into_response())
}

// ---------------------------------------------------------------------------
// The search box, beyond request ids

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    query: String,
    matched: &'static str,
    total: u64,
    rows: Vec<Row>,
    more_href: Option<String>,
}

/// What the search box found for `query` when no request id matched: a
/// client id (its failures), a user or an IP (the failures naming it), in
/// that order; `None` when nothing did.
pub(super) async fn search_other(
    state: &AppState,
    query: &str,
) -> Result<Option<axum::response::Response>, PageError> {
    let q = query.to_owned();
    let found = state
        .read(move |store| {
            let by_client = crate::store::failures::FailureFilter {
                client: Some(q.clone()),
                ..Default::default()
            };
            let (total, rows) = store.failures(&by_client, FAILURES_SHOWN, 0)?;
            if total > 0 {
                let href = format!("/failures?client={}", encode(&q));
                return Ok(Some(("a client id", total, rows, Some(href))));
            }
            for (matched, who) in [
                ("a user", WhoColumn::User),
                ("an IP address", WhoColumn::Ip),
                ("a device id", WhoColumn::Device),
                ("a session id", WhoColumn::Session),
            ] {
                let (total, rows) = store.failures_of_who(&q, who, FAILURES_SHOWN)?;
                if total > 0 {
                    return Ok(Some((matched, total, rows, None)));
                }
            }
            Ok(None)
        })
        .await?;
    let Some((matched, total, rows, more_href)) = found else {
        return Ok(None);
    };
    Ok(Some(ok(&SearchPage {
        query: query.to_owned(),
        matched,
        total,
        rows: rows.iter().map(row).collect(),
        more_href,
    })?))
}
