//! The HTTP receivers: `POST /api/ingest` (JSON records) and `POST
//! /v1/logs` (OTLP/HTTP), merged into the web router behind its token
//! check, so the token rule on a non-loopback address holds for them too.
//!
//! Answers: 200 once the batch is committed (a retried batch is answered
//! 200 and stores nothing); 400 for a body that does not decode (nothing of
//! it stored); 413 over `--ingest-max-bytes` (checked on `Content-Length`
//! before reading, while reading, and on the decompressed size); 415 for an
//! OTLP content type other than protobuf or JSON; 429 with `Retry-After`
//! when the in-flight budget ([`super::budget`]) cannot take the body, its
//! inflated size or its decoding, or the writer's queue is full; 503 with
//! `Retry-After` when as many bodies as allowed are being read, or the
//! writer cannot store. Every answer is counted on `/metrics`.

use std::io::Read as _;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use tokio::sync::OwnedSemaphorePermit;

use super::metrics::Receiver;
use super::otlp::{self, Encoding};
use super::{Fleet, RETRY_AFTER_S, Refused, budget, records};

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
        Refused::Crowded | Refused::Down(_) => {
            refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
    }
}

fn too_large(max: usize) -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body is over the limit of {max} bytes (--ingest-max-bytes)"),
    )
}

/// What a receiver's body is.
#[derive(Clone, Copy)]
enum Kind {
    Ingest,
    Otlp(Encoding),
}

impl Kind {
    fn protobuf(self) -> bool {
        matches!(self, Kind::Otlp(Encoding::Protobuf))
    }

    fn decode(self, body: &[u8]) -> Result<records::Decoded, String> {
        match self {
            Kind::Ingest => records::decode(body).map_err(|e| e.to_string()),
            Kind::Otlp(enc) => otlp::decode(body, enc).map_err(|e| e.to_string()),
        }
    }
}

/// Why a body was not decoded, found off the runtime's threads.
enum Fail {
    TooLarge,
    Bad(String),
    Busy,
}

/// Reads, inflates and decodes a body within the limits: a place among
/// the bodies read at once (503 without one), its wire size charged before
/// it is read, its inflated size chunk by chunk, its decoding's estimate
/// before decoding (429 when a charge does not fit). The charge returned
/// is what the records take, held until the writer is done with them.
async fn take(
    fleet: &Arc<Fleet>,
    headers: &HeaderMap,
    body: Body,
    kind: Kind,
) -> Result<(records::Decoded, OwnedSemaphorePermit), Response> {
    let Some(_slot) = fleet.admit_body() else {
        return Err(refused(&Refused::Crowded));
    };
    let max = fleet.options().max_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => false,
        Some("gzip" | "x-gzip") => true,
        Some(_) => {
            return Err(refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Encoding must be gzip or none",
            ));
        }
    };
    // Unknown length: charge the most it may take until it is read.
    let Some(mut charge) = fleet.reserve(declared.map_or(max, |n| n as usize)) else {
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
    fleet.budget().resize(&mut charge, raw.len());
    let Some(turn) = fleet.decode_turn().await else {
        return Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, "decoding failed"));
    };
    let f = Arc::clone(fleet);
    let decoded = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let budget = f.budget();
        let data = if gzip {
            inflate(&raw, max, budget, &mut charge)?
        } else {
            raw
        };
        if !budget.resize(&mut charge, budget::decode_cost(&data, kind.protobuf())) {
            return Err(Fail::Busy);
        }
        let decoded = kind.decode(&data).map_err(Fail::Bad)?;
        drop(data);
        // Only the records stay until the writer is done with them.
        budget.resize(&mut charge, budget::records_cost(&decoded.records));
        Ok((decoded, charge))
    })
    .await;
    match decoded {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(Fail::TooLarge)) => Err(too_large(max)),
        Ok(Err(Fail::Bad(why))) => Err(refuse(StatusCode::BAD_REQUEST, &why)),
        Ok(Err(Fail::Busy)) => Err(refused(&Refused::Busy)),
        Err(_) => Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, "decoding failed")),
    }
}

/// Inflates a gzip body, charging what it inflates to before keeping it;
/// over `max` inflated bytes it is too large.
fn inflate(
    raw: &[u8],
    max: usize,
    budget: &budget::Budget,
    charge: &mut OwnedSemaphorePermit,
) -> Result<Bytes, Fail> {
    let mut decoder = flate2::read::MultiGzDecoder::new(raw);
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(Fail::Bad("the gzip body does not decode".into())),
        };
        if out.len() + n > max {
            return Err(Fail::TooLarge);
        }
        // The vector may double: charge its next capacity before it grows.
        let next = (out.len() + n).max(out.capacity()).next_power_of_two();
        if !budget.resize(charge, raw.len() + next) {
            return Err(Fail::Busy);
        }
        out.extend_from_slice(&chunk[..n]);
    }
    Ok(Bytes::from(out))
}

/// `POST /api/ingest`.
async fn ingest(State(fleet): State<Arc<Fleet>>, headers: HeaderMap, body: Body) -> Response {
    let answer = ingest_batch(&fleet, &headers, body).await;
    fleet
        .counters
        .answered(Receiver::Ingest, answer.status().as_u16());
    answer
}

async fn ingest_batch(fleet: &Arc<Fleet>, headers: &HeaderMap, body: Body) -> Response {
    let (decoded, charge) = match take(fleet, headers, body, Kind::Ingest).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let rejected = decoded.rejected;
    let received = decoded.records.len() as u64 + rejected;
    fleet.counters.received(Receiver::Ingest, received);
    match fleet.submit(decoded.records, Some(charge)).await {
        Ok(a) => {
            fleet
                .counters
                .stored(Receiver::Ingest, a.records, rejected, a.deduplicated);
            axum::Json(serde_json::json!({
                "accepted": a.records,
                "rejected": rejected,
                "deduplicated": a.deduplicated,
                "events": a.events,
                "duplicate": a.duplicate,
            }))
            .into_response()
        }
        Err(e) => refused(&e),
    }
}

/// `POST /v1/logs`.
async fn otlp_logs(State(fleet): State<Arc<Fleet>>, headers: HeaderMap, body: Body) -> Response {
    let answer = otlp_batch(&fleet, &headers, body).await;
    fleet
        .counters
        .answered(Receiver::Otlp, answer.status().as_u16());
    answer
}

async fn otlp_batch(fleet: &Arc<Fleet>, headers: &HeaderMap, body: Body) -> Response {
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
    let (decoded, charge) = match take(fleet, headers, body, Kind::Otlp(encoding)).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let rejected = decoded.rejected;
    let received = decoded.records.len() as u64 + rejected;
    fleet.counters.received(Receiver::Otlp, received);
    match fleet.submit(decoded.records, Some(charge)).await {
        Ok(a) => {
            fleet
                .counters
                .stored(Receiver::Otlp, a.records, rejected, a.deduplicated);
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(encoding.content_type()),
                )],
                otlp::response(rejected, encoding),
            )
                .into_response()
        }
        Err(e) => refused(&e),
    }
}
