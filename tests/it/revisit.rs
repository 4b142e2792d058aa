//! What a diagnosis pass of `watch` takes on (`diagnose::revisit`): the
//! new failures and the stored ones the new events can change, not every
//! failure of the last minute. Driven through `Watcher::round`, which reads
//! a real file and diagnoses before it returns, so the counts are the
//! pass's own.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use grantwatch::watch::{SourceSpec, WatchOptions, Watcher};

/// A failed password grant of the `bench` client at `ts`, as Doorkeeper's
/// Rails log writes it.
fn failed_grant(ts: &str, rid: &str) -> String {
    let p = format!("I, [{ts} #7]  INFO -- : [{rid}] ");
    let started = format!(
        "{} +0000",
        ts.replace('T', " ").split('.').next().unwrap_or(ts)
    );
    format!(
        "{p}Started POST \"/oauth/token\" for 10.1.2.3 at {started}\n\
         {p}Processing by Doorkeeper::TokensController#create as */*\n\
         {p}  Parameters: {{\"grant_type\"=>\"password\", \"username\"=>\"u@example.com\", \"password\"=>\"[FILTERED]\", \"client_id\"=>\"bench\"}}\n\
         {p}Completed 400 Bad Request in 12ms (Views: 0.1ms | ActiveRecord: 2.0ms)\n"
    )
}

/// The request id of request `i` (Rails tags it; a UUID, as Rails makes).
fn rid(i: u32) -> String {
    format!("6f1c2a3e-0000-4000-8000-0000000000{i:02}")
}

/// The log time `10 s × i` after 10:00:00.
fn at(i: u32) -> String {
    format!("2026-11-30T10:{:02}:{:02}.000000", i * 10 / 60, i * 10 % 60)
}

fn watcher(log: &Path, db: &Path) -> Watcher {
    Watcher::open(WatchOptions {
        sources: vec![SourceSpec {
            paths: vec![log.to_path_buf()],
            format: None,
            context: grantwatch_parsers::Context::default(),
        }],
        db: db.to_path_buf(),
        settings: grantwatch::config::DiagnoseSettings::default(),
        poll_interval: Duration::from_millis(50),
        notify: false,
        retain: None,
        bulk_catch_up_bytes: grantwatch::watch::BULK_CATCH_UP_BYTES,
        poll_read_bytes: grantwatch::tail::TailConfig::default().poll_read_bytes,
    })
    .expect("watch")
}

fn append(log: &Path, text: &str) {
    std::fs::File::options()
        .append(true)
        .open(log)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("append");
}

fn failures(db: &Path) -> i64 {
    let store = crate::helpers::read_sql(db);
    store
        .query_row("SELECT count(*) FROM failures", [], |r| r.get(0))
        .expect("count")
}

#[test]
fn a_new_failure_in_order_re_diagnoses_none_of_the_last_minute() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("production.log");
    let db = dir.path().join("g.db");
    // Twelve failures 10 s apart: two minutes of one client's failures.
    let text: String = (0..12).map(|i| failed_grant(&at(i), &rid(i))).collect();
    std::fs::write(&log, text).expect("write");
    let mut w = watcher(&log, &db);
    let first = w.round(Instant::now()).expect("round");
    assert_eq!(first.diagnosed, 12);
    assert_eq!(failures(&db), 12);

    // One more, 10 s after the last: it shares no request id, code or
    // nearby line with the others and joins none of them by time, so the
    // pass diagnoses it alone (bounded by time alone, it took the six
    // failures of the minute before it too).
    append(&log, &failed_grant(&at(12), &rid(12)));
    let next = w.round(Instant::now()).expect("round");
    assert_eq!(next.events, 1);
    assert_eq!(next.diagnosed, 1);
    assert_eq!(failures(&db), 13);
}

#[test]
fn a_late_record_of_an_old_request_re_diagnoses_its_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("production.log");
    let db = dir.path().join("g.db");
    let text: String = (0..12).map(|i| failed_grant(&at(i), &rid(i))).collect();
    std::fs::write(&log, text).expect("write");
    let mut w = watcher(&log, &db);
    w.round(Instant::now()).expect("round");

    // A second record of the first request (an edge router's, or a retry
    // logged under the same id), two minutes later in the log: the failure
    // stored for it is taken on again by key, and the two records are one
    // failure, as `analyze` makes them.
    append(&log, &failed_grant(&at(13), &rid(0)));
    let next = w.round(Instant::now()).expect("round");
    assert_eq!(next.events, 1);
    assert_eq!(next.diagnosed, 1);
    assert_eq!(failures(&db), 12);
    let store = crate::helpers::read_sql(&db);
    let linked: i64 = store
        .query_row(
            "SELECT count(*) FROM failure_events fe JOIN failures f ON f.id = fe.failure_id
             WHERE f.request_id = ?1",
            [rid(0)],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(linked, 2);
}
