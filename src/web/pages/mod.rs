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
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::{AppState, WebError};
use crate::diagnose::cause::ALL_CAUSES;
use crate::store::failures::{FailureFilter, FailureRecord};
use crate::store::labels::server_label;
use crate::time::format_ts;

mod failure;
mod incidents;
mod overview;
mod sources;
pub use failure::failure;
pub(crate) use incidents::now_ms;
pub use incidents::{api_incident, api_incidents, incident, incidents};
pub use overview::overview;
pub use sources::sources;

/// Failures per page of `/failures`.
pub const PAGE_SIZE: u32 = 50;
/// Longest summary shown in a table row, in characters.
const SUMMARY_CHARS: usize = 160;

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

/// An error of a page handler: a [`WebError`] or a template that failed to
/// render. Answered as an HTML page with the error's status.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// What the JSON API would answer.
    #[error(transparent)]
    Web(#[from] WebError),
    /// A template failed to render.
    #[error("template: {0}")]
    Render(#[from] askama::Error),
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            PageError::Web(e) => e.status(),
            PageError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    reason: &'static str,
    message: String,
}

/// Renders `page` with `status`, as `text/html; charset=utf-8`.
pub(super) fn html_with(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            eprintln!("grantwatch: web: template: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = super::error::client_message(status, &self);
        html_with(
            status,
            &ErrorPage {
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("Error"),
                message,
            },
        )
    }
}

type PageResult = Result<Response, PageError>;

fn ok(page: &impl Template) -> PageResult {
    Ok(Html(page.render()?).into_response())
}

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
// Helpers shared by the pages.

/// Percent-encodes everything but RFC 3986's unreserved characters, for a
/// query value or a path segment.
pub(super) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/failures?k=v&...` with the non-empty pairs.
fn list_href(pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if query.is_empty() {
        "/failures".to_owned()
    } else {
        format!("/failures?{}", query.join("&"))
    }
}

fn failure_href(id: &str) -> String {
    format!("/failures/{}", encode(id))
}

fn request_href(id: &str) -> String {
    format!("/requests/{}", encode(id))
}

/// The first line of `text`, cut to [`SUMMARY_CHARS`].
fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let mut chars = line.chars();
    let head: String = chars.by_ref().take(SUMMARY_CHARS).collect();
    if chars.next().is_some() || line.len() < text.trim_end().len() {
        format!("{head}…")
    } else {
        head
    }
}

fn or_dash(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("—").to_owned()
}

fn ms_text(ms: Option<i64>) -> String {
    ms.and_then(format_ts).unwrap_or_else(|| "—".to_owned())
}

/// One failure as a table row.
struct Row {
    href: String,
    ts: String,
    cause: String,
    confidence: String,
    client: String,
    server: String,
    summary: String,
}

fn row(f: &FailureRecord) -> Row {
    Row {
        href: failure_href(&f.id),
        ts: or_dash(f.ts.as_deref()),
        cause: f.cause.as_str().to_owned(),
        confidence: f.confidence.as_str().to_owned(),
        client: or_dash(f.client_id.as_deref()),
        server: server_label(f.server).to_owned(),
        summary: one_line(&f.summary),
    }
}

fn bad(message: String) -> PageError {
    PageError::Web(WebError::BadRequest(message))
}

fn path_value(value: Result<Path<String>, PathRejection>) -> Result<String, PageError> {
    value
        .map(|Path(v)| v)
        .map_err(|e| bad(format!("bad path: {}", e.body_text())))
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

struct Choice {
    value: &'static str,
    selected: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_unreserved_characters_only() {
        assert_eq!(encode("a-b_c.d~9"), "a-b_c.d~9");
        assert_eq!(encode("a b&c=d/é\"<"), "a%20b%26c%3Dd%2F%C3%A9%22%3C");
    }

    #[test]
    fn list_links_drop_empty_filters() {
        assert_eq!(list_href(&[("cause", ""), ("page", "")]), "/failures");
        assert_eq!(
            list_href(&[("cause", "code_reused"), ("client", "a b"), ("page", "2")]),
            "/failures?cause=code_reused&client=a%20b&page=2"
        );
    }

    #[test]
    fn summaries_are_cut_to_one_line() {
        assert_eq!(one_line("short"), "short");
        assert_eq!(one_line("first\nsecond"), "first…");
        let long = "x".repeat(SUMMARY_CHARS + 5);
        assert_eq!(one_line(&long).chars().count(), SUMMARY_CHARS + 1);
    }

    #[test]
    fn errors_are_html_pages_and_server_errors_hide_their_details() {
        let response = PageError::Web(WebError::Store(crate::store::Error::IncompatibleVersion(7)))
            .into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let response = PageError::Web(WebError::NotFound("no failure".into())).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
