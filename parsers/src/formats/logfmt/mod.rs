//! Structured text logs of Go and Rust programs:
//!
//! - logfmt as logrus, Go `log/slog`'s text handler, go-kit and Grafana write
//!   it: `time="…" level=error msg="…" error="…"` (Authelia, Dex, Grafana, and
//!   any app logging an OAuth client's error), values bare, quoted with Go
//!   escapes, or Go `map[k:v …]` ([`pairs`]);
//! - Rust `tracing-subscriber`'s default `fmt` output:
//!   `2025-03-11T09:41:07.318220Z ERROR span{a=1}: target: message key=value`.
//!
//! Servers' token endpoint refusals with fixed messages (Authelia, Dex) are
//! read by [`servers`]; any other line whose message or error fields name an
//! OAuth error (`oauth2: "invalid_grant" "…"`, `oauth2: cannot fetch token:
//! 400 Bad Request\nResponse: {…}`, the Rust `oauth2` crate's
//! `StandardErrorResponse { error: InvalidGrant, … }`, an AADSTS text) is a
//! client error.
//!
//! Invariants: the shape is decided on the raw line without allocating, and
//! Ory Hydra's own logrus lines (`audience=application`) are left to the
//! Hydra parser; a line of neither OAuth marker is `Skipped` after one
//! automaton pass; fields are read from the redacted line only.

pub(crate) mod heroku_router;
mod pairs;
mod servers;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use memchr::memmem;

use crate::common;
use crate::event::{Event, EventKind};
use crate::format::Format;
use crate::formats::client_records;
use crate::grant::GrantType;
use crate::parser::{Context, LineParser, Outcome, push_or_skip, redact_and_parse};

use pairs::Pair;

/// Stateless: every record is one line.
#[derive(Debug, Default)]
pub struct LogfmtParser {}

/// The two line shapes of this format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Logfmt,
    Tracing,
}

/// Whether ` key=` (or `key=` at the start) is in `line`.
fn has_key(line: &str, key: &str) -> bool {
    let b = line.as_bytes();
    let mut from = 0;
    while let Some(p) = memmem::find(&b[from..], key.as_bytes()) {
        let at = from + p;
        from = at + key.len();
        let boundary = at == 0 || b[at - 1] == b' ';
        if boundary && b.get(from) == Some(&b'=') {
            return true;
        }
    }
    false
}

const TRACING_LEVELS: [&str; 5] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

/// The part of a `tracing` line after its time and level.
fn tracing_rest(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    // `2025-03-11T09:41:07.318220Z`: a date, `T`, and a `Z` or offset.
    if b.len() < 21 || b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let space = memchr::memchr(b' ', b)?;
    let stamp = &line[..space];
    if !(stamp.ends_with('Z')
        || stamp
            .get(stamp.len().saturating_sub(6)..)?
            .starts_with(['+', '-']))
    {
        return None;
    }
    let rest = line[space..].trim_start();
    let level = TRACING_LEVELS.iter().find(|l| {
        rest.strip_prefix(**l)
            .is_some_and(|after| after.starts_with(' '))
    })?;
    Some(&rest[level.len() + 1..])
}

fn shape(line: &str) -> Option<Shape> {
    if pairs::key_len(line).is_some() {
        let level = has_key(line, "level") || has_key(line, "lvl");
        let msg = has_key(line, "msg") || has_key(line, "message");
        // Hydra's logrusx lines are the Hydra parser's.
        let hydra = has_key(line, "audience")
            && (memmem::find(line.as_bytes(), b" audience=application").is_some()
                || memmem::find(line.as_bytes(), b" audience=audit").is_some());
        return (level && msg && !hydra).then_some(Shape::Logfmt);
    }
    tracing_rest(line).map(|_| Shape::Tracing)
}

static INTEREST: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::new([
        "invalid_grant",
        "invalid_client",
        "invalid_request",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "oauth2: ",
        "Access Request failed with error",
        "refresh token with id ",
        "trying to claim token for client",
        "failed to get refresh token ID",
        "AADSTS",
        "InvalidGrant",
        "InvalidClient",
    ])
    .unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
});

