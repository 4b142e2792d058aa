//! Hydra's default text lines: logrus `TextFormatter` with `DisableQuote`, so
//! values are written bare and may hold spaces, and nested maps are Go's
//! `fmt` rendering `map[k1:v1 k2:v2]` (keys sorted).
//!
//! With no quoting there is no unambiguous grammar; two facts make it
//! readable: a value never contains a space followed by `key=` outside
//! brackets at the top level, and inside a map the keys are known (or, for
//! headers, appear in increasing order). Brackets nest (`map[...]`, and the
//! `[ip]:port` of an IPv6 remote).

use std::borrow::Cow;

use super::record::{ErrorInfo, Record};

/// Top-level `key=value` pairs, in line order.
fn top_level(line: &str) -> Vec<(&str, &str)> {
    let starts = boundaries(line, b'=', |_, _| true);
    pairs(line, &starts, b'=')
}

/// Start offsets of the entries of `body`: offset 0 and every position after
/// a bracket-depth-0 space that begins `key<sep>` with `accept(prev, key)`.
fn boundaries(body: &str, sep: u8, accept: impl Fn(Option<&str>, &str) -> bool) -> Vec<usize> {
    let bytes = body.as_bytes();
    let mut starts = Vec::new();
    let mut prev: Option<&str> = None;
    if let Some(k) = key_at(body, 0, sep).filter(|k| accept(None, k)) {
        starts.push(0);
        prev = Some(k);
    }
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b' ' if depth == 0 => {
                if let Some(k) = key_at(body, i + 1, sep).filter(|k| accept(prev, k)) {
                    starts.push(i + 1);
                    prev = Some(k);
                }
            }
            _ => {}
        }
    }
    starts
}

/// The key at `at` if the text there is `[A-Za-z0-9_.-]+` followed by `sep`.
fn key_at(body: &str, at: usize, sep: u8) -> Option<&str> {
    let rest = body.get(at..)?;
    let len = rest
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'))?;
    (len > 0 && rest.as_bytes().get(len) == Some(&sep)).then(|| &rest[..len])
}

fn pairs<'t>(body: &'t str, starts: &[usize], sep: u8) -> Vec<(&'t str, &'t str)> {
    let mut out = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(body.len(), |&next| next - 1);
        let Some(entry) = body.get(start..end) else {
            continue;
        };
        if let Some(split) = entry.bytes().position(|b| b == sep) {
            out.push((&entry[..split], &entry[split + 1..]));
        }
    }
    out
}

/// The entries of a `map[...]` value. With `known`, only those keys start
/// an entry; without, any key greater than the previous one does.
fn map_entries<'t>(value: &'t str, known: Option<&[&str]>) -> Vec<(&'t str, &'t str)> {
    let Some(body) = value.strip_prefix("map[") else {
        return Vec::new();
    };
    let body = body.strip_suffix(']').unwrap_or(body);
    let starts = boundaries(body, b':', |prev, key| {
        prev.is_none_or(|p| key > p) && known.is_none_or(|k| k.contains(&key))
    });
    pairs(body, &starts, b':')
}

fn get<'t>(entries: &[(&str, &'t str)], key: &str) -> Option<&'t str> {
    entries.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// A bare value, or a quoted one (when quoting was not disabled).
fn value(raw: &str) -> Option<Cow<'_, str>> {
    let v = match raw.strip_prefix('"') {
        Some(body) => crate::common::unescape_until_quote(body),
        None => Cow::Borrowed(raw.trim_end()),
    };
    (!v.is_empty() && v != "<nil>").then_some(v)
}

const ERROR_KEYS: &[&str] = &[
    "debug",
    "details",
    "message",
    "reason",
    "request_id",
    "stack_trace",
    "status",
    "status_code",
    "trace",
];
const REQUEST_KEYS: &[&str] = &[
    "headers", "host", "method", "path", "query", "remote", "scheme",
];
const RESPONSE_KEYS: &[&str] = &["headers", "size", "status", "text_status", "took"];
const OTEL_KEYS: &[&str] = &["span_id", "trace_id"];

