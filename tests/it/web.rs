//! The JSON API and the metrics as a client meets them, through the router
//! without a socket (`tower::ServiceExt::oneshot`), over a database analyzed
//! from `sample_logs/`: every route, filters and paging, errors as JSON,
//! the token check, and hostile log text served as data.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use grantwatch::store::{FailureFilter, Store};
use grantwatch::web::{AppState, router};
use serde_json::Value;

use crate::helpers::{Fixture, Reply, analyze_one_record, get, grantwatch, send, stderr};

impl Fixture {
    async fn get_ok(&self, uri: &str) -> Value {
        let reply = get(self.app(), uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
        reply.json()
    }
}

impl Reply {
    fn json(&self) -> Value {
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "status {}",
            self.status
        );
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Asserts a JSON error with this status, and returns its message.
    fn error(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "{}", self.text());
        let v = self.json();
        assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{v}");
        v["error"].as_str().expect("error text").to_owned()
    }
}

fn failures(v: &Value) -> &Vec<Value> {
    v["failures"].as_array().expect("failures array")
}

fn total(v: &Value) -> u64 {
    v["total"].as_u64().expect("total")
}

#[tokio::test]
async fn healthz_answers_ok_with_the_security_headers() {
    let fx = Fixture::sample();
    let reply = get(fx.app(), "/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "ok");
    assert_eq!(
        reply.headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test]
async fn the_failure_list_is_newest_first_with_the_total() {
    let fx = Fixture::sample();
    let (all, _) = fx
        .store()
        .failures(&FailureFilter::default(), 0, 0)
        .expect("count");
    assert!(all > 100, "the samples hold more than one page: {all}");
    let v = fx.get_ok("/api/failures").await;
    assert_eq!(total(&v), all);
    let list = failures(&v);
    assert_eq!(list.len(), 100, "default limit");
    let times: Vec<&str> = list.iter().filter_map(|f| f["ts"].as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    for f in list {
        for key in [
            "id",
            "ts",
            "server",
            "cause",
            "confidence",
            "evidence",
            "fix",
        ] {
            assert!(f.get(key).is_some(), "{key} in {f}");
        }
    }
}

#[tokio::test]
async fn pages_follow_each_other_and_limit_is_capped() {
    let fx = Fixture::sample();
    let whole = fx.get_ok("/api/failures?limit=30").await;
    let first = fx.get_ok("/api/failures?limit=10").await;
    let second = fx.get_ok("/api/failures?limit=20&offset=10").await;
    assert_eq!(total(&first), total(&whole));
    assert_eq!(total(&second), total(&whole));
    let joined: Vec<&Value> = failures(&first)
        .iter()
        .chain(failures(&second).iter())
        .collect();
    let expected: Vec<&Value> = failures(&whole).iter().collect();
    assert_eq!(joined, expected);
    let all = fx.get_ok("/api/failures?limit=5000").await;
    assert_eq!(
        failures(&all).len() as u64,
        total(&all).min(1000),
        "limit is capped at 1000"
    );
    let past = fx
        .get_ok(&format!("/api/failures?offset={}", total(&all)))
        .await;
    assert!(failures(&past).is_empty());
    assert_eq!(total(&past), total(&all));
}

#[tokio::test]
async fn filters_select_by_cause_client_server_and_time() {
    let fx = Fixture::sample();
    let counts = fx.store().cause_counts().expect("counts");
    let (cause, n) = counts
        .iter()
        .find(|(c, _)| c == "code_reused")
        .expect("code_reused in the samples");
    let v = fx
        .get_ok(&format!("/api/failures?cause={cause}&limit=1000"))
        .await;
    assert_eq!(total(&v), *n);
    assert!(failures(&v).iter().all(|f| f["cause"] == "code_reused"));

    let v = fx
        .get_ok("/api/failures?server=doorkeeper&limit=1000")
        .await;
    assert!(total(&v) > 0);
    assert!(failures(&v).iter().all(|f| f["server"] == "doorkeeper"));

    let client = "6f1c9a2e-3b47-4d85-9e0a-7c2b5d8f1e34";
    let v = fx
        .get_ok(&format!("/api/failures?client={client}&limit=1000"))
        .await;
    assert!(total(&v) > 0);
    assert!(failures(&v).iter().all(|f| f["client_id"] == client));

    let v = fx
        .get_ok("/api/failures?since=2025-03-11T09:00:00Z&until=2025-03-12&limit=1000")
        .await;
    assert!(total(&v) > 0);
    for f in failures(&v) {
        let ts = f["ts"].as_str().expect("a dated failure");
        assert!(
            ("2025-03-11T09:00:00.000Z".."2025-03-12T00:00:00.000Z").contains(&ts),
            "{ts}"
        );
    }
    // An offset in the time is honoured.
    let a = fx
        .get_ok("/api/failures?since=2025-03-11T10:00:00%2B01:00&limit=0")
        .await;
    let b = fx
        .get_ok("/api/failures?since=2025-03-11T09:00:00Z&limit=0")
        .await;
    assert_eq!(total(&a), total(&b));

    // Filters combine, and empty values mean no filter.
    let v = fx
        .get_ok("/api/failures?cause=code_reused&server=doorkeeper&client=")
        .await;
    assert!(
        failures(&v)
            .iter()
            .all(|f| f["cause"] == "code_reused" && f["server"] == "doorkeeper")
    );
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let fx = Fixture::sample();
    for (uri, name) in [
        ("/api/failures?since=yesterday", "since"),
        ("/api/failures?until=2025-02-30", "until"),
        ("/api/failures?limit=ten", "limit"),
        ("/api/failures?offset=-1", "offset"),
        ("/api/failures?cause=code_reuse", "cause"),
        ("/api/failures?server=apache", "server"),
        ("/api/failures?bucket=day", "bucket"),
        ("/api/failures?causes=code_reused", "causes"),
        ("/api/stats?bucket=week", "bucket"),
        ("/api/stats?limit=3", "limit"),
        ("/api/stats?since=nope", "since"),
    ] {
        let message = get(fx.app(), uri).await.error(StatusCode::BAD_REQUEST);
        assert!(message.contains(name), "{uri}: {message}");
        assert!(!message.contains('\n'), "one line: {uri}: {message}");
    }
    // An unknown cause or server is refused where it is parsed, with the
    // values it could have been; it never reaches the store as a filter.
    for (uri, known) in [
        ("/api/failures?cause=code_reuse", "code_reused"),
        ("/api/failures?server=apache", "doorkeeper"),
        ("/api/incidents?cause=code_reuse", "code_reused"),
        ("/api/incidents?server=apache", "unknown"),
    ] {
        let message = get(fx.app(), uri).await.error(StatusCode::BAD_REQUEST);
        assert!(message.contains(known), "{uri}: {message}");
    }
}

#[tokio::test]
async fn one_failure_by_id_or_a_json_404() {
    let fx = Fixture::sample();
    let list = fx.get_ok("/api/failures?limit=3").await;
    for f in failures(&list) {
        let id = f["id"].as_str().expect("id");
        let one = fx.get_ok(&format!("/api/failures/{id}")).await;
        assert_eq!(&one, f);
    }
    get(fx.app(), "/api/failures/no-such-id")
        .await
        .error(StatusCode::NOT_FOUND);
    let message = get(fx.app(), "/api/failures/%3Cscript%3E")
        .await
        .error(StatusCode::NOT_FOUND);
    assert!(!message.contains('<'), "the id is not echoed: {message}");
}

#[tokio::test]
async fn a_request_story_or_a_json_404() {
    let fx = Fixture::sample();
    let v = fx.get_ok("/api/failures?limit=1000").await;
    let f = failures(&v)
        .iter()
        .find(|f| f["request_id"].is_string())
        .expect("a failure with a request id");
    let rid = f["request_id"].as_str().expect("request id");
    let story = fx.get_ok(&format!("/api/requests/{rid}")).await;
    assert_eq!(story["request_id"], rid);
    let ids: Vec<&Value> = story["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| &f["id"])
        .collect();
    assert!(ids.contains(&&f["id"]), "{ids:?}");
    let events = story["events"].as_array().expect("events");
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["request_id"] == rid));
    get(fx.app(), "/api/requests/no-such-request")
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stats_buckets_add_up_to_the_total() {
    let fx = Fixture::sample();
    let all = total(&fx.get_ok("/api/failures?limit=0").await);
    for (uri, bucket, suffix) in [
        ("/api/stats", "hour", ":00:00.000Z"),
        ("/api/stats?bucket=hour", "hour", ":00:00.000Z"),
        ("/api/stats?bucket=day", "day", "T00:00:00.000Z"),
    ] {
        let v = fx.get_ok(uri).await;
        assert_eq!(v["bucket"], bucket);
        let series = v["series"].as_array().expect("series");
        assert!(!series.is_empty());
        let starts: Vec<&str> = series
            .iter()
            .map(|b| b["start"].as_str().expect("start"))
            .collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
        assert!(starts.iter().all(|s| s.ends_with(suffix)), "{starts:?}");
        let sum: u64 = series
            .iter()
            .flat_map(|b| b["counts"].as_object().expect("counts").values())
            .map(|n| n.as_u64().expect("count"))
            .sum();
        assert_eq!(sum + v["undated"].as_u64().expect("undated"), all, "{uri}");
    }
    let reused = total(&fx.get_ok("/api/failures?cause=code_reused&limit=0").await);
    let v = fx.get_ok("/api/stats?bucket=day&cause=code_reused").await;
    let sum: u64 = v["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|b| {
            b["counts"]["code_reused"]
                .as_u64()
                .expect("only this cause")
        })
        .sum();
    assert_eq!(sum + v["undated"].as_u64().expect("undated"), reused);
}

/// Checks one sample line of the text format and returns its name, labels
/// and value.
fn parse_sample(line: &str) -> (String, Vec<(String, String)>, f64) {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    assert!(!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()));
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find("=\"").expect("label=\"value\"");
            let label = &rest[..eq];
            assert!(label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            let mut value = String::new();
            let mut chars = rest[eq + 2..].char_indices();
            let end = loop {
                match chars.next().expect("a closing quote") {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().expect("an escaped char").1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        c => panic!("bad escape \\{c} in {line}"),
                    },
                    (_, '\n') => panic!("raw line feed in {line}"),
                    (_, c) => value.push(c),
                }
            };
            labels.push((label.to_owned(), value));
            rest = &rest[eq + 2 + end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let value = rest.strip_prefix(' ').expect("a space before the value");
    let value: f64 = value.parse().expect("a number");
    (name.to_owned(), labels, value)
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_cause_counters() {
    let fx = Fixture::sample();
    let reply = get(fx.app(), "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    let content_type = reply.headers[header::CONTENT_TYPE].to_str().expect("ascii");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = reply.text();
    let mut failures_sum = 0.0;
    let mut per_cause = std::collections::BTreeMap::<String, f64>::new();
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP grantwatch_") || comment.starts_with("TYPE grantwatch_"),
                "{line}"
            );
            continue;
        }
        let (name, labels, value) = parse_sample(line);
        names.insert(name.clone());
        if name == "grantwatch_failures_stored" {
            let keys: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, ["cause", "server", "client"]);
            failures_sum += value;
            *per_cause.entry(labels[0].1.clone()).or_default() += value;
        }
    }
    for name in [
        "grantwatch_failures_stored",
        "grantwatch_lines_read_total",
        "grantwatch_lines_unparsed_total",
        "grantwatch_files_skipped",
        "grantwatch_failures_diagnosed_total",
        "grantwatch_records_ingested_total",
    ] {
        assert!(names.contains(name), "{name} in {names:?}");
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
    }
    // Only a running `watch` knows how far reading is behind: declared,
    // without samples, over a database alone.
    for name in [
        "grantwatch_ingest_lag_seconds",
        "grantwatch_ingest_lag_bytes",
    ] {
        assert!(text.contains(&format!("# TYPE {name} gauge")), "{name}");
        assert!(!names.contains(name), "{name} sampled without a reader");
    }
    let all = total(&fx.get_ok("/api/failures?limit=0").await);
    assert_eq!(failures_sum as u64, all);
    for (cause, n) in fx.store().cause_counts().expect("counts") {
        assert_eq!(per_cause.get(&cause).copied(), Some(n as f64), "{cause}");
    }
}

