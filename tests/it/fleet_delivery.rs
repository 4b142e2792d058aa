//! At-least-once delivery into `watch`, record by record, and what the
//! receivers count: the same records re-sent cut into other batches, and
//! again after a restart of grantwatch, are stored once (per-record digests
//! kept in the store); `/metrics` counts records received, accepted,
//! rejected and deduplicated per receiver, batches by answer (200, 4xx,
//! 429, 503), and shows the in-flight budget.

use std::path::Path;
use std::time::Duration;

use crate::fleet::{analyzed, count, ndjson, receiver, wait_for};
use crate::fleet_http::{Answer, exchange, post};
use crate::helpers::{diagnoses, root};

/// NDJSON lines `from..to` of `body` (one record per line).
fn slice(body: &[u8], from: usize, to: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let lines: Vec<&str> = text.lines().collect();
    lines[from..to.min(lines.len())]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .into_bytes()
}

/// One sample of `/metrics` by its exact name and labels.
fn sample(metrics: &str, series: &str) -> Option<u64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

fn get_metrics(addr: &str) -> String {
    let a: Answer = exchange(
        addr,
        format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(a.status, 200);
    String::from_utf8_lossy(&a.body).into_owned()
}

fn stored_lines(db: &Path) -> i64 {
    count(
        db,
        "SELECT coalesce(sum(line_no), 0) FROM sources WHERE path LIKE 'stream:%'",
    )
}

#[test]
fn records_resent_in_other_batches_and_after_a_restart_are_stored_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = root().join("sample_logs/scenarios/code_reused/production.log");
    let want = analyzed(std::slice::from_ref(&file), dir.path());
    let db = dir.path().join("watch.db");
    // Every record carries its shipper time (Vector's `timestamp`).
    let all = ndjson(&file);
    let n = String::from_utf8_lossy(&all).lines().count();
    assert!(n > 40, "the scenario has lines to cut: {n}");
    {
        let d = receiver(&db, &[]);
        for (from, to) in [(0, n / 3), (n / 3, n)] {
            let a = post(&d.addr, "/api/ingest", &[], &slice(&all, from, to));
            assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
            assert_eq!(a.json()["accepted"], (to - from) as u64);
        }
        wait_for(&db, &want);
        // A timeout, and the shipper re-sends cut otherwise: the records
        // overlap both first batches; the last one brings one new record.
        let cuts = [(0, n / 2), (n / 2 - 5, n - 1)];
        let mut skipped = 0;
        for (from, to) in cuts {
            let a = post(&d.addr, "/api/ingest", &[], &slice(&all, from, to));
            assert_eq!(a.status, 200);
            assert_eq!(a.json()["accepted"], 0, "{}", a.json());
            assert_eq!(a.json()["duplicate"], true);
            skipped += a.json()["deduplicated"].as_u64().expect("deduplicated");
        }
        assert_eq!(skipped as usize, n / 2 + (n - 1 - (n / 2 - 5)));
        let metrics = get_metrics(&d.addr);
        assert_eq!(
            sample(
                &metrics,
                "grantwatch_ingest_records_deduplicated_total{receiver=\"ingest\"}"
            ),
            Some(skipped)
        );
        assert_eq!(
            sample(
                &metrics,
                "grantwatch_ingest_records_accepted_total{receiver=\"ingest\"}"
            ),
            Some(n as u64)
        );
        assert_eq!(stored_lines(&db), n as i64);
    }
    // grantwatch restarts; the shipper's persistent queue sends it all
    // again, as one batch, with one record it had never sent.
    let events = count(&db, "SELECT count(*) FROM events");
    let d = receiver(&db, &[]);
    let mut again = all.clone();
    let extra = serde_json::json!({
        "message": "a line after the restart",
        "file": file.to_string_lossy(),
        "host": "web-1",
        "timestamp": "2026-12-02T06:00:00.000000Z",
    });
    again.extend_from_slice(format!("{extra}\n").as_bytes());
    let a = post(&d.addr, "/api/ingest", &[], &again);
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["accepted"], 1, "{}", a.json());
    assert_eq!(a.json()["deduplicated"], n as u64);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(stored_lines(&db), n as i64 + 1);
    assert_eq!(count(&db, "SELECT count(*) FROM events"), events);
    assert_eq!(diagnoses(&db), want);
}