impl LineParser for LogfmtParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let Some(shape) = shape(line) else {
            return Outcome::Unknown;
        };
        if line.len() > 1024 * 1024 || !INTEREST.is_match(line) {
            return Outcome::Skipped;
        }
        push_or_skip(
            out,
            redact_and_parse(line_no, line, ctx, (ctx, shape), parse),
        )
    }

    fn flush<'a>(&mut self, _ctx: &Context, _out: &mut Vec<Event<'a>>) {}

    // One line, one record: nothing carries from a line to the next.
    fn at_rest(&self) -> bool {
        true
    }
}

/// The first non-empty value among `keys`.
fn get<'p>(p: &'p [Pair<'_>], keys: &[&str]) -> Option<&'p str> {
    keys.iter().find_map(|k| {
        p.iter()
            .find(|(key, v)| key == k && !v.is_empty())
            .map(|(_, v)| v.as_ref())
    })
}

fn owned(s: Option<&str>) -> Option<Cow<'static, str>> {
    s.map(|s| Cow::Owned(s.to_owned()))
}

/// Reads one redacted line. Fields are copied: values may be unescaped.
fn parse<'t>(text: &'t str, (ctx, shape): (&Context, Shape)) -> Option<Event<'t>> {
    let (lead_ts, body, tracing) = match shape {
        Shape::Logfmt => (None, text, None),
        Shape::Tracing => {
            let rest = tracing_rest(text)?;
            let ts = common::timestamp(text, ctx).map(|(ts, _)| ts);
            (ts, rest, Some(tracing_message(rest)))
        }
    };
    let p = pairs::pairs(body);
    let msg = get(&p, &["msg", "message"]).or(tracing).unwrap_or("");
    // `tracing` prints `?`-recorded fields with `Debug`, spaces and all, and
    // a message may hold `error: description`: the whole text after the
    // level is the error text.
    let err = tracing.map(|_| body).or_else(|| {
        get(
            &p,
            &[
                "error",
                "err",
                "error.message",
                "error_description",
                "reason",
            ],
        )
    });
    let path = get(&p, &["path", "uri", "url", "request_uri", "http.target"]);
    let mut ev = match servers::refusal(msg) {
        Some(r) => {
            let mut ev = Event::new(EventKind::TokenResponse, Format::Logfmt);
            ev.error = Some(Cow::Borrowed(r.error));
            ev.error_description = owned(r.description);
            ev.provider_reason = owned(r.reason);
            ev.grant_type = r.grant.map(GrantType::from_name);
            ev
        }
        None => client_error(msg, err)?,
    };
    ev.ts = get(&p, &["time", "t", "ts", "timestamp"])
        .and_then(|t| common::timestamp(t, ctx))
        .map(|(ts, _)| ts)
        .or(lead_ts);
    if let Some(path) = path {
        ev.path = Some(Cow::Owned(common::split_url(path).0.to_owned()));
    }
    ev.method = owned(get(&p, &["method", "http.method"]));
    ev.ip = owned(get(&p, &["remote_ip", "remote_addr", "ip", "client_ip"]));
    ev.request_id = owned(get(
        &p,
        &["request_id", "req_id", "requestId", "trace_id", "traceID"],
    ));
    ev.client_id = ev
        .client_id
        .or_else(|| owned(get(&p, &["client_id", "clientID", "clientId"])));
    ev.user = owned(get(&p, &["username", "user", "uname"]));
    if ev.status.is_none() {
        ev.status = get(&p, &["status", "status_code", "error.status_code"])
            .and_then(|s| s.parse().ok())
            .filter(|s| (100..600).contains(s));
    }
    Some(ev)
}

/// A `tracing` message: the text after the spans and the target, up to the
/// first field.
fn tracing_message(rest: &str) -> &str {
    // `span{…}:span2{…}: target: message fields`: the message follows the
    // last `: ` before the first field.
    let first_field = rest
        .match_indices(' ')
        .map(|(i, _)| i + 1)
        .find(|&i| pairs::key_len(&rest[i..]).is_some())
        .unwrap_or(rest.len());
    let head = &rest[..first_field];
    let msg = match head.rfind(": ") {
        Some(p) => &head[p + 2..],
        None => head,
    };
    msg.trim()
}

