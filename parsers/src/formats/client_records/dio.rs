//! dio `LogInterceptor` blocks (`*** Request ***`, `*** Response ***`,
//! `*** DioException ***`): multi-line records, fed one message at a time by
//! the container parser, that become a token request, a token response, a
//! revoke call or a client error when the block is complete.
//!
//! Invariants: a block holds at most [`MAX_BLOCK_LINES`] lines and
//! [`MAX_TEXT`] bytes of body; every message it reads is already redacted,
//! and fingerprints come from [`Redacted::apply_to`] (the revoke call's
//! `token=` included, once the block knows it is a revoke).

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::common;
use crate::event::{Event, EventKind, EvidenceLine, ServerKind, Timestamp};
use crate::format::Format;
use crate::grant::GrantType;
use crate::redact::{Redacted, Secret};

use super::errors::fill_from_provider;
use super::urls::{is_token_path, server_from_url};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DioKind {
    Request,
    Response,
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Top,
    Headers,
    Data,
    Body,
    Done,
}

/// Lines and bytes one block may hold: a runaway block is cut, not grown.
const MAX_BLOCK_LINES: usize = 500;
const MAX_TEXT: usize = 256 * 1024;

fn block_kind(msg: &str) -> Option<DioKind> {
    let t = msg.trim();
    if t.starts_with("*** Request ***") {
        Some(DioKind::Request)
    } else if t.starts_with("*** Response ***") {
        Some(DioKind::Response)
    } else if t.starts_with("*** DioException ***") || t.starts_with("*** DioError ***") {
        Some(DioKind::Error)
    } else {
        None
    }
}

#[derive(Debug)]
struct DioBlock {
    kind: DioKind,
    section: Section,
    /// Fingerprints and evidence accumulate here.
    event: Event<'static>,
    uri: Option<String>,
    method: Option<String>,
    status: Option<u16>,
    request_id: Option<String>,
    server_date: Option<DateTime<Utc>>,
    www_authenticate: Option<String>,
    /// The secrets of the request body, applied once the block knows
    /// whether it is a revoke call.
    data_secrets: Vec<Secret>,
    exception: Option<String>,
    response_seen: bool,
    data: String,
    body: String,
    lines: usize,
}

/// The dio block being read, if any. One per container stream.
#[derive(Debug, Default)]
pub(crate) struct DioBlocks {
    open: Option<Box<DioBlock>>,
    /// The installation id the app's last request header named: a client
    /// log is one installation's, so its responses and errors (whose
    /// blocks log the response's headers, not the request's) carry it too.
    device: Option<String>,
}

impl DioBlocks {
    /// Whether a block is being read.
    pub(crate) fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Whether a (raw) message starts a block.
    pub(crate) fn starts_block(msg: &str) -> bool {
        msg.starts_with("***") && block_kind(msg).is_some()
    }

    /// Offers one message of a redacted line (`msg` is inside `red.text`).
    /// Returns false when the message is not part of a dio block; the open
    /// block is then finished and emitted.
    pub(crate) fn offer(
        &mut self,
        line_no: u64,
        red: &Redacted<'_>,
        msg: &str,
        ts: Option<Timestamp>,
        format: Format,
        out: &mut Vec<Event<'_>>,
    ) -> bool {
        if let Some(kind) = block_kind(msg) {
            self.flush(out);
            let mut event = Event::new(EventKind::ClientError, format);
            event.ts = ts;
            let mut block = Box::new(DioBlock::new(kind, event));
            block.add_line(line_no, red);
            self.open = Some(block);
            return true;
        }
        let Some(block) = self.open.as_mut() else {
            return false;
        };
        if block.lines >= MAX_BLOCK_LINES || !block.accept(msg) {
            self.flush(out);
            return false;
        }
        block.note_secrets(red);
        if !msg.trim().is_empty() {
            block.add_line(line_no, red);
        }
        true
    }

    /// Emits the open block, if it tells something about OAuth.
    /// The first line of the open block, if one is being read.
    pub(crate) fn first_line(&self) -> Option<u64> {
        self.open
            .as_ref()
            .and_then(|b| b.event.evidence.first())
            .map(|e| e.line)
    }

    pub(crate) fn flush(&mut self, out: &mut Vec<Event<'_>>) {
        if let Some(block) = self.open.take() {
            if let Some(d) = &block.event.device_id {
                self.device = Some(d.to_string());
            }
            if let Some(mut ev) = block.finish() {
                if ev.device_id.is_none() {
                    ev.device_id = self.device.clone().map(Cow::Owned);
                }
                out.push(ev);
            }
        }
    }
}

impl DioBlock {
    fn new(kind: DioKind, event: Event<'static>) -> Self {
        DioBlock {
            kind,
            section: Section::Top,
            event,
            uri: None,
            method: None,
            status: None,
            request_id: None,
            server_date: None,
            www_authenticate: None,
            data_secrets: Vec::new(),
            exception: None,
            response_seen: false,
            data: String::new(),
            body: String::new(),
            lines: 0,
        }
    }

