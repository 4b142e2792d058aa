//! Ory Hydra lines, in both of its log formats: logrus JSON (`log.format=json`,
//! keys sorted) and the default logfmt-like text (`DisableQuote`, Go `map[...]`
//! values). Both are read into one [`Record`] and turned into events here.
//!
//! Invariants:
//! - A line is Hydra's only if it is a logrusx line of the `application` or
//!   `audit` audience (or the old flat fosite JSON shape) whose service is
//!   Hydra or unnamed; anything else is [`Outcome::Unknown`].
//! - Lines of no OAuth interest (startup, health checks, other paths, the
//!   access-log line of a failed token request, whose error line already
//!   told it) are [`Outcome::Skipped`] before anything is allocated.
//! - Every event is parsed from the redacted line (`redact_and_parse`).

mod json;
mod json_fast;
mod record;
#[cfg(test)]
mod tests;
mod text;

use std::borrow::Cow;

use crate::common;
use crate::event::{Event, EventKind, ServerKind};
use crate::format::Format;
use crate::grant::GrantType;
use crate::needle::Needle;
use crate::parser::{Context, LineParser, Outcome, push_or_skip, redact_and_parse};
use record::{ErrorInfo, Record};

/// Parser state for this format (none: every Hydra record is one line).
#[derive(Debug, Default)]
pub struct HydraParser {}

/// The Hydra endpoints whose lines become events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Token,
    Revoke,
    Authorize,
    Other,
}

fn endpoint(path: &str) -> Endpoint {
    let path = path.trim_end_matches('/');
    if path.ends_with("/oauth2/token") {
        Endpoint::Token
    } else if path.ends_with("/oauth2/revoke") {
        Endpoint::Revoke
    } else if path.ends_with("/oauth2/auth") {
        Endpoint::Authorize
    } else {
        Endpoint::Other
    }
}

/// The shape of a line, decided on the raw bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Json,
    Text,
}

