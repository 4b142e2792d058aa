//! Dashboard latency with a large store: 10 million events and 1 million
//! failures, written once by a bench-only bulk builder ([`build`]: the
//! events in one transaction of prepared inserts, their indexes built
//! after; the failures through `Store::upsert_failure`, so the rollup
//! triggers and the incident grouping do their real work), then every page
//! and API route a user opens is answered by the real router
//! (`tower::oneshot`, no socket) on read-only connections, as `serve` does.
//!
//! The shape: 30 days of traffic from 400 clients (a few large ones), each
//! registered with one of four server kinds, 5 million token requests (an authorize request and a
//! token response each), 1 million of them failed over twenty causes; 300,000
//! of the failures fall in the last 24 hours (an outage), so the overview's
//! hour, day and week windows are full. The database is kept in
//! `target/bench-dashboard/` (or `GRANTWATCH_BENCH_DB`) and reused by later
//! runs; delete it to build it again. Figures and the command are in
//! `benches/README.md`.

use std::borrow::Cow;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use grantwatch::cause::{ALL_CAUSES, Cause, Confidence};
use grantwatch::diagnose::causes::rule;
use grantwatch::store::failures::{Candidate, Evidence, FailureContext};
use grantwatch::store::{FailureRecord, Store};
use grantwatch::web::{AppState, router};
use grantwatch_parsers::{
    Event, EventKind, EvidenceLine, Format, GrantType, ServerKind, TimeBasis, Timestamp,
};
use tower::ServiceExt as _;

const EVENTS: u64 = 10_000_000;
const FAILURES: u64 = 1_000_000;
const REQUESTS: u64 = EVENTS / 2;
const OUTAGE_FAILURES: u64 = 300_000;
const CLIENTS: u64 = 400;
const DAY_MS: i64 = 86_400_000;
const SPAN_MS: i64 = 30 * DAY_MS;

const SERVERS: [ServerKind; 4] = [
    ServerKind::Doorkeeper,
    ServerKind::Hydra,
    ServerKind::Keycloak,
    ServerKind::NodeOidcProvider,
];

fn db_path() -> PathBuf {
    std::env::var_os("GRANTWATCH_BENCH_DB").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-dashboard/g-10m.db"),
        PathBuf::from,
    )
}

/// The request id of request `i` (unique, UUID-shaped).
fn request_id(i: u64) -> String {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        i & 0xfff,
        (i >> 12) & 0xfff,
        i
    )
}

/// A skewed client choice (a few clients carry most traffic), and the
/// authorization server that client is registered with.
fn client(rng: &mut fastrand::Rng) -> (String, ServerKind) {
    let r = rng.f64();
    let n = (r * r * r * CLIENTS as f64) as u64;
    (
        format!("client-{n:03}"),
        SERVERS[(n % SERVERS.len() as u64) as usize],
    )
}

/// Whether request `i` failed: every fifth request, with the outage's
/// failures at the end of the span.
fn failed(i: u64) -> bool {
    i.is_multiple_of(REQUESTS / FAILURES)
}

/// The time of request `i`: spread over 30 days, except that the last
/// [`OUTAGE_FAILURES`] failures (and the requests around them) fall in the
/// last day.
fn request_ms(i: u64, end_ms: i64) -> i64 {
    let outage_from = REQUESTS - OUTAGE_FAILURES * (REQUESTS / FAILURES);
    if i < outage_from {
        end_ms - SPAN_MS + (i as i64 * (SPAN_MS - DAY_MS)) / outage_from as i64
    } else {
        end_ms - DAY_MS + ((i - outage_from) as i64 * DAY_MS) / (REQUESTS - outage_from) as i64
    }
}

fn at(ms: i64) -> Option<Timestamp> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|utc| Timestamp {
        utc,
        basis: TimeBasis::Zoned,
    })
}

