//! Correlation: which events are one failed token request, and how far each
//! client's clock is from the server's.
//!
//! A failure is one failed token request however many logs saw it. Its
//! events are joined by request id first (the server's request log and the
//! client's `x-request-id` header), then by time: a client error with no
//! request id joins the one server failure within a few seconds of it (after
//! correcting the client's clock), and a server's warning line (Keycloak's
//! `OAuth2CodeParser`, Spring's provider messages) joins the server's failed
//! token response next to it.
//!
//! Clock offsets are estimated per client source from paired observations:
//! the client's time of a response against the server's `Date` header, and
//! the client's time of a request against the server's time of the same
//! request id. The median of the samples is the offset; an offset close to a
//! whole number of half hours is reported as a time-zone mistake, not drift.

use grantwatch_parsers::EventKind;
use std::collections::HashMap;

use crate::store::failure_signs::FailureSigns;
use crate::store::{EventRow, Result, Store};
use crate::time::human_duration;

/// How far a source's clock is from the server's (client minus server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClockEstimate {
    /// Median offset in milliseconds.
    pub offset_ms: i64,
    /// Number of paired observations.
    pub samples: usize,
    /// What the offset looks like (drift or a time-zone mistake).
    pub note: String,
}

/// The estimated clock offsets, by source id.
pub type Clocks = HashMap<i64, ClockEstimate>;

/// How close (ms) a client's error must be to a server failure to be joined
/// to it by time alone.
pub const JOIN_WINDOW_MS: i64 = 3_000;
/// How close a server warning must be to the failed token response it explains.
const PROVIDER_WINDOW_MS: i64 = 2_000;

/// Records the estimated offsets on their sources.
pub fn store_clocks(store: &Store, clocks: &Clocks) -> Result<()> {
    for (source, c) in clocks {
        store.set_clock_offset(*source, c.offset_ms, &c.note)?;
    }
    Ok(())
}

/// Estimates every client source's clock offset (see [`store_clocks`]).
pub fn estimate_clocks(store: &Store) -> Result<Clocks> {
    let mut samples: HashMap<i64, Vec<i64>> = HashMap::new();
    for sample in store.clock_samples()? {
        samples
            .entry(sample.source_id)
            .or_default()
            .push(sample.delta_ms);
    }
    let mut clocks = Clocks::new();
    for (source, mut deltas) in samples {
        deltas.sort_unstable();
        let offset_ms = deltas[deltas.len() / 2];
        let note = describe_offset(offset_ms);
        clocks.insert(
            source,
            ClockEstimate {
                offset_ms,
                samples: deltas.len(),
                note,
            },
        );
    }
    Ok(clocks)
}

/// Says whether an offset looks like drift or like a wrong time zone.
pub fn describe_offset(offset_ms: i64) -> String {
    let secs = offset_ms / 1000;
    let half_hours = (secs as f64 / 1800.0).round() as i64;
    let residue = (secs - half_hours * 1800).abs();
    if half_hours != 0 && residue <= 90 {
        let minutes = half_hours * 30;
        format!(
            "{} off by {:+03}:{:02}: a time-zone mistake (the zone assumed for this log is wrong), not drift",
            human_duration(offset_ms),
            minutes / 60,
            (minutes % 60).abs()
        )
    } else if secs.abs() < 2 {
        "in sync with the server (within 2 s)".to_owned()
    } else {
        format!(
            "{} {} the server: clock drift",
            human_duration(offset_ms),
            if offset_ms > 0 { "ahead of" } else { "behind" }
        )
    }
}

/// The events of one failure.
#[derive(Clone, Debug)]
pub struct Group {
    /// The event that stands for the failure: the server's record when there
    /// is one, else the client's.
    pub primary: EventRow,
    /// The other records of the same failure (client errors, server warnings).
    pub merged: Vec<EventRow>,
}

/// Whether an event records a failed token request (or a server's warning
/// about one): [`FailureSigns::is_failure`] of its row.
pub fn is_failure_event(e: &EventRow) -> bool {
    FailureSigns::of(e).is_failure()
}

