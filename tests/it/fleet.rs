//! Shipped logs into `watch`: the sample scenarios sent as HTTP JSON
//! records (`/api/ingest`) and as OTLP/HTTP (`/v1/logs`, protobuf gzip and
//! JSON) end with the failures and causes `analyze` finds over the same
//! files; a retried batch, a body cut mid-way, a body that is not OTLP, a
//! 100 MB body and a record with invalid UTF-8 each get their status and
//! nothing is lost or doubled; a crash after an answer loses no held
//! record; the token rule holds for the receivers. The real shippers
//! (OpenTelemetry's Python SDK, syslog-ng) are in `fleet_clients.rs`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;

use crate::fleet_http::{exchange, post, send};
use crate::helpers::{Diagnoses, diagnoses, grantwatch, root, stderr};
use crate::watch::{Daemon, spawn_command};

/// Reading options both sides share: the scenarios' year and date for
/// lines without them (a stream has no file time to take them from).
pub(crate) const DATED: [&str; 4] = ["--year", "2025", "--date", "2025-04-14"];

/// One number from the database.
pub(crate) fn count(db: &Path, sql: &str) -> i64 {
    let conn = crate::helpers::read_sql(db);
    conn.query_row(sql, [], |r| r.get(0)).expect("query")
}

/// Waits until `db` holds `want` (the diagnoses of analyze): every stream
/// flushed, every event diagnosed. Panics with both lists after 60 s.
pub(crate) fn wait_for(db: &Path, want: &Diagnoses) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = if db.exists() {
            diagnoses(db)
        } else {
            Vec::new()
        };
        if &got == want {
            return;
        }
        if Instant::now() >= deadline {
            let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).collect();
            let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).collect();
            panic!(
                "{}: watch's failures never matched analyze's ({} against {}):\nonly in watch: {extra:#?}\nonly in analyze: {missing:#?}",
                db.display(),
                got.len(),
                want.len()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The scenario logs (not their READMEs), sorted.
pub(crate) fn scenario_files() -> Vec<PathBuf> {
    let base = root().join("sample_logs/scenarios");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&base).expect("scenarios").flatten() {
        for f in std::fs::read_dir(dir.path()).expect("scenario").flatten() {
            if f.file_name() != "README.md" {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

/// `analyze --db` over `files` with [`DATED`]: its failures.
pub(crate) fn analyzed(files: &[PathBuf], dir: &Path) -> Diagnoses {
    let db = dir.join("analyze.db");
    let out = grantwatch()
        .arg("analyze")
        .arg("--db")
        .arg(&db)
        .args(DATED)
        .args(files)
        .output()
        .expect("run analyze");
    assert!(out.status.success(), "analyze: {}", stderr(&out));
    let d = diagnoses(&db);
    assert!(!d.is_empty(), "the scenarios have failures");
    d
}

/// `watch` with no paths, receiving only, with `extra` options.
pub(crate) fn receiver(db: &Path, extra: &[&str]) -> Daemon {
    receiver_flushing(db, extra, STREAM_FLUSH_MS)
}

/// A stream's open records are flushed after this quiet (`--stream-flush-ms`)
/// in the tests that send whole batches themselves.
pub(crate) const STREAM_FLUSH_MS: &str = "5000";

/// [`receiver`] flushing a quiet stream's open records after `flush_ms`.
pub(crate) fn receiver_flushing(db: &Path, extra: &[&str], flush_ms: &str) -> Daemon {
    let mut cmd = grantwatch();
    cmd.args(["watch", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(DATED)
        .args(["--stream-flush-ms", flush_ms])
        .args(extra);
    spawn_command(cmd)
}

/// A file's lines as NDJSON records naming the file (as Vector's `file`
/// source does).
pub(crate) fn ndjson(file: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(file).expect("read");
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let rec = serde_json::json!({
            "message": line,
            "file": file.to_string_lossy(),
            "host": "web-1",
            "timestamp": format!("2026-12-02T05:00:00.{i:06}Z"),
        });
        out += &rec.to_string();
        out.push('\n');
    }
    out.into_bytes()
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    }
}

/// A file's lines as one OTLP logs request, its resource naming the file.
pub(crate) fn otlp_request(file: &Path) -> ExportLogsServiceRequest {
    let text = std::fs::read_to_string(file).expect("read");
    let log_records = text
        .lines()
        .enumerate()
        .map(|(i, line)| LogRecord {
            time_unix_nano: 1_764_651_600_000_000_000 + i as u64,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(line.into())),
            }),
            ..LogRecord::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "scenarios"),
                    kv("log.file.path", &file.to_string_lossy()),
                ],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

#[test]
fn json_records_of_every_scenario_end_with_the_failures_of_analyze_and_a_retry_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = scenario_files();
    let want = analyzed(&files, dir.path());
    let db = dir.path().join("watch.db");
    let d = receiver(&db, &[]);
    let mut lines = 0;
    for f in &files {
        let a = post(&d.addr, "/api/ingest", &[], &ndjson(f));
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        assert_eq!(a.json()["duplicate"], false);
        lines += std::fs::read_to_string(f).expect("read").lines().count() as i64;
    }
    wait_for(&db, &want);
    let events = count(&db, "SELECT count(*) FROM events");
    // The shipper timed out and sends the first file's batch again.
    let again = post(&d.addr, "/api/ingest", &[], &ndjson(&files[0]));
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["duplicate"], true);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(&db, "SELECT count(*) FROM events"), events);
    assert_eq!(diagnoses(&db), want);
    // Every line read once, one stream per file, listed with the files.
    assert_eq!(
        count(
            &db,
            "SELECT sum(line_no) FROM sources WHERE path LIKE 'stream:%'"
        ),
        lines
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM sources") as usize,
        files.len()
    );
    let page = sources_page(&d.addr);
    for f in &files {
        let row = format!("stream:web-1/{}", f.display());
        assert!(page.contains(&row), "/sources lists {row}");
    }
}

