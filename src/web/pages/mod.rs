//! The server-rendered HTML pages of the dashboard (askama templates in
//! `templates/`), usable without JavaScript: the overview (`/`), the failure
//! list (`/failures`), one failure (`/failures/{id}`), one request id
//! (`/requests/{request_id}`, and `/requests?id=` from the search box) and the
//! sources (`/sources`), with their stylesheet at `/static/style.css`.
//!
//! Every page is rendered by askama with HTML escaping on: log text (client
//! ids, error descriptions, evidence lines, a searched request id) is never
//! marked safe. Links carrying log text are percent-encoded here and then
//! HTML-escaped by the template. Pages get their own Content-Security-Policy
//! ([`page_csp`]): nothing but the stylesheet of this origin, no script, no
//! inline style. Errors answer an HTML page with their status.

use askama::Template;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::state::AppState;
use crate::diagnose::cause::ALL_CAUSES;
use crate::store::failures::FailureFilter;

mod common;
mod failure;
mod incidents;
mod overview;
mod sources;
pub use common::PageError;
use common::{
    Choice, PageResult, Row, bad, list_href, ms_text, ok, or_dash, path_value, request_href, row,
};
pub(super) use common::{encode, html_with};
pub use failure::failure;
pub(crate) use incidents::now_ms;
pub use incidents::{api_incident, api_incidents, incident, incidents};
pub use overview::overview;
pub use sources::sources;

/// Failures per page of `/failures`.
pub const PAGE_SIZE: u32 = 50;

/// The Content-Security-Policy of the HTML pages: the stylesheet of this
/// origin and nothing else (no script, no inline style, forms only here).
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
                            connect-src 'self'; form-action 'self'; base-uri 'none'; \
                            frame-ancestors 'none'";

/// The live-update script (`static/live.js`), built into the binary.
const LIVE_JS: &str = include_str!("../../../static/live.js");

/// `GET /static/live.js`: the one script of the pages.
pub async fn live_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        LIVE_JS,
    )
        .into_response()
}

/// The stylesheet, built into the binary.
const STYLE: &str = include_str!("../../../templates/style.css");

/// Sets [`PAGE_CSP`] on HTML answers (the JSON API keeps its own policy).
pub async fn page_csp(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if is_html {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
    }
    response
}

/// `GET /static/style.css`.
pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// GET /failures

/// The query of `/failures` (unknown parameters are ignored: a browser
/// form may add its own).
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    cause: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    server: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    page: String,
}

#[derive(Template)]
#[template(path = "failures.html")]
struct FailuresPage {
    causes: Vec<Choice>,
    servers: Vec<Choice>,
    client: String,
    since: String,
    until: String,
    total: u64,
    page: u32,
    pages: u32,
    first: u64,
    last: u64,
    rows: Vec<Row>,
    prev_href: Option<String>,
    next_href: Option<String>,
}

/// The checked filters of the list (the rules of `/api/failures`).
fn list_filter(p: &ListParams) -> Result<FailureFilter, PageError> {
    Ok(super::api::filter_of(
        &p.cause, &p.client, &p.server, &p.since, &p.until,
    )?)
}

/// `GET /failures?cause=&client=&server=&since=&until=&page=`: the
/// failures, newest first, [`PAGE_SIZE`] per page.
pub async fn failures(
    State(state): State<AppState>,
    query: Result<Query<ListParams>, QueryRejection>,
) -> PageResult {
    let p = query
        .map(|Query(p)| p)
        .map_err(|e| bad(format!("bad query string: {}", e.body_text())))?;
    let filter = list_filter(&p)?;
    let page: u32 = match p.page.as_str() {
        "" => 1,
        n => n
            .parse::<u32>()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| bad("bad page: expected a whole number from 1".to_owned()))?,
    };
    let offset = (page - 1)
        .checked_mul(PAGE_SIZE)
        .ok_or_else(|| bad("bad page: too large".to_owned()))?;
    let (total, records) = state
        .read(move |store| Ok(store.failures(&filter, PAGE_SIZE, offset)?))
        .await?;
    let pages = u32::try_from(total.div_ceil(u64::from(PAGE_SIZE)))
        .unwrap_or(u32::MAX)
        .max(1);
    let href = |n: u32| {
        let n = n.to_string();
        list_href(&[
            ("cause", &p.cause),
            ("client", &p.client),
            ("server", &p.server),
            ("since", &p.since),
            ("until", &p.until),
            ("page", &n),
        ])
    };
    let first = u64::from(offset) + 1;
    let page_view = FailuresPage {
        causes: ALL_CAUSES
            .iter()
            .map(|c| Choice {
                value: c.as_str(),
                selected: c.as_str() == p.cause,
            })
            .collect(),
        servers: crate::store::labels::server_labels()
            .map(|s| Choice {
                value: s,
                selected: s == p.server,
            })
            .collect(),
        client: p.client.clone(),
        since: p.since.clone(),
        until: p.until.clone(),
        total,
        page,
        pages,
        first,
        last: u64::from(offset) + records.len() as u64,
        rows: records.iter().map(row).collect(),
        prev_href: (page > 1).then(|| href(page.min(pages + 1) - 1)),
        next_href: (page < pages).then(|| href(page + 1)),
    };
    ok(&page_view)
}

