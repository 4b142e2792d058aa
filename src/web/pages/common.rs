//! What the pages share: their error ([`PageError`], answered as an HTML
//! page with its status), rendering ([`ok`], [`html_with`]), the links they
//! build (`encode`, `list_href`, `failure_href`, `request_href`), the text of a
//! time or a missing value, and the row of a failure list. A leaf the page
//! modules (`pages/mod.rs` and its children) read, so imports point one way.

use askama::Template;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::store::failures::FailureRecord;
use crate::store::labels::server_label;
use crate::time::format_ts;
use crate::web::WebError;

/// Longest summary shown in a table row, in characters.
const SUMMARY_CHARS: usize = 160;

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
pub(in crate::web) fn html_with(status: StatusCode, page: &impl Template) -> Response {
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
        let message = crate::web::error::client_message(status, &self);
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

pub(super) type PageResult = Result<Response, PageError>;

pub(super) fn ok(page: &impl Template) -> PageResult {
    Ok(Html(page.render()?).into_response())
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for a
/// query value or a path segment.
pub(in crate::web) fn encode(text: &str) -> String {
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
pub(super) fn list_href(pairs: &[(&str, &str)]) -> String {
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

pub(super) fn failure_href(id: &str) -> String {
    format!("/failures/{}", encode(id))
}

pub(super) fn request_href(id: &str) -> String {
    format!("/requests/{}", encode(id))
}

/// The first line of `text`, cut to [`SUMMARY_CHARS`].
pub(super) fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let mut chars = line.chars();
    let head: String = chars.by_ref().take(SUMMARY_CHARS).collect();
    if chars.next().is_some() || line.len() < text.trim_end().len() {
        format!("{head}…")
    } else {
        head
    }
}

pub(super) fn or_dash(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("—").to_owned()
}

pub(super) fn ms_text(ms: Option<i64>) -> String {
    ms.and_then(format_ts).unwrap_or_else(|| "—".to_owned())
}

/// One failure as a table row.
pub(super) struct Row {
    pub(super) href: String,
    pub(super) ts: String,
    pub(super) cause: String,
    pub(super) confidence: String,
    pub(super) client: String,
    pub(super) server: String,
    pub(super) summary: String,
}

pub(super) fn row(f: &FailureRecord) -> Row {
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

pub(super) fn bad(message: String) -> PageError {
    PageError::Web(WebError::BadRequest(message))
}

pub(super) fn path_value(value: Result<Path<String>, PathRejection>) -> Result<String, PageError> {
    value
        .map(|Path(v)| v)
        .map_err(|e| bad(format!("bad path: {}", e.body_text())))
}

pub(super) struct Choice {
    pub(super) value: &'static str,
    pub(super) selected: bool,
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
            response.headers()[axum::http::header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let response = PageError::Web(WebError::NotFound("no failure".into())).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