/// The two events of request `i`: its authorize request and its token
/// response, each with the Rails lines a real log would keep as evidence.
fn request_events(i: u64, end_ms: i64, rng: &mut fastrand::Rng) -> [Event<'static>; 2] {
    let t = request_ms(i, end_ms);
    let (client, server) = client(rng);
    let rid = request_id(i);
    let redirect = "com.example.app:/oauth2redirect";
    let mut authorize = Event::new(EventKind::AuthorizeRequest, Format::Rails);
    authorize.server = Some(server);
    authorize.ts = at(t - 4_000);
    authorize.request_id = Some(Cow::Owned(format!("a-{rid}")));
    authorize.client_id = Some(Cow::Owned(client.clone()));
    authorize.redirect_uri = Some(Cow::Borrowed(redirect));
    authorize.evidence = vec![EvidenceLine {
        line: i * 4 + 1,
        text: Cow::Owned(format!(
            "I, [2026-11-01T09:00:00.000000 #7]  INFO -- : [a-{rid}] Started GET \"/oauth/authorize?response_type=code&client_id={client}&redirect_uri=com.example.app%3A%2Foauth2redirect&state=x\" for 203.0.113.9"
        )),
    }];
    let mut response = Event::new(EventKind::TokenResponse, Format::Rails);
    response.server = Some(server);
    response.ts = at(t);
    response.request_id = Some(Cow::Owned(rid.clone()));
    response.client_id = Some(Cow::Owned(client));
    response.grant_type = Some(GrantType::AuthorizationCode);
    response.status = Some(if failed(i) { 400 } else { 200 });
    response.error = failed(i).then_some(Cow::Borrowed("invalid_grant"));
    response.redirect_uri = Some(Cow::Borrowed(redirect));
    response.evidence = vec![
        EvidenceLine {
            line: i * 4 + 3,
            text: Cow::Owned(format!(
                "I, [2026-11-01T09:00:04.000000 #7]  INFO -- : [{rid}] Started POST \"/oauth/token\" for 203.0.113.9"
            )),
        },
        EvidenceLine {
            line: i * 4 + 4,
            text: Cow::Owned(format!(
                "I, [2026-11-01T09:00:04.010000 #7]  INFO -- : [{rid}] Completed {} in 10ms",
                if failed(i) {
                    "400 Bad Request"
                } else {
                    "200 OK"
                }
            )),
        },
    ];
    [authorize, response]
}

/// The diagnosis of failed request `i` (its token response is `event`).
fn failure_record(i: u64, event: &Event<'_>) -> FailureRecord {
    let cause = ALL_CAUSES[(i / 5 % ALL_CAUSES.len() as u64) as usize];
    let rule = rule(cause);
    let evidence = event
        .evidence
        .iter()
        .map(|l| Evidence {
            file: "rails/production.log".into(),
            line: l.line,
            ts: event.ts.map(|t| t.utc.to_rfc3339()),
            text: l.text.to_string(),
        })
        .collect();
    FailureRecord {
        id: format!("{:016x}", i.wrapping_mul(0x2545_F491_4F6C_DD1D)),
        ts: event.ts.map(|t| t.utc.to_rfc3339()),
        server: event.server,
        request_id: event.request_id.as_ref().map(|r| r.to_string()),
        client_id: event.client_id.as_ref().map(|c| c.to_string()),
        grant_type: Some(GrantType::AuthorizationCode),
        error: Some("invalid_grant".into()),
        http_status: Some(400),
        cause,
        confidence: Confidence::High,
        candidates: vec![Candidate {
            cause: Cause::CodeExpired,
            why: "the code may also have been older than its lifetime".into(),
        }],
        summary: format!(
            "The code exchanged by {} at request {} was redeemed before.",
            event.client_id.as_deref().unwrap_or("?"),
            event.request_id.as_deref().unwrap_or("?")
        ),
        fix: rule.map_or("", |r| r.fix).into(),
        evidence,
        missing: None,
        context: FailureContext::default(),
    }
}

