//! Rails lograge request lines: the default key=value formatter
//! (`method=POST path=/oauth/token format=*/* controller=… action=create
//! status=400 duration=12.84 view=0.17 db=2.91`, plus any `custom_options`
//! such as `request_id=`, `client_id=`, `params={…}`) and the JSON formatter
//! (`{"method":"POST","path":"/oauth/token",…,"status":400}`), bare or behind
//! a Ruby Logger prefix, request-id tags, or a leading timestamp.
//!
//! rails_semantic_logger's JSON formatter writes the same request summary as
//! the `payload` of its `Completed #action` record
//! (`{"timestamp":…,"level_index":2,"named_tags":{"request_id":…},
//! "name":"Doorkeeper::TokensController","message":"Completed #create",
//! "payload":{"method":"POST","path":"/oauth/token","status":400,…}}`); its
//! other records (SQL, `Started`, renders) are this format's too, skipped.
//!
//! One line is one request, so there is no state. A line is lograge when it
//! has `method`, `path` and `status` (JSON: as top-level keys); the path is
//! checked for `/oauth/` before anything is redacted or allocated, so other
//! requests are `Skipped` fast. Plain Rails request lines (`Started …`) are
//! never claimed: they are the Rails parser's.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use crate::common::{query_param, quoted_value, split_url, timestamp};
use crate::event::{Event, EventKind, ServerKind, Timestamp};
use crate::formats::rails::{Endpoint, Parts};
use crate::grant::GrantType;
use crate::parser::{Context, LineParser, Outcome, push_or_skip, redact_and_parse};

/// Stateless: every lograge line is a whole request.
#[derive(Debug, Default)]
pub struct LogrageParser {}

impl LineParser for LogrageParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let (_, body, _) = split(line, ctx, false);
        let path = if body.starts_with('{') {
            json_head(body)
        } else {
            kv_head(body)
        };
        let Some(path) = path else {
            return if is_semantic_logger(body) {
                Outcome::Skipped
            } else {
                Outcome::Unknown
            };
        };
        if Endpoint::from_path(split_url(&path).0).is_none() {
            return Outcome::Skipped;
        }
        push_or_skip(out, redact_and_parse(line_no, line, ctx, ctx, parse_line))
    }

    fn flush<'a>(&mut self, _ctx: &Context, _out: &mut Vec<Event<'a>>) {}

    // One line, one record: nothing carries from a line to the next.
    fn at_rest(&self) -> bool {
        true
    }
}

/// Strips a leading timestamp, a Logger prefix and tags. Returns the time
/// (leading timestamp first, else the Logger's, parsed only when asked),
/// the message, and the request id among the tags.
fn split<'t>(
    line: &'t str,
    ctx: &Context,
    want_time: bool,
) -> (Option<Timestamp>, &'t str, Option<&'t str>) {
    let mut time = None;
    let mut rest = line;
    if line.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && let Some((ts, after)) = timestamp(line, ctx)
    {
        time = Some(ts);
        rest = after.trim_start();
    }
    let parts = Parts::split(rest);
    if want_time && time.is_none() {
        time = parts.logger_time.and_then(|t| Some(timestamp(t, ctx)?.0));
    }
    (time, parts.body, parts.request_id())
}

/// The path of a key=value lograge line (`method=`, `path=` and `status=`
/// all present as keys), without allocating.
fn kv_head(body: &str) -> Option<Cow<'_, str>> {
    if !(body.starts_with("method=") || has_key(body, "method")) {
        return None;
    }
    if !has_key(body, "status") && !has_key(body, "controller") {
        return None;
    }
    kv_value(body, "path").map(Cow::Borrowed)
}

fn has_key(body: &str, key: &str) -> bool {
    kv_value(body, key).is_some()
}

/// The value of ` key=` in a key=value line: up to the next space, or a
/// whole `'…'`, `"…"`, `{…}` or `[…]` group.
fn kv_value<'t>(body: &'t str, key: &str) -> Option<&'t str> {
    let b = body.as_bytes();
    let mut from = 0;
    while let Some(pos) = memchr::memmem::find(&b[from..], key.as_bytes()) {
        let start = from + pos;
        let eq = start + key.len();
        from = eq;
        let at_token = start == 0 || b[start - 1] == b' ';
        if !at_token || b.get(eq) != Some(&b'=') {
            continue;
        }
        let v = eq + 1;
        let end = group_end(b, v);
        let value = &body[v..end];
        return Some(match b.get(v) {
            // The last byte may end a multi-byte character (an unclosed
            // quote): the value is then kept as it stands.
            Some(b'\'' | b'"') if value.len() >= 2 => {
                value.get(1..value.len() - 1).unwrap_or(value)
            }
            _ => value,
        });
    }
    None
}

