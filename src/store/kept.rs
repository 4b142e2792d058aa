//! A scratch load's events kept out of SQLite: their rows in a file
//! (`rows.rs`), and, beside the orders `event_index.rs` keeps, the orders
//! that answer every other query the analysis asks of them — by code,
//! PKCE challenge, verifier and refresh-token fingerprint, the failure
//! candidates and failing events, by source and line, the clock samples.
//!
//! `analyze` without `--db` reads a log into a database nothing else reads,
//! then diagnoses it. Inserting each event into SQLite and reading it back
//! by id was most of the work on a Keycloak or Hydra log after parsing it
//! (benches/README.md). A load keeps its events here when it keeps their
//! index keys from the first event (a scratch database loaded from empty);
//! the ids are the ones SQLite would have given (1, 2, … in the order
//! stored).
//!
//! Invariants: every query answers exactly what its SQL answers over the
//! same events stored in the table, in the same order (each method names
//! its query; `kept_tests.rs` compares them); whatever cannot be kept
//! (a read that gives up or reads a file again, the index's budget passed,
//! events changed after the load) first puts every kept row into the table
//! under its id (`put_kept_in_table`, `kept_table.rs`), after which SQL
//! answers.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use foldhash::fast::RandomState;
use grantwatch_parsers::{Event, EventKind};

use super::EventRow;
use super::chunked::Chunked;
use super::clocks::ClockSample;
use super::failure_signs::FailureSigns;
use super::request_order::hash32;
use super::revoke_summary::{Revoke, RevokeTexts};
use super::rows::{self, Cell, Cells, Rows, RowsWriter};
use super::{Error, Result};

/// The columns looked up by value (`keyed.rs`), by their place in a
/// record (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyColumn {
    CodeFp = 22,
    RefreshTokenFp = 23,
    CodeChallenge = 20,
    VerifierS256 = 25,
}

const KEY_COLUMNS: [KeyColumn; 4] = [
    KeyColumn::CodeFp,
    KeyColumn::RefreshTokenFp,
    KeyColumn::CodeChallenge,
    KeyColumn::VerifierS256,
];

/// One event with a value in a key column: the value's hash (with the
/// column), and the event's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Keyed {
    hash: u32,
    id: u32,
}

/// One event in `events_by_source`'s order: source, line, kind (by
/// name), part, then id. 12 bytes: held for every event (a load of more
/// than 65,535 files, or a line of more than 255 records, is kept in the
/// table instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Placed {
    source: u16,
    line: u32,
    kind: u8,
    part: u8,
    id: u32,
}

impl Placed {
    /// `None` when a number does not fit.
    fn new(source: i64, line: i64, kind: u8, part: i64, id: i64) -> Option<Placed> {
        Some(Placed {
            source: u16::try_from(source).ok()?,
            line: u32::try_from(line).ok()?,
            kind,
            part: u8::try_from(part).ok()?,
            id: u32::try_from(id).ok()?,
        })
    }

    /// The same source, line, kind and part: the same event.
    fn same_place(&self, other: &Placed) -> bool {
        (self.source, self.line, self.kind, self.part)
            == (other.source, other.line, other.kind, other.part)
    }

    fn source_and_line(&self) -> (i64, i64) {
        (i64::from(self.source), i64::from(self.line))
    }
}

/// The kinds' names in byte order, which `events_by_source` sorts them
/// by (`kinds_sort_by_name` checks the list against the kinds).
const KINDS_BY_NAME: [&str; 9] = [
    "authorize_request",
    "client_error",
    "code_issued",
    "lifecycle",
    "provider_event",
    "revoke_request",
    "token_request",
    "token_response",
    "unparsed",
];

/// A kind's rank in [`KINDS_BY_NAME`].
fn kind_rank(name: &str) -> u8 {
    KINDS_BY_NAME
        .iter()
        .position(|n| *n == name)
        .map_or(u8::MAX, |p| p as u8)
}

/// What the kept orders hold, gathered while the load stores events.
#[derive(Debug, Default)]
struct Orders {
    keyed: Chunked<Keyed>,
    candidates: Chunked<i64>,
    /// The candidates that are failure events (`failure_signs.rs`).
    failure_events: Chunked<i64>,
    failing: Chunked<(i64, i64)>,
    placed: Chunked<Placed>,
    phases: Chunked<(i64, i64, i64)>,
    date_samples: Vec<ClockSample>,
    mobile_requests: Vec<i64>,
    revokes: Chunked<Revoke>,
}