#[tokio::test]
async fn a_token_guards_every_route_but_healthz() {
    let fx = Fixture::sample();
    let guarded = || router(AppState::new(&fx.db).with_token("s3cret-token"));
    let with = |uri: &str, auth: &str| {
        Request::get(uri)
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .expect("request")
    };
    for uri in ["/api/failures", "/api/stats", "/metrics", "/api/failures/x"] {
        let reply = get(guarded(), uri).await;
        reply.error(StatusCode::UNAUTHORIZED);
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        send(guarded(), with(uri, "Bearer wrong"))
            .await
            .error(StatusCode::UNAUTHORIZED);
        send(guarded(), with(uri, "Basic s3cret-token"))
            .await
            .error(StatusCode::UNAUTHORIZED);
    }
    for uri in ["/api/failures", "/api/stats", "/metrics"] {
        let reply = send(guarded(), with(uri, "Bearer s3cret-token")).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
    }
    let reply = get(guarded(), "/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn other_methods_and_paths_are_json_errors() {
    let fx = Fixture::sample();
    let post = Request::post("/api/failures")
        .body(Body::empty())
        .expect("request");
    send(fx.app(), post)
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED);
    get(fx.app(), "/api/nothing-here")
        .await
        .error(StatusCode::NOT_FOUND);
    get(fx.app(), "/api").await.error(StatusCode::NOT_FOUND);
    let post = Request::post("/metrics")
        .body(Body::empty())
        .expect("request");
    let reply = send(fx.app(), post).await;
    reply.error(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers[header::ALLOW], "GET,HEAD");
}

