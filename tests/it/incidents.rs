//! Incidents end to end: the grouping (two redirect-URI pairs of one client
//! are two incidents, quiet then back is regressed, a re-diagnosed failure
//! moves), the routes with every filter, and the counters of `/metrics`
//! that neither retention nor a re-diagnosis lowers.
//!
//! The flows are the real authorize and token requests of the
//! `redirect_uri_mismatch` scenario (Rails + Doorkeeper), copied with their
//! request ids, code and challenge made unique and their times moved.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;

use crate::helpers::{analyze_into, get, root};
use grantwatch::store::Store;
use grantwatch::store::failures::FailureFilter;
use grantwatch::web::{AppState, router};

const SCENARIO: &str = "sample_logs/scenarios/redirect_uri_mismatch/production.log";
const AUTHORIZE_ID: &str = "26b4698a-73ee-4049-8641-53c98ba33328";
const TOKEN_ID: &str = "39814e5a-b1ae-472f-a1f7-fd61698e60bb";
const CODE: &str = "EvmxqBMYue-rAzjTeWTQTM-ivmcB3INEVLCaPE0RtQU";
const CHALLENGE: &str = "3Ef9Vtjnm2dTcaY8AQcZMEvddtVhtc3SHmxDYhjS_IE";
const VERIFIER: &str = "rkLB32oG60ELx97GefnBIJDiEVB43_qX1GGrK4f4q51mpsIM0wE8pv_AD80qrSLS";
pub(crate) const SENT: &str = "com.acme.fieldapp:/oauth2redirect";

/// The scenario's flow number `n` at `hh:mm` (on 2025-04-05), the token
/// request sending `token_redirect`: (authorize lines, token lines).
pub(crate) fn flow(n: usize, hh_mm: &str, token_redirect: &str) -> (String, String) {
    let text = std::fs::read_to_string(root().join(SCENARIO)).expect("scenario");
    let lines: Vec<&str> = text.lines().skip(99).take(16).collect();
    assert!(lines[12].contains(SENT), "the token request's parameters");
    // A verifier of its own (one sent twice reads as a code reused), and
    // the challenge it hashes to.
    let verifier = format!("{n:04}{}", &VERIFIER[4..]);
    let unique = |l: &str| {
        l.replace(AUTHORIZE_ID, &format!("{}{n:04}", &AUTHORIZE_ID[..32]))
            .replace(TOKEN_ID, &format!("{}{n:04}", &TOKEN_ID[..32]))
            .replace(CODE, &format!("{n:04}{}", &CODE[4..]))
            .replace(CHALLENGE, &s256(&verifier))
            .replace(VERIFIER, &verifier)
            .replace(SENT, token_redirect)
            .replace("2025-04-05T11:05", &format!("2025-04-05T{hh_mm}"))
            .replace("2025-04-05 11:05", &format!("2025-04-05 {hh_mm}"))
    };
    let mut authorize = String::new();
    let mut token = String::new();
    for (i, l) in lines.iter().enumerate() {
        let out = if i < 10 { &mut authorize } else { &mut token };
        out.push_str(&unique(l));
        out.push('\n');
    }
    (authorize, token)
}

