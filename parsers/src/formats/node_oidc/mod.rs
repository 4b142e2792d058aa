//! node-oidc-provider (panva) logs and the logs of its relying parties.
//!
//! Shapes read (catalog section 5.3):
//! - `DEBUG=oidc-provider:*` lines from the `debug` package, non-TTY form
//!   `2025-06-03T11:20:44.512Z oidc-provider:error path=/token method=POST
//!   error={ error: 'invalid_grant', error_description: '…' } detail=…` and
//!   TTY form (two-space indent, optional ANSI colours, ` +0ms` delta, no
//!   date). `detail=` is the only place the real cause is written: the HTTP
//!   answer always says `grant request is invalid`.
//! - koa-logger access lines (`  <-- GET /auth?…`, `  --> POST /token 400 …`);
//!   authorize requests become [`EventKind::AuthorizeRequest`] (client_id,
//!   redirect_uri, PKCE challenge), the rest is skipped.
//! - openid-client `OPError: invalid_grant (desc)` / `RPError: …` lines, with
//!   or without a timestamp, and the stack or inspected properties that
//!   follow them (skipped).
//!
//! Invariants: every line is redacted before it is parsed; a line is claimed
//! (not [`Outcome::Unknown`]) only when it has one of the shapes above or
//! continues an `OPError` block.

use memchr::memmem;

use crate::common;
use crate::event::{Event, EventKind, ServerKind, Timestamp};
use crate::format::Format;
use crate::grant::GrantType;
use crate::parser::{Context, LineParser, Outcome, push_or_skip, redact_and_parse};
use crate::providers;

/// Parser state for this format.
#[derive(Debug, Default)]
pub struct NodeOidcParser {
    /// The previous claimed line was an `OPError`/`RPError` (or its stack):
    /// indented lines and a closing `}` still belong to it.
    in_error_block: bool,
}

impl LineParser for NodeOidcParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        if memchr::memchr(0x1b, line.as_bytes()).is_none() {
            return self.feed_clean(line_no, line, ctx, out);
        }
        // TTY output keeps its colours when captured; parse it without them.
        let clean = strip_ansi(line);
        let mut events = Vec::new();
        let outcome = self.feed_clean(line_no, &clean, ctx, &mut events);
        for e in events {
            let owned: Event<'a> = e.into_owned();
            out.push(owned);
        }
        outcome
    }

    fn flush<'a>(&mut self, _ctx: &Context, _out: &mut Vec<Event<'a>>) {
        self.in_error_block = false;
    }
}

impl NodeOidcParser {
    fn feed_clean<'b>(
        &mut self,
        line_no: u64,
        line: &'b str,
        ctx: &Context,
        out: &mut Vec<Event<'b>>,
    ) -> Outcome {
        let (_, rest) = leading_ts(line, ctx);
        let body = rest.trim_start();
        if body.starts_with("oidc-provider:") {
            self.in_error_block = false;
            if memmem::find(body.as_bytes(), b"error").is_none() {
                return Outcome::Skipped;
            }
            return push_or_skip(out, redact_and_parse(line_no, line, ctx, ctx, parse_debug));
        }
        if find_client_error(line).is_some() {
            self.in_error_block = true;
            return push_or_skip(out, redact_and_parse(line_no, line, ctx, ctx, parse_client));
        }
        if let Some(koa) = body
            .strip_prefix("<-- ")
            .or_else(|| body.strip_prefix("--> "))
        {
            self.in_error_block = false;
            if !koa.starts_with(|c: char| c.is_ascii_uppercase()) {
                return Outcome::Unknown;
            }
            if body.starts_with("<-- GET /auth") && koa.contains("client_id=") {
                return push_or_skip(
                    out,
                    redact_and_parse(line_no, line, ctx, (), parse_authorize),
                );
            }
            return Outcome::Skipped;
        }
        if self.in_error_block && continues_error_block(line) {
            return Outcome::Skipped;
        }
        self.in_error_block = false;
        if body.starts_with("oidc-provider listening on") {
            return Outcome::Skipped;
        }
        Outcome::Unknown
    }
}

/// An optional timestamp at the start (`2025-…Z ` or `[2025-…] `), and the
/// rest of the line.
fn leading_ts<'t>(text: &'t str, ctx: &Context) -> (Option<Timestamp>, &'t str) {
    let (inner, bracketed) = match text.strip_prefix('[') {
        Some(i) => (i, true),
        None => (text, false),
    };
    if !inner.starts_with(|c: char| c.is_ascii_digit()) {
        return (None, text);
    }
    match common::timestamp(inner, ctx) {
        Some((ts, rest)) if !bracketed => (Some(ts), rest),
        Some((ts, rest)) => match rest.strip_prefix(']') {
            Some(r) => (Some(ts), r),
            None => (None, text),
        },
        None => (None, text),
    }
}

fn find_client_error(line: &str) -> Option<(usize, bool)> {
    let bytes = line.as_bytes();
    if let Some(p) = memmem::find(bytes, b"OPError: ") {
        return Some((p + 9, true));
    }
    memmem::find(bytes, b"RPError: ").map(|p| (p + 9, false))
}

/// Stack frames (`    at …`), inspected properties (`  error: '…',`) and
/// the closing brace of a Node error printed with `console.error`.
fn continues_error_block(line: &str) -> bool {
    (line.starts_with([' ', '\t']) && !line.trim().is_empty()) || line.starts_with('}')
}

