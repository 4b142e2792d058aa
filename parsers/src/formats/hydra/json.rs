//! Hydra's JSON lines (logrus `JSONFormatter`): the logrusx shape with nested
//! `error`, `http_request`, `http_response` and `otel` objects, and the old
//! flat fosite shape (`error` a string beside `description`, `hint`, `debug`).
//!
//! Strings borrow from the (redacted) line unless JSON escapes forced a copy.

use std::borrow::Cow;

use serde::Deserialize;

use super::json_fast;
use super::record::{ErrorInfo, Record};

/// A string that borrows from the input when it holds no escape.
#[derive(Debug)]
struct Str<'t>(Cow<'t, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

fn s(v: Option<Str<'_>>) -> Option<Cow<'_, str>> {
    v.map(|s| s.0)
}

/// A status code written as a number (or, defensively, a string).
fn status(v: Option<&serde_json::Value>) -> Option<u16> {
    let v = v?;
    let n = v
        .as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
    u16::try_from(n).ok()
}

#[derive(Deserialize)]
struct Line<'t> {
    #[serde(borrow, default)]
    time: Option<Str<'t>>,
    #[serde(borrow, default)]
    msg: Option<Str<'t>>,
    #[serde(borrow, default)]
    error: Option<ErrorField<'t>>,
    #[serde(borrow, default)]
    http_request: Option<Request<'t>>,
    #[serde(default)]
    http_response: Option<Response>,
    #[serde(borrow, default)]
    otel: Option<Otel<'t>>,
    // The old flat shape.
    #[serde(borrow, default)]
    debug: Option<Str<'t>>,
    #[serde(borrow, default)]
    description: Option<Str<'t>>,
    #[serde(borrow, default)]
    hint: Option<Str<'t>>,
    #[serde(default)]
    status_code: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField<'t> {
    Object(#[serde(borrow)] ErrorObject<'t>),
    Text(#[serde(borrow)] Str<'t>),
}

#[derive(Deserialize)]
struct ErrorObject<'t> {
    #[serde(borrow, default)]
    message: Option<Str<'t>>,
    #[serde(borrow, default)]
    reason: Option<Str<'t>>,
    #[serde(borrow, default)]
    debug: Option<Str<'t>>,
    #[serde(default)]
    status_code: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Request<'t> {
    #[serde(borrow, default)]
    headers: Option<Headers<'t>>,
    #[serde(borrow, default)]
    method: Option<Str<'t>>,
    #[serde(borrow, default)]
    path: Option<Str<'t>>,
    #[serde(borrow, default)]
    query: Option<Str<'t>>,
    #[serde(borrow, default)]
    remote: Option<Str<'t>>,
}

#[derive(Deserialize)]
struct Headers<'t> {
    #[serde(borrow, default, rename = "user-agent")]
    user_agent: Option<Str<'t>>,
    #[serde(borrow, default, rename = "x-request-id")]
    request_id: Option<Str<'t>>,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    status: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Otel<'t> {
    #[serde(borrow, default)]
    trace_id: Option<Str<'t>>,
}

/// Reads one JSON line; `None` when it is not valid JSON of these shapes.
/// The one-pass reader reads nearly every line; `serde_json` is the judge
/// of any it calls unusual.
pub(super) fn parse(text: &str) -> Option<Record<'_>> {
    json_fast::parse(text)
        .ok()
        .or_else(|| parse_with_serde(text))
}

/// Reads one JSON line with `serde_json` and the structs above.
pub(super) fn parse_with_serde(text: &str) -> Option<Record<'_>> {
    let line: Line<'_> = serde_json::from_str(text).ok()?;
    let mut rec = Record {
        time: s(line.time),
        msg: s(line.msg),
        trace_id: line.otel.and_then(|o| s(o.trace_id)),
        response_status: status(line.http_response.as_ref().and_then(|r| r.status.as_ref())),
        ..Record::default()
    };
    if let Some(req) = line.http_request {
        rec.method = s(req.method);
        rec.path = s(req.path);
        rec.query = s(req.query);
        rec.remote = s(req.remote);
        if let Some(h) = req.headers {
            rec.user_agent = s(h.user_agent);
            rec.request_id = s(h.request_id);
        }
    }
    rec.error = match line.error {
        Some(ErrorField::Object(e)) => Some(ErrorInfo {
            message: s(e.message),
            reason: s(e.reason),
            debug: s(e.debug),
            description: None,
            status_code: status(e.status_code.as_ref()),
        }),
        Some(ErrorField::Text(code)) => Some(ErrorInfo {
            message: Some(code.0),
            reason: s(line.hint),
            debug: s(line.debug),
            description: s(line.description),
            status_code: status(line.status_code.as_ref()),
        }),
        None => None,
    };
    Some(rec)
}