// The words a line is recognised by, looked for in every line: each with
// its searcher built once (see `crate::needle`).
static JSON_AUDIENCE_APPLICATION: Needle = Needle::new(r#""audience":"application""#);
static JSON_AUDIENCE_AUDIT: Needle = Needle::new(r#""audience":"audit""#);
static JSON_HINT: Needle = Needle::new(r#""hint":"#);
static JSON_DESCRIPTION: Needle = Needle::new(r#""description":"#);
static JSON_MSG: Needle = Needle::new(r#""msg":"#);
static JSON_LEVEL: Needle = Needle::new(r#""level":"#);
static TEXT_AUDIENCE_APPLICATION: Needle = Needle::new(" audience=application");
static TEXT_AUDIENCE_AUDIT: Needle = Needle::new(" audience=audit");
static TEXT_MSG: Needle = Needle::new(" msg=");
static TEXT_LEVEL: Needle = Needle::new("level=");
static JSON_SERVICE_NAME: Needle = Needle::new(r#""service_name":""#);
static TEXT_SERVICE_NAME: Needle = Needle::new(" service_name=");

/// Whether the line is a Hydra line at all, and in which shape.
fn shape(line: &str) -> Option<Shape> {
    if line.starts_with('{') {
        let logrusx = JSON_AUDIENCE_APPLICATION.is_in(line) || JSON_AUDIENCE_AUDIT.is_in(line);
        // The old flat shape is looked for only when the line is not
        // logrusx's: each search reads the whole line.
        let flat = || JSON_HINT.is_in(line) && JSON_DESCRIPTION.is_in(line);
        // logrus sorts the keys: `level` and `msg` come after the request's
        // and response's maps, near the line's end.
        let ok =
            (logrusx || flat()) && JSON_MSG.is_in_from_end(line) && JSON_LEVEL.is_in_from_end(line);
        return (ok && !foreign_service(line, &JSON_SERVICE_NAME)).then_some(Shape::Json);
    }
    if line.starts_with("time=") || line.starts_with("level=") {
        let logrusx = TEXT_AUDIENCE_APPLICATION.is_in(line) || TEXT_AUDIENCE_AUDIT.is_in(line);
        let ok = logrusx && TEXT_MSG.is_in(line) && TEXT_LEVEL.is_in(line);
        return (ok && !foreign_service(line, &TEXT_SERVICE_NAME)).then_some(Shape::Text);
    }
    None
}

/// Another Ory service (Kratos, Keto, Oathkeeper) logs the same way: a named
/// service that is not Hydra is not ours. Hydra 1.x leaves the name empty.
fn foreign_service(line: &str, key: &Needle) -> bool {
    let Some(pos) = key.find(line) else {
        return false;
    };
    let value = line.get(pos + key.text().len()..).unwrap_or("");
    let value = value.get(..value.len().min(24)).unwrap_or(value);
    let named = !(value.starts_with('"') || value.starts_with(' ') || value.is_empty());
    // Compared in place: a lowercased copy of every line's name was a
    // fortieth of reading a Hydra log (benches/README.md).
    named
        && !value
            .as_bytes()
            .windows(5)
            .any(|w| w.eq_ignore_ascii_case(b"hydra"))
}

/// Whether a recognised line can produce an event (cheap, before redaction).
fn interesting(line: &str, shape: Shape) -> bool {
    static COMPLETED: Needle = Needle::new("completed handling request");
    // The message is one of a JSON line's last keys, a text line's first.
    let completed = match shape {
        Shape::Json => COMPLETED.is_in_from_end(line),
        Shape::Text => COMPLETED.is_in(line),
    };
    // The access line of a token request first: most lines that matter
    // are those, and the words that say so come before the line's end,
    // where a search for an error word that is not there ends.
    (completed && names_token_path(line)) || has_error_key(line)
}

/// Whether `line` holds `/oauth2/token`, `/oauth2/revoke` or
/// `/oauth2/auth`: one search for what they share, each place it is found
/// then looked at (three searches read a line that holds none three times,
/// and most lines hold none).
fn names_token_path(line: &str) -> bool {
    static OAUTH2: Needle = Needle::new("/oauth2/");
    let bytes = line.as_bytes();
    // Each place, overlaps included (`/oauth2/oauth2/token` holds a path
    // that starts inside the first `/oauth2/`): the next search starts
    // one byte on, at an ASCII byte's end.
    let mut from = 0;
    while let Some(found) = line.get(from..).and_then(|rest| OAUTH2.find(rest)) {
        let at = from + found;
        let rest = &bytes[at + OAUTH2.text().len()..];
        if [b"token".as_slice(), b"revoke", b"auth"]
            .iter()
            .any(|path| rest.starts_with(path))
        {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Whether `line` holds a JSON `"error":` key or a logfmt ` error=` one:
/// one search for `error`, then the bytes around each place it is found
/// (`error` cannot overlap itself, so none is passed over).
fn has_error_key(line: &str) -> bool {
    static ERROR: Needle = Needle::new("error");
    let bytes = line.as_bytes();
    ERROR.find_iter(line).any(|at| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = &bytes[at + ERROR.text().len()..];
        (before == Some(b'"') && after.starts_with(b"\":"))
            || (before == Some(b' ') && after.starts_with(b"="))
    })
}

impl LineParser for HydraParser {
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
        if !interesting(line, shape) {
            return Outcome::Skipped;
        }
        let parse: for<'t> fn(&'t str, &Context) -> Option<Event<'t>> = match shape {
            Shape::Json => |t, c| build(json::parse(t)?, c),
            Shape::Text => |t, c| build(text::parse(t)?, c),
        };
        push_or_skip(out, redact_and_parse(line_no, line, ctx, ctx, parse))
    }

    fn flush<'a>(&mut self, _ctx: &Context, _out: &mut Vec<Event<'a>>) {}

    // One line, one record: nothing carries from a line to the next.
    fn at_rest(&self) -> bool {
        true
    }
}

/// Turns a record into an event, or `None` when it tells nothing useful.
fn build<'t>(rec: Record<'t>, ctx: &Context) -> Option<Event<'t>> {
    let ep = rec.path.as_deref().map_or(Endpoint::Other, endpoint);
    let mut event = match &rec.error {
        Some(_) => Event::new(error_kind(ep), Format::Hydra),
        None => access_event(&rec, ep)?,
    };
    event.server = Some(ServerKind::Hydra);
    event.ts = rec
        .time
        .as_deref()
        .and_then(|t| common::timestamp(t.trim_matches('"'), ctx))
        .map(|(ts, _)| ts);
    event.request_id = rec.request_id.or(rec.trace_id);
    event.method = rec.method;
    event.ip = rec.remote.map(strip_port);
    event.user_agent = rec.user_agent;
    event.status = rec.response_status;
    if ep == Endpoint::Authorize {
        fill_authorize_query(&mut event, rec.query);
    }
    event.path = rec.path;
    if let Some(err) = rec.error {
        fill_error(&mut event, err, ep);
    }
    Some(event)
}

fn error_kind(ep: Endpoint) -> EventKind {
    match ep {
        Endpoint::Token => EventKind::TokenResponse,
        Endpoint::Revoke => EventKind::RevokeRequest,
        Endpoint::Authorize | Endpoint::Other => EventKind::ProviderEvent,
    }
}

/// The access-log line (`completed handling request`): only successes of
/// the token endpoint and calls to the revoke and authorize endpoints count.
fn access_event<'t>(rec: &Record<'t>, ep: Endpoint) -> Option<Event<'t>> {
    if rec.msg.as_deref() != Some("completed handling request") {
        return None;
    }
    let status = rec.response_status?;
    let kind = match ep {
        Endpoint::Token if (200..300).contains(&status) => EventKind::TokenResponse,
        Endpoint::Revoke => EventKind::RevokeRequest,
        Endpoint::Authorize => EventKind::AuthorizeRequest,
        Endpoint::Token | Endpoint::Other => return None,
    };
    Some(Event::new(kind, Format::Hydra))
}

/// Hydra logs the query of an authorize request only with
/// `log.leak_sensitive_values`; otherwise it is a fixed notice.
fn fill_authorize_query<'t>(event: &mut Event<'t>, query: Option<Cow<'t, str>>) {
    let Some(query) = query else {
        return;
    };
    if query.starts_with("Value is sensitive") {
        return;
    }
    event.client_id = param(&query, "client_id");
    event.redirect_uri = param(&query, "redirect_uri");
    event.code_challenge = param(&query, "code_challenge");
    event.code_challenge_method = param(&query, "code_challenge_method");
}