#[test]
fn metrics_count_every_answer_and_show_the_budget() {
    use tower::ServiceExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("g.db");
    let fleet = grantwatch::fleet::Fleet::start(
        &db,
        grantwatch::fleet::FleetOptions {
            max_bytes: 100_000,
            queue_bytes: 1_000_000,
            max_bodies: 1,
            ..Default::default()
        },
    )
    .expect("start");
    let app = grantwatch::web::router(
        grantwatch::web::AppState::new(&db).with_fleet(std::sync::Arc::clone(&fleet)),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let post = |body: &'static str| {
        axum::http::Request::post("/api/ingest")
            .header("content-length", body.len().to_string())
            .body(axum::body::Body::from(body))
            .expect("request")
    };
    let good = "{\"message\":\"one\",\"host\":\"h\"}\n{\"message\":\"two\",\"host\":\"h\"}\n{\"nothing\":1}\n";
    runtime.block_on(async {
        let status = |r: axum::response::Response| r.status().as_u16();
        assert_eq!(
            status(app.clone().oneshot(post(good)).await.expect("a")),
            200
        );
        assert_eq!(
            status(app.clone().oneshot(post("{\"mess")).await.expect("a")),
            400
        );
        // Every body place taken: 503 with Retry-After.
        let place = fleet.admit_body().expect("a free place");
        let crowded = app.clone().oneshot(post(good)).await.expect("a");
        assert_eq!(crowded.status(), 503);
        assert!(crowded.headers().contains_key("retry-after"));
        drop(place);
        // The budget spent: 429.
        let spent = fleet.reserve(1_000_000).expect("the budget is free");
        assert_eq!(
            status(app.clone().oneshot(post(good)).await.expect("a")),
            429
        );
        let get = axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .expect("request");
        let answer = app.clone().oneshot(get).await.expect("metrics");
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&body).into_owned();
        for (series, want) in [
            (
                "grantwatch_ingest_batches_total{receiver=\"ingest\",status=\"200\"}",
                1,
            ),
            (
                "grantwatch_ingest_batches_total{receiver=\"ingest\",status=\"4xx\"}",
                1,
            ),
            (
                "grantwatch_ingest_batches_total{receiver=\"ingest\",status=\"503\"}",
                1,
            ),
            (
                "grantwatch_ingest_batches_total{receiver=\"ingest\",status=\"429\"}",
                1,
            ),
            (
                "grantwatch_ingest_batches_total{receiver=\"otlp\",status=\"200\"}",
                0,
            ),
            (
                "grantwatch_ingest_records_received_total{receiver=\"ingest\"}",
                3,
            ),
            (
                "grantwatch_ingest_records_accepted_total{receiver=\"ingest\"}",
                2,
            ),
            (
                "grantwatch_ingest_records_rejected_total{receiver=\"ingest\"}",
                1,
            ),
            (
                "grantwatch_ingest_records_deduplicated_total{receiver=\"ingest\"}",
                0,
            ),
            // What the test holds is all that is charged now.
            ("grantwatch_ingest_inflight_bytes", 1_000_000),
            ("grantwatch_ingest_inflight_budget_bytes", 1_000_000),
        ] {
            assert_eq!(sample(&text, series), Some(want), "{series} in\n{text}");
        }
        assert!(text.contains("# TYPE grantwatch_ingest_batches_total counter\n"));
        drop(spent);
        // The same batch again: a retry, counted as deduplicated; the
        // counters only went up.
        assert_eq!(
            status(app.clone().oneshot(post(good)).await.expect("a")),
            200
        );
        let get = axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .expect("request");
        let answer = app.oneshot(get).await.expect("metrics");
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&body).into_owned();
        for (series, want) in [
            (
                "grantwatch_ingest_batches_total{receiver=\"ingest\",status=\"200\"}",
                2,
            ),
            (
                "grantwatch_ingest_records_received_total{receiver=\"ingest\"}",
                6,
            ),
            (
                "grantwatch_ingest_records_accepted_total{receiver=\"ingest\"}",
                2,
            ),
            (
                "grantwatch_ingest_records_deduplicated_total{receiver=\"ingest\"}",
                2,
            ),
            ("grantwatch_ingest_inflight_bytes", 0),
        ] {
            assert_eq!(sample(&text, series), Some(want), "{series} in\n{text}");
        }
    });
    fleet.stop();
}
