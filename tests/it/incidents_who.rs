//! Devices and sessions (issue 13, "who is affected"): a dio request block
//! whose headers carry the app's installation id gives its failure a
//! device (and the later blocks of that log, the same installation's), counted
//! per incident and shown on the failure page; the search
//! box finds failures by a device id and by a session id, and says which
//! it matched.

use axum::http::StatusCode;

use crate::helpers::{Fixture, analyze_into, get, root};
use grantwatch::web::{AppState, router};

const DEVICE: &str = "5b1f0c2e-7d4a-4c39-9e61-0a8f3d2b7c15";

fn search(q: &str) -> String {
    format!("/requests?id={}", crate::pages::encoded(q))
}

/// The iOS sample with the app's installation id among the headers of its
/// authorization-code token request (the redirect-URI mismatch).
fn console_with_device() -> String {
    let text = std::fs::read_to_string(root().join("sample_logs/ios/console.log")).expect("sample");
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        out.push_str(line);
        out.push('\n');
        if i + 1 == 60 {
            assert!(line.ends_with("flutter: headers:"), "{line}");
            out.push_str(&format!(
                "2025-03-11 08:11:02.733370+0000 Runner[2817:1190331] flutter:  x-device-id: {DEVICE}\n"
            ));
        }
    }
    out
}

#[tokio::test]
async fn a_device_id_is_stored_counted_shown_and_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("console.log");
    std::fs::write(&log, console_with_device()).expect("write");
    let db = dir.path().join("g.db");
    analyze_into(vec![log], &db);
    let store = crate::helpers::read_sql(&db);
    let (failure, incident): (String, i64) = store
        .query_row(
            "SELECT i.failure_id, i.incident_id FROM incident_failures i
             JOIN failures f ON f.id = i.failure_id
             WHERE i.device_id = ?1 AND f.cause = 'redirect_uri_mismatch'",
            [DEVICE],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the mismatch's failure carries the device id");
    // The failure logged before the app's first request with the header
    // has no device; those after it are the same installation's.
    let before: Option<String> = store
        .query_row(
            "SELECT i.device_id FROM incident_failures i JOIN failures f ON f.id = i.failure_id
             WHERE f.cause = 'refresh_token_expired'",
            [],
            |r| r.get(0),
        )
        .expect("the earlier failure");
    assert_eq!(before, None);
    let app = || router(AppState::new(&db));

    let page = get(app(), &format!("/failures/{failure}")).await;
    page.assert_html(StatusCode::OK, "failure page");
    assert!(
        page.text()
            .contains(&format!("<dt>Device</dt><dd>{DEVICE}</dd>")),
        "{}",
        page.text()
    );
    let page = get(app(), &format!("/incidents/{incident}")).await.text();
    assert!(page.contains("1 devices"), "{page}");
    let api = get(app(), &format!("/api/incidents/{incident}"))
        .await
        .text();
    let json: serde_json::Value = serde_json::from_str(&api).expect("json");
    assert_eq!(json["affected"]["devices"], 1, "{api}");

    let with_device: i64 = store
        .query_row(
            "SELECT count(*) FROM incident_failures WHERE device_id = ?1",
            [DEVICE],
            |r| r.get(0),
        )
        .expect("count");
    let found = get(app(), &search(DEVICE)).await;
    found.assert_html(StatusCode::OK, "device search");
    let text = found.text();
    assert!(
        text.contains(&format!(
            "it matched <strong>a device id</strong>: {with_device} failures"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("/failures/{failure}")), "{text}");
}

#[tokio::test]
async fn a_session_id_is_found_and_said_to_be_one() {
    let fx = Fixture::sample();
    let store = fx.sql();
    let (session, n): (String, i64) = store
        .query_row(
            "SELECT session_id, count(*) FROM incident_failures WHERE session_id IS NOT NULL
             GROUP BY session_id ORDER BY 2 DESC, 1 LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("a sample failure with a session (Keycloak's sessionId)");
    let page = get(fx.app(), &search(&session)).await;
    page.assert_html(StatusCode::OK, "session search");
    let text = page.text();
    assert!(
        text.contains(&format!(
            "it matched <strong>a session id</strong>: {n} failures"
        )),
        "{text}"
    );
    let id: String = store
        .query_row(
            "SELECT failure_id FROM incident_failures WHERE session_id = ?1 LIMIT 1",
            [&session],
            |r| r.get(0),
        )
        .expect("failure");
    let page = get(fx.app(), &format!("/failures/{id}")).await.text();
    assert!(
        page.contains(&format!("<dt>Session</dt><dd>{session}</dd>")),
        "{page}"
    );
    // The search reads an index, not the million failures of a large store.
    let plan: String = store
        .query_row(
            "EXPLAIN QUERY PLAN SELECT failure_id FROM incident_failures WHERE session_id = 'x'
             ORDER BY ts_ms DESC LIMIT 100",
            [],
            |r| r.get(3),
        )
        .expect("plan");
    assert!(plan.contains("incident_failures_by_session"), "{plan}");
}