/// PKCE's S256: base64url (no padding) of the SHA-256 of `verifier`.
fn s256(verifier: &str) -> String {
    use sha2::Digest as _;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let hash = sha2::Sha256::digest(verifier.as_bytes());
    let mut out = String::new();
    for chunk in hash.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(v >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

pub(crate) fn whole(flows: &[(usize, &str, &str)]) -> String {
    flows
        .iter()
        .map(|(n, t, r)| {
            let (a, b) = flow(*n, t, r);
            a + &b
        })
        .collect()
}

/// Asserts the incident rollups equal a `GROUP BY` over the failures'
/// rows: counts, hours and releases.
pub(crate) fn assert_rollups_match(db: &Path) {
    let sql = crate::helpers::read_sql(db);
    let rows = |query: &str| -> Vec<String> {
        let mut stmt = sql.prepare(query).expect("prepare");
        stmt.query_map([], |r| {
            Ok(format!(
                "{:?} {:?} {:?}",
                r.get::<_, rusqlite::types::Value>(0)?,
                r.get::<_, rusqlite::types::Value>(1)?,
                r.get::<_, rusqlite::types::Value>(2)?
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    };
    for (kept, counted) in [
        (
            "SELECT id, 0, n FROM incidents ORDER BY 1",
            "SELECT incident_id, 0, count(*) FROM incident_failures GROUP BY 1 ORDER BY 1",
        ),
        (
            "SELECT incident_id, hour_ms, n FROM incident_hours ORDER BY 1, 2",
            "SELECT incident_id, ts_ms - ts_ms % 3600000, count(*) FROM incident_failures
             WHERE ts_ms IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
        ),
        (
            "SELECT incident_id, app_release, n FROM incident_releases ORDER BY 1, 2",
            "SELECT incident_id, app_release, count(*) FROM incident_failures
             WHERE app_release IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
        ),
    ] {
        assert_eq!(rows(kept), rows(counted), "{kept}");
    }
}

async fn json(db: &Path, uri: &str) -> Value {
    let reply = get(router(AppState::new(db)), uri).await;
    assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
    serde_json::from_slice(&reply.body).expect("JSON")
}

fn mismatches(list: &Value) -> Vec<&Value> {
    list["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .filter(|i| i["cause"] == "redirect_uri_mismatch")
        .collect()
}

#[tokio::test]
async fn two_redirect_pairs_are_two_incidents_and_quiet_then_back_is_regressed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("production.log");
    // Pair A at 11:05 and 11:10, pair B at 11:15; pair A again at 12:30,
    // after more than 30 quiet minutes.
    let other = "com.acme.fieldapp:/callback";
    std::fs::write(
        &log,
        whole(&[
            (1, "11:05", SENT),
            (2, "11:10", SENT),
            (3, "11:15", other),
            (4, "12:30", SENT),
        ]),
    )
    .expect("write");
    let db = dir.path().join("g.db");
    analyze_into(vec![log], &db);

    assert_rollups_match(&db);
    let list = json(&db, "/api/incidents").await;
    let found = mismatches(&list);
    assert_eq!(found.len(), 2, "{list}");
    let a = found
        .iter()
        .find(|i| {
            i["discriminator"]
                .as_str()
                .is_some_and(|d| d.ends_with(SENT))
        })
        .expect("pair A");
    let b = found
        .iter()
        .find(|i| {
            i["discriminator"]
                .as_str()
                .is_some_and(|d| d.ends_with(other))
        })
        .expect("pair B");
    assert_eq!(a["count"], 3);
    assert_eq!(b["count"], 1);
    assert_eq!(a["client_id"], b["client_id"]);
    assert_eq!(a["first_seen"], "2025-04-05T11:05:45.545Z");
    assert_eq!(a["last_seen"], "2025-04-05T12:30:45.545Z");
    // "Now" is the newest failure (12:30): A came back and is open, B has
    // been quiet for over an hour.
    assert_eq!(a["state"], "regressed", "{a}");
    assert_eq!(a["regressed_at"], "2025-04-05T12:30:45.545Z");
    assert_eq!(b["state"], "resolved", "{b}");

    // The state filters.
    let regressed = json(&db, "/api/incidents?state=regressed").await;
    assert_eq!(regressed["total"], 1, "{regressed}");
    assert_eq!(regressed["incidents"][0]["id"], a["id"]);
    let open = json(&db, "/api/incidents?state=open").await;
    assert_eq!(open["total"], 1, "{open}");
    let resolved = json(&db, "/api/incidents?state=resolved").await;
    assert_eq!(resolved["total"], 1, "{resolved}");
    assert_eq!(resolved["incidents"][0]["id"], b["id"]);
    assert_eq!(json(&db, "/api/incidents?state=new").await["total"], 0);

    // The incident's failures are its own three, newest first.
    let detail = json(&db, &format!("/api/incidents/{}", a["id"])).await;
    let ids = detail["failures"].as_array().expect("failures");
    assert_eq!(ids.len(), 3);
    let store = Store::open_read_only(&db).expect("open");
    let (_, failures) = store
        .failures(&FailureFilter::default(), 10, 0)
        .expect("failures");
    assert_eq!(failures.len(), 4);
    assert_eq!(ids[0].as_str(), Some(failures[0].id.as_str()));
    assert!(detail["fix"].as_str().is_some_and(|f| !f.is_empty()));
    // The 24 hours end at 12:30:45: all three fall in them.
    let hourly: u64 = detail["hourly"]
        .as_array()
        .expect("hourly")
        .iter()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(hourly, 3);
}

#[test]
fn a_re_diagnosed_failure_moves_to_its_new_incident() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let (authorize, token) = flow(7, "11:05", SENT);
    std::fs::write(logs.join("token.log"), token).expect("write");
    let db = dir.path().join("g.db");
    let opts = grantwatch::watch::WatchOptions {
        sources: vec![grantwatch::watch::SourceSpec {
            paths: vec![logs.clone()],
            format: None,
            context: grantwatch_parsers::Context::default(),
        }],
        db: db.clone(),
        settings: grantwatch::config::DiagnoseSettings::default(),
        poll_interval: Duration::from_millis(50),
        notify: false,
        retain: None,
        bulk_catch_up_bytes: grantwatch::watch::BULK_CATCH_UP_BYTES,
        poll_read_bytes: grantwatch::tail::TailConfig::default().poll_read_bytes,
    };
    let mut watcher = grantwatch::watch::Watcher::open(opts).expect("watch");
    let settle = |w: &mut grantwatch::watch::Watcher| {
        // A record held for reassembly is cut once its file is quiet for
        // 1 s: rounds "later" than that see it stored and diagnosed.
        for later in [0, 2, 4] {
            w.round(Instant::now() + Duration::from_secs(later))
                .expect("round");
        }
    };
    settle(&mut watcher);
    let incidents = |db: &Path| -> Vec<(String, i64)> {
        let sql = crate::helpers::read_sql(db);
        let mut stmt = sql
            .prepare("SELECT cause, n FROM incidents ORDER BY cause")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert_eq!(incidents(&db), [("unknown".to_owned(), 1)]);
    let store = Store::open_read_only(&db).expect("open");
    let (_, before) = store
        .failures(&FailureFilter::default(), 10, 0)
        .expect("failures");
    assert_eq!(before.len(), 1);
    let first_incident = store
        .incident_of_failure(&before[0].id)
        .expect("query")
        .expect("grouped");

    // The authorize request arrives late, in another file: the failure is
    // re-diagnosed and moves; the emptied incident is gone.
    std::fs::write(logs.join("authorize.log"), authorize).expect("write");
    settle(&mut watcher);
    assert_eq!(incidents(&db), [("redirect_uri_mismatch".to_owned(), 1)]);
    assert_rollups_match(&db);
    let (_, after) = store
        .failures(&FailureFilter::default(), 10, 0)
        .expect("failures");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].cause.as_str(), "redirect_uri_mismatch");
    let moved = store
        .incident_of_failure(&after[0].id)
        .expect("query")
        .expect("grouped");
    assert_ne!(moved, first_incident);
    // Counted once, under the cause it was first diagnosed with: a
    // re-diagnosis is no new failure.
    let totals = store.diagnosed_totals().expect("totals");
    assert_eq!(totals.iter().map(|t| t.count).sum::<u64>(), 1, "{totals:?}");
}

#[tokio::test]
async fn every_incident_route_and_filter_answers() {
    let fx = crate::helpers::Fixture::sample();
    let db = &fx.db;
    let all = json(db, "/api/incidents?limit=1000").await;
    assert_rollups_match(db);
    let total = all["total"].as_u64().expect("total");
    assert!(total > 10, "{all}");
    let list = all["incidents"].as_array().expect("incidents");
    assert_eq!(list.len() as u64, total);
    // Every failure is in exactly one incident.
    let counted: u64 = list.iter().filter_map(|i| i["count"].as_u64()).sum();
    let failures = json(db, "/api/failures?limit=1").await["total"]
        .as_u64()
        .expect("total");
    assert_eq!(counted, failures);

    // Each filter keeps exactly the incidents with that value.
    let pick = |key: &str| {
        list.iter()
            .find_map(|i| i[key].as_str().filter(|v| !v.is_empty()))
            .expect("a value")
            .to_owned()
    };
    for (param, key) in [
        ("cause", "cause"),
        ("server", "server"),
        ("client", "client_id"),
    ] {
        let value = pick(key);
        let expected = list.iter().filter(|i| i[key] == value.as_str()).count();
        let got = json(
            db,
            &format!(
                "/api/incidents?{param}={}&limit=1000",
                crate::pages::encoded(&value)
            ),
        )
        .await;
        assert_eq!(got["total"], expected, "{param}={value}: {got}");
        for i in got["incidents"].as_array().expect("incidents") {
            assert_eq!(i[key], value.as_str());
        }
    }
    // The release filter: the iOS sample app's release.
    let release = list
        .iter()
        .flat_map(|i| i["releases"].as_array().cloned().unwrap_or_default())
        .find_map(|r| r["value"].as_str().map(str::to_owned))
        .expect("some log names a release");
    let by_release = json(
        db,
        &format!("/api/incidents?release={}", crate::pages::encoded(&release)),
    )
    .await;
    assert!(by_release["total"].as_u64().is_some_and(|n| n >= 1));
    for i in by_release["incidents"].as_array().expect("incidents") {
        assert!(
            i["releases"]
                .as_array()
                .is_some_and(|r| r.iter().any(|s| s["value"] == release.as_str())),
            "{i}"
        );
    }

    // Bad input is a JSON 400; an unknown incident a 404.
    for uri in [
        "/api/incidents?state=broken",
        "/api/incidents?cause=nope",
        "/api/incidents?limit=x",
        "/api/incidents?colour=red",
    ] {
        let reply = get(fx.app(), uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
    }
    assert_eq!(
        get(fx.app(), "/api/incidents/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(fx.app(), "/incidents/abc").await.status,
        StatusCode::NOT_FOUND
    );

    // The pages: the list with a filter, an incident with its breakdowns
    // and a link to each failure.
    let id = list[0]["id"].as_i64().expect("id");
    let reply = get(fx.app(), "/incidents?state=resolved&cause=code_reused").await;
    reply.assert_html(StatusCode::OK, "/incidents");
    let page = reply.text();
    assert!(page.contains("code_reused"), "{page}");
    assert!(page.contains("<option value=\"resolved\" selected>"));
    let reply = get(fx.app(), &format!("/incidents/{id}")).await;
    reply.assert_html(StatusCode::OK, "/incidents/{id}");
    let page = reply.text();
    for heading in ["By release", "By OS", "By SDK", "Last 24 hours", "Affected"] {
        assert!(page.contains(heading), "{heading}: {page}");
    }
    let detail = json(db, &format!("/api/incidents/{id}")).await;
    for f in detail["failures"].as_array().expect("failures") {
        let href = format!(
            "/failures/{}",
            crate::pages::encoded(f.as_str().expect("id"))
        );
        assert!(page.contains(&href), "{href}");
    }
}

#[tokio::test]
async fn the_overview_leads_with_open_incidents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("production.log");
    std::fs::write(&log, whole(&[(1, "11:05", SENT), (2, "11:10", SENT)])).expect("write");
    let db = dir.path().join("g.db");
    analyze_into(vec![log], &db);
    let page = get(router(AppState::new(&db)), "/").await.text();
    let incidents = page.find("Open incidents").expect("the section");
    let spikes = page.find("New or spiking").expect("spikes");
    assert!(incidents < spikes, "incidents come first");
    let open = json(&db, "/api/incidents?state=open").await;
    let id = open["incidents"][0]["id"].as_i64().expect("one open");
    assert!(
        page.contains(&format!("href=\"/incidents/{id}\"")),
        "{page}"
    );
}

#[test]
fn retention_prunes_incidents_but_never_the_counters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("production.log");
    std::fs::write(
        &log,
        whole(&[(1, "11:05", SENT), (2, "11:10", "com.acme.fieldapp:/cb")]),
    )
    .expect("write");
    let db = dir.path().join("g.db");
    analyze_into(vec![log], &db);
    let mut store = Store::open(&db).expect("open");
    let sum = |store: &Store| -> u64 {
        store
            .diagnosed_totals()
            .expect("totals")
            .iter()
            .map(|t| t.count)
            .sum()
    };
    assert_eq!(sum(&store), 2);
    let records = store.ingest_total("records").expect("records");
    assert!(records >= 4, "{records}");
    let cut = grantwatch::time::parse_ts("2025-04-05T11:08:00Z").expect("time");
    assert!(store.prune_before(cut).expect("prune") > 0);
    let (_, left) = store
        .incidents(&Default::default(), cut, 10, 0)
        .expect("incidents");
    assert_eq!(left.len(), 1, "the pruned failure's incident went with it");
    assert_eq!(left[0].count, 1);
    assert_eq!(sum(&store), 2, "pruning lowers no counter");
    assert_rollups_match(&db);
    assert_eq!(store.ingest_total("records").expect("records"), records);
}

#[tokio::test]
async fn the_event_stream_tells_of_a_new_failure_and_its_incident() {
    use futures_util::StreamExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first.log");
    std::fs::write(&first, whole(&[(1, "11:05", SENT)])).expect("write");
    let db = dir.path().join("g.db");
    analyze_into(vec![first], &db);
    let request = axum::http::Request::get("/api/events")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = {
        use tower::ServiceExt as _;
        router(AppState::new(&db))
            .oneshot(request)
            .await
            .expect("infallible")
    };
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[axum::http::header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body().into_data_stream();
    // Connected after the first failure: only what comes next is told.
    let second = dir.path().join("second.log");
    std::fs::write(&second, whole(&[(2, "11:10", "com.acme.fieldapp:/cb")])).expect("write");
    analyze_into(vec![second], &db);
    let store = Store::open_read_only(&db).expect("open");
    let (_, newest) = store
        .failures(&FailureFilter::default(), 1, 0)
        .expect("failures");
    let incident = store
        .incident_of_failure(&newest[0].id)
        .expect("query")
        .expect("grouped");
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text.contains("event: incident") {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, body.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream stays open")
            .expect("a chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: failure\n"), "{text}");
    assert!(
        text.contains(&format!("\"failure_id\":\"{}\"", newest[0].id)),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"incident_id\":{incident}")),
        "{text}"
    );
    assert_eq!(
        text.matches("event: failure").count(),
        1,
        "the failure stored before connecting is not told again: {text}"
    );
}

#[tokio::test]
async fn the_search_box_says_what_it_matched_and_a_failure_says_who() {
    let fx = crate::helpers::Fixture::sample();
    let store = fx.sql();
    let one = |sql: &str| -> String {
        store
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    let client = one("SELECT client_id FROM failures WHERE client_id IS NOT NULL LIMIT 1");
    let ip = one("SELECT ip FROM incident_failures WHERE ip IS NOT NULL LIMIT 1");
    let search = |q: &str| format!("/requests?id={}", crate::pages::encoded(q));
    let page = get(fx.app(), &search(&client)).await;
    page.assert_html(StatusCode::OK, "client search");
    assert!(
        page.text()
            .contains("it matched <strong>a client id</strong>")
    );
    let page = get(fx.app(), &search(&ip)).await.text();
    assert!(
        page.contains("it matched <strong>an IP address</strong>"),
        "{page}"
    );
    let failures_with_ip: i64 = store
        .query_row(
            "SELECT count(*) FROM incident_failures WHERE ip = ?1",
            [&ip],
            |r| r.get(0),
        )
        .expect("count");
    assert!(
        page.contains(&format!(": {failures_with_ip} failures")),
        "{page}"
    );
    let missing = get(fx.app(), &search("no-such-thing-anywhere")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing
            .text()
            .contains("a client id, a user, an IP address, a device id or a session id")
    );

    // A failure whose client log carries a user agent: its release, OS and
    // incident are on its page.
    let id = one(
        "SELECT failure_id FROM incident_failures WHERE app_release = 'Field Notes 4.3.1' LIMIT 1",
    );
    let incident: i64 = store
        .query_row(
            "SELECT incident_id FROM incident_failures WHERE failure_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .expect("incident");
    let page = get(
        fx.app(),
        &format!("/failures/{}", crate::pages::encoded(&id)),
    )
    .await
    .text();
    assert!(
        page.contains("<dt>Release</dt><dd>Field Notes 4.3.1</dd>"),
        "{page}"
    );
    assert!(page.contains("<dt>OS</dt><dd>iOS 18.3.1</dd>"), "{page}");
    assert!(page.contains(&format!("href=\"/incidents/{incident}\"")));
}