    fn add_line(&mut self, line_no: u64, red: &Redacted<'_>) {
        self.lines += 1;
        red.apply_to(&mut self.event);
        self.event.evidence.push(EvidenceLine {
            line: line_no,
            text: Cow::Owned(red.text.clone().into_owned()),
        });
    }

    fn note_secrets(&mut self, red: &Redacted<'_>) {
        if self.section == Section::Data {
            self.data_secrets.extend(red.secrets.iter().cloned());
        }
    }

    /// Takes one message into the block; false when it does not belong.
    fn accept(&mut self, msg: &str) -> bool {
        let t = msg.trim_end();
        match self.section {
            Section::Body | Section::Data => {
                if t.trim().is_empty() {
                    self.section = Section::Done;
                } else {
                    let buf = if self.section == Section::Body {
                        &mut self.body
                    } else {
                        &mut self.data
                    };
                    push_limited(buf, t);
                }
                return true;
            }
            Section::Done => return t.trim().is_empty(),
            Section::Top | Section::Headers => {}
        }
        if t.trim().is_empty() {
            let in_exception = self.kind == DioKind::Error && !self.response_seen;
            if !in_exception || self.exception.is_none() {
                self.section = Section::Done;
            }
            return true;
        }
        match t {
            "headers:" => self.section = Section::Headers,
            "data:" => self.section = Section::Data,
            "Response Text:" => self.section = Section::Body,
            _ => return self.accept_field(t),
        }
        true
    }

    fn accept_field(&mut self, t: &str) -> bool {
        let indented = t.starts_with([' ', '\t']);
        if self.section == Section::Headers && indented {
            if let Some((k, v)) = t.trim_start().split_once(':') {
                self.header(k.trim(), v.trim());
            }
            return true;
        }
        if t.starts_with("DioException [") || t.starts_with("DioError [") {
            self.exception = Some(t.to_owned());
            self.status = self.status.or_else(|| status_in_exception(t));
            return true;
        }
        if let Some((k, v)) = t.split_once(':')
            && let Some(done) = self.top_field(k, v.trim())
        {
            return done;
        }
        if self.kind == DioKind::Error && !self.response_seen && self.exception.is_some() {
            if let Some(e) = self.exception.as_mut() {
                push_limited(e, t);
            }
            return true;
        }
        false
    }

    /// A `key: value` line outside the headers; `None` when the key is not
    /// one dio prints.
    fn top_field(&mut self, k: &str, v: &str) -> Option<bool> {
        match k {
            "uri" => {
                if self.uri.is_some() {
                    self.response_seen = true;
                }
                self.uri.get_or_insert_with(|| v.to_owned());
            }
            "method" => self.method = Some(v.to_owned()),
            "statusCode" => {
                self.response_seen = true;
                self.status = v.parse().ok().or(self.status);
            }
            "responseType"
            | "followRedirects"
            | "persistentConnection"
            | "connectTimeout"
            | "sendTimeout"
            | "receiveTimeout"
            | "receiveDataWhenStatusError"
            | "extra"
            | "redirect"
            | "contentType"
            | "queryParameters" => {}
            _ => return None,
        }
        Some(true)
    }

    fn header(&mut self, key: &str, value: &str) {
        let value = value
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(value);
        match key.to_ascii_lowercase().as_str() {
            "date" => self.server_date = common::http_date(value),
            "x-request-id" => self.request_id = Some(value.to_owned()),
            "x-okta-request-id" | "request-id" | "x-ms-request-id" | "x-correlation-id"
            | "x-amzn-requestid" | "x-b3-traceid" => {
                self.request_id.get_or_insert_with(|| value.to_owned());
            }
            "www-authenticate" => self.www_authenticate = Some(value.to_owned()),
            // What apps name their installation by, in the headers they
            // add to every request (the request block logs them).
            "x-device-id" | "device-id" | "x-installation-id" | "installation-id"
                if !value.is_empty() =>
            {
                self.event.device_id = Some(Cow::Owned(value.to_owned()));
            }
            _ => {}
        }
    }

