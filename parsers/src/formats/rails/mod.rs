//! Rails request logs of a Doorkeeper authorization server: tagged or not,
//! with or without the Ruby Logger prefix, Ruby ≤ 3.3 and 3.4 `Hash#inspect`.
//!
//! The lines of one request (`Started`, `Processing by`, `Parameters`,
//! `Redirected to`, `rescue_from handled`, `Completed`, and the SQL/render
//! lines between) are assembled into one event per OAuth request, emitted at
//! `Completed` (or at flush, or on eviction, as an incomplete request).
//! Concurrent requests interleave in tagged logs, so lines are grouped by
//! their tags (which hold the request id); untagged logs group by the
//! Logger's pid, or are sequential (development logs).
//!
//! Invariants:
//! - Only OAuth requests are kept: a `Started` path with `/oauth/`
//!   (authorize, token, revoke) or a `Processing by Doorkeeper::` controller.
//!   Every other line is decided without allocation (`Skipped`), and the
//!   request map is consulted only when a request is in flight.
//! - Memory is bounded on any input: at most [`MAX_IN_FLIGHT`] requests and
//!   [`MAX_BUFFERED`] bytes of evidence are held; the oldest request is
//!   emitted, incomplete, when either bound is passed.
//! - Lograge lines (`method=…`, JSON objects) are never claimed: they are
//!   the lograge parser's.

mod line;
mod request;

use std::collections::{HashMap, VecDeque};
use std::sync::LazyLock;

use memchr::memmem::Finder;

use crate::event::Event;
use crate::parser::{Context, LineParser, Outcome};

pub(crate) use line::{Parts, is_rails_request_line};
use line::{Started, is_lograge_body, is_rails_detail_line};
pub(crate) use request::Endpoint;
use request::{MAX_LINE, Request};

/// Requests held at most before the oldest is emitted incomplete.
pub const MAX_IN_FLIGHT: usize = 10_000;
/// Evidence bytes held at most before the oldest request is emitted.
pub const MAX_BUFFERED: usize = 64 << 20;
/// Recent non-OAuth `Started` lines remembered, for a Doorkeeper controller
/// mounted under a path without `/oauth/`.
const RECENT_STARTS: usize = 16;

static OAUTH: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"/oauth/"));

/// Parser state: the requests in flight, by grouping key.
#[derive(Debug, Default)]
pub struct RailsParser {
    in_flight: HashMap<Box<str>, Request>,
    /// Start order of the requests in flight (may hold stale entries of
    /// finished requests; they are skipped and compacted).
    order: VecDeque<(u64, Box<str>)>,
    seq: u64,
    buffered: usize,
    recent: RecentStarts,
    /// A Rails request line was seen: detail lines (SQL, render) of
    /// untagged logs are ours from now on.
    seen_request: bool,
}

