//! Generic JSON lines: one JSON object per line carrying an OAuth `error`
//! and/or `error_description` (at the top level or one object down, as app
//! loggers nest them: `{"msg":"token refresh failed","error":{...}}`), and
//! Auth0 tenant log events (`{"type":"fertft","description":...}`).
//!
//! Invariants: a line that is not a JSON object is `Unknown`, and so is an
//! object another parser owns (Hydra: `audience` + `service_name`; Keycloak:
//! `loggerName`; lograge: `controller` + `action`; Serilog CLEF: `@mt`, or `@t` + `@m`), so
//! detection picks those parsers. An object without anything of OAuth
//! interest is `Skipped` after one automaton pass, before any JSON parsing.
//! Fields are read from the redacted line only.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use chrono::{TimeZone, Utc};
use serde_json::{Map, Value};

use crate::common;
use crate::event::{Event, EventKind, ServerKind, TimeBasis, Timestamp};
use crate::format::Format;
use crate::formats::client_records;
use crate::grant::GrantType;
use crate::parser::{Context, LineParser, Outcome, redact_and_parse};

/// Parser state for this format (none: every line stands alone).
#[derive(Debug, Default)]
pub struct JsonLinesParser {}

impl LineParser for JsonLinesParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let t = line.trim();
        if !t.starts_with('{') || !t.ends_with('}') || owned_by_other_parser(t) {
            return Outcome::Unknown;
        }
        if !INTEREST.is_match(t) {
            return Outcome::Skipped;
        }
        match redact_and_parse(line_no, line, ctx, ctx, parse) {
            Some(ev) => {
                out.push(ev);
                Outcome::Parsed
            }
            None if serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok() => Outcome::Skipped,
            None => Outcome::Unknown,
        }
    }

    fn flush<'a>(&mut self, _ctx: &Context, _out: &mut Vec<Event<'a>>) {}

    // One line, one record: nothing carries from a line to the next.
    fn at_rest(&self) -> bool {
        true
    }
}

static INTEREST: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::new([
        "\"error",
        "\"errorCode\"",
        "\"errorMessage\"",
        "\"type\"",
        "\"grant_type\"",
        "invalid_grant",
        "AADSTS",
    ])
    .unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
});

fn has_key(t: &str, key: &str) -> bool {
    memchr::memmem::find(t.as_bytes(), key.as_bytes()).is_some()
}

/// Objects other parsers read (see the module docs).
fn owned_by_other_parser(t: &str) -> bool {
    has_key(t, "\"loggerName\"")
        || (has_key(t, "\"audience\"") && has_key(t, "\"service_name\""))
        || (has_key(t, "\"controller\"") && has_key(t, "\"action\""))
        || has_key(t, "\"@mt\"")
        || (has_key(t, "\"@t\"") && has_key(t, "\"@m\""))
}

fn parse<'t>(text: &'t str, ctx: &Context) -> Option<Event<'t>> {
    let value: Value = serde_json::from_str(text.trim()).ok()?;
    let obj = value.as_object()?;
    let mut ev = auth0_event(obj)
        .or_else(|| app_error(text))
        .or_else(|| token_request(obj))?;
    ev.ts = ev.ts.or_else(|| time_of(obj, ctx));
    ev.request_id = ev
        .request_id
        .or_else(|| text_of(obj, common::REQUEST_ID_KEYS));
    ev.client_id = ev
        .client_id
        .or_else(|| text_of(obj, &["client_id", "clientId"]));
    ev.grant_type = ev.grant_type.or_else(|| {
        text_of(obj, &["grant_type", "grantType"])
            .as_deref()
            .map(GrantType::from_name)
    });
    ev.method = text_of(obj, &["method"]);
    ev.ip = ev
        .ip
        .or_else(|| text_of(obj, &["ip", "client_ip", "remote_ip"]));
    ev.user_agent = ev
        .user_agent
        .or_else(|| text_of(obj, &["user_agent", "userAgent"]));
    ev.user = ev
        .user
        .or_else(|| text_of(obj, &["user_id", "userId", "sub"]));
    if let Some(url) = text_of(obj, &["path", "url", "token_endpoint"]) {
        ev.server = ev.server.or_else(|| client_records::server_from_url(&url));
        ev.path = Some(Cow::Owned(common::split_url(&url).0.to_owned()));
    }
    Some(ev)
}