/// The orders [`KeptBuilder::finish`] sorts, sorted.
#[derive(Debug)]
struct Sorted {
    keyed: Vec<Keyed>,
    failing: Vec<(i64, i64)>,
    placed: Vec<Placed>,
    phases: Vec<(i64, i64, i64)>,
}

impl Orders {
    /// Takes out the orders that are sorted before they are read, sorted.
    fn sorted(&mut self) -> Sorted {
        let mut keyed = std::mem::take(&mut self.keyed).into_vec();
        keyed.sort_unstable();
        let mut failing = std::mem::take(&mut self.failing).into_vec();
        failing.sort_unstable();
        let mut placed = std::mem::take(&mut self.placed).into_vec();
        // Stable and run-adaptive: each range reader's events come in line
        // order, so the order is a merge of runs (a Keycloak gigabyte's
        // 1.56 million: 45 ms instead of 58). Every field is compared, so
        // equal items are the same item.
        placed.sort();
        let mut phases = std::mem::take(&mut self.phases).into_vec();
        phases.sort_unstable();
        Sorted {
            keyed,
            failing,
            placed,
            phases,
        }
    }

    /// Takes the keys of the event stored as `id` with the record `c`;
    /// `None` when one does not fit (a line past 2³², an id past 2³²).
    fn add(&mut self, hasher: &RandomState, id: i64, c: &Cells<'_>) -> Option<()> {
        let col = |i: usize| c[i - 1];
        let kind = col(3).text().unwrap_or("");
        let status_failed = col(13).int().is_some_and(|s| s >= 400);
        let some = |i: usize| col(i) != Cell::Null;
        let ts = col(6).int();
        let source = col(1).int().unwrap_or(0);
        let line = col(2).int().unwrap_or(0);
        for key in KEY_COLUMNS {
            if let Some(value) = col(key as usize).text() {
                self.keyed.push(Keyed {
                    hash: hash32(hasher, (key as u8, value)),
                    id: u32::try_from(id).ok()?,
                });
            }
        }
        let may_fail = matches!(kind, "token_response" | "client_error" | "provider_event");
        let errs = status_failed || some(14) || some(18) || some(16);
        // Read once, for the two orders below.
        let signs = if may_fail { failure_signs(c) } else { None };
        // `failure_candidates_page`'s condition.
        if may_fail && (errs || kind == "client_error" && some(15)) {
            self.candidates.push(id);
            if signs.is_some_and(|signs| signs.is_failure()) {
                self.failure_events.push(id);
            }
        }
        // `events_failing`'s condition (and a time, for `BETWEEN`), less
        // what the join window leaves out.
        if let Some(ts) = ts.filter(|_| may_fail && (kind == "client_error" || errs))
            && signs.is_some_and(|signs| signs.fills_join_window())
        {
            self.failing.push((ts, id));
        }
        let part = col(42).int().unwrap_or(0);
        self.placed
            .push(Placed::new(source, line, kind_rank(kind), part, id)?);
        if matches!(kind, "code_issued" | "authorize_request")
            && col(16).text().is_some_and(is_phase_reason)
        {
            self.phases.push((source, line, id));
        }
        self.clock_keys(id, c);
        if kind == "revoke_request"
            && let Some(ts_ms) = ts
        {
            let texts = RevokeTexts {
                ip: col(34).text(),
                user: col(37).text(),
                token: col(23).text(),
            };
            self.revokes
                .push(Revoke::of(id, ts_ms, col(13).int(), texts));
        }
        Some(())
    }

    /// The two clock queries' rows (`clocks.rs`, `SAMPLE_QUERIES`).
    fn clock_keys(&mut self, id: i64, c: &Cells<'_>) {
        let format = c[3].text().unwrap_or("");
        let mobile = matches!(format, "logcat" | "ios-console");
        let (ts, date) = (c[5].int(), c[32].int());
        if let (true, Some(ts), Some(date)) = (mobile || format == "json-lines", ts, date)
            && date > 0
        {
            self.date_samples.push(ClockSample {
                source_id: c[0].int().unwrap_or(0),
                delta_ms: ts - date - 500,
            });
        }
        if mobile && ts.is_some() && date.is_none() && c[7] != Cell::Null {
            self.mobile_requests.push(id);
        }
    }
}

