//! Unit tests of the join window a connection keeps (`window.rs`): a burst
//! of failures is kept whole, and a pass that reads from one snapshot gets
//! that snapshot's rows while another connection commits; the nearest
//! failed responses picked from a kept burst are those SQL would give, and
//! a warning's answer is kept until the database changes; inside a read
//! transaction the connection's own writes are still seen.

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
    let first = window.keep(
        seen,
        (0, 20_000),
        rows,
        &[EventKind::TokenResponse],
        (0, 9),
        |_| true,
    );
    assert_eq!(first.len(), 10);
    let next = window
        .get(seen, &[EventKind::TokenResponse], (100, 199), |_| true)
        .expect("kept");
    assert_eq!(next.len(), 100);
    assert_eq!(next.first().and_then(|r| r.ts_ms), Some(100));
    // Another state of the database: not given back.
    assert!(
        window
            .get((2, 0), &[EventKind::TokenResponse], (100, 199), |_| true)
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

/// The lines of `rows`, in their order.
fn lines(rows: Vec<EventRow>) -> Vec<u64> {
    rows.iter().map(|r| r.line).collect()
}

/// The failed responses of `pass`'s window 0–2,000 ms read before and
/// after `write`, both inside one read transaction of `pass`.
fn read_around(pass: &Store, write: impl FnOnce()) -> (Vec<u64>, Vec<u64>) {
    let kinds = [EventKind::TokenResponse];
    let (before, after) = pass
        .reading(|| {
            let before = pass.failure_events_between(&kinds, 0, 2_000)?;
            write();
            let after = pass.failure_events_between(&kinds, 0, 2_000)?;
            Ok((before, after))
        })
        .expect("pass");
    (lines(before), lines(after))
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
    let (before, during) = read_around(&pass, || add_failed_response(&writer, 2, 1_500));
    assert_eq!(before, [1]);
    assert_eq!(during, [1]);
    let after = pass
        .failure_events_between(&[EventKind::TokenResponse], 0, 2_000)
        .expect("after");
    assert_eq!(lines(after), [1, 2]);
}

/// The join window holds the provider events that record a failure (a
/// reason, or an error on a token path) and leaves out the others, such as
/// a browser's `LOGIN_ERROR`, which no join takes: `correlate` joins failure
/// events only (the kept store's window is held to this one by
/// `kept_events_answer_as_the_table_does`).
#[test]
fn the_join_window_leaves_out_provider_events_that_record_no_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("w.db");
    let store = Store::open(&db).expect("open");
    one_source(&store);
    let rows = [
        // A browser's sign-in error: a code, no reason, no path.
        (
            1,
            "provider_event",
            None,
            Some("invalid_user_credentials"),
            None,
        ),
        (
            2,
            "provider_event",
            Some("Code not valid"),
            Some("invalid_code"),
            None,
        ),
        (
            3,
            "provider_event",
            None,
            Some("invalid_grant"),
            Some("/realms/r/protocol/openid-connect/token"),
        ),
        // `token` is matched as `str::contains` matches it: with its case.
        (
            4,
            "provider_event",
            None,
            Some("invalid_grant"),
            Some("/TOKEN"),
        ),
        (5, "token_response", None, Some("invalid_grant"), None),
    ];
    for (line, kind, reason, code, path) in rows {
        store
            .conn
            .execute(
                "INSERT INTO events (source_id, line, kind, format, ts_ms, provider_reason, provider_code, path)
                 VALUES (1, ?1, ?2, 'keycloak', 1000, ?3, ?4, ?5)",
                rusqlite::params![line, kind, reason, code, path],
            )
            .expect("insert");
    }
    let kinds = [EventKind::ProviderEvent, EventKind::TokenResponse];
    let window = store
        .failure_events_between(&kinds, 0, 2_000)
        .expect("window");
    assert_eq!(lines(window), [2, 3, 5]);
}