#[tokio::test]
async fn a_broken_database_is_a_generic_500() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("secret-name.db");
    let reply = get(router(AppState::new(&missing)), "/api/failures").await;
    let message = reply.error(StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!message.contains("secret-name"), "{message}");
}

#[tokio::test]
async fn hostile_log_text_is_served_as_json_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = "\"><img src=x onerror=alert(1)>";
    let description = "<script>alert(1)</script> \"quotes\"";
    let redirect = "https://app.example/cb?x=<script>alert(1)</script>";
    let line = serde_json::json!({
        "time": "2025-03-11T09:00:00Z",
        "request_id": "req-xss-1",
        "error": "invalid_grant",
        "error_description": description,
        "client_id": client,
        "redirect_uri": redirect,
    });
    let db = analyze_one_record(dir.path(), "app.jsonl", &line);
    let app = || router(AppState::new(&db));

    let reply = get(app(), "/api/failures").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let v = reply.json();
    assert_eq!(total(&v), 1);
    assert_eq!(failures(&v)[0]["client_id"], client);
    let raw = reply.text();
    assert!(raw.contains(r#"\"><img"#), "quotes are escaped: {raw}");
    assert!(
        raw.match_indices(r#""><img"#)
            .all(|(i, _)| raw[..i].ends_with('\\')),
        "no quote of the log text ends a JSON string: {raw}"
    );

    let reply = get(app(), "/api/requests/req-xss-1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let story = reply.json();
    let event = &story["events"][0];
    assert_eq!(event["client_id"], client);
    assert_eq!(event["error_description"], description);
    // The generic JSON-lines parser keeps no redirect_uri; the evidence
    // line, served as it was read, carries it.
    let text = event["lines"][0]["text"].as_str().expect("evidence text");
    assert!(text.contains(redirect), "{text}");
    assert!(
        text.contains(client.replace('"', "\\\"").as_str()),
        "{text}"
    );
    assert!(reply.text().contains(r#"\"quotes\""#));

    let filtered = get(
        app(),
        "/api/failures?client=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    )
    .await;
    assert_eq!(total(&filtered.json()), 1);

    let metrics = get(app(), "/metrics").await.text();
    assert!(
        metrics.contains(r#"client="\"><img src=x onerror=alert(1)>""#),
        "{metrics}"
    );
    for path in ["/api/failures", "/api/requests/req-xss-1", "/metrics"] {
        let reply = get(app(), path).await;
        let content_type = reply.headers[header::CONTENT_TYPE].to_str().expect("ascii");
        assert!(!content_type.contains("html"), "{path}: {content_type}");
    }
}

#[test]
fn serve_refuses_a_missing_database_and_an_open_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none.db");
    let out = grantwatch()
        .args(["serve", "--db"])
        .arg(&missing)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));

    let db = dir.path().join("empty.db");
    drop(Store::open(&db).expect("create"));
    let out = grantwatch()
        .args(["serve", "--listen", "0.0.0.0:0", "--db"])
        .arg(&db)
        .env_remove("GRANTWATCH_TOKEN")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("token"), "{err}");
}

/// Sends one HTTP/1.1 request over a socket and returns the whole answer.
fn http_get(addr: &str, path: &str, token: Option<&str>) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

/// A child process killed if the test fails before it stops it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
#[test]
fn serve_answers_over_a_socket_and_stops_cleanly_on_sigterm() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("empty.db");
    drop(Store::open(&db).expect("create"));
    let mut child = KillOnDrop(
        grantwatch()
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .env("GRANTWATCH_TOKEN", "tok")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let mut lines = std::io::BufReader::new(child.0.stderr.take().expect("stderr")).lines();
    let first = lines.next().expect("a line").expect("text");
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the address in the first line")
        .to_owned();
    assert!(http_get(&addr, "/healthz", None).starts_with("HTTP/1.1 200"));
    assert!(http_get(&addr, "/api/failures", None).starts_with("HTTP/1.1 401"));
    let answer = http_get(&addr, "/api/failures", Some("tok"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"total":0,"failures":[]}"#), "{answer}");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.0.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
}

/// `watch` gives the web side both the reader's health and its view of the
/// files: `/healthz` fails on either (a reader that does not read, a
/// database file deleted under it) with each reason on its own line, and
/// `/metrics` and `/sources` show both.
#[tokio::test]
async fn healthz_metrics_and_sources_show_the_reader_and_the_files_together() {
    use grantwatch::live::Live;
    use grantwatch::web::health::ReaderHealth;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("w.db");
    drop(Store::open(&db).expect("create"));
    let health = ReaderHealth::new();
    let live = Live::shared();
    let app = || {
        router(
            AppState::new(&db)
                .with_health(health.clone())
                .with_live(std::sync::Arc::clone(&live)),
        )
    };
    let reply = get(app(), "/healthz").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        reply.text().contains("reader: starting"),
        "{}",
        reply.text()
    );

    health.round_done();
    let reply = get(app(), "/healthz").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.text().starts_with("ok\nreader: reading"));

    let skipped = dir.path().join("core.bin");
    assert!(live.set_skipped(&skipped, Some("binary data")));
    let metrics = get(app(), "/metrics").await.text();
    assert!(metrics.contains("grantwatch_reader_up 1\n"), "{metrics}");
    assert!(
        metrics.contains("grantwatch_files_skipped 1\n"),
        "{metrics}"
    );
    let sources = get(app(), "/sources").await.text();
    assert!(sources.contains("Reader: reading"), "{sources}");
    assert!(sources.contains("core.bin"), "{sources}");

    health.retrying("database is locked".into());
    let reply = get(app(), "/healthz").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.text().contains("locked"), "{}", reply.text());
    assert!(!reply.text().contains("database: "), "{}", reply.text());

    health.round_done();
    std::fs::remove_file(&db).expect("delete");
    let reply = get(app(), "/healthz").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let text = reply.text();
    assert!(
        text.contains("database: ") && text.contains("deleted"),
        "{text}"
    );
    assert!(text.contains("reader: reading"), "{text}");
}