// ---------------------------------------------------------------------------
// GET /requests/{request_id}, GET /requests?id=

struct EventView {
    ts: String,
    kind: String,
    file: String,
    line: u64,
    facts: Vec<(&'static str, String)>,
    /// The event's redacted lines, joined.
    text: String,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    request_id: String,
    rows: Vec<Row>,
    events: Vec<EventView>,
}

#[derive(Template)]
#[template(path = "request_missing.html")]
struct RequestMissingPage {
    request_id: String,
}

fn event_view(e: crate::store::story::StoryEvent) -> EventView {
    let ev = e.event;
    let mut facts = Vec::new();
    let mut add = |name: &'static str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            facts.push((name, v));
        }
    };
    add("Format", Some(ev.format.as_str().to_owned()));
    add("Server", ev.server.map(|k| k.as_str().to_owned()));
    add("Client", ev.client_id);
    add("Grant type", ev.grant_type.map(|g| g.as_str().to_owned()));
    add(
        "HTTP",
        match (ev.method, ev.path) {
            (Some(m), Some(p)) => Some(format!("{m} {p}")),
            (None, Some(p)) => Some(p),
            (m, None) => m,
        },
    );
    add("Status", ev.status.map(|s| s.to_string()));
    add("Error", ev.error);
    add("Description", ev.error_description);
    add("Provider reason", ev.provider_reason);
    add("Redirect URI", ev.redirect_uri);
    add("Time basis", ev.ts_basis);
    EventView {
        ts: ms_text(ev.ts_ms),
        kind: ev.kind.as_str().to_owned(),
        file: ev.file,
        line: ev.line,
        facts,
        text: e
            .lines
            .into_iter()
            .map(|l| l.text)
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

async fn request_page(state: &AppState, request_id: String) -> PageResult {
    let id = request_id.clone();
    let story = state
        .read(move |store| Ok(store.request_story(&id)?))
        .await?;
    if story.failures.is_empty() && story.events.is_empty() {
        return Ok(html_with(
            StatusCode::NOT_FOUND,
            &RequestMissingPage { request_id },
        ));
    }
    ok(&RequestPage {
        request_id,
        rows: story.failures.iter().map(row).collect(),
        events: story.events.into_iter().map(event_view).collect(),
    })
}

/// `GET /requests/{request_id}`: everything about a request id, or a 404
/// page saying what was searched.
pub async fn request(
    State(state): State<AppState>,
    request_id: Result<Path<String>, PathRejection>,
) -> PageResult {
    let request_id = path_value(request_id)?;
    request_page(&state, request_id).await
}

/// The query of the search box.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    id: String,
}

/// `GET /requests?id=...`: the same page as `/requests/{id}`.
pub async fn request_search(
    State(state): State<AppState>,
    query: Result<Query<SearchParams>, QueryRejection>,
) -> PageResult {
    let p = query
        .map(|Query(p)| p)
        .map_err(|e| bad(format!("bad query string: {}", e.body_text())))?;
    let id = p.id.trim();
    if id.is_empty() {
        return Err(bad(
            "type a request id, a client id, a user, an IP, a session or a device id in the search box".to_owned(),
        ));
    }
    // A request id first (the support case: one id from a screenshot),
    // then the other things a log names.
    let page = request_page(&state, id.to_owned()).await?;
    if page.status() != StatusCode::NOT_FOUND {
        return Ok(page);
    }
    match incidents::search_other(&state, id).await? {
        Some(found) => Ok(found),
        None => Ok(page),
    }
}
