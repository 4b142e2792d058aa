//! The diagnosis as a pipeline: failure candidates read a page at a time
//! in event-id order, diagnosed on plain reads in slices of [`SLICE`]
//! (`diagnose_slice`, which a thread can run on its own connection behind a
//! reader), and each slice written in one transaction (`write_batch`) by
//! the store's one writer. `run` does both in turn on one connection.
//!
//! Invariant: memory holds one page of candidates and one slice of
//! diagnoses at most, whatever the number of failures.

use std::collections::HashMap;

use crate::config::DiagnoseSettings;
use crate::correlate::{self, is_failure_event};
use crate::store::{EventRow, FailureRecord, RenderedJson, Result, Store};

use super::{case, decide, failure_id, record};
/// What a diagnosis run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Failures diagnosed (new or re-diagnosed).
    pub diagnosed: usize,
    /// Failures whose cause or confidence changed (or are new).
    pub changed: usize,
    /// The last candidate event id looked at: the next run starts after it.
    pub last_event_id: i64,
}

/// Diagnoses every failure among the events stored after event id `after`.
/// An event that joins a failure already stored (the client's log arriving
/// after the server's) re-diagnoses that failure.
///
/// The failures are diagnosed and written [`SLICE`] at a time, so that
/// memory stays flat however many there are (a gigabyte of logs holds
/// thousands, each with its evidence).
pub fn run(store: &mut Store, settings: &DiagnoseSettings, after: i64) -> Result<RunStats> {
    let mut assigned = HashMap::new();
    let mut total = RunStats {
        last_event_id: after,
        ..RunStats::default()
    };
    loop {
        let batch = diagnose_some(
            store,
            settings,
            total.last_event_id,
            None,
            SLICE,
            &mut assigned,
        )?;
        let full = batch.pending.len() == SLICE;
        let stats = write_batch(store, &batch)?;
        total.diagnosed += stats.diagnosed;
        total.changed += stats.changed;
        total.last_event_id = stats.last_event_id;
        if !full {
            return Ok(total);
        }
        // Written: the store now says which events these failures took.
        assigned.clear();
    }
}

/// Failures diagnosed before they are written: [`run`]'s and
/// [`diagnose_slice`]'s batches hold at most this many.
pub const SLICE: usize = 512;

/// One diagnosis computed and not yet written: the failure and the events
/// it stands on.
#[derive(Debug)]
pub struct Diagnosed {
    /// The failure as it will be stored; on a scratch analysis's
    /// connections without its candidates, evidence and context, which
    /// `json` holds (`Store::of_scratch_analysis`).
    pub record: FailureRecord,
    /// Its primary event's id.
    pub primary: i64,
    /// The ids of the other events merged into it.
    pub merged: Vec<i64>,
    /// Its time (ms), when one is known.
    pub time_ms: Option<i64>,
    /// Its candidates, evidence and context as the store writes them,
    /// rendered where it was prepared.
    pub json: RenderedJson,
}

/// Diagnoses computed but not yet written.
#[derive(Debug, Default)]
pub struct Batch {
    /// Each failure with the events it stands on.
    pub pending: Vec<Diagnosed>,
    /// The clock estimates the diagnoses used.
    pub clocks: correlate::Clocks,
    /// The last candidate event id looked at: the next batch starts after it.
    pub last_event_id: i64,
}

/// Computes the diagnoses of the failures among the events stored after
/// `after`, stopping at the first candidate newer than `horizon_ms` (whose
/// context may still be arriving) or after [`SLICE`] diagnoses (a batch
/// that holds [`SLICE`] may have more after it, and memory stays flat), on
/// plain reads: nothing is written, so a pipeline can diagnose on one
/// connection behind a reader that writes on another, and hand the batch
/// to the writer. `assigned` maps events to the failures of earlier batches
/// not yet written.
pub fn diagnose_slice(
    store: &Store,
    settings: &DiagnoseSettings,
    after: i64,
    horizon_ms: Option<i64>,
    assigned: &mut HashMap<i64, String>,
) -> Result<Batch> {
    diagnose_some(store, settings, after, horizon_ms, SLICE, assigned)
}

/// [`diagnose_slice`] with any limit.
fn diagnose_some(
    store: &Store,
    settings: &DiagnoseSettings,
    after: i64,
    horizon_ms: Option<i64>,
    limit: usize,
    assigned: &mut HashMap<i64, String>,
) -> Result<Batch> {
    let clocks = correlate::estimate_clocks(store)?;
    let mut batch = Batch {
        last_event_id: after,
        ..Batch::default()
    };
    let written = |event_id| store.failure_of_event(event_id);
    each_candidate(store, (after, i64::MAX), &mut |event| {
        if horizon_ms.is_some_and(|h| event.ts_ms.is_some_and(|t| t > h)) {
            return Ok(false);
        }
        batch.last_event_id = event.id;
        if !is_failure_event(&event) || already_taken(&written, assigned, event.id)? {
            return Ok(true);
        }
        let prepared = prepare(store, settings, &clocks, &event)?;
        batch.pending.push(settle(&written, assigned, prepared)?);
        Ok(batch.pending.len() < limit)
    })?;
    batch.clocks = clocks;
    Ok(batch)
}

