//! One OAuth request being assembled from its Rails log lines, and the event
//! it becomes once `Completed` (or the end of input) is seen.
//!
//! Invariants: every line is redacted before anything is read from it, so
//! the owned fields and evidence hold no secret; the evidence of one request
//! is bounded ([`EVIDENCE_BUDGET`] bytes of detail lines, request lines cut
//! at [`MAX_LINE`] bytes), so a runaway request cannot grow memory.

use std::borrow::Cow;

use chrono::Timelike as _;

use crate::common::{query_param, quoted_value, split_url, timestamp};
use crate::event::{Event, EventKind, EvidenceLine, ServerKind, Timestamp};
use crate::format::Format;
use crate::grant::GrantType;
use crate::parser::Context;
use crate::redact::SecretKind;

use super::line::{Parts, Started, completed_status, is_rails_request_line, rescued_class};

/// Bytes of detail lines (SQL, render, …) kept as evidence per request.
pub(super) const EVIDENCE_BUDGET: usize = 16 * 1024;
/// Longest evidence line kept; longer ones are cut.
pub(super) const MAX_LINE: usize = 8 * 1024;

/// The Doorkeeper endpoint a request went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Authorize,
    Token,
    Revoke,
}

impl Endpoint {
    /// From a request path: the segment after the last `/oauth/`.
    pub(crate) fn from_path(path: &str) -> Option<Endpoint> {
        let pos = memchr::memmem::rfind(path.as_bytes(), b"/oauth/")?;
        let seg = path[pos + 7..].trim_end_matches('/');
        match seg {
            "token" => Some(Endpoint::Token),
            "revoke" => Some(Endpoint::Revoke),
            s if s.starts_with("authorize") => Some(Endpoint::Authorize),
            _ => None,
        }
    }

    /// From a `Processing by Doorkeeper::TokensController#create as */*`
    /// message (Doorkeeper mounted under a path without `/oauth/`).
    pub(super) fn from_controller(body: &str) -> Option<Endpoint> {
        let rest = body.strip_prefix("Processing by Doorkeeper::")?;
        let (controller, rest) = rest.split_once('#')?;
        let action = rest.split(' ').next().unwrap_or("");
        match (controller, action) {
            ("TokensController", "create") => Some(Endpoint::Token),
            ("TokensController", "revoke") => Some(Endpoint::Revoke),
            ("AuthorizationsController", _) => Some(Endpoint::Authorize),
            _ => None,
        }
    }
}

/// A request in flight.
#[derive(Debug)]
pub(super) struct Request {
    /// Start order, for evicting the oldest.
    pub seq: u64,
    endpoint: Endpoint,
    event: Event<'static>,
    started: Option<Timestamp>,
    logger_time: Option<Timestamp>,
    saw_params: bool,
    /// `code_verifier` was among the parameters (maybe filtered).
    verifier_key: bool,
    redirect_has_code: bool,
    revokes_access_token: bool,
    detail_bytes: usize,
    /// Bytes held, for the parser's global bound.
    pub bytes: usize,
}

impl Request {
    /// The first line kept of this request, if any.
    pub(super) fn first_line(&self) -> Option<u64> {
        self.event.evidence.first().map(|e| e.line)
    }

    pub(super) fn new(seq: u64, endpoint: Endpoint) -> Self {
        let mut event = Event::new(EventKind::TokenRequest, Format::Rails);
        event.server = Some(ServerKind::Doorkeeper);
        Request {
            seq,
            endpoint,
            event,
            started: None,
            logger_time: None,
            saw_params: false,
            verifier_key: false,
            redirect_has_code: false,
            revokes_access_token: false,
            detail_bytes: 0,
            bytes: 0,
        }
    }

    /// Takes one line of this request. Returns whether it was the
    /// `Completed` line (the request is then finished).
    pub(super) fn absorb(&mut self, line_no: u64, line: &str, ctx: &Context) -> bool {
        let red = ctx.redactor.redact(line);
        let parts = Parts::split(&red.text);
        let body = parts.body;
        if self.event.request_id.is_none() {
            self.event.request_id = parts.request_id().map(own);
        }
        if self.logger_time.is_none() {
            self.logger_time = parts.logger_time.and_then(|t| Some(timestamp(t, ctx)?.0));
        }
        let mut completed = false;
        if let Some(started) = Started::parse(body) {
            self.on_started(&started, ctx);
        } else if let Some(params) = body.strip_prefix("  Parameters: ") {
            self.on_parameters(params);
        } else if let Some(url) = body.strip_prefix("Redirected to ") {
            self.on_redirect(url);
        } else if let Some(class) = rescued_class(body) {
            self.event.provider_reason = Some(own(class));
        } else if let Some(status) = completed_status(body) {
            self.event.status = Some(status);
            completed = true;
        }
        red.apply_to(&mut self.event);
        if self.endpoint == Endpoint::Revoke
            && !self.revokes_access_token
            && let Some(token) = red.find(SecretKind::Token)
        {
            self.event.refresh_token_fp.get_or_insert(token.fingerprint);
        }
        let request_line = is_rails_request_line(body);
        if request_line || self.detail_bytes < EVIDENCE_BUDGET {
            let text = cut(red.text.into_owned());
            if !request_line {
                self.detail_bytes += text.len();
            }
            self.bytes += text.len() + 32;
            self.event.evidence.push(EvidenceLine {
                line: line_no,
                text: Cow::Owned(text),
            });
        }
        completed
    }

