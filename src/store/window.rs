//! The failure events around the last join window the diagnosis asked for
//! (`Store::failure_events_between`), kept for the next failure: failures
//! are diagnosed in the order they were logged, and the windows of
//! neighbours overlap, so in a log dense with failures (a Keycloak or Hydra
//! server's) each was read again, as whole rows, for every failure near it
//! (benches/README.md).
//!
//! The events of the last request id asked for ([`RequestMemo`]) are kept
//! the same way, but only while no connection changes the events; and what
//! each event near failures was found to belong to ([`NearMemo`]) while
//! the connection sees the same database.
//!
//! Invariant: the rows given back are exactly what the query would give
//! now. They are kept only with what the connection had seen when they were
//! read ([`Seen`]: SQLite's `data_version`, which changes when another
//! connection commits, and the connection's own count of changed rows), and
//! given back only while both are the same and the span asked for lies
//! within the span read.

use std::cell::RefCell;
use std::collections::HashMap;

use grantwatch_parsers::EventKind;

use super::events::EventRow;

/// What a connection had seen of the database: equal values, the same
/// rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    /// `PRAGMA data_version`: changes when another connection commits.
    data_version: i64,
    /// Rows this connection has inserted, updated or deleted.
    total_changes: u64,
}

impl From<(i64, u64)> for Seen {
    /// `(data_version, total_changes)`, as the store reads them.
    fn from((data_version, total_changes): (i64, u64)) -> Seen {
        Seen {
            data_version,
            total_changes,
        }
    }
}

/// The cache of one connection (see the module's invariant).
#[derive(Debug, Default)]
pub(super) struct FailureWindow {
    kept: RefCell<Option<Kept>>,
}

#[derive(Debug)]
struct Kept {
    seen: Seen,
    from_ms: i64,
    to_ms: i64,
    /// Every kind the windows ask for, in the query's order (time, id).
    rows: Vec<EventRow>,
}

impl FailureWindow {
    /// Forgets the kept rows.
    pub(super) fn clear(&self) {
        self.kept.borrow_mut().take();
    }

    /// The kept rows of `kinds` between two times (inclusive), in time
    /// order, when the rows kept were read with `seen` and span them.
    /// Only the rows `wanted` accepts are copied.
    pub(super) fn get(
        &self,
        seen: (i64, u64),
        kinds: &[EventKind],
        span: (i64, i64),
        wanted: impl Fn(&EventRow) -> bool,
    ) -> Option<Vec<EventRow>> {
        self.get_with(seen, span, |rows| select(rows, kinds, span, wanted))
    }

    /// `f` of the kept rows between two times (inclusive), in time order,
    /// when the rows kept were read with `seen` and span them: the caller
    /// picks what it needs from them without copying the rest (a warning's
    /// 32 nearest failed responses among thousands, `Store::failed_responses_near`).
    pub(super) fn get_with<T>(
        &self,
        seen: (i64, u64),
        (from_ms, to_ms): (i64, i64),
        f: impl FnOnce(&[EventRow]) -> T,
    ) -> Option<T> {
        let seen = Seen::from(seen);
        let kept = self.kept.borrow();
        let k = kept.as_ref()?;
        if k.seen != seen || from_ms < k.from_ms || to_ms > k.to_ms {
            return None;
        }
        Some(f(between(&k.rows, (from_ms, to_ms))))
    }

    /// The kept rows from `span`'s start to the end of the span kept, and
    /// that end, when they were read with `seen` and the span kept holds
    /// `span`'s start: the next span's read needs only what comes after
    /// them. Failures are diagnosed in time order, so each span read starts
    /// inside the last one, which was read whole again (benches/README.md).
    /// The rest of the kept rows is forgotten.
    pub(super) fn take_overlap(
        &self,
        seen: (i64, u64),
        (from_ms, _): (i64, i64),
    ) -> Option<(Vec<EventRow>, i64)> {
        let k = self.kept.borrow_mut().take()?;
        if k.seen != Seen::from(seen) || from_ms < k.from_ms || from_ms > k.to_ms {
            return None;
        }
        let start = k
            .rows
            .partition_point(|r| r.ts_ms.is_none_or(|t| t < from_ms));
        let mut rows = k.rows;
        rows.drain(..start);
        Some((rows, k.to_ms))
    }

