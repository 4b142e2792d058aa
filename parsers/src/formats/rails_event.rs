//! Rails 8.1 structured events (`Rails.event`), as the framework's JSON
//! encoder writes them (`ActiveSupport::EventReporter::Encoders::JSON`,
//! `JSON.dump` of the event hash): one object per line,
//! `{"name":"action_controller.request_started","payload":{…},"tags":{…},
//! "context":{…},"timestamp":<ns>,"source_location":{…}}`, bare or behind the
//! Logger prefix and tags when a subscriber hands it to `Rails.logger`.
//!
//! A Doorkeeper request is two events: `request_started` carries the
//! controller, action and filtered `params` (grant type, client, redirect
//! URI, whether a `code_verifier` was sent), `request_completed` the status.
//! They are joined into one event: by the `request_id` of the event context
//! when the app sets one (`Rails.event.set_context(request_id: …)`), else by
//! order (the oldest started request of the same controller action), which
//! is exact for one process's log and only approximate when several
//! processes' events interleave without a request id.
//! `action_controller.rescue_from_handled` gives the exception class and
//! message; `action_controller.redirected` the authorize redirect.
//!
//! Invariants: every line is redacted before a field is read, and the held
//! requests keep only redacted text; at most [`MAX_PENDING`] requests are
//! held (the oldest is emitted as an unanswered request when passed). Events
//! of other controllers, and other event names, are `Skipped`.

use std::borrow::Cow;
use std::collections::VecDeque;

use chrono::DateTime;
use serde_json::{Map, Value};

use crate::common::{query_param, split_url};
use crate::event::{Event, EventKind, ServerKind, TimeBasis, Timestamp};
use crate::format::Format;
use crate::formats::rails::Parts;
use crate::grant::GrantType;
use crate::parser::{Context, LineParser, Outcome, redact_and_parse};

/// Started requests held at most, waiting for their completion.
pub const MAX_PENDING: usize = 4096;

/// Parser state: started requests waiting for `request_completed`.
#[derive(Debug, Default)]
pub struct RailsEventParser {
    pending: VecDeque<Pending>,
}

#[derive(Debug)]
struct Pending {
    key: Key,
    event: Event<'static>,
}

/// What joins the events of one request. `redirected` and
/// `rescue_from_handled` name no controller: they join by request id, or
/// (without one) the newest started request, since one request's events are
/// reported by one thread in order.
#[derive(Debug, PartialEq, Eq)]
struct Key {
    request_id: Option<String>,
    controller_action: Option<(String, String)>,
}

/// What a line's event is, beside the fields it gave.
struct Reported {
    name: String,
    key: Key,
}

impl LineParser for RailsEventParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let body = Parts::split(line.trim()).body;
        if !looks_like_reported_event(body) {
            return Outcome::Unknown;
        }
        if !is_doorkeeper_event(body) && (self.pending.is_empty() || !is_detail_event(body)) {
            return Outcome::Skipped;
        }
        let mut reported = None;
        match redact_and_parse(line_no, line, ctx, &mut reported, read_event) {
            Some(event) => self.take(event, reported, out),
            None => Outcome::Skipped,
        }
    }

    fn flush<'a>(&mut self, _ctx: &Context, out: &mut Vec<Event<'a>>) {
        out.extend(self.pending.drain(..).map(|p| p.event));
    }

    fn oldest_pending_line(&self) -> Option<u64> {
        self.pending.iter().map(|p| p.event.line()).min()
    }
}

impl RailsEventParser {
    /// Files an event read from a line: holds a started request, completes
    /// a held one, or adds detail to it.
    fn take<'a>(
        &mut self,
        event: Event<'a>,
        reported: Option<Reported>,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let Some(Reported { name, key }) = reported else {
            return Outcome::Skipped;
        };
        match name.as_str() {
            "action_controller.request_started" => {
                if self.pending.len() >= MAX_PENDING
                    && let Some(oldest) = self.pending.pop_front()
                {
                    out.push(oldest.event);
                }
                self.pending.push_back(Pending {
                    key,
                    event: event.into_owned(),
                });
            }
            "action_controller.request_completed" => match self.position(&key) {
                Some(i) => {
                    let mut held = self.pending.remove(i).map(|p| p.event);
                    if let Some(held) = held.as_mut() {
                        complete(held, event);
                    }
                    out.extend(held);
                }
                None => out.push(event),
            },
            _ => match self.position(&key) {
                Some(i) => {
                    if let Some(p) = self.pending.get_mut(i) {
                        add_detail(&mut p.event, event);
                    }
                }
                None => return Outcome::Skipped,
            },
        }
        Outcome::Parsed
    }

    /// The held request a later event of `key` belongs to: the same request
    /// id, or (without one) the oldest of the same controller action.
    fn position(&self, key: &Key) -> Option<usize> {
        let same = |p: &Pending| {
            (key.request_id.is_none() || p.key.request_id == key.request_id)
                && (key.controller_action.is_none()
                    || p.key.controller_action == key.controller_action)
        };
        if key.controller_action.is_none() && key.request_id.is_none() {
            return self.pending.len().checked_sub(1);
        }
        self.pending.iter().position(same)
    }
}

/// The completion's status (and anything it adds) onto the started request.
fn complete(held: &mut Event<'static>, done: Event<'_>) {
    if done.kind == EventKind::TokenResponse {
        held.kind = EventKind::TokenResponse;
    }
    held.status = done.status.or(held.status);
    add_detail(held, done);
}