    fn on_started(&mut self, s: &Started<'_>, ctx: &Context) {
        let (path, query) = split_url(s.target);
        let e = &mut self.event;
        e.method = Some(own(s.method));
        e.path = Some(own(path));
        e.ip = Some(own(s.ip));
        self.started = timestamp(s.time, ctx).map(|(ts, _)| ts);
        if let Some(q) = query {
            let e = &mut self.event;
            set(&mut e.client_id, query_param(q, "client_id"));
            set(&mut e.redirect_uri, query_param(q, "redirect_uri"));
            set(&mut e.code_challenge, query_param(q, "code_challenge"));
            set(
                &mut e.code_challenge_method,
                query_param(q, "code_challenge_method"),
            );
            set_grant(&mut e.grant_type, query_param(q, "grant_type"));
        }
    }

    fn on_parameters(&mut self, params: &str) {
        self.saw_params = true;
        self.verifier_key |=
            memchr::memmem::find(params.as_bytes(), b"\"code_verifier\"").is_some();
        let e = &mut self.event;
        set(&mut e.client_id, quoted_value(params, "client_id"));
        set_grant(&mut e.grant_type, quoted_value(params, "grant_type"));
        set(&mut e.redirect_uri, quoted_value(params, "redirect_uri"));
        set(
            &mut e.code_challenge,
            quoted_value(params, "code_challenge"),
        );
        set(
            &mut e.code_challenge_method,
            quoted_value(params, "code_challenge_method"),
        );
        set(&mut e.user, quoted_value(params, "username"));
        if quoted_value(params, "token_type_hint").as_deref() == Some("access_token") {
            self.revokes_access_token = true;
        }
    }

    /// The authorize endpoint's answer: `?code=` (issued) or `?error=`.
    fn on_redirect(&mut self, url: &str) {
        let (_, query) = split_url(url.trim_end());
        let Some(q) = query else { return };
        if query_param(q, "code").is_some() {
            self.redirect_has_code = true;
        }
        let e = &mut self.event;
        set(&mut e.error, query_param(q, "error"));
        set(
            &mut e.error_description,
            query_param(q, "error_description"),
        );
    }

    /// The event this request tells. Rails never logs the response body, so
    /// `error` stays empty for the token endpoint.
    pub(super) fn finish(self) -> Event<'static> {
        let mut e = self.event;
        e.kind = match self.endpoint {
            Endpoint::Authorize if self.redirect_has_code => EventKind::CodeIssued,
            Endpoint::Authorize => EventKind::AuthorizeRequest,
            Endpoint::Token if e.status.is_some() => EventKind::TokenResponse,
            Endpoint::Token => EventKind::TokenRequest,
            Endpoint::Revoke => EventKind::RevokeRequest,
        };
        let code_exchange = e.grant_type == Some(GrantType::AuthorizationCode);
        if self.endpoint == Endpoint::Token
            && self.saw_params
            && !self.verifier_key
            && code_exchange
            && e.verifier_sent.is_none()
        {
            e.verifier_sent = Some(false);
        }
        e.ts = match (self.started, self.logger_time) {
            (Some(s), Some(l)) => Some(refine(s, l)),
            (s, l) => s.or(l),
        };
        e
    }
}

/// The `Started` time has a zone but whole seconds; the Logger prefix has
/// microseconds but no zone. When both name the same second, keep the zone
/// of one and the fraction of the other (offsets are whole minutes, so the
/// second field does not depend on the zone).
fn refine(started: Timestamp, logger: Timestamp) -> Timestamp {
    if started.utc.nanosecond() != 0 || started.utc.second() != logger.utc.second() {
        return started;
    }
    let nanos = logger.utc.nanosecond().min(999_999_999);
    match started.utc.with_nanosecond(nanos) {
        Some(utc) => Timestamp { utc, ..started },
        None => started,
    }
}

fn own(s: &str) -> Cow<'static, str> {
    Cow::Owned(s.to_owned())
}

fn set(slot: &mut Option<Cow<'static, str>>, value: Option<Cow<'_, str>>) {
    if slot.is_none()
        && let Some(v) = value.filter(|v| !v.is_empty())
    {
        *slot = Some(Cow::Owned(v.into_owned()));
    }
}

/// [`set`] for the grant type.
fn set_grant(slot: &mut Option<GrantType>, value: Option<Cow<'_, str>>) {
    if slot.is_none()
        && let Some(v) = value.filter(|v| !v.is_empty())
    {
        *slot = Some(GrantType::from_name(&v));
    }
}

/// Cuts an evidence line at [`MAX_LINE`] bytes, on a char boundary.
fn cut(mut text: String) -> String {
    if text.len() > MAX_LINE {
        let mut at = MAX_LINE;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push_str(" …[cut]");
    }
    text
}
