//! Spring Authorization Server logs in the Spring Boot console format.
//!
//! Shapes read (catalog 9.1):
//! - Boot 3.x `2025-03-11T09:41:07.334Z  WARN 1 --- [nio-9000-exec-3] logger : msg`,
//!   with Boot 3.2+'s `[app-name]` group and the tracing correlation group
//!   `[traceId-spanId]` (the trace id becomes the request id);
//! - Boot 2.x `2025-03-11 09:41:07.334  WARN 1 --- [thread] logger : msg`;
//! - stack traces after a line (skipped).
//!
//! Spring answers most grant failures with a bare `{"error":"invalid_grant"}`;
//! the cause is only in its WARN/DEBUG messages (`Invalidated authorization
//! token(s) previously issued to registered client '…'`, `Invalid request:
//! redirect_uri does not match …`), which become
//! [`EventKind::ProviderEvent`]s. The quoted "registered client" is
//! `RegisteredClient.getId()` (the registration id, often a UUID, not always
//! the OAuth client_id); it goes to `client_id`. A line whose message logs a
//! token response body (`POST /oauth2/token -> 400 {"error":…}`) becomes a
//! [`EventKind::TokenResponse`].
//!
//! Invariants: a line is claimed only when it has the Boot console shape (or
//! continues a stack trace after one); it is redacted before it is parsed.

use memchr::memmem;

use crate::common;
use crate::event::{Event, EventKind, ServerKind, Timestamp};
use crate::format::Format;
use crate::grant::GrantType;
use crate::parser::{Context, LineParser, Outcome, push_or_skip, redact_and_parse};
use crate::providers;

/// Parser state for this format.
#[derive(Debug, Default)]
pub struct SpringParser {
    /// The previous line was ours: a stack trace may follow.
    after_line: bool,
}

impl LineParser for SpringParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let Some(parsed) = split_line(line, ctx) else {
            if self.after_line && is_stack_line(line) {
                return Outcome::Skipped;
            }
            self.after_line = false;
            return Outcome::Unknown;
        };
        self.after_line = true;
        if !is_grant_message(parsed.message) && !is_response_body(parsed.message) {
            return Outcome::Skipped;
        }
        push_or_skip(out, redact_and_parse(line_no, line, ctx, ctx, parse))
    }

    fn flush<'a>(&mut self, _ctx: &Context, _out: &mut Vec<Event<'a>>) {
        self.after_line = false;
    }
}

/// One Spring Boot console line, split.
struct SpringLine<'t> {
    ts: Timestamp,
    trace_id: Option<&'t str>,
    logger: &'t str,
    message: &'t str,
}

const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

fn split_line<'t>(line: &'t str, ctx: &Context) -> Option<SpringLine<'t>> {
    let marker = memmem::find(line.as_bytes(), b" --- [")?;
    let (ts, head) = common::timestamp(line, ctx)?;
    let head = head.get(..marker.checked_sub(line.len() - head.len())?)?;
    let mut words = head.split_whitespace();
    words.next().filter(|l| LEVELS.contains(l))?;
    if !words.next()?.bytes().all(|b| b.is_ascii_digit()) || words.next().is_some() {
        return None;
    }
    let mut rest = &line[marker + 5..];
    let mut trace_id = None;
    while let Some(group) = rest.strip_prefix('[') {
        let close = group.find(']')?;
        trace_id = trace_id.or_else(|| correlation_trace_id(&group[..close]));
        rest = group[close + 1..].trim_start();
    }
    let (logger, message) = rest.split_once(" : ")?;
    Some(SpringLine {
        ts,
        trace_id,
        logger: logger.trim(),
        message: message.trim(),
    })
}

/// The trace id of a Boot 3.2+ correlation group `traceId-spanId`
/// (32 + 16 hex digits).
fn correlation_trace_id(group: &str) -> Option<&str> {
    let (trace, span) = group.trim().split_once('-')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(trace, 32) && hex(span, 16)).then_some(trace)
}

/// The Spring Authorization Server messages that tell why a grant failed.
fn is_grant_message(message: &str) -> bool {
    message.starts_with("Invalidated authorization ")
        || message.starts_with("Invalid request: ")
        || message.starts_with("Invalid client: ")
}

/// A logged token response body (`{"error":"…"}`).
fn is_response_body(message: &str) -> bool {
    memmem::find(message.as_bytes(), b"\"error\"").is_some()
}

fn parse<'t>(text: &'t str, ctx: &Context) -> Option<Event<'t>> {
    let line = split_line(text, ctx)?;
    if is_grant_message(line.message) {
        return Some(provider_event(line));
    }
    response_event(line)
}

fn provider_event(line: SpringLine<'_>) -> Event<'_> {
    let mut event = Event::new(EventKind::ProviderEvent, Format::Spring);
    event.server = Some(ServerKind::Spring);
    event.ts = Some(line.ts);
    event.request_id = line.trace_id.map(Into::into);
    event.provider_reason = Some(line.message.into());
    event.client_id = registered_client(line.message).map(Into::into);
    event.grant_type = grant_type_of(line.logger, line.message).map(GrantType::from_name);
    event
}

/// `… registered client 'x'` → `x`.
fn registered_client(message: &str) -> Option<&str> {
    let rest = message.split("registered client '").nth(1)?;
    rest.split('\'').next().filter(|c| !c.is_empty())
}

fn grant_type_of(logger: &str, message: &str) -> Option<&'static str> {
    if logger.contains("RefreshToken") || message.contains("refresh_token") {
        Some("refresh_token")
    } else if logger.contains("AuthorizationCode")
        || message.starts_with("Invalidated authorization ")
    {
        Some("authorization_code")
    } else if logger.contains("ClientCredentials") {
        Some("client_credentials")
    } else {
        None
    }
}

/// `POST /oauth2/token -> 400 {"error":…}` logged by an app filter.
fn response_event(line: SpringLine<'_>) -> Option<Event<'_>> {
    let m = providers::recognize(line.message)?;
    let mut event = Event::new(EventKind::TokenResponse, Format::Spring);
    event.server = Some(ServerKind::Spring);
    event.ts = Some(line.ts);
    event.request_id = line.trace_id.map(Into::into);
    event.error = m.error;
    event.error_description = m.description;
    let mut words = line.message.split_whitespace();
    while let Some(w) = words.next() {
        if matches!(w, "GET" | "POST") {
            event.method = Some(w.into());
            event.path = words.next().map(|p| common::split_url(p).0.into());
        } else if w.len() == 3 && w.bytes().all(|b| b.is_ascii_digit()) {
            event.status = w.parse().ok();
            break;
        }
    }
    Some(event)
}

/// Java stack trace lines after a logged exception.
fn is_stack_line(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("at ")
        || t.starts_with("... ")
        || t.starts_with("Caused by: ")
        || t.starts_with("Suppressed: ")
        || (!line.starts_with(' ')
            && t.split(':').next().is_some_and(|h| {
                h.contains('.') && (h.ends_with("Exception") || h.ends_with("Error"))
            }))
}

#[cfg(test)]
mod tests;