/// A failure diagnosed on its own: its diagnosis under the id its group's
/// primary event gives, and the group's members in the order [`settle`]
/// looks them up. Nothing in it depends on the failures diagnosed before
/// it, so it can be computed on any thread, in any order.
#[derive(Debug)]
pub(super) struct Prepared {
    members: Vec<i64>,
    diagnosed: Diagnosed,
}

impl Prepared {
    /// The events the failure takes if it stands.
    pub(super) fn taken(&self) -> impl Iterator<Item = i64> + '_ {
        std::iter::once(self.diagnosed.primary).chain(self.diagnosed.merged.iter().copied())
    }
}

/// Groups, gathers and decides the failure `event` records.
pub(super) fn prepare(
    store: &Store,
    settings: &DiagnoseSettings,
    clocks: &correlate::Clocks,
    event: &EventRow,
) -> Result<Prepared> {
    let group = correlate::group(store, event, clocks)?;
    let members = std::iter::once(&group.primary)
        .chain(&group.merged)
        .map(|e| e.id)
        .collect();
    let id = failure_id(&group.primary);
    let case = case::gather(store, group, clocks, settings)?;
    let verdict = decide(&case, settings);
    let mut record = record(store, &case, &verdict, id)?;
    let json = record.render_json(case.time_ms)?;
    if store.of_scratch_analysis() {
        // Written from `json` alone: held twice, the failures in flight
        // raised a Rails log's peak memory by a tenth (benches/README.md).
        record.forget_rendered();
    }
    Ok(Prepared {
        members,
        diagnosed: Diagnosed {
            json,
            record,
            primary: case.primary.id,
            merged: case.merged.iter().map(|e| e.id).collect(),
            time_ms: case.time_ms,
        },
    })
}

/// The failure an event belongs to among those written (the store's
/// `failure_of_event`, or what stands for it while a writer thread catches
/// up: `parallel/handed.rs`).
pub(super) type Written<'a> = dyn Fn(i64) -> Result<Option<String>> + 'a;

/// Whether the event already belongs to a failure: one diagnosed earlier
/// in this run (`assigned`, not yet written) or one written.
pub(super) fn already_taken(
    written: &Written<'_>,
    assigned: &HashMap<i64, String>,
    event_id: i64,
) -> Result<bool> {
    Ok(assigned.contains_key(&event_id) || written(event_id)?.is_some())
}

/// Gives a prepared failure the id of the failure one of its members
/// already belongs to (the client's log arriving after the server's
/// re-diagnoses that failure), and notes its events as taken.
pub(super) fn settle(
    written: &Written<'_>,
    assigned: &mut HashMap<i64, String>,
    mut prepared: Prepared,
) -> Result<Diagnosed> {
    for member in &prepared.members {
        let existing = match assigned.get(member) {
            Some(id) => Some(id.clone()),
            None => written(*member)?,
        };
        if let Some(id) = existing {
            prepared.diagnosed.record.id = id;
            break;
        }
    }
    for e in prepared.taken() {
        assigned.insert(e, prepared.diagnosed.record.id.clone());
    }
    Ok(prepared.diagnosed)
}

/// Candidates read at once by [`each_candidate`].
pub(super) const CANDIDATE_PAGE: u32 = 1024;

/// Calls `f` with each failure candidate with an id in `(after, until]`,
/// in id order, read a page at a time, until it returns `false`.
pub(super) fn each_candidate(
    store: &Store,
    range: (i64, i64),
    f: &mut dyn FnMut(EventRow) -> Result<bool>,
) -> Result<()> {
    each_in_pages(store, range, Store::failure_candidates_page, f)
}

/// [`each_candidate`] for the candidates that are failure events
/// (`correlate::is_failure_event`) only: the others are never read.
pub(super) fn each_failure_event(
    store: &Store,
    range: (i64, i64),
    f: &mut dyn FnMut(EventRow) -> Result<bool>,
) -> Result<()> {
    each_in_pages(store, range, Store::failure_events_page, f)
}

fn each_in_pages(
    store: &Store,
    (after, until): (i64, i64),
    page_of: impl Fn(&Store, (i64, i64), u32) -> crate::store::Result<Vec<EventRow>>,
    f: &mut dyn FnMut(EventRow) -> Result<bool>,
) -> Result<()> {
    let mut cursor = after;
    loop {
        let page = page_of(store, (cursor, until), CANDIDATE_PAGE)?;
        let full = page.len() == CANDIDATE_PAGE as usize;
        for event in page {
            cursor = event.id;
            if !f(event)? {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// Writes a batch of diagnoses in one transaction.
pub fn write_batch(store: &mut Store, batch: &Batch) -> Result<RunStats> {
    store.write(|store| write_batch_in_transaction(store, batch))
}

/// Writes a batch of diagnoses in the caller's transaction.
pub(super) fn write_batch_in_transaction(store: &mut Store, batch: &Batch) -> Result<RunStats> {
    let mut stats = RunStats {
        last_event_id: batch.last_event_id,
        ..RunStats::default()
    };
    correlate::store_clocks(store, &batch.clocks)?;
    store.advance_diagnosis_cursor(batch.last_event_id)?;
    for d in &batch.pending {
        stats.diagnosed += 1;
        if store.upsert_rendered(&d.record, &d.json, (d.primary, &d.merged), d.time_ms)? {
            stats.changed += 1;
        }
    }
    Ok(stats)
}
