//! `GET /healthz`: 200 while the reader reads, 503 with the reason while
//! not ([`super::health`]), or while the database file is not the one
//! opened ([`crate::live::database_problem`]). Without a reader (`serve`)
//! only the database file is looked at: `/healthz` answers "ok" unless it
//! has a problem.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::health::{ReaderHealth, Snapshot};
use super::state::AppState;

/// `GET /healthz`: "ok" (200) while the reader reads (or when there is no
/// reader) and the database file is the one opened; 503 with the reasons
/// while the reader does not read, or when the database file under the
/// daemon was deleted, replaced or overwritten. A line per part says what
/// it is: the database's problem, and what the reader does and how long
/// ago its last round completed.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let db = state.db.clone();
    let identity = state.db_identity;
    // A stat and a 16-byte read: off the async threads all the same.
    let problem = tokio::task::spawn_blocking(move || crate::live::database_problem(&db, identity))
        .await
        .unwrap_or_else(|_| Some("the health check failed".into()));
    let reader = state.health.as_ref().map(ReaderHealth::snapshot);
    let reading = reader.as_ref().is_none_or(Snapshot::is_reading);
    let mut body = String::from(if reading && problem.is_none() {
        "ok"
    } else {
        "unavailable"
    });
    if let Some(p) = &problem {
        body += &format!("\ndatabase: {p}");
    }
    if let Some(now) = &reader {
        body += &format!("\nreader: {}", now.describe());
    }
    if problem.is_some() || reader.is_some() {
        body.push('\n');
    }
    if reading && problem.is_none() {
        body.into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}