/// A query parameter that borrows from the line when the query does.
fn param<'t>(query: &Cow<'t, str>, key: &str) -> Option<Cow<'t, str>> {
    match query {
        Cow::Borrowed(q) => common::query_param(q, key),
        Cow::Owned(q) => common::query_param(q, key).map(|v| Cow::Owned(v.into_owned())),
    }
}

fn fill_error<'t>(event: &mut Event<'t>, err: ErrorInfo<'t>, ep: Endpoint) {
    let nonempty = |c: Option<Cow<'t, str>>| c.filter(|s| !s.trim().is_empty());
    let message = nonempty(err.message);
    let reason = nonempty(err.reason);
    let debug = nonempty(err.debug);
    // A plain Go error (a JWT time check of a client assertion) is not an
    // RFC 6749 error: fosite answers it with HTTP 500, and its text is the
    // only clue, so it is kept as the debug text too.
    let plain = message.as_deref().is_some_and(|m| !is_error_code(m));
    if ep == Endpoint::Token || ep == Endpoint::Revoke {
        event.grant_type = grant_hint(message.as_deref(), reason.as_deref(), debug.as_deref(), ep)
            .map(GrantType::from_name);
    }
    event.status = err
        .status_code
        .or(event.status)
        .or((plain && ep == Endpoint::Token).then_some(500));
    event.provider_debug = debug.or_else(|| message.clone().filter(|_| plain));
    event.provider_reason = reason;
    event.error_description = nonempty(err.description);
    event.error = message;
}

/// An OAuth error code (`invalid_grant`, `token_inactive`): lowercase and
/// underscores only.
fn is_error_code(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// Hydra never logs the request body, but several hints and errors can only
/// come from one grant type (catalog §3.2).
fn grant_hint(
    message: Option<&str>,
    reason: Option<&str>,
    debug: Option<&str>,
    ep: Endpoint,
) -> Option<&'static str> {
    if ep != Endpoint::Token {
        return None;
    }
    let text = [reason, debug]
        .iter()
        .flatten()
        .copied()
        .collect::<Vec<_>>();
    let any = |needles: &[&str]| text.iter().any(|t| needles.iter().any(|n| t.contains(n)));
    if any(&["refresh token", "initial token issuance", "'refresh_token'"])
        || message == Some("token_inactive")
    {
        Some("refresh_token")
    } else if any(&[
        "authorization code",
        "authorize request",
        "PKCE",
        "Authorize code",
    ]) {
        Some("authorization_code")
    } else if any(&["username and password"]) {
        Some("password")
    } else {
        None
    }
}

/// `10.0.4.17:51622` → `10.0.4.17`, `[::1]:54662` → `::1`.
fn strip_port(remote: Cow<'_, str>) -> Cow<'_, str> {
    let cut = |s: &str| -> Option<(usize, usize)> {
        if let Some(rest) = s.strip_prefix('[') {
            let end = rest.find(']')?;
            return Some((1, end + 1));
        }
        match (s.find(':'), s.rfind(':')) {
            (Some(a), Some(b)) if a == b => Some((0, a)),
            _ => None,
        }
    };
    match (cut(&remote), &remote) {
        (Some((from, to)), Cow::Borrowed(s)) => Cow::Borrowed(s.get(from..to).unwrap_or(s)),
        (Some((from, to)), Cow::Owned(s)) => Cow::Owned(s.get(from..to).unwrap_or(s).to_owned()),
        (None, _) => remote,
    }
}
