//! Diagnosis as `watch` runs it: the failures among new events, and every
//! stored failure the new events may change, diagnosed again as `analyze`
//! would over everything stored, so that whatever order and lag the logs
//! arrive in, the end state is the one-shot analysis's.
//!
//! What new events can change, following the lookups a diagnosis makes
//! (`correlate::group`, `case::gather`):
//! - by time: any failure after them in time (every time-bounded lookup
//!   but the joins looks back from the failure: the authorize request, the
//!   code's earlier exchanges, an earlier refresh or revoke, a clock
//!   sample, the app's lifecycle), and within [`SLACK_MS`] before them (the
//!   widest join window: a client error joins within 3 s, a provider's
//!   warning within 2 s) the failures they can join: any, before a new
//!   client error or provider event; those with a client error or provider
//!   event, before a new token response (it may take it from them);
//! - by key, whatever the time: a failure with an event of a request id a
//!   new event carries, or that exchanged the code a new `code_issued`
//!   issued (the two lookups not bounded by the failure's time);
//! - by line: a failure with an event of the same file within
//!   [`LINES_BEFORE`] lines before a new event (records without a time join
//!   their neighbours), [`CLIENT_LINES_BEFORE`] if a client wrote the
//!   failure's event (a client's exchange spans 40 lines), or
//!   [`LINES_AFTER`] after
//!   it (the login's OmniAuth phases are looked for 400 lines before a
//!   failure); this is also how events without a time reach the failures
//!   they can change;
//! - every failure with an event from a source whose clock estimate moved
//!   (all its times moved).
//!
//! For logs that arrive in order the cost of a pass is the new events and
//! the few failures they can join or sit next to, not every failure of the
//! last minute (as when this was bounded by time alone);
//! a log arriving late still costs one pass over the failures since its
//! first line.
//!
//! The touched failures are regrouped from scratch, their candidate events
//! taken in id order as `analyze` takes them; a failure whose events now
//! belong to another is removed. A group that reaches an event of a
//! failure outside the touched set pulls that failure in.
//!
//! A pass reads everything from one snapshot (one read transaction), then
//! writes in one transaction: what it diagnoses is what the database held
//! at one moment, its cursor covers exactly those events, and the join
//! windows its connection keeps stay valid while the reader commits.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use super::{RunStats, case, decide, failure_id, record};
use crate::config::DiagnoseSettings;
use crate::correlate::{self, is_failure_event};
use crate::store::{FailureRecord, Result, Store};

/// Margin before the earliest new event (server time) within which failures
/// are diagnosed again: the widest window in which a diagnosis looks
/// forward in time from a failure (a client error joins within 3 s, a
/// provider's warning within 2 s).
pub const SLACK_MS: i64 = correlate::JOIN_WINDOW_MS;

/// Lines before a new event within which a failure of the same file may
/// take it in: records without a time join their neighbours within 3 lines
/// (`correlate::line_neighbours`): that reach.
pub const LINES_BEFORE: u64 = correlate::LINE_WINDOW;

/// Lines before a new event within which a failure a client logged may take
/// it in: a client's exchange reaches 40 lines either way
/// (`correlate::same_exchange`): that reach.
pub const CLIENT_LINES_BEFORE: u64 = correlate::EXCHANGE_LINES;

/// Lines after a new event within which a failure of the same file may
/// take it in: the login's OmniAuth phases are looked for 400 lines before
/// a failure (`case::login_phases`): that reach.
pub const LINES_AFTER: u64 = super::case::PHASE_REACH_LINES;

/// How far a client's clock may be off before its offset is estimated (a
/// time zone taken for UTC): the span a client's new events may touch.
pub const UNKNOWN_CLOCK_MS: i64 = 14 * 3_600_000;

/// How many times a pass widens its set of failures to take in those its
/// groups reach, before it settles for what it has.
const MAX_WIDENING: usize = 4;

/// One regrouped failure, ready to write.
struct Regrouped {
    rec: FailureRecord,
    primary: i64,
    events: Vec<i64>,
    time_ms: Option<i64>,
}

/// Where one pass spent its time and how much it took on (for the
/// diagnosis thread's trace, `GRANTWATCH_TRACE_DIAGNOSIS`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PassTrace {
    /// Estimating the clocks and finding the failures to diagnose again.
    pub select: Duration,
    /// Grouping and diagnosing them.
    pub regroup: Duration,
    /// Writing the diagnoses, the cursor and committing.
    pub write: Duration,
    /// New failure candidates among the new events.
    pub new_candidates: usize,
    /// Stored failures diagnosed again (before widening).
    pub touched: usize,
}

/// Diagnoses the events stored after `after` and re-diagnoses the stored
/// failures they may change; writes it all, with the cursor, in one
/// transaction.
pub fn run(store: &mut Store, settings: &DiagnoseSettings, after: i64) -> Result<RunStats> {
    run_traced(store, settings, after, &mut PassTrace::default())
}

