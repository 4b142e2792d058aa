//! JSON objects anywhere in a record: a response body after a prefix
//! (`Response: {…}`, `AuthorizationException: {…}`), a whole JSON log line,
//! objects nested in objects (`{"err":{"error":…}}`, Hydra's
//! `"error":{"message":…,"reason":…}`), and JSON carried inside a JSON string
//! (`"msg":"… Response: {\"error\":…}"`), read once the outer string is
//! decoded.
//!
//! Invariants: at most [`MAX_ATTEMPTS`] parse attempts per record, each
//! linear in the text, and [`MAX_DEPTH`] levels of nesting; values are read
//! only from keys an OAuth error is written under.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::json_pruned::Pruned;
use super::oauth_error::{OAuthError, is_error_code};

/// Parse attempts per record (an attempt starts at a `{` that opens a key).
const MAX_ATTEMPTS: usize = 32;
/// Levels of objects, arrays and JSON-in-string followed.
const MAX_DEPTH: usize = 8;

/// The OAuth error of the JSON objects in `text` (every field empty when
/// there is none).
pub(super) fn scan(text: &str) -> OAuthError<'static> {
    let mut found = OAuthError::default();
    let mut attempts = MAX_ATTEMPTS;
    scan_into::<true>(text, &mut found, 0, &mut attempts);
    found
}

/// [`scan`] over objects read whole: what the pruned read is held to.
#[cfg(test)]
pub(super) fn scan_whole(text: &str) -> OAuthError<'static> {
    let mut found = OAuthError::default();
    let mut attempts = MAX_ATTEMPTS;
    scan_into::<false>(text, &mut found, 0, &mut attempts);
    found
}

/// The first JSON value of `text` and where it ends: pruned
/// (`json_pruned.rs`) or whole.
fn first_value<const PRUNED: bool>(text: &str) -> Option<(Value, usize)> {
    if PRUNED {
        first::<Pruned>(text).map(|(Pruned(value), end)| (value, end))
    } else {
        first::<Value>(text)
    }
}

/// The first JSON value of `text` read as a `T`, and where it ends.
fn first<'t, T: serde::Deserialize<'t>>(text: &'t str) -> Option<(T, usize)> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<T>();
    let value = stream.next()?.ok()?;
    Some((value, stream.byte_offset()))
}

fn scan_into<const PRUNED: bool>(
    text: &str,
    found: &mut OAuthError<'static>,
    depth: usize,
    attempts: &mut usize,
) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'{', &bytes[from..]) {
        let start = from + p;
        from = start + 1;
        let rest = &text[start..];
        // Only where an object with a key starts: `{"`, `{ "`, `{\n  "`.
        if !rest[1..].trim_start().starts_with('"') {
            continue;
        }
        if *attempts == 0 {
            return;
        }
        *attempts -= 1;
        if let Some((value, end)) = first_value::<PRUNED>(rest) {
            walk::<PRUNED>(&value, found, depth, attempts);
            from = start + end.max(1);
        }
    }
}

fn walk<const PRUNED: bool>(
    value: &Value,
    found: &mut OAuthError<'static>,
    depth: usize,
    attempts: &mut usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            read_object(map, found);
            for child in map.values() {
                walk::<PRUNED>(child, found, depth + 1, attempts);
            }
            // `hint`, `reason` and a status belong to the error only in an
            // object that carries one (here or below): a bare `reason` is
            // any app's word.
            if found.is_error() {
                set(&mut found.hint, string(map, &["hint", "reason"]));
                found.status = found.status.or_else(|| status(map));
            }
        }
        Value::Array(items) => {
            for item in items.iter().take(64) {
                walk::<PRUNED>(item, found, depth + 1, attempts);
            }
        }
        Value::String(s) if s.contains('{') => scan_into::<PRUNED>(s, found, depth + 1, attempts),
        _ => {}
    }
}

fn set(slot: &mut Option<Cow<'static, str>>, value: Option<&str>) {
    if slot.is_none()
        && let Some(v) = value.map(str::trim).filter(|v| !v.is_empty())
    {
        *slot = Some(Cow::Owned(v.to_owned()));
    }
}

fn string<'v>(map: &'v Map<String, Value>, keys: &[&str]) -> Option<&'v str> {
    keys.iter()
        .find_map(|k| map.get(*k).and_then(Value::as_str))
        .filter(|s| !s.trim().is_empty())
}

const DESCRIPTION_KEYS: &[&str] = &[
    "error_description",
    "errorDescription",
    "error_message",
    "errorMessage",
    "errorSummary",
];
const SUB_ERROR_KEYS: &[&str] = &["sub_error", "suberror", "subError", "error_subtype"];
const CODE_KEYS: &[&str] = &["error_code", "errorCode"];
const STATUS_KEYS: &[&str] = &[
    "status",
    "statusCode",
    "status_code",
    "http_status",
    "httpStatus",
];

/// The fields of one object, written into the slots still empty.
fn read_object(map: &Map<String, Value>, found: &mut OAuthError<'static>) {
    match map.get("error") {
        Some(Value::String(e)) if is_error_code(e.trim()) => set(&mut found.error, Some(e)),
        Some(Value::Object(inner)) => read_error_object(inner, found),
        _ => {}
    }
    // Hydra's error object printed alone: `{"message":"invalid_request",
    // "reason":…,"status_code":400}`.
    if let Some(Value::String(m)) = map.get("message")
        && crate::providers::is_oauth_error(m)
    {
        set(&mut found.error, Some(m));
    }
    set(&mut found.description, string(map, DESCRIPTION_KEYS));
    // A .NET structured log event (Serilog JSON, CLEF): its template holds
    // the server's own words.
    if found.description.is_none()
        && let Some(words) = string(map, &["MessageTemplate", "@mt", "RenderedMessage", "@m"])
            .and_then(super::keys::template_words)
    {
        found.description = Some(Cow::Owned(words));
    }
    set(&mut found.sub_error, string(map, SUB_ERROR_KEYS));
    set(&mut found.uri, string(map, &["error_uri", "errorUri"]));
    for key in CODE_KEYS {
        match map.get(*key) {
            Some(Value::String(c)) if is_error_code(c) => set(&mut found.error, Some(c)),
            Some(Value::String(c)) => set(&mut found.provider_code, Some(c)),
            Some(Value::Number(n)) => set(&mut found.provider_code, Some(&n.to_string())),
            _ => {}
        }
    }
    if let Some(n) = map
        .get("error_codes")
        .and_then(|c| c.get(0))
        .and_then(Value::as_u64)
    {
        set(&mut found.provider_code, Some(&format!("AADSTS{n}")));
    }
}

/// Hydra's and Facebook's `"error": {…}` objects: the code under `message`,
/// `code` or `name` (or a sentence under `message`), with `reason`, `hint`
/// and a status beside it.
fn read_error_object(inner: &Map<String, Value>, found: &mut OAuthError<'static>) {
    for key in ["message", "name", "code", "error", "type"] {
        if let Some(Value::String(s)) = inner.get(key)
            && is_error_code(s)
        {
            set(&mut found.error, Some(s));
        }
    }
    if let Some(Value::String(m)) = inner.get("message")
        && !is_error_code(m)
    {
        set(&mut found.description, Some(m));
    }
    set(&mut found.description, string(inner, &["description"]));
    set(&mut found.hint, string(inner, &["reason", "hint"]));
    found.status = found.status.or_else(|| status(inner));
}

fn status(map: &Map<String, Value>) -> Option<u16> {
    STATUS_KEYS
        .iter()
        .find_map(|k| match map.get(*k)? {
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .filter(|s| (100..600).contains(s))
}
