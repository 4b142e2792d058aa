//! The fan-out of `GET /api/events`: many open streams are fed by one
//! producer (its reads of the table follow the clock, not the number of
//! streams), each sees a new failure once, and a stream that falls behind
//! the channel gets a `resync` event instead of holding every change.

use std::time::{Duration, Instant};

use axum::body::{Body, BodyDataStream};
use axum::http::{Request, StatusCode};
use futures_util::StreamExt as _;
use tower::ServiceExt as _;

use crate::helpers::analyze_into;
use crate::incidents::{SENT, whole};
use grantwatch::web::{AppState, events::POLL, router};

async fn open_stream(state: &AppState) -> BodyDataStream {
    let request = Request::get("/api/events")
        .body(Body::empty())
        .expect("request");
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    response.into_body().into_data_stream()
}

/// Reads `body` until its text holds `needle` (10 s at most).
async fn read_until(body: &mut BodyDataStream, needle: &str) -> String {
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, body.next())
            .await
            .unwrap_or_else(|_| panic!("{needle:?} within 10 s, got {text}"))
            .expect("the stream stays open")
            .expect("a chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_streams_share_one_producer_and_each_sees_the_failure_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first.log");
    std::fs::write(&first, whole(&[(1, "11:05", SENT)])).expect("write");
    let db = dir.path().join("g.db");
    analyze_into(vec![first], &db);
    let state = AppState::new(&db);
    let started = Instant::now();
    let mut streams = Vec::new();
    for _ in 0..40 {
        streams.push(open_stream(&state).await);
    }
    // Some polls with every stream open and nothing new.
    tokio::time::sleep(POLL * 6).await;
    let second = dir.path().join("second.log");
    std::fs::write(&second, whole(&[(2, "11:10", "com.acme.fieldapp:/cb")])).expect("write");
    analyze_into(vec![second], &db);
    for body in &mut streams {
        let text = read_until(body, "event: incident").await;
        assert_eq!(text.matches("event: failure\n").count(), 1, "{text}");
    }
    let elapsed = started.elapsed();
    let reads = state.event_hub().reads();
    // One read per poll (and per commit signal) for all forty: forty
    // pollers would have made forty times as many.
    let polls = (elapsed.as_millis() / POLL.as_millis()) as u64 + 1;
    assert!(reads >= 1, "the producer read the table");
    assert!(
        reads <= 2 * polls + 5,
        "{reads} reads in {elapsed:?} ({polls} polls) for 40 streams"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_falls_behind_gets_a_resync_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first.log");
    std::fs::write(&first, whole(&[(1, "11:05", SENT)])).expect("write");
    let db = dir.path().join("g.db");
    analyze_into(vec![first], &db);
    // A channel of two changes, and two streams: one read as it goes, one
    // left unread while six failures arrive.
    let state = AppState::new(&db).with_event_capacity(2);
    let mut reader = open_stream(&state).await;
    let mut sleeper = open_stream(&state).await;
    // Both streams past their catch-up read (nothing new yet): a stream
    // runs only when its body is read.
    for body in [&mut reader, &mut sleeper] {
        let nothing = tokio::time::timeout(POLL * 4, body.next()).await;
        assert!(nothing.is_err(), "no event before a new failure");
    }
    for n in 2..8 {
        let log = dir.path().join(format!("more-{n}.log"));
        let minute = format!("11:{:02}", 10 + n);
        std::fs::write(
            &log,
            whole(&[(n, minute.as_str(), "com.acme.fieldapp:/cb")]),
        )
        .expect("write");
        analyze_into(vec![log], &db);
        // The reader keeps up: it takes each failure as it comes.
        let text = read_until(&mut reader, "event: incident").await;
        assert!(!text.contains("event: resync"), "{text}");
    }
    let text = read_until(&mut sleeper, "event: resync").await;
    assert!(text.contains("\"missed\":"), "{text}");
    // After the resync it goes on with what the channel kept, in order.
    let text = read_until(&mut sleeper, "event: incident").await;
    assert!(text.contains("event: failure\n"), "{text}");
}