/// The server time of an event: its own time for server logs, corrected by
/// the source's estimated offset for client logs.
pub fn server_time(e: &EventRow, clocks: &Clocks) -> Option<i64> {
    let ts = e.ts_ms?;
    match clocks.get(&e.source_id) {
        Some(c) if e.is_client_side() => Some(ts - c.offset_ms),
        _ => Some(ts),
    }
}

/// Builds the group of `event`: the same failure as seen by every log.
pub fn group(store: &Store, event: &EventRow, clocks: &Clocks) -> Result<Group> {
    let (primary, siblings) = match anchor(store, event, clocks)? {
        Some(server) => (server, Vec::new()),
        None if event.is_client_side() => {
            // The error line, the body printed after it and the library's
            // exception are one exchange: the first record in the log stands
            // for it, whichever of them was read first.
            let mut members = same_exchange(store, event)?;
            members.sort_by_key(|m| (m.line, m.id));
            let mut members = members.into_iter();
            match members.next() {
                Some(first) => (first, members.collect()),
                None => (event.clone(), Vec::new()),
            }
        }
        None => (event.clone(), Vec::new()),
    };
    let mut merged: Vec<EventRow> = Vec::new();
    let push = |e: EventRow, merged: &mut Vec<EventRow>| {
        if e.id != primary.id && !merged.iter().any(|m| m.id == e.id) {
            merged.push(e);
        }
    };
    for e in siblings {
        push(e, &mut merged);
    }
    if let Some(rid) = &primary.request_id {
        for e in store.events_by_request(rid)? {
            if is_failure_event(&e) {
                push(e, &mut merged);
            }
        }
    }
    if !primary.is_client_side() {
        // What can be told from the two events alone is asked before any
        // is copied out of the window; then what needs the store.
        let may_join = |e: &EventRow| match e.kind {
            EventKind::ProviderEvent => same_server(e, &primary) && compatible_client(e, &primary),
            _ => e.request_id.is_none(),
        };
        for e in nearby_failures(
            store,
            &primary,
            &[EventKind::ProviderEvent, EventKind::ClientError],
            clocks,
            may_join,
        )? {
            let joins = match e.kind {
                EventKind::ProviderEvent => explains_only(store, &e, &primary, clocks)?,
                // Only a client error whose one fitting server failure is
                // this one: in a retry loop with no request ids, every
                // server failure of the window fits every client error,
                // and each took them all, the last one's group replacing
                // the others' (their failures were lost).
                _ => {
                    client_error_joins(store, &e, &primary)?
                        && anchored(store, &e, clocks)? == Some(primary.id)
                }
            };
            if joins {
                push(e, &mut merged);
            }
        }
    }
    if primary.ts_ms.is_none() {
        for e in line_neighbours(store, &primary)? {
            push(e, &mut merged);
        }
    }
    if event.id != primary.id {
        push(event.clone(), &mut merged);
    }
    Ok(Group { primary, merged })
}

/// The server's failed token response that `event` belongs to, if another
/// event should stand for the failure.
fn anchor(store: &Store, event: &EventRow, clocks: &Clocks) -> Result<Option<EventRow>> {
    if event.kind == EventKind::TokenResponse && !event.is_client_side() {
        // Several server records of one request (the app's and its edge
        // router's, sharing the request id): the first stands for it.
        let Some(rid) = &event.request_id else {
            return Ok(None);
        };
        let first = store
            .events_by_request(rid)?
            .into_iter()
            .filter(|e| {
                e.kind == EventKind::TokenResponse && !e.is_client_side() && is_failure_event(e)
            })
            .min_by_key(|e| e.id);
        return Ok(first.filter(|f| f.id != event.id));
    }
    if let Some(rid) = &event.request_id {
        let found = store.events_by_request(rid)?.into_iter().find(|e| {
            e.kind == EventKind::TokenResponse && !e.is_client_side() && is_failure_event(e)
        });
        if found.is_some() {
            return Ok(found);
        }
    }
    // Without times, records written next to each other (a pasted support
    // ticket: the client's error, then the provider's log event) are one.
    let mut beside: Vec<EventRow> = if event.ts_ms.is_none() {
        line_neighbours(store, event)?
    } else {
        Vec::new()
    };
    beside.retain(|e| e.kind == EventKind::TokenResponse && !e.is_client_side());
    let is_server_response = event.kind == EventKind::TokenResponse && !event.is_client_side();
    if beside.len() == 1 && !is_server_response {
        return Ok(beside.pop());
    }
    let candidates: Vec<EventRow> =
        nearby_failures(store, event, &[EventKind::TokenResponse], clocks, |e| {
            !e.is_client_side()
        })?;
    let fitting: Vec<EventRow> = if event.kind == EventKind::ProviderEvent {
        candidates
            .into_iter()
            .filter(|e| same_server(event, e) && compatible_client(event, e))
            .collect()
    } else if event.request_id.is_none() {
        let mut out = Vec::new();
        for c in candidates {
            if client_error_joins(store, event, &c)? {
                out.push(c);
            }
        }
        out
    } else {
        Vec::new()
    };
    // Only an unambiguous match joins by time.
    Ok(if fitting.len() == 1 {
        fitting.into_iter().next()
    } else {
        None
    })
}

