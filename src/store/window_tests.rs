//! Unit tests of the join window a connection keeps (`window.rs`): a burst
//! of failures is kept whole, and a pass that reads from one snapshot gets
//! that snapshot's rows while another connection commits.

use grantwatch_parsers::EventKind;

use super::events::EventRow;
use super::tests::one_source;
use super::window::FailureWindow;
use super::*;

/// Thousands of failures in one span (a client retrying a refused grant)
/// are kept for the next failure's window, not read again for each.
#[test]
fn a_burst_of_failures_in_one_span_is_kept_however_many() {
    let rows: Vec<EventRow> = (0..3_000)
        .map(|i| EventRow {
            id: i + 1,
            kind: EventKind::TokenResponse,
            ts_ms: Some(i),
            status: Some(400),
            ..EventRow::default()
        })
        .collect();
    let window = FailureWindow::default();
    let seen = (1, 0);
    let first = window.keep(seen, (0, 20_000), rows, &[EventKind::TokenResponse], (0, 9));
    assert_eq!(first.len(), 10);
    let next = window
        .get(seen, &[EventKind::TokenResponse], (100, 199))
        .expect("kept");
    assert_eq!(next.len(), 100);
    assert_eq!(next.first().and_then(|r| r.ts_ms), Some(100));
    // Another state of the database: not given back.
    assert!(
        window
            .get((2, 0), &[EventKind::TokenResponse], (100, 199))
            .is_none()
    );
}

fn add_failed_response(store: &Store, line: i64, ts_ms: i64) {
    store
        .conn
        .execute(
            "INSERT INTO events (source_id, line, kind, format, ts_ms, status)
             VALUES (1, ?1, 'token_response', 'rails', ?2, 400)",
            [line, ts_ms],
        )
        .expect("insert");
}

/// Inside one read transaction (a diagnosis pass), a failure committed by
/// another connection is not seen, also not through the kept window;
/// after it, it is.
#[test]
fn a_pass_reading_from_one_snapshot_sees_the_snapshots_failures_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("w.db");
    let writer = Store::open(&db).expect("open");
    one_source(&writer);
    add_failed_response(&writer, 1, 1_000);
    let pass = Store::open(&db).expect("open");
    let kinds = [EventKind::TokenResponse];
    let lines = |rows: Vec<EventRow>| rows.iter().map(|r| r.line).collect::<Vec<_>>();
    let (before, during) = pass
        .reading(|| {
            let before = pass.failure_events_between(&kinds, 0, 2_000)?;
            add_failed_response(&writer, 2, 1_500);
            let during = pass.failure_events_between(&kinds, 0, 2_000)?;
            Ok((before, during))
        })
        .expect("pass");
    assert_eq!(lines(before), [1]);
    assert_eq!(lines(during), [1]);
    let after = pass
        .failure_events_between(&kinds, 0, 2_000)
        .expect("after");
    assert_eq!(lines(after), [1, 2]);
}