/// `provider_reason LIKE '% phase initiated.'`: SQLite's `LIKE` ignores
/// the case of ASCII letters, and `%` may match nothing.
fn is_phase_reason(reason: &str) -> bool {
    const END: &[u8] = b" phase initiated.";
    let bytes = reason.as_bytes();
    bytes.len() >= END.len() && bytes[bytes.len() - END.len()..].eq_ignore_ascii_case(END)
}

/// The events a load keeps out of SQLite, while it stores them.
#[derive(Debug)]
pub(super) struct KeptBuilder {
    rows: RowsWriter,
    first_id: i64,
    orders: Orders,
    hasher: RandomState,
    /// The sources whose events are kept.
    pub(super) sources: Vec<i64>,
    record: Vec<u8>,
    /// An event's keys did not fit: the events cannot stay out of the
    /// table.
    spoiled: bool,
    /// The orders sorted ahead of [`KeptBuilder::finish`], once the load
    /// is over ([`KeptBuilder::sort`]).
    sorted: Option<Sorted>,
}

impl KeptBuilder {
    /// Keeps events in a rows file at `path`, the first under `first_id`.
    pub(super) fn create(path: &Path, first_id: i64) -> io::Result<KeptBuilder> {
        Ok(KeptBuilder {
            rows: RowsWriter::create(path)?,
            first_id,
            orders: Orders::default(),
            hasher: RandomState::default(),
            sources: Vec::new(),
            record: Vec::new(),
            spoiled: false,
            sorted: None,
        })
    }

    /// Keeps `e` of `source_id`; returns its id.
    pub(super) fn keep(&mut self, source_id: i64, e: &Event<'_>) -> io::Result<i64> {
        let id = self.first_id + self.rows.count() as i64;
        self.record.clear();
        rows::encode(&mut self.record, self.rows.names_mut(), source_id, e)
            .map_err(io::Error::other)?;
        let cells = rows::decode_encoded(&self.record, self.rows.names())?;
        if self.orders.add(&self.hasher, id, &cells).is_none() {
            self.spoiled = true;
        }
        self.rows.append(&self.record)?;
        if self.sources.last() != Some(&source_id) && !self.sources.contains(&source_id) {
            self.sources.push(source_id);
        }
        Ok(id)
    }

    /// Whether the events cannot stay out of the table (see `spoiled`).
    pub(super) fn is_spoiled(&self) -> bool {
        self.spoiled
    }

    /// Bytes held in memory for what is kept so far.
    pub(super) fn bytes(&self) -> usize {
        self.rows.count() * 8
            + self.orders.keyed.len() * std::mem::size_of::<Keyed>()
            + self.orders.placed.len() * std::mem::size_of::<Placed>()
            + (self.orders.candidates.len()
                + self.orders.failure_events.len()
                + self.orders.mobile_requests.len())
                * 8
            + (self.orders.failing.len() + self.orders.date_samples.len()) * 16
            + self.orders.phases.len() * 24
            + self.orders.revokes.len() * std::mem::size_of::<Revoke>()
    }

    /// The rows written and their orders sorted; `paths` names each
    /// source's file.
    pub(super) fn finish(mut self, paths: HashMap<i64, String>) -> io::Result<Kept> {
        let Sorted {
            keyed,
            failing,
            placed,
            phases,
        } = match self.sorted.take() {
            Some(sorted) => sorted,
            None => self.orders.sorted(),
        };
        let o = self.orders;
        // The table's unique index would have skipped the second: the ids
        // given since are not the table's.
        if placed.windows(2).any(|w| w[0].same_place(&w[1])) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "an event kept twice in one load",
            ));
        }
        Ok(Kept {
            rows: self.rows.finish()?,
            first_id: self.first_id,
            // Hashed with foldhash: asked for each row read.
            paths: paths.into_iter().collect(),
            hasher: self.hasher,
            keyed,
            candidates: o.candidates.into_vec(),
            failure_events: o.failure_events.into_vec(),
            failing,
            placed,
            phases,
            date_samples: o.date_samples,
            mobile_requests: o.mobile_requests,
            revokes: o.revokes.into_vec(),
        })
    }

    /// Sorts the orders [`KeptBuilder::finish`] reads sorted, once no
    /// event is kept any more, so that they are sorted on a thread of
    /// their own while the event index sorts its own (`bulk.rs`): one after
    /// the other, the main thread sorted these alone (benches/README.md).
    pub(super) fn sort(&mut self) {
        if self.sorted.is_none() {
            self.sorted = Some(self.orders.sorted());
        }
    }

    /// The rows written, for putting them into the table.
    pub(super) fn into_rows(self) -> io::Result<(i64, Rows)> {
        Ok((self.first_id, self.rows.finish()?))
    }
}