/// The failure events (see [`is_failure_event`]) of `kinds` within the join
/// window of `e` on the server's clock that `wanted` accepts, in time order.
fn nearby_failures(
    store: &Store,
    e: &EventRow,
    kinds: &[EventKind],
    clocks: &Clocks,
    wanted: impl Fn(&EventRow) -> bool,
) -> Result<Vec<EventRow>> {
    let Some(t) = server_time(e, clocks) else {
        return Ok(Vec::new());
    };
    let window = if e.kind == EventKind::ProviderEvent
        || kinds == [EventKind::ProviderEvent, EventKind::ClientError]
    {
        JOIN_WINDOW_MS.max(PROVIDER_WINDOW_MS)
    } else {
        JOIN_WINDOW_MS
    };
    // Client times are shifted by their offset: widen the raw window by the
    // largest offset so the SQL range does not cut them off.
    let widest = clocks
        .values()
        .map(|c| c.offset_ms.abs())
        .max()
        .unwrap_or(0);
    let near = |r: &EventRow| {
        r.id != e.id
            && is_failure_event(r)
            && server_time(r, clocks).is_some_and(|rt| {
                let limit =
                    if r.kind == EventKind::ProviderEvent || e.kind == EventKind::ProviderEvent {
                        PROVIDER_WINDOW_MS
                    } else {
                        JOIN_WINDOW_MS
                    };
                (rt - t).abs() <= limit
            })
    };
    store.failure_events_where(kinds, (t - window - widest, t + window + widest), |r| {
        near(r) && wanted(r)
    })
}

/// How many lines apart two records of one failure may be written when one
/// of them has no time.
pub(crate) const LINE_WINDOW: u64 = 3;

/// Failure records within [`LINE_WINDOW`] lines of `e` in the same file,
/// when one of the two has no time to join them by.
fn line_neighbours(store: &Store, e: &EventRow) -> Result<Vec<EventRow>> {
    let rows = store.events_of_source_between_lines(
        e.source_id,
        e.line.saturating_sub(LINE_WINDOW),
        e.line + LINE_WINDOW,
    )?;
    Ok(rows
        .into_iter()
        .filter(|n| {
            // Two records of one failure are of different kinds or sides (a
            // client's error and the server's event); two server responses
            // side by side are two failures.
            n.id != e.id
                && (n.kind != e.kind || n.is_client_side() != e.is_client_side())
                && (n.ts_ms.is_none() || e.ts_ms.is_none())
                && is_failure_event(n)
                && compatible_client(n, e)
                && !other_requests(n, e)
                && match (&n.server, &e.server) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                }
        })
        .collect())
}

/// How far apart (lines) the records of one exchange a client printed may
/// start: an error line, then its response body pretty-printed, then the
/// library's exception with a stack trace.
pub(crate) const EXCHANGE_LINES: u64 = 40;
/// How far apart in time the records of one exchange a client printed may be.
const EXCHANGE_MS: i64 = 1_000;

