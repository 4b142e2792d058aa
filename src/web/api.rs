//! The JSON API: `/api/failures` (filtered, newest first, paged),
//! `/api/failures/{id}`, `/api/requests/{request_id}` and `/api/stats`, with
//! the shapes of docs/DESIGN.md's contract.
//!
//! Query parameters are checked before anything is read: an unknown
//! parameter, an unknown cause or server, a time that is neither RFC 3339 nor
//! `YYYY-MM-DD`, or a number that is not one answers 400 with a JSON error
//! naming the parameter. An empty value (`?cause=`, as an HTML form sends
//! it) means "no filter". What matches nothing answers 404 with a JSON error.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::error::WebError;
use super::state::AppState;
use crate::diagnose::cause::{ALL_CAUSES, Cause};
use crate::store::failures::{FailureFilter, FailureRecord};
use crate::store::labels::{server_labels, server_of_label};
use crate::store::stats::{Bucket, CauseSeries};
use crate::store::story::RequestStory;
use crate::time::parse_ts;

/// Page size of `/api/failures` when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest page of `/api/failures`; a larger `limit` is lowered to it.
pub const MAX_LIMIT: u32 = 1000;

/// The query parameters of `/api/failures` and `/api/stats` (each rejects
/// those it does not take).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    cause: Option<String>,
    client: Option<String>,
    server: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    bucket: Option<String>,
}

/// The answer of `/api/failures`.
#[derive(Debug, Serialize)]
pub struct FailurePage {
    /// How many failures match the filters (on every page).
    pub total: u64,
    /// This page of them, newest first.
    pub failures: Vec<FailureRecord>,
}

/// A parameter's value, `None` when absent or empty.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn bad(message: String) -> WebError {
    WebError::BadRequest(message)
}

/// Refuses a parameter this route does not take.
fn unused(value: &Option<String>, name: &str) -> Result<(), WebError> {
    match value {
        Some(_) => Err(bad(format!("parameter {name} is not taken by this route"))),
        None => Ok(()),
    }
}

fn time_param(value: &Option<String>, name: &str) -> Result<Option<i64>, WebError> {
    given(value)
        .map(|v| {
            parse_ts(v).ok_or_else(|| {
                bad(format!(
                    "bad {name}: expected an RFC 3339 time (2025-03-11T09:00:00Z) or a date (2025-03-11)"
                ))
            })
        })
        .transpose()
}

fn number_param(value: &Option<String>, name: &str) -> Result<Option<u32>, WebError> {
    given(value)
        .map(|v| {
            v.parse::<u32>().map_err(|_| {
                bad(format!(
                    "bad {name}: expected a whole number from 0 to {}",
                    u32::MAX
                ))
            })
        })
        .transpose()
}

/// The filters of a request, checked.
fn filter(p: &Params) -> Result<FailureFilter, WebError> {
    fn text(v: &Option<String>) -> &str {
        given(v).unwrap_or("")
    }
    filter_of(
        text(&p.cause),
        text(&p.client),
        text(&p.server),
        text(&p.since),
        text(&p.until),
    )
}

/// Checks filter values (empty: no filter); the API and the pages share
/// these rules, so a link from one works on the other.
pub(crate) fn filter_of(
    cause: &str,
    client: &str,
    server: &str,
    since: &str,
    until: &str,
) -> Result<FailureFilter, WebError> {
    let cause = match cause {
        "" => None,
        c => Some(Cause::from_id(c).ok_or_else(|| {
            let ids: Vec<&str> = ALL_CAUSES.iter().map(|c| c.as_str()).collect();
            bad(format!("unknown cause: one of {}", ids.join(", ")))
        })?),
    };
    let server = match server {
        "" => None,
        s => Some(server_of_label(s).ok_or_else(|| {
            let names: Vec<&str> = server_labels().collect();
            bad(format!("unknown server: one of {}", names.join(", ")))
        })?),
    };
    let time = |v: &str, name: &str| time_param(&Some(v.to_owned()), name);
    Ok(FailureFilter {
        cause,
        client: Some(client.to_owned()).filter(|c| !c.is_empty()),
        server,
        since_ms: time(since, "since")?,
        until_ms: time(until, "until")?,
    })
}

fn params(query: Result<Query<Params>, QueryRejection>) -> Result<Params, WebError> {
    query
        .map(|Query(p)| p)
        .map_err(|e| bad(format!("bad query string: {}", e.body_text())))
}

