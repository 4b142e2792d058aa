//! The failure events around the last join window the diagnosis asked for
//! (`Store::failure_events_between`), kept for the next failure: failures
//! are diagnosed in the order they were logged, and the windows of
//! neighbours overlap, so in a log dense with failures (a Keycloak or Hydra
//! server's) each was read again, as whole rows, for every failure near it
//! (benches/README.md).
//!
//! The events of the last request id asked for ([`RequestMemo`]) are kept
//! the same way, but only while no connection changes the events.
//!
//! Invariant: the rows given back are exactly what the query would give
//! now. They are kept only with what the connection had seen when they were
//! read ([`Seen`]: SQLite's `data_version`, which changes when another
//! connection commits, and the connection's own count of changed rows), and
//! given back only while both are the same and the span asked for lies
//! within the span read.

use std::cell::RefCell;

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
    pub(super) fn get(
        &self,
        seen: (i64, u64),
        kinds: &[EventKind],
        (from_ms, to_ms): (i64, i64),
    ) -> Option<Vec<EventRow>> {
        let seen = Seen::from(seen);
        let kept = self.kept.borrow();
        let k = kept.as_ref()?;
        if k.seen != seen || from_ms < k.from_ms || to_ms > k.to_ms {
            return None;
        }
        Some(select(&k.rows, kinds, (from_ms, to_ms)))
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
        wanted: (i64, i64),
    ) -> Vec<EventRow> {
        let selected = select(&rows, kinds, wanted);
        *self.kept.borrow_mut() = Some(Kept {
            seen: Seen::from(seen),
            from_ms: span.0,
            to_ms: span.1,
            rows,
        });
        selected
    }
}

/// The rows of `kinds` between two times (inclusive), in their order.
fn select(rows: &[EventRow], kinds: &[EventKind], (from_ms, to_ms): (i64, i64)) -> Vec<EventRow> {
    rows.iter()
        .filter(|r| kinds.contains(&r.kind))
        .filter(|r| r.ts_ms.is_some_and(|t| from_ms <= t && t <= to_ms))
        .cloned()
        .collect()
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