/// A client's (or any app's) error line: the OAuth error named in the
/// message or the error fields.
fn client_error(msg: &str, err: Option<&str>) -> Option<Event<'static>> {
    let text = match err {
        Some(e) => format!("{msg} {e}"),
        None => msg.to_owned(),
    };
    let mut ev = Event::new(EventKind::ClientError, Format::Logfmt);
    if let Some((error, desc)) = go_oauth2(&text)
        .or_else(|| rust_oauth2(&text))
        .or_else(|| response_body(&text))
    {
        ev.error = Some(Cow::Owned(error));
        ev.error_description = desc.map(Cow::Owned);
    } else {
        let (error, desc) = client_records::split_oauth_error(&text);
        ev.error = owned(error);
        ev.error_description = owned(desc.filter(|d| !d.starts_with('{')));
    }
    let mut probe = Event::new(EventKind::ClientError, Format::Logfmt);
    client_records::fill_from_provider(&mut probe, &text);
    ev.server = probe.server;
    ev.provider_code = owned(probe.provider_code.as_deref());
    if ev.error.is_none() {
        ev.error = owned(probe.error.as_deref());
    }
    if ev.error_description.is_none() {
        ev.error_description = owned(probe.error_description.as_deref());
    }
    ev.status = fetch_status(&text);
    if ev.error.is_none() && ev.provider_code.is_none() {
        return None;
    }
    ev.provider_reason = Some(msg)
        .filter(|m| !m.is_empty())
        .map(|m| Cow::Owned(m.to_owned()));
    Some(ev)
}

/// `golang.org/x/oauth2`'s `RetrieveError` since v0.13: `oauth2: "error"
/// "description" "uri"`; before it: `oauth2: cannot fetch token: 400 Bad
/// Request\nResponse: {"error":…}` (read by [`client_records`]).
fn go_oauth2(text: &str) -> Option<(String, Option<String>)> {
    let p = text.find("oauth2: \"")?;
    let rest = &text[p + "oauth2: ".len()..];
    let (error, rest) = quoted(rest)?;
    let desc = rest
        .strip_prefix(' ')
        .and_then(quoted)
        .map(|(d, _)| d.to_owned());
    Some((error.to_owned(), desc.filter(|d| !d.is_empty())))
}

/// The JSON body `golang.org/x/oauth2` < 0.13 prints after `Response: `
/// (its `\uXXXX` escapes resolved by the JSON reader).
fn response_body(text: &str) -> Option<(String, Option<String>)> {
    let p = text.find("Response: {")?;
    let mut stream =
        serde_json::Deserializer::from_str(&text[p + "Response: ".len()..]).into_iter();
    let body: serde_json::Value = stream.next()?.ok()?;
    let field = |k: &str| body.get(k).and_then(serde_json::Value::as_str);
    let error = field("error")?.to_owned();
    Some((error, field("error_description").map(str::to_owned)))
}

/// A `"…"` at the start of `s` (Go `%q`: only `\"` matters here).
fn quoted(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_prefix('"')?;
    let mut i = 0;
    let b = body.as_bytes();
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some((&body[..i], &body[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// The Rust `oauth2` crate's `Debug` of a server error: `error: InvalidGrant,
/// error_description: Some("…")`.
fn rust_oauth2(text: &str) -> Option<(String, Option<String>)> {
    let p = text.find("StandardErrorResponse { error: ")?;
    let rest = &text[p + "StandardErrorResponse { error: ".len()..];
    let name: &str = rest.split([',', ' ', '}']).next()?;
    let error = snake_case(name.trim_start_matches("Extension(").trim_matches('"'));
    let desc = rest
        .find("error_description: Some(\"")
        .and_then(|d| quoted(&rest[d + "error_description: Some(".len()..]))
        .map(|(d, _)| d.to_owned());
    (!error.is_empty()).then_some((error, desc))
}

/// `InvalidGrant` → `invalid_grant`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `cannot fetch token: 400 Bad Request` → 400.
fn fetch_status(text: &str) -> Option<u16> {
    let p = text.find("cannot fetch token: ")?;
    let digits = text.get(p + 20..p + 23)?;
    digits.parse().ok().filter(|s| (100..600).contains(s))
}