/// The ids of the items of `sorted` (ordered by the first part of `key`)
/// whose first part is in `from..=to`, in order.
fn ids_between<T, K: PartialOrd + Copy>(
    sorted: &[T],
    key: impl Fn(&T) -> (K, i64),
    from: K,
    to: K,
) -> Vec<i64> {
    if from > to {
        return Vec::new();
    }
    let start = sorted.partition_point(|t| key(t).0 < from);
    let end = sorted.partition_point(|t| key(t).0 <= to);
    sorted[start..end.max(start)]
        .iter()
        .map(|t| key(t).1)
        .collect()
}

/// The signs of failure (`failure_signs.rs`) of the record `c`, read as
/// `rows::event_row` reads them; `None` for a kind no event has.
fn failure_signs<'c>(c: &'c Cells<'_>) -> Option<FailureSigns<'c>> {
    let col = |i: usize| c[i - 1];
    Some(FailureSigns {
        kind: EventKind::from_name(col(3).text()?)?,
        status: col(13).int().map(|v| v as u16),
        has_error: col(14) != Cell::Null,
        has_provider_code: col(18) != Cell::Null,
        has_provider_reason: col(16) != Cell::Null,
        path: col(12).text(),
    })
}

/// The ids of `ids` (in order) in `after + 1..=until`, the first `limit`.
fn id_page(ids: &[i64], (after, until): (i64, i64), limit: usize) -> &[i64] {
    let start = ids.partition_point(|&id| id <= after);
    let end = ids.partition_point(|&id| id <= until);
    let page = &ids[start..end.max(start)];
    &page[..page.len().min(limit)]
}

/// The kept events once the load is over.
#[derive(Debug)]
pub struct Kept {
    rows: Rows,
    first_id: i64,
    paths: HashMap<i64, String, RandomState>,
    hasher: RandomState,
    keyed: Vec<Keyed>,
    /// Ids in order.
    candidates: Vec<i64>,
    /// Ids in order: the candidates that are failure events.
    failure_events: Vec<i64>,
    /// (time, id) in order.
    failing: Vec<(i64, i64)>,
    placed: Vec<Placed>,
    /// (source, line, id) in order.
    phases: Vec<(i64, i64, i64)>,
    date_samples: Vec<ClockSample>,
    mobile_requests: Vec<i64>,
    /// Every revoke with a time, summarized, in id order.
    revokes: Vec<Revoke>,
}

impl Kept {
    /// The largest id kept (0 when none): `max(id)`.
    pub(super) fn max_id(&self) -> i64 {
        match self.rows.count() {
            0 => 0,
            n => self.first_id + n as i64 - 1,
        }
    }

    /// The row of event `id`: `SELECT … WHERE e.id = ?1`.
    pub(super) fn row(&self, id: i64) -> io::Result<Option<EventRow>> {
        let Some(i) = self.index_of(id) else {
            return Ok(None);
        };
        let row = self.rows.read_in_place(i, |bytes| {
            let cells = rows::decode(bytes, self.rows.names())?;
            let source = cells[0].int().unwrap_or(0);
            let file = self.paths.get(&source).map_or("", String::as_str);
            rows::event_row(id, file, &cells)
        })?;
        row.transpose()
    }

    /// The path of the file event `id` was read from (`SELECT s.path …
    /// WHERE e.id = ?1`): of its record, only the source is decoded.
    pub(super) fn file_of(&self, id: i64) -> io::Result<Option<String>> {
        let Some(i) = self.index_of(id) else {
            return Ok(None);
        };
        let source = self.rows.read_in_place(i, rows::source_of)?.transpose()?;
        Ok(source.map(|s| self.paths.get(&s).cloned().unwrap_or_default()))
    }