/// Where a value starting at `v` ends (exclusive).
fn group_end(b: &[u8], v: usize) -> usize {
    let until_space = || memchr::memchr(b' ', &b[v..]).map_or(b.len(), |p| v + p);
    match b.get(v) {
        Some(&q @ (b'\'' | b'"')) => memchr::memchr(q, &b[v + 1..]).map_or(b.len(), |p| v + p + 2),
        Some(&open @ (b'{' | b'[')) => {
            let close = if open == b'{' { b'}' } else { b']' };
            let mut depth = 0usize;
            let mut quoted = false;
            let mut i = v;
            while i < b.len() {
                match b[i] {
                    b'\\' if quoted => i += 1,
                    b'"' => quoted = !quoted,
                    c if !quoted && c == open => depth += 1,
                    c if !quoted && c == close => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            until_space()
        }
        _ => until_space(),
    }
}

/// The top-level keys a JSON lograge line must have (or its `payload`'s,
/// for rails_semantic_logger).
#[derive(Deserialize)]
struct Head<'a> {
    method: Option<IgnoredAny>,
    #[serde(borrow)]
    path: Option<Cow<'a, str>>,
    status: Option<IgnoredAny>,
    controller: Option<IgnoredAny>,
    #[serde(borrow)]
    payload: Option<Box<Head<'a>>>,
}

impl<'a> Head<'a> {
    fn path(self) -> Option<Cow<'a, str>> {
        let ok = self.method.is_some() && (self.status.is_some() || self.controller.is_some());
        if ok { self.path } else { None }
    }
}

/// The path of a JSON lograge line (top-level `method`, `path`, and
/// `status` or `controller`), or of a rails_semantic_logger request record
/// (the same keys in its `payload`).
fn json_head(body: &str) -> Option<Cow<'_, str>> {
    let head: Head<'_> = serde_json::from_str(body).ok()?;
    if head.method.is_none()
        && let Some(payload) = head.payload
    {
        return payload.path();
    }
    head.path()
}

/// A rails_semantic_logger JSON record (checked on bytes only).
fn is_semantic_logger(body: &str) -> bool {
    let has = |k: &[u8]| memchr::memmem::find(body.as_bytes(), k).is_some();
    body.starts_with('{') && has(b"\"level_index\":") && has(b"\"name\":")
}

/// A rails_semantic_logger record as a lograge object: the payload's keys,
/// the record's `timestamp`, and its `request_id` named tag (or first tag).
fn flatten_semantic(mut map: Map<String, Value>) -> Map<String, Value> {
    let Some(Value::Object(mut payload)) = map.remove("payload") else {
        return map;
    };
    if map.contains_key("method") {
        return map;
    }
    if let Some(t) = map.remove("timestamp") {
        payload.entry("timestamp").or_insert(t);
    }
    let tag = map
        .get("named_tags")
        .and_then(|t| t.get("request_id"))
        .or_else(|| map.get("tags").and_then(|t| t.get(0)))
        .cloned();
    if let Some(id) = tag {
        payload.entry("request_id").or_insert(id);
    }
    payload
}

/// Parses a redacted lograge line of an OAuth endpoint.
fn parse_line<'t>(text: &'t str, ctx: &Context) -> Option<Event<'t>> {
    let (ts, body, tag_id) = split(text, ctx, true);
    let mut e = if body.starts_with('{') {
        let map: Map<String, Value> = serde_json::from_str(body).ok()?;
        from_json(&flatten_semantic(map), ctx)?
    } else {
        from_kv(body, ctx)?
    };
    if e.ts.is_none() {
        e.ts = ts;
    }
    if e.request_id.is_none() {
        e.request_id = tag_id.map(Cow::Borrowed);
    }
    Some(e)
}