impl LineParser for RailsParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let parts = Parts::split(line);
        let body = parts.body;
        if is_lograge_body(body) {
            return Outcome::Unknown;
        }
        let key = parts.key();
        // Parsed once: the request checks below all ask for it.
        let started = Started::parse(body);
        if !self.in_flight.is_empty() && self.in_flight.contains_key(key) {
            if started.is_none() {
                self.continue_request(key, line_no, line, ctx, out);
                return Outcome::Parsed;
            }
            // A new request on the same key: the previous one never completed.
            self.finish(key, out);
        }
        if !self.is_ours(&parts, started.is_some()) {
            return Outcome::Unknown;
        }
        // The client's OmniAuth lines in the same log (an app that is both
        // Doorkeeper's client and a Rails app): the login's phases.
        // (The phase check comes first: the line's time is read only for one.)
        if crate::extract::omniauth::phase(body).is_some()
            && let Some(mut event) = crate::extract::omniauth::phase_event(
                body,
                crate::format::Format::Rails,
                ctx,
                parts
                    .logger_time
                    .and_then(|t| Some(crate::common::timestamp(t, ctx)?.0)),
            )
        {
            let red = ctx.redactor.redact(line);
            event.evidence.push(crate::event::EvidenceLine {
                line: line_no,
                text: std::borrow::Cow::Owned(red.text.into_owned()),
            });
            out.push(event.into_owned());
            return Outcome::Parsed;
        }
        let Some((endpoint, remembered)) = self.opened_request(&parts, started, line_no, line)
        else {
            return Outcome::Skipped;
        };
        self.begin(key, endpoint, out);
        if let Some((started_no, started)) = remembered {
            self.continue_request(key, started_no, &started, ctx, out);
        }
        self.continue_request(key, line_no, line, ctx, out);
        Outcome::Parsed
    }

    fn flush<'a>(&mut self, _ctx: &Context, out: &mut Vec<Event<'a>>) {
        let mut all: Vec<Request> = self.in_flight.drain().map(|(_, r)| r).collect();
        all.sort_by_key(|r| r.seq);
        for req in all {
            out.push(req.finish());
        }
        self.order.clear();
        self.buffered = 0;
    }

    fn oldest_pending_line(&self) -> Option<u64> {
        self.in_flight
            .values()
            .filter_map(Request::first_line)
            .min()
    }

    fn quiet_needles(&self) -> &'static [&'static str] {
        &QUIET_NEEDLES
    }

    /// With no request in flight and a request line already seen (so that
    /// `seen_request` cannot change), a line with the Logger prefix is ours
    /// (`is_ours`); without the quiet needles it is no OmniAuth phase, no
    /// lograge body (`method`), and opens no request (no body starts
    /// `Started ` or `Processing by Doorkeeper::`): `feed` would skip it and
    /// change nothing. (`Started` lines are fed: skimming them meant finding
    /// every line's body and searching for `/oauth/`, a needle whose `/` is
    /// common; measured, that cost more than it saved.)
    fn skim(&mut self, _line_no: u64, line: &str) -> bool {
        self.in_flight.is_empty() && self.seen_request && line::logger_message(line).is_some()
    }

    /// `skim`'s rule holds for every line that starts with `head` when it
    /// holds for `head`: a Logger prefix found in a line's start is found
    /// in the whole line (see [`line::logger_message`]).
    fn skim_head(&mut self, line_no: u64, head: &str) -> bool {
        self.skim(line_no, head)
    }

    /// No OAuth request in flight, a request line seen (`seen_request`
    /// never changes again), and the ring of recent `Started` lines full:
    /// two full rings hold the same last [`RECENT_STARTS`] lines, so a
    /// `Processing by Doorkeeper::` line finds the same one in both.
    fn at_rest(&self) -> bool {
        self.in_flight.is_empty() && self.seen_request && self.recent.is_full()
    }
}

/// See [`RailsParser::skim`]: every word that can make a prefixed line
/// matter while no request is in flight.
const QUIET_NEEDLES: [&str; 4] = ["Started ", "Doorkeeper::", " phase initiated.", "method"];

impl RailsParser {
    /// Whether a line not in flight is a Rails line at all (`started`: its
    /// body is a `Started` line, which makes it a request line).
    fn is_ours(&mut self, parts: &Parts<'_>, started: bool) -> bool {
        if started || is_rails_request_line(parts.body) {
            self.seen_request = true;
            return true;
        }
        if parts.logger_time.is_some() {
            return true;
        }
        let tagged = !parts.tags.is_empty() && parts.request_id().is_some();
        (tagged || self.seen_request) && is_rails_detail_line(parts.body)
    }

    /// The OAuth request a line not in flight opens, with the `Started` line
    /// to read before it when that one was remembered: a `Started` line with
    /// `/oauth/` in its path, or the `Processing by Doorkeeper::…` of a
    /// request whose path had none. Other `Started` lines are remembered for
    /// the latter case.
    fn opened_request(
        &mut self,
        parts: &Parts<'_>,
        started: Option<Started<'_>>,
        line_no: u64,
        line: &str,
    ) -> Option<(Endpoint, Option<(u64, String)>)> {
        match parts.body.as_bytes().first() {
            Some(b'S') => {
                let started = started?;
                let path = started.target.split('?').next().unwrap_or("");
                if OAUTH.find(path.as_bytes()).is_none() {
                    self.recent.remember(parts.key(), line_no, line);
                    return None;
                }
                Some((Endpoint::from_path(path)?, None))
            }
            Some(b'P') => {
                let endpoint = Endpoint::from_controller(parts.body)?;
                Some((endpoint, self.recent.take(parts.key())))
            }
            _ => None,
        }
    }