/// Reads one text line; `None` when it has no `msg`.
pub(super) fn parse(line: &str) -> Option<Record<'_>> {
    let top = top_level(line);
    let mut rec = Record {
        time: get(&top, "time").and_then(value),
        msg: Some(get(&top, "msg").and_then(value)?),
        ..Record::default()
    };
    if let Some(err) = get(&top, "error") {
        rec.error = Some(error(err));
    }
    if let Some(req) = get(&top, "http_request") {
        request(&mut rec, req);
    }
    if let Some(resp) = get(&top, "http_response") {
        let entries = map_entries(resp, Some(RESPONSE_KEYS));
        rec.response_status = get(&entries, "status").and_then(|s| s.trim().parse().ok());
    }
    if let Some(otel) = get(&top, "otel") {
        let entries = map_entries(otel, Some(OTEL_KEYS));
        rec.trace_id = get(&entries, "trace_id").and_then(value);
    }
    Some(rec)
}

/// `error=map[...]`, or a bare `error=<text>` from a plain `WithField`.
fn error(raw: &str) -> ErrorInfo<'_> {
    if !raw.starts_with("map[") {
        return ErrorInfo {
            message: value(raw),
            ..ErrorInfo::default()
        };
    }
    let entries = map_entries(raw, Some(ERROR_KEYS));
    ErrorInfo {
        message: get(&entries, "message").and_then(value),
        reason: get(&entries, "reason").and_then(value),
        debug: get(&entries, "debug").and_then(value),
        description: None,
        status_code: get(&entries, "status_code").and_then(|s| s.trim().parse().ok()),
    }
}

fn request<'t>(rec: &mut Record<'t>, raw: &'t str) {
    let entries = map_entries(raw, Some(REQUEST_KEYS));
    rec.method = get(&entries, "method").and_then(value);
    rec.path = get(&entries, "path").and_then(value);
    rec.query = get(&entries, "query").and_then(value);
    rec.remote = get(&entries, "remote").and_then(value);
    if let Some(headers) = get(&entries, "headers") {
        let h = map_entries(headers, None);
        rec.user_agent = get(&h, "user-agent").and_then(value);
        rec.request_id = get(&h, "x-request-id").and_then(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_maps_with_spaces_and_empty_values() {
        let line = "time=2020-09-18T22:06:37Z level=info msg=access denied audience=application error=map[debug: message:invalid_request reason:Request parameter 'grant_type' is missing status:Bad Request status_code:400] http_request=map[headers:map[accept-encoding:gzip user-agent:Go-http-client/2.0 x-forwarded-for:10.1.1.1, ::1] host:auth method:POST path:/oauth2/token query:<nil> remote:[::1]:54662 scheme:http] service_name= service_version=";
        let rec = parse(line).expect("record");
        assert_eq!(rec.msg.as_deref(), Some("access denied"));
        let err = rec.error.expect("error");
        assert_eq!(err.debug, None);
        assert_eq!(err.message.as_deref(), Some("invalid_request"));
        assert_eq!(
            err.reason.as_deref(),
            Some("Request parameter 'grant_type' is missing")
        );
        assert_eq!(err.status_code, Some(400));
        assert_eq!(rec.path.as_deref(), Some("/oauth2/token"));
        assert_eq!(rec.query, None);
        assert_eq!(rec.remote.as_deref(), Some("[::1]:54662"));
        assert_eq!(rec.user_agent.as_deref(), Some("Go-http-client/2.0"));
    }

    #[test]
    fn garbage_never_panics() {
        for line in [
            "time=",
            "msg=",
            "msg=x error=map[",
            "msg=x error=map[]]] http_request=map[headers:map[:",
            "msg=é error=map[message:é reason:ü]",
        ] {
            let _ = parse(line);
        }
    }
}