/// [`run`], noting where the time went in `trace`.
pub fn run_traced(
    store: &mut Store,
    settings: &DiagnoseSettings,
    after: i64,
    trace: &mut PassTrace,
) -> Result<RunStats> {
    let began = Instant::now();
    // Everything the pass reads, from one snapshot: the events another
    // connection commits meanwhile are the next pass's, and the join
    // windows a connection keeps (`store/window.rs`) stay valid through
    // the pass. Read outside one, each commit of the reader's dropped
    // them: under a client retrying a refused grant hundreds of times a
    // second, a pass re-read its windows for each failure and took
    // seconds to minutes (benches/README.md).
    let read = {
        let snapshot: &Store = store;
        snapshot.reading(|| read_pass(snapshot, settings, after, trace, began))?
    };
    let Some(PassRead {
        last_event_id,
        clocks,
        touched,
        regrouped,
    }) = read
    else {
        return Ok(RunStats {
            last_event_id: after,
            ..RunStats::default()
        });
    };
    let diagnosed = Instant::now();
    let mut stats = RunStats {
        last_event_id,
        ..RunStats::default()
    };
    store.write(|store| {
        correlate::store_clocks(store, &clocks)?;
        let kept: HashSet<&str> = regrouped.iter().map(|g| g.rec.id.as_str()).collect();
        for id in touched.iter().filter(|id| !kept.contains(id.as_str())) {
            store.remove_failure(id)?;
        }
        for g in &regrouped {
            store.regroup(&g.rec.id, g.primary, &g.events)?;
            let merged: Vec<i64> = g
                .events
                .iter()
                .copied()
                .filter(|e| *e != g.primary)
                .collect();
            stats.diagnosed += 1;
            if store.upsert_failure(&g.rec, g.primary, &merged, g.time_ms)? {
                stats.changed += 1;
            }
        }
        store.advance_diagnosis_cursor(last_event_id)?;
        Ok(())
    })?;
    trace.write = diagnosed.elapsed();
    Ok(stats)
}

/// What a pass read: the newest event it covers, the clocks, the stored
/// failures it diagnoses again and the diagnoses to write.
struct PassRead {
    last_event_id: i64,
    clocks: correlate::Clocks,
    touched: HashSet<String>,
    regrouped: Vec<Regrouped>,
}

/// The reading half of a pass ([`run_traced`]); `None` when no event is
/// new.
fn read_pass(
    store: &Store,
    settings: &DiagnoseSettings,
    after: i64,
    trace: &mut PassTrace,
    began: Instant,
) -> Result<Option<PassRead>> {
    let last_event_id = store.max_event_id()?;
    if last_event_id <= after {
        return Ok(None);
    }
    let clocks = correlate::estimate_clocks(store)?;
    let stored = store.stored_clock_offsets()?;
    // A source whose clock estimate moved moved all its times: its whole
    // span counts as new.
    let mut moved: BTreeSet<i64> = clocks
        .iter()
        .filter(|(s, c)| stored.get(s) != Some(&c.offset_ms))
        .map(|(s, _)| *s)
        .collect();
    moved.extend(stored.keys().filter(|s| !clocks.contains_key(s)));
    let mut spans = store.new_spans(after)?;
    if !moved.is_empty() {
        spans.extend(
            store
                .new_spans(0)?
                .into_iter()
                .filter(|s| moved.contains(&s.source_id)),
        );
    }
    // Three bounds in server time: failures from the earliest new event on
    // (it is their earlier context); from the earliest new client error or
    // provider event less the join window (it may join them); from the
    // earliest new token response less the window, those with a client
    // error or provider event (it may take it from them).
    let mut after_new: Option<i64> = None;
    let mut joins_from: Option<i64> = None;
    let mut responses_from: Option<i64> = None;
    let earliest = |bound: &mut Option<i64>, at: i64| {
        *bound = Some(bound.map_or(at, |b| b.min(at)));
    };
    let mut near: Vec<(i64, (u64, u64, u64))> = Vec::new();
    for span in spans {
        // A moved source's failures are all touched (below).
        if let Some((first, last)) = span.lines
            && !moved.contains(&span.source_id)
        {
            near.push((
                span.source_id,
                (
                    first.saturating_sub(CLIENT_LINES_BEFORE),
                    first.saturating_sub(LINES_BEFORE),
                    last + LINES_AFTER,
                ),
            ));
        }
        // In server time, by the old and the new estimate alike; a client
        // without an estimate may be off by a time zone.
        let estimates = [
            clocks.get(&span.source_id).map(|c| c.offset_ms),
            stored.get(&span.source_id).copied(),
        ];
        let server_time = |t: i64| {
            let mut at = t;
            for offset in estimates.into_iter().flatten() {
                at = at.min(t - offset);
            }
            if span.client && estimates.iter().all(Option::is_none) {
                at -= UNKNOWN_CLOCK_MS;
            }
            at
        };
        if let Some(t) = span.earliest_ms {
            earliest(&mut after_new, server_time(t));
        }
        if let Some(t) = span.earliest_join_ms {
            earliest(&mut joins_from, server_time(t) - SLACK_MS);
        }
        if let Some(t) = span.earliest_response_ms {
            earliest(&mut responses_from, server_time(t) - SLACK_MS);
        }
    }
    let since = match (after_new, joins_from) {
        (Some(a), Some(j)) => Some(a.min(j)),
        (a, j) => a.or(j),
    };
    let moved: Vec<i64> = moved.into_iter().collect();
    let mut touched: HashSet<String> = store.failures_touched(since, &moved)?.into_iter().collect();
    if let Some(from) = responses_from.filter(|r| since.is_none_or(|s| *r < s)) {
        touched.extend(store.failures_joined_since(from)?);
    }
    touched.extend(store.failures_sharing_keys(after)?);
    for (source, lines) in near {
        touched.extend(store.failures_between_lines(source, lines)?);
    }
    let new_candidates: Vec<i64> = store
        .failure_candidates(after)?
        .into_iter()
        .filter(is_failure_event)
        .map(|e| e.id)
        .collect();
    trace.new_candidates = new_candidates.len();
    trace.touched = touched.len();
    let selected = Instant::now();
    trace.select = selected - began;
    let mut regrouped = Vec::new();
    for _ in 0..MAX_WIDENING {
        let (groups, reached) = regroup(store, settings, &clocks, &touched, &new_candidates)?;
        regrouped = groups;
        if reached.is_empty() {
            break;
        }
        touched.extend(reached);
    }
    trace.regroup = selected.elapsed();
    Ok(Some(PassRead {
        last_event_id,
        clocks,
        touched,
        regrouped,
    }))
}