    fn finish(self) -> Option<Event<'static>> {
        let mut ev = self.event;
        let uri = self.uri.unwrap_or_default();
        let (path, query) = common::split_url(&uri);
        let data = self.data.as_str();
        let grant_type = form_value(data, "grant_type");
        let token_ep = is_token_path(path) || grant_type.is_some();
        let revoke = path.trim_end_matches('/').ends_with("/revoke");
        if !(token_ep || revoke) && self.status.is_none_or(|s| s < 400) {
            return None;
        }
        ev.path = (!path.is_empty()).then(|| Cow::Owned(path.to_owned()));
        ev.server = server_from_url(&uri);
        ev.method = self.method.map(Cow::Owned);
        ev.request_id = self.request_id.map(Cow::Owned);
        ev.server_date = self.server_date;
        ev.status = self.status;
        ev.grant_type = grant_type.as_deref().map(GrantType::from_name);
        ev.client_id = form_value(data, "client_id")
            .or_else(|| query.and_then(|q| common::query_param(q, "client_id")))
            .map(own);
        ev.redirect_uri = form_value(data, "redirect_uri").map(own);
        let oauth = response_error(&self.body, self.www_authenticate.as_deref());
        ev.error = oauth.error.map(Cow::Owned);
        ev.error_description = oauth.description.map(Cow::Owned);
        ev.provider_code = oauth.code.map(Cow::Owned);
        ev.server = oauth.server.or(ev.server);
        ev.kind = match self.kind {
            DioKind::Request if revoke => {
                ev.kind = EventKind::RevokeRequest;
                let body = Redacted {
                    text: Cow::Borrowed(data),
                    secrets: self.data_secrets,
                };
                body.apply_to(&mut ev);
                EventKind::RevokeRequest
            }
            DioKind::Request if token_ep => EventKind::TokenRequest,
            DioKind::Request => return None,
            _ => match self.status {
                Some(s) if s >= 400 && (token_ep || revoke || ev.error.is_some()) => {
                    EventKind::ClientError
                }
                Some(s) if (200..300).contains(&s) && token_ep => EventKind::TokenResponse,
                None if token_ep => {
                    let first = self.exception.as_deref().and_then(|e| e.lines().next());
                    ev.provider_reason = first.map(|e| Cow::Owned(e.to_owned()));
                    EventKind::ClientError
                }
                _ => return None,
            },
        };
        Some(ev)
    }
}

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

fn push_limited(buf: &mut String, line: &str) {
    if buf.len() + line.len() < MAX_TEXT {
        if !buf.is_empty() {
            buf.push('\n');
        }
        buf.push_str(line);
    }
}

/// `... a status code of 400 and ...` (dio 5), `Http status error [400]` (dio 4).
fn status_in_exception(t: &str) -> Option<u16> {
    ["status code of ", "Http status error ["]
        .iter()
        .find_map(|m| t.find(m).map(|p| &t[p + m.len()..]))
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse().ok())
}

/// A field of a request body as dio prints it: JSON, form-urlencoded, or a
/// Dart map (`{grant_type: refresh_token, client_id: abc}`).
pub(crate) fn form_value<'t>(data: &'t str, key: &str) -> Option<Cow<'t, str>> {
    if let Some(v) = common::quoted_value(data, key) {
        return Some(v);
    }
    let trimmed = data.trim();
    if !trimmed.starts_with('{') && trimmed.contains('=') {
        return common::query_param(trimmed, key);
    }
    let mut from = 0;
    while let Some(p) = trimmed[from..].find(key) {
        let at = from + p;
        from = at + key.len();
        let before = trimmed[..at].bytes().next_back();
        if !matches!(before, Some(b'{') | Some(b' ') | Some(b',') | None) {
            continue;
        }
        if let Some(v) = trimmed[from..].strip_prefix(": ") {
            let end = v.find([',', '}']).unwrap_or(v.len());
            return Some(Cow::Borrowed(v[..end].trim()));
        }
    }
    None
}

#[derive(Debug, Default)]
struct ResponseError {
    error: Option<String>,
    description: Option<String>,
    code: Option<String>,
    server: Option<ServerKind>,
}

/// The OAuth error of a response: its JSON (or Dart map) body first, then
/// the `www-authenticate` challenge; server and provider code from
/// [`crate::providers`].
fn response_error(body: &str, www: Option<&str>) -> ResponseError {
    let mut r = ResponseError::default();
    if let Ok(serde_json::Value::Object(obj)) =
        serde_json::from_str::<serde_json::Value>(body.trim())
    {
        let text = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        r.error = text("error");
        r.description = text("error_description");
        r.code = obj
            .get("error_codes")
            .and_then(|c| c.get(0))
            .and_then(serde_json::Value::as_i64)
            .map(|c| format!("AADSTS{c}"));
    } else if !body.is_empty() {
        r.error = form_value(body, "error").map(Cow::into_owned);
        r.description = form_value(body, "error_description").map(Cow::into_owned);
    }
    if let Some(m) = www.and_then(crate::providers::recognize) {
        r.error = r.error.or_else(|| m.error.map(Cow::into_owned));
        r.description = r.description.or_else(|| m.description.map(Cow::into_owned));
    }
    let all = format!(
        "{} {} {}",
        r.description.as_deref().unwrap_or(""),
        body,
        www.unwrap_or("")
    );
    let mut probe = Event::new(EventKind::ClientError, Format::Logcat);
    fill_from_provider(&mut probe, &all);
    r.server = probe.server;
    r.code = r.code.or_else(|| probe.provider_code.map(Cow::into_owned));
    r
}