/// The nearest failed responses picked from a kept window of hundreds (a
/// burst, with ties in distance and in time) are the ones SQL's order
/// gives, in its order, for a page smaller and larger than the window.
#[test]
fn the_nearest_failed_responses_of_a_kept_burst_are_those_sql_orders_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("w.db");
    let writer = Store::open(&db).expect("open");
    one_source(&writer);
    // Two responses in each millisecond step of 3 ms: ties in time, and
    // ties in distance on each side of the warning's time.
    for line in 1..=400 {
        add_failed_response(&writer, line, 10_000 + (line / 2) * 3);
    }
    let kinds = [EventKind::TokenResponse];
    let kept = Store::open(&db).expect("open");
    kept.failure_events_between(&kinds, 10_000, 11_000)
        .expect("window kept");
    for (at, limit) in [(10_301, 32), (10_300, 7), (10_000, 32), (10_600, 1_000)] {
        let window = (at - 500, at + 400);
        let fresh = Store::open(&db).expect("open");
        let read = lines(
            fresh
                .failed_responses_near(at, window, limit)
                .expect("read"),
        );
        let picked = lines(kept.failed_responses_near(at, window, limit).expect("kept"));
        assert_eq!(picked, read, "at {at}, {limit}");
        assert_eq!(read.len(), (limit as usize).min(read.len()));
    }
}

/// What a warning was found to explain is computed once while the
/// connection sees the same database, and again once another connection
/// commits.
#[test]
fn a_warnings_answer_is_kept_until_the_database_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("w.db");
    let writer = Store::open(&db).expect("open");
    one_source(&writer);
    add_failed_response(&writer, 1, 1_000);
    let reader = Store::open(&db).expect("open");
    let computed = std::cell::Cell::new(0);
    let ask = |answer: i64| {
        reader
            .belongs_to(7, 0, || {
                computed.set(computed.get() + 1);
                Ok(Some(answer))
            })
            .expect("answer")
    };
    assert_eq!(ask(1), Some(1));
    assert_eq!(ask(2), Some(1), "kept");
    assert_eq!(computed.get(), 1);
    add_failed_response(&writer, 2, 1_001);
    assert_eq!(ask(2), Some(2), "found again after a commit");
    assert_eq!(computed.get(), 2);
}

/// Inside one read transaction the connection's own writes are still
/// seen through the kept window (its snapshot's version is read once, its
/// own changes counted on every ask).
#[test]
fn a_pass_sees_its_own_writes_through_the_kept_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("w.db");
    let pass = Store::open(&db).expect("open");
    one_source(&pass);
    add_failed_response(&pass, 1, 1_000);
    let (before, after) = read_around(&pass, || add_failed_response(&pass, 2, 1_500));
    assert_eq!(before, [1]);
    assert_eq!(after, [1, 2]);
}

/// Windows asked one after another, forward, back and far ahead (each
/// span read keeping what the last one held of it, `take_overlap`), give
/// what a connection that kept nothing gives for each: failures at every
/// millisecond of a span's edges, several at one time, none lost and none
/// twice.
#[test]
fn windows_read_after_one_another_give_what_a_fresh_read_gives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("w.db");
    let writer = Store::open(&db).expect("open");
    one_source(&writer);
    let mut line = 0;
    for ts in (0..90_000)
        .step_by(250)
        .chain([3_999, 4_000, 4_001, 20_000, 20_001])
    {
        for _ in 0..1 + usize::from(ts % 1_000 == 0) {
            line += 1;
            add_failed_response(&writer, line, ts);
        }
    }
    let kinds = [EventKind::TokenResponse];
    let sliding = Store::open(&db).expect("open");
    let asks = [
        (8_000, 12_000),
        (12_500, 13_000),
        (19_999, 24_000),
        (24_250, 24_251),
        (30_000, 45_000),
        (44_000, 50_000),
        (10_000, 11_000),
        (80_000, 89_999),
        (85_000, 86_000),
    ];
    for (from, to) in asks {
        let got = sliding
            .failure_events_between(&kinds, from, to)
            .expect("read");
        let fresh = Store::open(&db).expect("open");
        let want = fresh
            .failure_events_between(&kinds, from, to)
            .expect("read");
        assert!(!want.is_empty(), "{from}..{to}");
        assert_eq!(lines(got), lines(want), "{from}..{to}");
    }
}