/// The `/sources` page's HTML.
fn sources_page(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET /sources HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut page = String::new();
    stream.read_to_string(&mut page).expect("read");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    page
}

#[test]
fn otlp_protobuf_gzip_and_json_end_with_the_failures_of_analyze() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = scenario_files();
    let want = analyzed(&files, dir.path());
    let db = dir.path().join("watch.db");
    let d = receiver(&db, &[]);
    for (i, f) in files.iter().enumerate() {
        let req = otlp_request(f);
        let a = if i % 2 == 0 {
            let a = post(
                &d.addr,
                "/v1/logs",
                &[
                    ("Content-Type", "application/x-protobuf"),
                    ("Content-Encoding", "gzip"),
                ],
                &gzip(&req.encode_to_vec()),
            );
            assert_eq!(a.header("content-type"), Some("application/x-protobuf"));
            a
        } else {
            let a = post(
                &d.addr,
                "/v1/logs",
                &[("Content-Type", "application/json")],
                &serde_json::to_vec(&req).expect("json"),
            );
            assert_eq!(a.header("content-type"), Some("application/json"));
            a
        };
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    }
    wait_for(&db, &want);
}

#[test]
fn edge_bodies_get_their_status_and_nothing_is_lost_or_doubled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("watch.db");
    let d = receiver(&db, &["--ingest-max-bytes", "1000000"]);
    let rec = |i: usize| format!("{{\"message\":\"line {i} invalid_grant\",\"host\":\"h\"}}\n");
    let body: String = (0..10).map(rec).collect();

    // Cut mid-body: the declared length never arrives.
    let cut = &body.as_bytes()[..body.len() / 2];
    let mut req = format!(
        "POST /api/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(cut);
    let a = send(&d.addr, &req, true);
    assert!(a.status == 400 || a.status == 0, "cut body: {}", a.status);
    // Cut at a record boundary that is not the end of the JSON: NDJSON
    // whose last record is incomplete.
    let half_record = format!("{}{{\"message\":\"line 10", rec(0));
    assert_eq!(
        post(&d.addr, "/api/ingest", &[], half_record.as_bytes()).status,
        400
    );
    // The full batch, then its retry.
    assert_eq!(
        post(&d.addr, "/api/ingest", &[], body.as_bytes()).status,
        200
    );
    let retry = post(&d.addr, "/api/ingest", &[], body.as_bytes());
    assert_eq!(retry.status, 200);
    assert_eq!(retry.json()["duplicate"], true);

    // Not OTLP: 400, and an unknown content type 415.
    let not = post(
        &d.addr,
        "/v1/logs",
        &[("Content-Type", "application/x-protobuf")],
        b"\xff\xfe this is not protobuf \x00\x01",
    );
    assert_eq!(not.status, 400);
    let not_json = post(
        &d.addr,
        "/v1/logs",
        &[("Content-Type", "application/json")],
        b"{\"resourceLogs\": 7}",
    );
    assert_eq!(not_json.status, 400);
    let text = post(&d.addr, "/v1/logs", &[("Content-Type", "text/plain")], b"x");
    assert_eq!(text.status, 415);

    // 100 MB: refused on its declared length, before it is read.
    let started = Instant::now();
    let head = format!(
        "POST /api/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        100 * 1024 * 1024
    );
    let big = exchange(&d.addr, head.as_bytes());
    assert_eq!(big.status, 413);
    assert!(started.elapsed() < Duration::from_secs(5));
    // Without a declared length (chunked): refused once past the limit.
    let mut chunked =
        b"POST /api/ingest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    let piece = vec![b'a'; 64 * 1024];
    for _ in 0..(2 * 1_000_000 / piece.len()) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(&piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(exchange(&d.addr, &chunked).status, 413);
    // Gzip that inflates past the limit: 413 too.
    let bomb = gzip(&vec![b' '; 3_000_000]);
    assert_eq!(
        post(
            &d.addr,
            "/api/ingest",
            &[("Content-Encoding", "gzip")],
            &bomb
        )
        .status,
        413
    );

    // Invalid UTF-8 inside a record: stored, the bad byte replaced.
    let mut bad = b"{\"message\":\"caf".to_vec();
    bad.extend_from_slice(b"\xe9 token invalid_grant\",\"host\":\"u\"}\n");
    let a = post(&d.addr, "/api/ingest", &[], &bad);
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["accepted"], 1);

    // Nothing lost or doubled: the ten lines once, the UTF-8 line once.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        count(&db, "SELECT line_no FROM sources WHERE path = 'stream:h'"),
        10
    );
    assert_eq!(
        count(&db, "SELECT line_no FROM sources WHERE path = 'stream:u'"),
        1
    );
    assert_eq!(count(&db, "SELECT count(*) FROM ingest_batches"), 2);
}

