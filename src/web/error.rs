//! The one error type of the web handlers, and how it becomes a response.
//!
//! Every error answers a JSON body `{"error": "..."}` with its status. Errors
//! of the client (a bad parameter, an unknown id, a missing token) say what
//! was wrong; errors of the server (the database, a panicked task) are logged
//! to stderr in full and answered with a generic message, so that no path,
//! SQL or internal detail reaches the client. Which paths answer errors as
//! JSON (a program's) rather than as an HTML page (a browser's) is
//! [`is_machine_path`], here so that the router (`mod.rs`) and the token
//! check (`auth.rs`) ask the same question without importing each other.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error of a web handler.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A query or path parameter is malformed; the message names it.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing matched; the message says what was looked for.
    #[error("{0}")]
    NotFound(String),
    /// The bearer token is missing or wrong.
    #[error("missing or wrong bearer token")]
    Unauthorized,
    /// The route exists, but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The store failed.
    #[error("database: {0}")]
    Store(#[from] crate::store::Error),
    /// The blocking task running the query panicked or was cancelled.
    #[error("query task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl WebError {
    /// The HTTP status of the error.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            WebError::Store(_) | WebError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The JSON body of an error.
/// What a client is told about `err`: its text for a client error; for a
/// server error only that there was one, the text going to the server's log
/// (a store error's text names files and SQL the client has no business
/// seeing).
pub(crate) fn client_message(status: StatusCode, err: &dyn std::fmt::Display) -> String {
    if status.is_server_error() {
        eprintln!("grantwatch: web: {err}");
        "internal error (see the server's log)".to_owned()
    } else {
        err.to_string()
    }
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = client_message(status, &self);
        let mut response = (status, Json(ErrorBody { error: &message })).into_response();
        if matches!(self, WebError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Whether `path` is one a program asks for (the JSON API, the metrics, the
/// health check) rather than a page a browser shows: its errors stay JSON.
pub(super) fn is_machine_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || path == "/metrics"
        || path == "/healthz"
        || path.starts_with("/v1/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_hide_their_details() {
        let err = WebError::Store(crate::store::Error::IncompatibleVersion(7));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn unauthorized_asks_for_a_bearer_token() {
        let response = WebError::Unauthorized.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE),
            Some(&HeaderValue::from_static("Bearer"))
        );
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE),
            Some(&HeaderValue::from_static("application/json"))
        );
    }

    #[test]
    fn machine_paths_are_the_api_the_metrics_and_the_health_check() {
        for path in ["/api", "/api/", "/api/nope", "/metrics", "/healthz"] {
            assert!(is_machine_path(path), "{path}");
        }
        for path in [
            "/",
            "/nope",
            "/apis",
            "/metrics/x",
            "/failures",
            "/api.json",
        ] {
            assert!(!is_machine_path(path), "{path}");
        }
    }
}