fn path(value: Result<Path<String>, PathRejection>) -> Result<String, WebError> {
    value
        .map(|Path(v)| v)
        .map_err(|e| bad(format!("bad path: {}", e.body_text())))
}

/// `GET /api/failures`: `{"total": N, "failures": [...]}`, newest first.
pub async fn failures(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<FailurePage>, WebError> {
    let p = params(query)?;
    unused(&p.bucket, "bucket")?;
    let filter = filter(&p)?;
    let limit = number_param(&p.limit, "limit")?
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT);
    let offset = number_param(&p.offset, "offset")?.unwrap_or(0);
    let (total, failures) = state
        .read(move |store| Ok(store.failures(&filter, limit, offset)?))
        .await?;
    Ok(Json(FailurePage { total, failures }))
}

/// `GET /api/failures/{id}`: one failure, or 404.
pub async fn failure(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<FailureRecord>, WebError> {
    let id = path(id)?;
    state
        .read(move |store| {
            store
                .failure(&id)?
                .ok_or_else(|| WebError::NotFound("no failure with this id".into()))
        })
        .await
        .map(Json)
}

/// `GET /api/requests/{request_id}`: `{"request_id", "failures", "events"}`,
/// or 404 when no log mentions the request id.
pub async fn request(
    State(state): State<AppState>,
    request_id: Result<Path<String>, PathRejection>,
) -> Result<Json<RequestStory>, WebError> {
    let request_id = path(request_id)?;
    let story = state
        .read(move |store| Ok(store.request_story(&request_id)?))
        .await?;
    if story.failures.is_empty() && story.events.is_empty() {
        return Err(WebError::NotFound("no log mentions this request id".into()));
    }
    Ok(Json(story))
}

/// `GET /api/stats?bucket=hour|day`: failures per cause per time bucket
/// (the failure list's filters apply too).
pub async fn stats(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<CauseSeries>, WebError> {
    let p = params(query)?;
    unused(&p.limit, "limit")?;
    unused(&p.offset, "offset")?;
    let bucket = match given(&p.bucket) {
        None => Bucket::Hour,
        Some(b) => {
            Bucket::from_name(b).ok_or_else(|| bad("bad bucket: expected hour or day".into()))?
        }
    };
    let filter = filter(&p)?;
    let series = state
        .read(move |store| Ok(store.cause_series(bucket, &filter)?))
        .await?;
    Ok(Json(series))
}

/// Any other path under `/api` (the router's fallback picks): 404 with a
/// JSON error.
pub async fn not_found() -> WebError {
    WebError::NotFound("no such route".into())
}

/// A known API path with another method than GET: 405 with a JSON error.
pub async fn method_not_allowed() -> WebError {
    WebError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(f: impl FnOnce(&mut Params)) -> Params {
        let mut p = Params::default();
        f(&mut p);
        p
    }

    #[test]
    fn empty_values_are_no_filter() {
        let f = filter(&p(|p| {
            p.cause = Some(String::new());
            p.since = Some(String::new());
        }))
        .expect("ok");
        assert_eq!(f, FailureFilter::default());
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let msg = |e: WebError| e.to_string();
        let e = filter(&p(|p| p.since = Some("yesterday".into()))).expect_err("since");
        assert!(msg(e).contains("since"));
        let e = filter(&p(|p| p.until = Some("2025-13-01".into()))).expect_err("until");
        assert!(msg(e).contains("until"));
        let e = filter(&p(|p| p.cause = Some("code_reuse".into()))).expect_err("cause");
        assert!(msg(e).contains("cause"));
        let e = filter(&p(|p| p.server = Some("apache".into()))).expect_err("server");
        assert!(msg(e).contains("server"));
        let e = number_param(&Some("-1".into()), "limit").expect_err("limit");
        assert!(msg(e).contains("limit"));
    }

    #[test]
    fn dates_and_times_both_parse() {
        let f = filter(&p(|p| {
            p.since = Some("2025-03-11".into());
            p.until = Some("2025-03-11T10:00:00+01:00".into());
        }))
        .expect("ok");
        assert_eq!(f.since_ms, Some(1_741_651_200_000));
        assert_eq!(f.until_ms, Some(1_741_683_600_000));
    }
}