/// A later event's fields fill what the held request lacks; its line joins
/// the evidence.
fn add_detail(held: &mut Event<'static>, later: Event<'_>) {
    let later = later.into_owned();
    held.provider_reason = held.provider_reason.take().or(later.provider_reason);
    held.error = held.error.take().or(later.error);
    held.error_description = held.error_description.take().or(later.error_description);
    if held.kind == EventKind::AuthorizeRequest && later.kind == EventKind::CodeIssued {
        held.kind = EventKind::CodeIssued;
    }
    held.code_fp = held.code_fp.or(later.code_fp);
    held.evidence.extend(later.evidence);
}

/// An event reporter's JSON (name, payload, context) — checked on bytes.
fn looks_like_reported_event(body: &str) -> bool {
    let has = |k: &[u8]| memchr::memmem::find(body.as_bytes(), k).is_some();
    body.starts_with('{')
        && has(b"\"name\":")
        && has(b"\"payload\":")
        && has(b"\"context\":")
        && !has(b"\"level_index\":")
}

/// An Action Controller event of a Doorkeeper controller (bytes only).
fn is_doorkeeper_event(body: &str) -> bool {
    let has = |k: &[u8]| memchr::memmem::find(body.as_bytes(), k).is_some();
    has(b"\"action_controller.") && has(b"Doorkeeper::")
}

/// An event that names no controller but belongs to the request in flight.
fn is_detail_event(body: &str) -> bool {
    let has = |k: &[u8]| memchr::memmem::find(body.as_bytes(), k).is_some();
    has(b"\"action_controller.redirected\"") || has(b"\"action_controller.rescue_from_handled\"")
}

/// Reads one redacted event line into the event it says something about,
/// and notes its name and join key in `reported`.
fn read_event<'t>(text: &'t str, reported: &mut Option<Reported>) -> Option<Event<'t>> {
    let body = Parts::split(text.trim()).body;
    let mut map: Map<String, Value> = serde_json::from_str(body).ok()?;
    let name = string(map.get("name"))?;
    let Some(Value::Object(payload)) = map.remove("payload") else {
        return None;
    };
    let controller_action = match string(payload.get("controller")) {
        Some(c) => Some((c, string(payload.get("action")).unwrap_or_default())),
        None if matches!(
            name.as_str(),
            "action_controller.redirected" | "action_controller.rescue_from_handled"
        ) =>
        {
            None
        }
        None => return None,
    };
    let kind = match &controller_action {
        Some((c, a)) => endpoint(c, a)?,
        None => EventKind::ProviderEvent,
    };
    let request_id = map
        .get("context")
        .and_then(|c| string(c.get("request_id")))
        .or_else(|| map.get("tags").and_then(|t| string(t.get("request_id"))));
    let mut e = Event::new(kind, Format::RailsEvent);
    e.server = Some(ServerKind::Doorkeeper);
    e.request_id = request_id.clone().map(Cow::Owned);
    e.ts = map
        .get("timestamp")
        .and_then(Value::as_i64)
        .map(|ns| Timestamp {
            utc: DateTime::from_timestamp_nanos(ns),
            basis: TimeBasis::Zoned,
        });
    read_payload(&name, &payload, &mut e);
    *reported = Some(Reported {
        name,
        key: Key {
            request_id,
            controller_action,
        },
    });
    Some(e)
}

/// The event kind a Doorkeeper controller action stands for.
fn endpoint(controller: &str, action: &str) -> Option<EventKind> {
    match (controller.strip_prefix("Doorkeeper::")?, action) {
        ("TokensController", "create") => Some(EventKind::TokenRequest),
        ("TokensController", "revoke") => Some(EventKind::RevokeRequest),
        ("AuthorizationsController", _) => Some(EventKind::AuthorizeRequest),
        _ => None,
    }
}

/// The fields each event name carries (the Rails guide's tables).
fn read_payload(name: &str, payload: &Map<String, Value>, e: &mut Event<'_>) {
    match name {
        "action_controller.request_started" => {
            if let Some(Value::Object(params)) = payload.get("params") {
                read_params(params, e);
            }
        }
        "action_controller.request_completed" => {
            e.status = payload
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok());
            if e.kind == EventKind::TokenRequest && e.status.is_some() {
                e.kind = EventKind::TokenResponse;
            }
        }
        "action_controller.rescue_from_handled" => {
            e.provider_reason = string(payload.get("exception_class")).map(Cow::Owned);
            e.error_description = string(payload.get("exception_message")).map(Cow::Owned);
        }
        "action_controller.redirected" => {
            let location = string(payload.get("location")).unwrap_or_default();
            if let Some(q) = split_url(&location).1 {
                if query_param(q, "code").is_some() {
                    e.kind = EventKind::CodeIssued;
                }
                e.error = query_param(q, "error").map(|v| Cow::Owned(v.into_owned()));
            }
        }
        _ => {}
    }
}

/// The OAuth parameters of a started request (filtered values stay
/// `[FILTERED]`; a parameter's presence still counts).
fn read_params(params: &Map<String, Value>, e: &mut Event<'_>) {
    let get = |k: &str| string(params.get(k)).map(Cow::Owned);
    e.grant_type = get("grant_type").as_deref().map(GrantType::from_name);
    e.client_id = get("client_id");
    e.redirect_uri = get("redirect_uri");
    e.code_challenge = get("code_challenge");
    e.code_challenge_method = get("code_challenge_method");
    if e.kind == EventKind::TokenRequest
        && e.grant_type == Some(GrantType::AuthorizationCode)
        && !params.contains_key("code_verifier")
    {
        e.verifier_sent = Some(false);
    }
}

fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