/// Every record the client log of `e` wrote about the same failed exchange,
/// `e` included: the failure records before and after it in that log, each
/// starting within [`LINE_WINDOW`] lines of the end of the last (only lines
/// no grammar read may come between), agreeing with all the others on
/// client, error, status and request id, and, where both have a time,
/// within [`EXCHANGE_MS`]. Anything else the log says (a new request, a
/// lifecycle change, a success), or a gap (a pasted ticket's next section),
/// ends the exchange.
fn same_exchange(store: &Store, e: &EventRow) -> Result<Vec<EventRow>> {
    let rows: Vec<EventRow> = store
        .events_of_source_between_lines(
            e.source_id,
            e.line.saturating_sub(EXCHANGE_LINES),
            e.line + EXCHANGE_LINES,
        )?
        .into_iter()
        .filter(|r| r.kind != EventKind::Unparsed)
        .collect();
    let Some(at) = rows.iter().position(|r| r.id == e.id) else {
        return Ok(vec![e.clone()]);
    };
    // Where each record ends: a record can span lines (a body printed
    // over several lines, an exception with its trace). Looked up only for
    // the records the walk reaches (it stops at the first that does not
    // continue the exchange: in a log of failures, the next one), not for
    // the whole window.
    let mut last_line: HashMap<i64, u64> = HashMap::new();
    let mut end_of = |r: &EventRow| -> Result<u64> {
        if let Some(end) = last_line.get(&r.id) {
            return Ok(*end);
        }
        let end = store
            .evidence(r.id)?
            .iter()
            .map(|l| l.line)
            .fold(r.line, u64::max);
        last_line.insert(r.id, end);
        Ok(end)
    };
    let mut members = vec![e.clone()];
    // Outward from `e`, one direction at a time.
    let mut last = e;
    for r in &rows[at + 1..] {
        if !continues(r, end_of(last)?, r.line, &members) {
            break;
        }
        members.push(r.clone());
        last = r;
    }
    let mut first = e;
    for r in rows[..at].iter().rev() {
        if !continues(r, end_of(r)?, first.line, &members) {
            break;
        }
        members.push(r.clone());
        first = r;
    }
    Ok(members)
}

/// Whether `r`, a record next to the exchange `members` with `end` the
/// last line of the earlier of the two records and `start` the first line
/// of the later, continues it.
fn continues(r: &EventRow, end: u64, start: u64, members: &[EventRow]) -> bool {
    r.is_client_side()
        && is_failure_event(r)
        && start.saturating_sub(end) <= LINE_WINDOW
        && members
            .iter()
            .all(|m| close_in_time(r, m) && one_exchange(m, r))
}

fn close_in_time(a: &EventRow, b: &EventRow) -> bool {
    match (a.ts_ms, b.ts_ms) {
        (Some(x), Some(y)) => (x - y).abs() <= EXCHANGE_MS,
        _ => true,
    }
}

/// Whether two client records can tell of one exchange: nothing they both
/// name differs.
fn one_exchange(a: &EventRow, b: &EventRow) -> bool {
    fn agree<T: PartialEq>(x: &Option<T>, y: &Option<T>) -> bool {
        match (x, y) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
    }
    let error = |e: &EventRow| e.error.as_ref().map(|s| s.to_ascii_lowercase());
    compatible_client(a, b)
        && agree(&error(a), &error(b))
        && agree(&a.status, &b.status)
        && !other_requests(a, b)
}

/// Whether `a` and `b` name different requests: then no nearness in lines
/// or in time makes them one failure (a JSON line cut by a truncation names
/// its own request even where its time is lost).
fn other_requests(a: &EventRow, b: &EventRow) -> bool {
    matches!((&a.request_id, &b.request_id), (Some(x), Some(y)) if x != y)
}

/// Failed responses read at once around a warning before all in its window.
const NEAREST_PAGE: u32 = 32;