/// Groups and diagnoses the candidate events of the `touched` failures and
/// the new candidates, in id order; also the failures outside `touched`
/// whose events the groups reached.
fn regroup(
    store: &Store,
    settings: &DiagnoseSettings,
    clocks: &correlate::Clocks,
    touched: &HashSet<String>,
    new_candidates: &[i64],
) -> Result<(Vec<Regrouped>, Vec<String>)> {
    let mut ids: BTreeSet<i64> = new_candidates.iter().copied().collect();
    for f in touched {
        ids.extend(store.events_of_failure(f)?);
    }
    let mut assigned: HashMap<i64, usize> = HashMap::new();
    let mut out: Vec<Regrouped> = Vec::new();
    let mut reached: Vec<String> = Vec::new();
    for id in ids {
        if assigned.contains_key(&id) {
            continue;
        }
        let Some(event) = store.event(id)? else {
            continue;
        };
        if !is_failure_event(&event) {
            continue;
        }
        let group = correlate::group(store, &event, clocks)?;
        let members: Vec<i64> = std::iter::once(group.primary.id)
            .chain(group.merged.iter().map(|e| e.id))
            .collect();
        for m in &members {
            if let Some(f) = store.failure_of_event(*m)?
                && !touched.contains(&f)
            {
                reached.push(f);
            }
        }
        let joins = members.iter().find_map(|m| assigned.get(m).copied());
        let fresh_id = failure_id(&group.primary);
        let case = case::gather(store, group, clocks, settings)?;
        let verdict = decide(&case, settings);
        let slot = joins.unwrap_or(out.len());
        let id = joins.map_or(fresh_id, |i| out[i].rec.id.clone());
        let rec = record(store, &case, &verdict, id)?;
        let mut events: Vec<i64> = std::iter::once(case.primary.id)
            .chain(case.merged.iter().map(|e| e.id))
            .collect();
        for e in &events {
            assigned.insert(*e, slot);
        }
        let regrouped = if let Some(i) = joins {
            // As `analyze` does: a later candidate of a failure diagnoses it
            // again, with every event either group found.
            let mut all = std::mem::take(&mut out[i].events);
            all.append(&mut events);
            all.sort_unstable();
            all.dedup();
            events = all;
            &mut out[i]
        } else {
            out.push(Regrouped {
                rec: rec.clone(),
                primary: case.primary.id,
                events: Vec::new(),
                time_ms: case.time_ms,
            });
            &mut out[slot]
        };
        regrouped.rec = rec;
        regrouped.primary = case.primary.id;
        regrouped.events = events;
        regrouped.time_ms = case.time_ms;
    }
    reached.sort_unstable();
    reached.dedup();
    Ok((out, reached))
}