/// `oidc-provider:<namespace> … error=… detail=…` (already redacted).
fn parse_debug<'t>(text: &'t str, ctx: &Context) -> Option<Event<'t>> {
    let (ts, rest) = leading_ts(text, ctx);
    let after = rest.trim_start().strip_prefix("oidc-provider:")?;
    let (namespace, msg) = after.split_once(' ').unwrap_or((after, ""));
    let msg = strip_tty_delta(msg);
    let path = token_value(msg, "path=").map(|p| common::split_url(p).0);
    let kind = if path.is_some_and(|p| p.ends_with("/token")) {
        EventKind::TokenResponse
    } else {
        EventKind::ProviderEvent
    };
    let mut event = Event::new(kind, Format::NodeOidcProvider);
    event.server = Some(ServerKind::NodeOidcProvider);
    event.ts = ts;
    event.path = path.map(Into::into);
    event.method = token_value(msg, "method=").map(Into::into);
    if namespace.starts_with("server_error") {
        event.error = Some("server_error".into());
        event.status = Some(500);
        event.provider_reason = msg
            .split_once("error=")
            .map(|(_, e)| truncate(e.trim(), 300).into());
        return Some(event);
    }
    event.error = inspect_value(msg, "error").map(Into::into);
    event.error_description = inspect_value(msg, "error_description").map(Into::into);
    event.error.as_ref()?;
    let detail = msg
        .split_once(" detail=")
        .map(|(_, d)| d.trim())
        .filter(|d| !d.is_empty() && *d != "undefined");
    event.provider_reason = detail.map(Into::into);
    event.grant_type = detail
        .and_then(grant_type_of_detail)
        .map(GrantType::from_name);
    event.status = status_of(
        event.error.as_deref().unwrap_or(""),
        event.error_description.as_deref(),
    );
    Some(event)
}

/// The HTTP status node-oidc-provider answers with (catalog 5.1):
/// `InvalidClientAuth` is the only 401 among token errors.
fn status_of(error: &str, description: Option<&str>) -> Option<u16> {
    match error {
        "invalid_client" if description == Some("client authentication failed") => Some(401),
        "invalid_client"
        | "invalid_grant"
        | "invalid_request"
        | "unsupported_grant_type"
        | "invalid_scope"
        | "unauthorized_client"
        | "invalid_target" => Some(400),
        "server_error" => Some(500),
        _ => None,
    }
}

/// The grant a `detail` text is about: each InvalidGrant detail names it.
fn grant_type_of_detail(detail: &str) -> Option<&'static str> {
    if detail.starts_with("authorization code")
        || detail.starts_with("code_verifier")
        || detail.starts_with("PKCE")
    {
        Some("authorization_code")
    } else if detail.starts_with("refresh token") {
        Some("refresh_token")
    } else {
        None
    }
}

/// `OPError: x (y)` / `RPError: msg` of openid-client (already redacted).
fn parse_client<'t>(text: &'t str, ctx: &Context) -> Option<Event<'t>> {
    let (ts, _) = leading_ts(text, ctx);
    let (at, is_op) = find_client_error(text)?;
    let msg = text.get(at..)?.trim();
    let mut event = Event::new(EventKind::ClientError, Format::NodeOidcProvider);
    event.ts = ts;
    match providers::recognize(msg).filter(|_| is_op) {
        Some(m) => {
            event.server = m.server;
            event.error = m.error;
            event.error_description = m.description;
            event.provider_code = m.code;
        }
        None => event.provider_reason = Some(msg.into()),
    }
    Some(event)
}

/// koa-logger `  <-- GET /auth?client_id=…` (already redacted).
fn parse_authorize<'t>(text: &'t str, _: ()) -> Option<Event<'t>> {
    let target = text.trim_start().strip_prefix("<-- GET ")?;
    let target = target.split(' ').next()?;
    let (path, query) = common::split_url(target);
    let query = query?;
    let mut event = Event::new(EventKind::AuthorizeRequest, Format::NodeOidcProvider);
    event.server = Some(ServerKind::NodeOidcProvider);
    event.method = Some("GET".into());
    event.path = Some(path.into());
    event.client_id = common::query_param(query, "client_id");
    event.redirect_uri = common::query_param(query, "redirect_uri");
    event.code_challenge = common::query_param(query, "code_challenge");
    event.code_challenge_method = common::query_param(query, "code_challenge_method");
    Some(event)
}

/// The value of a `key=` token (up to the next space).
fn token_value<'t>(msg: &'t str, key: &str) -> Option<&'t str> {
    let bytes = msg.as_bytes();
    memmem::find_iter(bytes, key.as_bytes())
        .find(|&p| p == 0 || bytes[p - 1] == b' ')
        .map(|p| {
            let v = &msg[p + key.len()..];
            v.split(' ').next().unwrap_or(v)
        })
        .filter(|v| !v.is_empty())
}

/// The string value of `key: '…'` (or `key: "…"`) in a Node
/// `util.inspect` rendering.
fn inspect_value<'t>(msg: &'t str, key: &str) -> Option<&'t str> {
    let bytes = msg.as_bytes();
    memmem::find_iter(bytes, key.as_bytes()).find_map(|p| {
        if p > 0 && (bytes[p - 1].is_ascii_alphanumeric() || bytes[p - 1] == b'_') {
            return None;
        }
        let rest = msg[p + key.len()..].strip_prefix(": ")?;
        let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let body = &rest[1..];
        body.find(quote).map(|end| &body[..end])
    })
}

/// Drops the TTY form's ` +12ms` delta.
fn strip_tty_delta(msg: &str) -> &str {
    let msg = msg.trim_end();
    match msg.rsplit_once(' ') {
        Some((head, last)) if is_delta(last) => head,
        _ if is_delta(msg) => "",
        _ => msg,
    }
}

fn is_delta(token: &str) -> bool {
    let Some(rest) = token.strip_prefix('+') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(&rest[digits..], "ms" | "s" | "m" | "h" | "d")
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Removes ANSI CSI sequences (`ESC [ … letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