/// Whether `failure` is the failed token response nearest to the server's
/// warning `warning`: on a busy server two failures a few milliseconds apart
/// each have their own warning (Keycloak's `PKCE verification failed` just
/// before each `CODE_TO_TOKEN_ERROR`), and a warning joined to both made one
/// failure of the two. Ties go to the earlier response. Every failure near
/// a warning asks: it is answered once (`Store::belongs_to`).
fn explains_only(
    store: &Store,
    warning: &EventRow,
    failure: &EventRow,
    clocks: &Clocks,
) -> Result<bool> {
    let explained = store.belongs_to(warning.id, own_offset(warning, clocks), || {
        explained_response(store, warning, clocks)
    })?;
    Ok(explained.is_none_or(|id| id == failure.id))
}

/// The id of the server failure `event` stands under ([`anchor`]), asked
/// once per event while the store is unchanged: every failure near a
/// client's error asks.
fn anchored(store: &Store, event: &EventRow, clocks: &Clocks) -> Result<Option<i64>> {
    store.belongs_to(event.id, own_offset(event, clocks), || {
        Ok(anchor(store, event, clocks)?.map(|a| a.id))
    })
}

/// The offset of `e`'s own clock, which [`server_time`] corrects its time
/// by: what, of the clocks, the answers about an event near failures
/// depend on (the failures around it are the server's, on its own clock).
fn own_offset(e: &EventRow, clocks: &Clocks) -> i64 {
    match clocks.get(&e.source_id) {
        Some(c) if e.is_client_side() => c.offset_ms,
        _ => 0,
    }
}

/// The id of the failed token response nearest to `warning` that it may
/// explain, or `None` when the warning restricts nothing (no time, or no
/// such response in its window).
fn explained_response(store: &Store, warning: &EventRow, clocks: &Clocks) -> Result<Option<i64>> {
    let Some(t) = server_time(warning, clocks) else {
        return Ok(None);
    };
    let explained = |e: &EventRow| {
        !e.is_client_side()
            && is_failure_event(e)
            && same_server(warning, e)
            && compatible_client(warning, e)
    };
    // Server responses only: their time is their own, so the nearest are
    // the first rows; a busy server's hundreds of responses a second are not
    // all read for each warning.
    let window = (t - PROVIDER_WINDOW_MS, t + PROVIDER_WINDOW_MS);
    let near = store.failed_responses_near(t, window, NEAREST_PAGE)?;
    if let Some(n) = near.iter().find(|e| explained(e)) {
        return Ok(Some(n.id));
    }
    if near.len() < NEAREST_PAGE as usize {
        return Ok(None);
    }
    let distance = |e: &EventRow| server_time(e, clocks).map(|rt| (rt - t).abs());
    let nearest = nearby_failures(
        store,
        warning,
        &[EventKind::TokenResponse],
        clocks,
        explained,
    )?
    .into_iter()
    .min_by_key(|e| (distance(e), e.ts_ms, e.id));
    Ok(nearest.map(|n| n.id))
}

fn same_server(a: &EventRow, b: &EventRow) -> bool {
    a.source_id == b.source_id || (a.server.is_some() && a.server == b.server)
}

fn compatible_client(a: &EventRow, b: &EventRow) -> bool {
    match (&a.client_id, &b.client_id) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

/// Whether a client error with no request id is the client's view of the
/// server failure `server`: client ids and statuses agree where both are
/// known, and the server failure has no client record of its own yet.
fn client_error_joins(store: &Store, client: &EventRow, server: &EventRow) -> Result<bool> {
    if !client.is_client_side() || server.is_client_side() {
        return Ok(false);
    }
    if !compatible_client(client, server) {
        return Ok(false);
    }
    if let (Some(a), Some(b)) = (client.status, server.status)
        && a != b
    {
        return Ok(false);
    }
    if let Some(rid) = &server.request_id {
        // The server failure already has a client record with its request id.
        let has_client = store
            .events_by_request(rid)?
            .iter()
            .any(|e| e.is_client_side() && is_failure_event(e));
        if has_client {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_hour_offsets_read_as_time_zone_mistakes() {
        assert!(describe_offset(3_600_000 + 20_000).contains("time-zone"));
        assert!(describe_offset(-19_800_000).contains("-05:30"));
        assert!(describe_offset(540_000).contains("drift"));
        assert!(describe_offset(800).contains("in sync"));
    }
}
