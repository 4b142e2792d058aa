//! The HTTP receivers: `POST /api/ingest` (JSON records) and `POST
//! /v1/logs` (OTLP/HTTP), merged into the web router behind its token
//! check, so the token rule on a non-loopback address holds for them too.
//!
//! Answers: 200 once the batch is committed (a retried batch is answered
//! 200 and stores nothing); 400 for a body that does not decode (nothing of
//! it stored); 413 over `--ingest-max-bytes` (checked on `Content-Length`
//! before reading, while reading, and on the decompressed size); 415 for an
//! OTLP content type other than protobuf or JSON; 429 with `Retry-After`
//! when the bodies in flight or the writer's queue are at their bound; 503
//! with `Retry-After` when the writer cannot store.

use std::io::Read as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::otlp::{self, Encoding};
use super::{Fleet, RETRY_AFTER_S, Refused, records};

/// The receivers' routes (none when `fleet` is `None`: `serve` only reads).
pub fn routes<S: Clone + Send + Sync + 'static>(fleet: Option<Arc<Fleet>>) -> Router<S> {
    match fleet {
        Some(fleet) => Router::new()
            .route("/api/ingest", post(ingest))
            .route("/v1/logs", post(otlp_logs))
            .with_state(fleet),
        None => Router::new(),
    }
}

/// A refusal as an answer: a short JSON body (`{"error": …}`), with
/// `Retry-After` when a retry will succeed.
fn refuse(status: StatusCode, why: &str) -> Response {
    let body = serde_json::json!({ "error": why }).to_string();
    let mut r = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
    }
    r
}

fn refused(e: &Refused) -> Response {
    match e {
        Refused::Busy => refuse(StatusCode::TOO_MANY_REQUESTS, &e.to_string()),
        Refused::Down(_) => refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// The body, read within the limits and decompressed; the permit keeps its
/// bytes counted until the answer.
async fn read_body(
    fleet: &Fleet,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Vec<u8>, tokio::sync::OwnedSemaphorePermit), Response> {
    let max = fleet.options().max_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    // Unknown length: count the most it may take.
    let reserve = declared.map_or(max, |n| n as usize);
    let Some(permit) = fleet.reserve(reserve) else {
        return Err(refused(&Refused::Busy));
    };
    let raw = match axum::body::to_bytes(body, max).await {
        Ok(b) => b,
        Err(e) => {
            let over = e
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            return Err(if over {
                too_large(max)
            } else {
                refuse(StatusCode::BAD_REQUEST, "the body was cut short")
            });
        }
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("" | "identity") => Ok((raw.to_vec(), permit)),
        Some("gzip" | "x-gzip") => {
            let mut out = Vec::new();
            let read = flate2::read::MultiGzDecoder::new(&raw[..])
                .take(max as u64 + 1)
                .read_to_end(&mut out);
            match read {
                Err(_) => Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "the gzip body does not decode",
                )),
                Ok(n) if n > max => Err(too_large(max)),
                Ok(_) => Ok((out, permit)),
            }
        }
        Some(_) => Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Encoding must be gzip or none",
        )),
    }
}

fn too_large(max: usize) -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body is over the limit of {max} bytes (--ingest-max-bytes)"),
    )
}

/// `POST /api/ingest`.
async fn ingest(State(fleet): State<Arc<Fleet>>, headers: HeaderMap, body: Body) -> Response {
    let (raw, _permit) = match read_body(&fleet, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let decoded = match tokio::task::spawn_blocking(move || records::decode(&raw)).await {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return refuse(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "decoding failed"),
    };
    let rejected = decoded.rejected;
    match fleet.submit(decoded.records).await {
        Ok(a) => axum::Json(serde_json::json!({
            "accepted": a.records,
            "rejected": rejected,
            "events": a.events,
            "duplicate": a.duplicate,
        }))
        .into_response(),
        Err(e) => refused(&e),
    }
}

/// `POST /v1/logs`.
async fn otlp_logs(State(fleet): State<Arc<Fleet>>, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(encoding) = Encoding::from_content_type(content_type) else {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/x-protobuf or application/json",
        );
    };
    let (raw, _permit) = match read_body(&fleet, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let decoded = match tokio::task::spawn_blocking(move || otlp::decode(&raw, encoding)).await {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return refuse(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "decoding failed"),
    };
    let rejected = decoded.rejected;
    match fleet.submit(decoded.records).await {
        Ok(_) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(encoding.content_type()),
            )],
            otlp::response(rejected, encoding),
        )
            .into_response(),
        Err(e) => refused(&e),
    }
}