/// Fields common to both shapes, read through `get` (a key lookup).
fn build<'t>(get: &dyn Fn(&str) -> Option<Cow<'t, str>>, ctx: &Context) -> Option<Event<'t>> {
    let path_full = get("path")?;
    let (path, _) = split_url(&path_full);
    let endpoint = Endpoint::from_path(path)?;
    let path: Cow<'t, str> = match &path_full {
        Cow::Borrowed(p) => Cow::Borrowed(split_url(p).0),
        Cow::Owned(_) => Cow::Owned(path.to_owned()),
    };
    let status = get("status").and_then(|s| s.trim().parse::<u16>().ok());
    let location = get("location");
    let has_code = location
        .as_deref()
        .and_then(|l| split_url(l).1)
        .is_some_and(|q| query_param(q, "code").is_some());
    let kind = match endpoint {
        Endpoint::Token if status.is_some() => EventKind::TokenResponse,
        Endpoint::Token => EventKind::TokenRequest,
        Endpoint::Revoke => EventKind::RevokeRequest,
        Endpoint::Authorize if has_code => EventKind::CodeIssued,
        Endpoint::Authorize => EventKind::AuthorizeRequest,
    };
    let mut e = Event::new(kind, crate::Format::Lograge);
    e.server = Some(ServerKind::Doorkeeper);
    e.method = get("method");
    e.path = Some(path);
    e.status = status;
    e.request_id = first(get, &["request_id", "requestId", "x_request_id", "uuid"]);
    e.client_id = get("client_id");
    e.grant_type = get("grant_type").as_deref().map(GrantType::from_name);
    e.redirect_uri = get("redirect_uri");
    e.code_challenge = get("code_challenge");
    e.code_challenge_method = get("code_challenge_method");
    e.ip = first(get, &["remote_ip", "ip", "client_ip"]);
    e.user = first(get, &["user_id", "username"]);
    e.provider_reason = first(get, &["error", "exception"]);
    e.ts = first(get, &["@timestamp", "timestamp", "time", "ts"])
        .and_then(|t| Some(timestamp(&t, ctx)?.0));
    if let Some(q) = location.as_deref().and_then(|l| split_url(l).1) {
        e.error = query_param(q, "error").map(|v| Cow::Owned(v.into_owned()));
    }
    Some(e)
}

fn first<'t>(get: &dyn Fn(&str) -> Option<Cow<'t, str>>, keys: &[&str]) -> Option<Cow<'t, str>> {
    keys.iter().find_map(|k| get(k)).filter(|v| !v.is_empty())
}

/// The params a `custom_options` block logged, when the line has them:
/// fill what the top-level fields did not, and note a missing verifier.
fn apply_params(e: &mut Event<'_>, params: &str) {
    for (slot, key) in [
        (&mut e.client_id, "client_id"),
        (&mut e.redirect_uri, "redirect_uri"),
        (&mut e.code_challenge, "code_challenge"),
        (&mut e.code_challenge_method, "code_challenge_method"),
    ] {
        if slot.is_none() {
            *slot = quoted_value(params, key).map(|v| Cow::Owned(v.into_owned()));
        }
    }
    if e.grant_type.is_none() {
        e.grant_type = quoted_value(params, "grant_type")
            .as_deref()
            .map(GrantType::from_name);
    }
    let has_verifier = memchr::memmem::find(params.as_bytes(), b"\"code_verifier\"").is_some();
    if e.kind == EventKind::TokenResponse
        && e.grant_type == Some(GrantType::AuthorizationCode)
        && !has_verifier
    {
        e.verifier_sent = Some(false);
    }
}

fn from_kv<'t>(body: &'t str, ctx: &Context) -> Option<Event<'t>> {
    let get = |k: &str| kv_value(body, k).map(Cow::Borrowed);
    let mut e = build(&get, ctx)?;
    if let Some(params) = kv_value(body, "params") {
        apply_params(&mut e, params);
    }
    Some(e)
}

fn from_json<'t>(map: &Map<String, Value>, ctx: &Context) -> Option<Event<'t>> {
    let get = |k: &str| -> Option<Cow<'t, str>> {
        match map.get(k)? {
            Value::String(s) => Some(Cow::Owned(s.clone())),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            _ => None,
        }
    };
    let mut e = build(&get, ctx)?;
    match map.get("params") {
        Some(Value::String(s)) => apply_params(&mut e, s),
        Some(p @ Value::Object(_)) => apply_params(&mut e, &p.to_string()),
        _ => {}
    }
    Some(e)
}

#[cfg(test)]
mod tests;