/// A string (or number) field among `keys`, at the top level.
fn text_of(obj: &Map<String, Value>, keys: &[&str]) -> Option<Cow<'static, str>> {
    keys.iter().find_map(|k| match obj.get(*k)? {
        Value::String(s) if !s.is_empty() => Some(Cow::Owned(s.clone())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    })
}

/// `time` / `timestamp` / `ts` / `@timestamp` / `date`: RFC 3339 text or
/// epoch milliseconds (seconds when the number is small).
fn time_of(obj: &Map<String, Value>, ctx: &Context) -> Option<Timestamp> {
    ["time", "timestamp", "ts", "@timestamp", "date"]
        .iter()
        .find_map(|k| match obj.get(*k)? {
            Value::String(s) => common::timestamp(s, ctx).map(|(ts, _)| ts),
            Value::Number(n) => epoch(n.as_f64()?),
            _ => None,
        })
}

fn epoch(n: f64) -> Option<Timestamp> {
    let millis = if n > 1e11 { n } else { n * 1000.0 };
    if !(0.0..=1e15).contains(&millis) {
        return None;
    }
    let utc = Utc.timestamp_millis_opt(millis as i64).single()?;
    Some(Timestamp {
        utc,
        basis: TimeBasis::Zoned,
    })
}

/// Auth0 tenant log event types of the token endpoint (catalog 8.1): type,
/// grant type, whether it failed, and the OAuth error its failure means.
const AUTH0_TYPES: &[(&str, &str, bool, Option<&str>)] = &[
    ("feacft", "authorization_code", true, Some("invalid_grant")),
    ("fertft", "refresh_token", true, Some("invalid_grant")),
    ("ferrt", "refresh_token", true, Some("invalid_grant")),
    ("fepft", "password", true, Some("invalid_grant")),
    ("feccft", "client_credentials", true, None),
    (
        "feotpft",
        "http://auth0.com/oauth/grant-type/mfa-otp",
        true,
        None,
    ),
    (
        "feoobft",
        "http://auth0.com/oauth/grant-type/mfa-oob",
        true,
        None,
    ),
    (
        "fercft",
        "http://auth0.com/oauth/grant-type/mfa-recovery-code",
        true,
        None,
    ),
    ("seacft", "authorization_code", false, None),
    ("sertft", "refresh_token", false, None),
    ("seccft", "client_credentials", false, None),
    ("sepft", "password", false, None),
    ("srrt", "refresh_token", false, None),
];

fn auth0_event(obj: &Map<String, Value>) -> Option<Event<'static>> {
    let ty = obj.get("type")?.as_str()?;
    let (_, grant, failed, error) = AUTH0_TYPES.iter().find(|(t, ..)| *t == ty)?;
    if !(obj.contains_key("log_id") || obj.contains_key("date") || obj.contains_key("client_id")) {
        return None;
    }
    let kind = if ty == "srrt" {
        EventKind::RevokeRequest
    } else {
        EventKind::TokenResponse
    };
    let mut ev = Event::new(kind, Format::JsonLines);
    ev.server = Some(ServerKind::Auth0);
    ev.provider_code = Some(Cow::Owned(ty.to_owned()));
    ev.provider_reason = text_of(obj, &["description"]);
    ev.grant_type = Some(GrantType::from_name(grant));
    ev.error = error.map(Cow::Borrowed);
    if !failed && kind == EventKind::TokenResponse {
        // Auth0 writes s* exchange events only for successful 200 answers.
        ev.status = Some(200);
    }
    ev.user = text_of(obj, &["user_id", "user_name"]);
    Some(ev)
}

/// An app's log object that carries an OAuth error anywhere in it (at the
/// top level, nested, or as a response body inside a message string).
fn app_error(text: &str) -> Option<Event<'_>> {
    let found = crate::extract::extract(text)?;
    let mut ev = Event::new(EventKind::ClientError, Format::JsonLines);
    crate::extract::apply(&mut ev, found);
    Some(ev)
}

/// An app's log of the token request it sends (`grant_type` and the
/// parameters; the redacted secrets give the fingerprints).
fn token_request(obj: &Map<String, Value>) -> Option<Event<'static>> {
    obj.get("grant_type")?.as_str()?;
    let mut ev = Event::new(EventKind::TokenRequest, Format::JsonLines);
    ev.redirect_uri = text_of(obj, &["redirect_uri", "redirectUri"]);
    Some(ev)
}

#[cfg(test)]
mod tests;