    fn index_of(&self, id: i64) -> Option<usize> {
        usize::try_from(id.checked_sub(self.first_id)?).ok()
    }

    /// The ids of the events whose `column` may be `value` (each holds it,
    /// or a value of the same hash: the caller compares), in id order.
    pub(super) fn with_value(&self, column: KeyColumn, value: &str) -> Vec<i64> {
        let hash = hash32(&self.hasher, (column as u8, value));
        let start = self.keyed.partition_point(|k| k.hash < hash);
        self.keyed[start..]
            .iter()
            .take_while(|k| k.hash == hash)
            .map(|k| i64::from(k.id))
            .collect()
    }

    /// `failure_candidates_page`: the candidates with ids in
    /// `after + 1..=until`, the first `limit`.
    pub(super) fn candidates(&self, range: (i64, i64), limit: usize) -> &[i64] {
        id_page(&self.candidates, range, limit)
    }

    /// `failure_events_page`: the failure events with ids in
    /// `after + 1..=until`, the first `limit`.
    pub(super) fn failure_events(&self, range: (i64, i64), limit: usize) -> &[i64] {
        id_page(&self.failure_events, range, limit)
    }

    /// The failing events (`events_failing`) the join window holds
    /// ([`FailureSigns::fills_join_window`]) with a time in `from..=to`,
    /// in (time, id) order.
    pub(super) fn failing(&self, (from, to): (i64, i64)) -> Vec<i64> {
        ids_between(&self.failing, |&(ts, id)| ((ts,), id), (from,), (to,))
    }

    /// The events of `source` between two lines (inclusive), in
    /// `events_by_source`'s order.
    pub(super) fn between_lines(&self, source: i64, (from, to): (i64, i64)) -> Vec<i64> {
        let key = |p: &Placed| (p.source_and_line(), i64::from(p.id));
        ids_between(&self.placed, key, (source, from), (source, to))
    }

    /// The login phases of `source` between two lines (inclusive), in
    /// (line, id) order (`events_phases`).
    pub(super) fn phases_between(&self, source: i64, (from, to): (i64, i64)) -> Vec<i64> {
        let key = |&(s, l, id): &(i64, i64, i64)| ((s, l), id);
        ids_between(&self.phases, key, (source, from), (source, to))
    }

    /// The summary of revoke `id` (one with a time): what `revokes.rs`
    /// reads of its row, without reading it.
    pub(super) fn revoke(&self, id: i64) -> Option<Revoke> {
        let at = self.revokes.binary_search_by_key(&id, |r| r.id).ok()?;
        self.revokes.get(at).cloned()
    }

    /// The first clock query's samples, in id order.
    pub(super) fn date_samples(&self) -> &[ClockSample] {
        &self.date_samples
    }

    /// The ids of the second clock query's client requests, in id order.
    pub(super) fn mobile_requests(&self) -> &[i64] {
        &self.mobile_requests
    }

    /// Every record, for putting them into the table.
    pub(super) fn rows(&self) -> (i64, &Rows) {
        (self.first_id, &self.rows)
    }

    /// The rows of `ids`, in that order (an id with no row passed over).
    pub(super) fn rows_of(&self, ids: &[i64]) -> Result<Vec<EventRow>> {
        let mut rows = Vec::with_capacity(ids.len());
        for &id in ids {
            rows.extend(self.row(id).map_err(Error::Rows)?);
        }
        Ok(rows)
    }

    /// `e.<column> = ?1 ORDER BY coalesce(e.ts_ms, 0), e.id`.
    pub(super) fn rows_with(&self, column: KeyColumn, value: &str) -> Result<Vec<EventRow>> {
        let mut rows = self.rows_of(&self.with_value(column, value))?;
        rows.retain(|e| {
            let held = match column {
                KeyColumn::CodeFp => &e.code_fp,
                KeyColumn::RefreshTokenFp => &e.refresh_token_fp,
                KeyColumn::CodeChallenge => &e.code_challenge,
                KeyColumn::VerifierS256 => &e.verifier_s256,
            };
            held.as_deref() == Some(value)
        });
        rows.sort_by_key(|e| (e.ts_ms.unwrap_or(0), e.id));
        Ok(rows)
    }
}

#[cfg(test)]
#[path = "kept_tests.rs"]
mod tests;