    fn begin<'a>(&mut self, key: &str, endpoint: Endpoint, out: &mut Vec<Event<'a>>) {
        if self.in_flight.contains_key(key) {
            self.finish(key, out);
        }
        self.seq += 1;
        self.in_flight
            .insert(key.into(), Request::new(self.seq, endpoint));
        self.order.push_back((self.seq, key.into()));
        self.enforce_bounds(out);
    }

    fn continue_request<'a>(
        &mut self,
        key: &str,
        line_no: u64,
        line: &str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) {
        let Some(req) = self.in_flight.get_mut(key) else {
            return;
        };
        let before = req.bytes;
        let completed = req.absorb(line_no, line, ctx);
        self.buffered += req.bytes.saturating_sub(before);
        if completed {
            self.finish(key, out);
        }
        self.enforce_bounds(out);
    }

    fn finish<'a>(&mut self, key: &str, out: &mut Vec<Event<'a>>) {
        if let Some(req) = self.in_flight.remove(key) {
            self.buffered = self.buffered.saturating_sub(req.bytes);
            out.push(req.finish());
        }
        if self.order.len() > 2 * self.in_flight.len() + 64 {
            let live = &self.in_flight;
            self.order
                .retain(|(seq, k)| live.get(k).is_some_and(|r| r.seq == *seq));
        }
    }

    /// Emits the oldest requests until both bounds hold.
    fn enforce_bounds<'a>(&mut self, out: &mut Vec<Event<'a>>) {
        while self.in_flight.len() > MAX_IN_FLIGHT || self.buffered > MAX_BUFFERED {
            let Some((seq, key)) = self.order.pop_front() else {
                break;
            };
            if self.in_flight.get(&key).is_some_and(|r| r.seq == seq) {
                self.finish(&key, out);
            }
        }
    }
}

/// A small ring of recent non-OAuth `Started` lines; slots are reused so
/// remembering costs two copies and no allocation once warm.
#[derive(Debug, Default)]
struct RecentStarts {
    slots: Vec<RecentStart>,
    next: usize,
}

#[derive(Debug, Default)]
struct RecentStart {
    key: String,
    line_no: u64,
    text: String,
    live: bool,
}

impl RecentStarts {
    fn remember(&mut self, key: &str, line_no: u64, line: &str) {
        if line.len() > MAX_LINE || key.len() > 256 {
            return;
        }
        if self.slots.len() < RECENT_STARTS {
            self.slots.push(RecentStart::default());
            self.next = self.slots.len() - 1;
        }
        let Some(slot) = self.slots.get_mut(self.next) else {
            return;
        };
        slot.key.clear();
        slot.key.push_str(key);
        slot.text.clear();
        slot.text.push_str(line);
        slot.line_no = line_no;
        slot.live = true;
        self.next = (self.next + 1) % RECENT_STARTS;
    }

    /// Whether the ring has held [`RECENT_STARTS`] lines: what it holds is
    /// then the last lines remembered, whatever came before them.
    fn is_full(&self) -> bool {
        self.slots.len() == RECENT_STARTS
    }

    /// The most recent `Started` line of `key`, once.
    fn take(&mut self, key: &str) -> Option<(u64, String)> {
        let n = self.slots.len();
        (1..=n).find_map(|back| {
            let i = (self.next + RECENT_STARTS * 2 - back) % RECENT_STARTS;
            let slot = self.slots.get_mut(i).filter(|s| s.live && s.key == key)?;
            slot.live = false;
            Some((slot.line_no, std::mem::take(&mut slot.text)))
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