    /// The rows of `kinds` between two times (inclusive) among `rows`, every
    /// failure event of `span` as read with `seen`; `rows` are kept in place
    /// of what was, however many. A burst of failures (a client retrying a
    /// refused grant hundreds of times a second) puts thousands in one
    /// span; read again for each of them, as when no more than 2,048 were
    /// kept, they made the diagnosis quadratic: 4,000 refused password
    /// grants in 10 s of a 220 MB log took 32 s (benches/README.md). Memory
    /// holds one span's rows either way: the caller forgets the kept rows
    /// ([`FailureWindow::clear`]) before it reads the next span.
    pub(super) fn keep(
        &self,
        seen: (i64, u64),
        span: (i64, i64),
        rows: Vec<EventRow>,
        kinds: &[EventKind],
        asked: (i64, i64),
        wanted: impl Fn(&EventRow) -> bool,
    ) -> Vec<EventRow> {
        debug_assert!(
            rows.is_sorted_by_key(|r| r.ts_ms),
            "kept rows in time order"
        );
        let selected = select(&rows, kinds, asked, wanted);
        *self.kept.borrow_mut() = Some(Kept {
            seen: Seen::from(seen),
            from_ms: span.0,
            to_ms: span.1,
            rows,
        });
        selected
    }
}

/// The rows of `kinds` between two times (inclusive) that `wanted`
/// accepts, in their order: only those are copied (a burst's window holds
/// thousands, most of which a failure's grouping drops).
fn select(
    rows: &[EventRow],
    kinds: &[EventKind],
    span: (i64, i64),
    wanted: impl Fn(&EventRow) -> bool,
) -> Vec<EventRow> {
    between(rows, span)
        .iter()
        .filter(|r| kinds.contains(&r.kind) && wanted(r))
        .cloned()
        .collect()
}

/// The rows between two times (inclusive) of `rows` in time order, found
/// by halving: a burst's thousands of rows are not each looked at for
/// every failure among them.
fn between(rows: &[EventRow], (from_ms, to_ms): (i64, i64)) -> &[EventRow] {
    let start = rows.partition_point(|r| r.ts_ms.is_none_or(|t| t < from_ms));
    let end = rows.partition_point(|r| r.ts_ms.is_none_or(|t| t <= to_ms));
    rows.get(start..end.max(start)).unwrap_or_default()
}

/// The events of the last request id asked for
/// (`Store::events_by_request`), kept only while the events are final
/// (`Store::set_events_final`): one failure asks for its request's events
/// to anchor it, to group it and to gather its case.
#[derive(Debug, Default)]
pub(super) struct RequestMemo(RefCell<Option<(String, Vec<EventRow>)>>);

impl RequestMemo {
    /// The rows kept for `request_id`, if the last ask was for it.
    pub(super) fn get(&self, request_id: &str) -> Option<Vec<EventRow>> {
        match &*self.0.borrow() {
            Some((id, rows)) if id == request_id => Some(rows.clone()),
            _ => None,
        }
    }

    /// Keeps `rows` as the events of `request_id`.
    pub(super) fn keep(&self, request_id: &str, rows: &[EventRow]) {
        *self.0.borrow_mut() = Some((request_id.to_owned(), rows.to_vec()));
    }

    /// Forgets what was kept.
    pub(super) fn clear(&self) {
        self.0.borrow_mut().take();
    }
}

/// How many answers [`NearMemo`] holds before it starts afresh: a
/// gigabyte's warnings are not all kept.
const ANSWERS_KEPT: usize = 1 << 16;

/// What each event near failures (a server's warning, a client's error
/// with no request id) was found to belong to (`Store::belongs_to`): the
/// id of the one failed response, or `None`. Every failure near such an
/// event asks; in a burst (hundreds of failures a second, each with its
/// warning or its client's error) each was asked by every failure of its
/// window, and each answer read its window again: a diagnosis cubic in the
/// burst (400 Keycloak failures in 2 s took 18 s, benches/README.md). Kept
/// while the connection sees the same database, as the failure window is,
/// by the event and the offset of its own clock (a client's time is
/// corrected by it).
#[derive(Debug, Default)]
pub(super) struct NearMemo(RefCell<Option<(Seen, Answers)>>);

/// Each event's id and clock offset, and the failed response it belongs
/// to (`None`: no one).
type Answers = HashMap<(i64, i64), Option<i64>>;

impl NearMemo {
    /// The answer kept for `key`, if it was found with `seen`.
    pub(super) fn get(&self, seen: (i64, u64), key: (i64, i64)) -> Option<Option<i64>> {
        match &*self.0.borrow() {
            Some((s, answers)) if *s == Seen::from(seen) => answers.get(&key).copied(),
            _ => None,
        }
    }

    /// Keeps `answer` for `key`, found with `seen`.
    pub(super) fn keep(&self, seen: (i64, u64), key: (i64, i64), answer: Option<i64>) {
        let seen = Seen::from(seen);
        let mut kept = self.0.borrow_mut();
        match &mut *kept {
            Some((s, answers)) if *s == seen && answers.len() < ANSWERS_KEPT => {
                answers.insert(key, answer);
            }
            _ => *kept = Some((seen, HashMap::from([(key, answer)]))),
        }
    }

    /// Forgets every answer.
    pub(super) fn clear(&self) {
        self.0.borrow_mut().take();
    }
}