#[test]
fn a_crash_after_the_answer_loses_no_record_a_parser_held() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("watch.db");
    let file = root().join("sample_logs/scenarios/code_reused/production.log");
    let want = analyzed(std::slice::from_ref(&file), dir.path());
    let text = std::fs::read_to_string(&file).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    // The failed exchange's request starts in the first batch and ends in
    // the second: cut just after its `Started` line.
    let started = lines
        .iter()
        .rposition(|l| l.contains("Started POST \"/oauth/token\""))
        .expect("a token request");
    let batch = |part: &[&str]| -> Vec<u8> {
        part.iter()
            .map(|l| serde_json::json!({"message": l, "file": "production.log"}).to_string() + "\n")
            .collect::<String>()
            .into_bytes()
    };
    {
        // Streams are flushed only after a long quiet: the request stays
        // held when the daemon dies.
        let mut cmd = grantwatch();
        cmd.args(["watch", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .args(DATED)
            .args(["--stream-flush-ms", "600000"]);
        let mut first = spawn_command(cmd);
        let a = post(&first.addr, "/api/ingest", &[], &batch(&lines[..=started]));
        assert_eq!(a.status, 200);
        first.child.kill().expect("kill -9");
        let _ = first.child.wait();
    }
    assert!(count(&db, "SELECT count(*) FROM ingest_pending") > 0);
    let d = receiver(&db, &[]);
    let a = post(&d.addr, "/api/ingest", &[], &batch(&lines[started + 1..]));
    assert_eq!(a.status, 200);
    wait_for(&db, &want);
    assert_eq!(
        count(
            &db,
            "SELECT line_no FROM sources WHERE path = 'stream:production.log'"
        ),
        lines.len() as i64
    );
}

#[test]
fn the_receivers_ask_for_the_token_like_every_other_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("watch.db");
    let token = "fleet-test-token-0123456789";
    let d = receiver(&db, &["--token", token]);
    let body = b"{\"message\":\"hello\"}\n";
    let no = post(&d.addr, "/api/ingest", &[], body);
    assert_eq!(no.status, 401);
    let no_otlp = post(
        &d.addr,
        "/v1/logs",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(
        no_otlp.status, 401,
        "a shipper gets 401, not the sign-in page"
    );
    let bearer = format!("Bearer {token}");
    let yes = post(
        &d.addr,
        "/api/ingest",
        &[("Authorization", bearer.as_str())],
        body,
    );
    assert_eq!(yes.status, 200);
}

#[test]
fn a_spent_budget_answers_429_with_retry_after() {
    use tower::ServiceExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("g.db");
    let fleet = grantwatch::fleet::Fleet::start(
        &db,
        grantwatch::fleet::FleetOptions {
            max_bytes: 1000,
            queue_bytes: 1000,
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
    let request = || {
        axum::http::Request::post("/api/ingest")
            .header("content-length", "20")
            .body(axum::body::Body::from("{\"message\":\"hello\"}\n"))
            .expect("request")
    };
    runtime.block_on(async {
        // Bodies of other requests being read hold the whole budget.
        let held = fleet.reserve(1000).expect("the budget is free");
        let busy = app.clone().oneshot(request()).await.expect("answer");
        assert_eq!(busy.status(), 429);
        assert_eq!(
            busy.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        drop(held);
        let ok = app.oneshot(request()).await.expect("answer");
        assert_eq!(ok.status(), 200);
    });
    fleet.stop();
}

/// The events of a database as (stream, line, kind), sorted.
fn stored_events(db: &Path) -> Vec<(String, i64, String)> {
    let conn = crate::helpers::read_sql(db);
    let mut stmt = conn
        .prepare(
            "SELECT s.path, e.line, e.kind FROM events e JOIN sources s ON s.id = e.source_id
             ORDER BY 1, 2, 3",
        )
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows")
}

#[test]
fn past_the_stream_bound_a_dropped_stream_comes_back_with_its_held_records() {
    use grantwatch::fleet::{Fleet, FleetOptions, Record};
    let file = root().join("sample_logs/scenarios/code_reused/production.log");
    let text = std::fs::read_to_string(&file).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines
        .iter()
        .rposition(|l| l.contains("Started POST \"/oauth/token\""))
        .expect("a token request");
    let batch = |stream: &str, part: &[&str]| -> Vec<Record> {
        part.iter()
            .map(|l| Record {
                stream: stream.into(),
                time: String::new(),
                body: (*l).to_owned(),
            })
            .collect()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let run = |db: &Path, max_streams: usize, stream_bytes: usize| {
        let fleet = Fleet::start(
            db,
            FleetOptions {
                max_streams,
                stream_bytes,
                ..FleetOptions::default()
            },
        )
        .expect("start");
        runtime.block_on(async {
            // Stream a's request is open when b and c arrive.
            for records in [
                batch("a", &lines[..=cut]),
                batch("b", &lines[..40]),
                batch("c", &lines[..40]),
                batch("a", &lines[cut + 1..]),
            ] {
                fleet.submit(records, None).await.expect("stored");
            }
        });
        fleet.stop();
        stored_events(db)
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let roomy = run(&dir.path().join("roomy.db"), 4096, usize::MAX);
    let tight = run(&dir.path().join("tight.db"), 1, usize::MAX);
    // Under a byte bound no idle stream fits: each is dropped after its
    // commit and rebuilt, held lines replayed, when it sends again.
    let small = run(&dir.path().join("small.db"), 4096, 1);
    assert!(
        roomy
            .iter()
            .any(|(s, _, k)| s == "stream:a" && k == "token_response")
    );
    assert_eq!(
        tight, roomy,
        "one stream in memory at a time stores the same events"
    );
    assert_eq!(
        small, roomy,
        "streams dropped for the byte bound store the same events"
    );
}