/// What the failed request `i`'s client said of itself: a user, one of
/// 20,000 installations, a login session, an IP and a user agent naming
/// one of two releases.
fn who(i: u64) -> [String; 5] {
    let user = i.wrapping_mul(0x9E37) % 50_000;
    [
        format!("user-{user:05}"),
        format!("{:08x}-device", (i.wrapping_mul(0x2545_F491) % 20_000)),
        format!("sess-{:06x}", i / 5 % 400_000),
        format!("198.51.100.{}", i % 250),
        if i.is_multiple_of(3) {
            "Field Notes/4.12.0 (iPhone; iOS 18.3.1) CFNetwork/1568.100.1".to_owned()
        } else {
            "Field Notes/4.11.2 (Linux; Android 14; Pixel 8) okhttp/4.12.0".to_owned()
        },
    ]
}

/// Writes the store in bulk (a bench-only builder): the events and their
/// evidence lines in one transaction of prepared inserts with the events'
/// indexes dropped and built again after (by sorting, not by ten million
/// random inserts), then every failure through `Store::upsert_failure` in
/// one transaction, so the rollup triggers and the incident grouping do
/// their real work. The schema is the store's own (`Store::open`).
fn build(path: &Path) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("bench dir");
    }
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let mut store = Store::open(&partial).expect("open");
    let conn = store.raw_connection();
    // No journal while building (a half-built file is deleted and built
    // again): a write-ahead log of the whole build would double the disk
    // it needs.
    conn.execute_batch(
        "PRAGMA journal_mode = DELETE; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         PRAGMA cache_size = -1000000; PRAGMA temp_store = MEMORY;",
    )
    .expect("pragmas");
    let source = store
        .source_for_file("rails/production.log", "rails", (1, 1), "bench")
        .expect("source");
    let conn = store.raw_connection();
    let indexes: Vec<(String, String)> = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("indexes");
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX {name}"))
            .expect("drop index");
    }
    let end_ms = Utc::now().timestamp_millis();
    let mut rng = fastrand::Rng::with_seed(7);
    let started = Instant::now();
    conn.execute_batch("BEGIN").expect("begin");
    {
        let mut event = conn
            .prepare(
                "INSERT INTO events (id, source_id, line, kind, format, server, ts_ms, ts_basis,
                    request_id, client_id, grant_type, status, error, redirect_uri, user_name,
                    device_id, session_id, ip, user_agent)
                 VALUES (?1, ?2, ?3, ?4, 'rails', ?5, ?6, 'zoned', ?7, ?8, ?9, ?10, ?11, ?12,
                    ?13, ?14, ?15, ?16, ?17)",
            )
            .expect("prepare");
        let mut evidence = conn
            .prepare("INSERT INTO evidence (event_id, line, text) VALUES (?1, ?2, ?3)")
            .expect("prepare");
        for i in 0..REQUESTS {
            for (k, e) in request_events(i, end_ms, &mut rng).iter().enumerate() {
                let id = (2 * i + k as u64 + 1) as i64;
                let who = (k == 1 && failed(i)).then(|| who(i));
                let w = |n: usize| who.as_ref().map(|w| w[n].as_str());
                event
                    .execute(rusqlite::params![
                        id,
                        source.id,
                        e.line() as i64,
                        e.kind.as_str(),
                        e.server.map(|s| s.as_str()),
                        e.ts.map(|t| t.utc.timestamp_millis()),
                        e.request_id.as_deref(),
                        e.client_id.as_deref(),
                        e.grant_type.as_ref().map(GrantType::as_str),
                        e.status,
                        e.error.as_deref(),
                        e.redirect_uri.as_deref(),
                        w(0),
                        w(1),
                        w(2),
                        w(3),
                        w(4),
                    ])
                    .expect("event");
                for l in &e.evidence {
                    evidence
                        .execute(rusqlite::params![id, l.line as i64, l.text.as_ref()])
                        .expect("evidence");
                }
            }
            if i % 1_000_000 == 0 {
                eprintln!(
                    "bench store: {i} of {REQUESTS} requests ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    conn.execute_batch("COMMIT").expect("commit");
    for (_, sql) in &indexes {
        conn.execute_batch(sql).expect("index");
    }
    eprintln!(
        "bench store: events and indexes in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let mut rng = fastrand::Rng::with_seed(7);
    store
        .write(|s| {
            for i in 0..REQUESTS {
                let [_, response] = request_events(i, end_ms, &mut rng);
                if failed(i) {
                    let rec = failure_record(i, &response);
                    let ts = response.ts.map(|t| t.utc.timestamp_millis());
                    s.upsert_failure(&rec, (2 * i + 2) as i64, &[], ts)?;
                }
            }
            s.raw_connection().execute_batch(
                "INSERT INTO ingest_totals (name, n) SELECT 'records', count(*) FROM events WHERE true
                 ON CONFLICT DO UPDATE SET n = excluded.n;",
            )?;
            Ok(())
        })
        .expect("failures");
    store
        .raw_connection()
        .execute_batch("ANALYZE; PRAGMA journal_mode = WAL;")
        .expect("analyze");
    drop(store);
    std::fs::rename(&partial, path).expect("rename");
    eprintln!(
        "bench store: built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// The store, built when missing; checked to hold what the bench claims.
fn store_path() -> PathBuf {
    let path = db_path();
    if !path.exists() {
        build(&path);
    }
    let store = Store::open_read_only(&path).expect("open");
    let count = |table: &str| -> u64 {
        store
            .raw_connection()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .expect("count") as u64
    };
    assert_eq!(count("events"), EVENTS, "events in {}", path.display());
    assert_eq!(
        count("failures"),
        FAILURES,
        "failures in {}",
        path.display()
    );
    path
}

fn bench_routes(c: &mut Criterion) {
    // `cargo test --benches` runs this without `--bench`: building a store
    // of 8 GB is not a test.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("dashboard bench: skipped (run it with cargo bench --bench dashboard)");
        return;
    }
    let path = store_path();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let state = AppState::new(&path);
    let app = router(state);
    // A failed request of the outage and one from three weeks ago.
    let recent = REQUESTS - 5;
    let old = REQUESTS / 4 - (REQUESTS / 4) % 5;
    let failure_id = failure_record(
        recent,
        &request_events(recent, 0, &mut fastrand::Rng::new())[1],
    )
    .id;
    let routes = [
        ("overview", "/".to_owned()),
        (
            "request_page_recent",
            format!("/requests/{}", request_id(recent)),
        ),
        ("request_page_old", format!("/requests/{}", request_id(old))),
        (
            "api_request",
            format!("/api/requests/{}", request_id(recent)),
        ),
        ("request_unknown", "/requests/no-such-request".to_owned()),
        ("failure_page", format!("/failures/{failure_id}")),
        ("failures_list", "/failures".to_owned()),
        (
            "failures_by_cause_page_20",
            "/failures?cause=code_reused&page=20".to_owned(),
        ),
        (
            "api_failures_by_client",
            "/api/failures?client=client-000&limit=100".to_owned(),
        ),
        ("api_stats_day", "/api/stats?bucket=day".to_owned()),
        ("metrics", "/metrics".to_owned()),
        ("search_device", format!("/requests?id={}", who(recent)[1])),
        ("search_session", format!("/requests?id={}", who(recent)[2])),
        ("incidents_list", "/incidents".to_owned()),
        ("api_incidents_open", "/api/incidents?state=open".to_owned()),
        ("incident_page", "/incidents/1".to_owned()),
        ("api_incident", "/api/incidents/1".to_owned()),
    ];
    let mut group = c.benchmark_group("dashboard_10m_events_1m_failures");
    for (name, uri) in &routes {
        let get = || {
            let app = app.clone();
            let uri = uri.clone();
            async move {
                let response = app
                    .oneshot(Request::get(&uri).body(Body::empty()).expect("request"))
                    .await
                    .expect("infallible");
                let status = response.status();
                let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .expect("body");
                (status, body.len())
            }
        };
        let (status, _) = runtime.block_on(get());
        let expected = if *name == "request_unknown" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        assert_eq!(status, expected, "{uri}");
        group.bench_function(*name, |b| {
            b.iter(|| black_box(runtime.block_on(get())));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_routes
}
criterion_main!(benches);
