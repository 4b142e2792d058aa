//! `grantwatch watch` as a user runs it: a log file that grows while the
//! daemon runs, failures that show up in the API, a `kill -9` and a restart
//! that neither lose nor repeat anything, and SIGTERM ending it cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::grantwatch;

/// A running daemon and the address it serves on; killed when dropped, so
/// a failing test never leaves it running.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) addr: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(db: &Path, logs: &Path) -> Daemon {
    start_with(db, logs, &[])
}

pub(crate) fn start_with(db: &Path, logs: &Path, extra: &[&str]) -> Daemon {
    let mut args: Vec<std::ffi::OsString> = vec!["--db".into(), db.into()];
    args.extend(extra.iter().map(Into::into));
    args.push(logs.into());
    spawn(&args)
}

/// Starts `grantwatch watch` on loopback with `args` and waits until it
/// says where it serves.
pub(crate) fn spawn(args: &[std::ffi::OsString]) -> Daemon {
    let mut cmd = grantwatch();
    cmd.args([
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--poll-interval-ms",
        "50",
    ])
    .args(args);
    spawn_command(cmd)
}

/// Starts `cmd` (a `grantwatch watch` serving on loopback) and waits until
/// it says where it serves.
pub(crate) fn spawn_command(mut cmd: std::process::Command) -> Daemon {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("a line on stderr").expect("utf-8");
        if let Some(rest) = line.split("on http://").nth(1) {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    // Keep draining stderr so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Daemon { child, addr }
}

/// GET `path`; the status and the JSON object of its body (bodies may come
/// chunked: only the object is kept).
pub(crate) fn get(addr: &str, path: &str) -> (u16, String) {
    let (status, body) = get_raw(addr, path);
    assert_ne!(status, 0, "nothing answers on {addr}");
    let json = body
        .find('{')
        .and_then(|s| body.rfind('}').map(|e| body[s..=e].to_owned()))
        .unwrap_or_default();
    (status, json)
}

/// GET `path`: the status and the whole body, as sent (chunks joined as
/// they come); status 0 and no body when nothing answers (a daemon down).
pub(crate) fn get_raw(addr: &str, path: &str) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

/// Waits until the request id is known to the API; its story.
pub(crate) fn story(addr: &str, request_id: &str, failures: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = get(addr, &format!("/api/requests/{request_id}"));
        if status == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            if v["failures"]
                .as_array()
                .is_some_and(|f| f.len() >= failures)
            {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{request_id} never showed up ({status} {body})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Doorkeeper code reused: authorize, a 200 exchange, a second exchange
/// of the same code (same verifier) answered 400.
pub(crate) fn code_reuse(n: u32) -> (String, String) {
    let verifier = format!("verifier-{n:02}-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG");
    let challenge = grantwatch_parsers::redact::s256(&verifier);
    let (a, b, c) = (
        format!("aaaaaaa{n}-0000-4000-8000-000000000001"),
        format!("bbbbbbb{n}-0000-4000-8000-000000000002"),
        format!("ccccccc{n}-0000-4000-8000-000000000003"),
    );
    let t = format!("2025-03-11T09:{:02}", 10 + n);
    let p = |id: &str, sec: &str, msg: &str| {
        format!("I, [{t}:{sec}.000000 #7]  INFO -- : [{id}] {msg}\n")
    };
    let mut log = String::new();
    log += &p(
        &a,
        "01",
        &format!(
            "Started GET \"/oauth/authorize?client_id=app&redirect_uri=app%3A%2Fcb&response_type=code&code_challenge={challenge}&code_challenge_method=S256\" for 10.0.0.{n} at 2025-03-11 09:{:02}:01 +0000",
            10 + n
        ),
    );
    log += &p(
        &a,
        "01",
        "Processing by Doorkeeper::AuthorizationsController#new as HTML",
    );
    log += &p(
        &a,
        "01",
        &format!(
            "Redirected to app:/cb?code=CODE{n:02}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx&state=s"
        ),
    );
    log += &p(
        &a,
        "01",
        "Completed 302 Found in 9ms (ActiveRecord: 1.0ms | Allocations: 900)",
    );
    for (id, sec, status) in [(&b, "03", "200 OK"), (&c, "04", "400 Bad Request")] {
        log += &p(
            id,
            sec,
            &format!(
                "Started POST \"/oauth/token\" for 10.0.0.{n} at 2025-03-11 09:{:02}:{sec} +0000",
                10 + n
            ),
        );
        log += &p(
            id,
            sec,
            "Processing by Doorkeeper::TokensController#create as */*",
        );
        log += &p(
            id,
            sec,
            &format!(
                "  Parameters: {{\"grant_type\"=>\"authorization_code\", \"code\"=>\"[FILTERED]\", \"redirect_uri\"=>\"app:/cb\", \"client_id\"=>\"app\", \"code_verifier\"=>\"{verifier}\"}}"
            ),
        );
        log += &p(
            id,
            sec,
            &format!(
                "Completed {status} in 12ms (Views: 0.1ms | ActiveRecord: 2.0ms | Allocations: 2000)"
            ),
        );
    }
    (log, c)
}

pub(crate) fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open");
    f.write_all(text.as_bytes()).expect("append");
}

#[test]
fn a_growing_log_is_diagnosed_live_and_survives_kill_9_and_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let log = logs.join("production.log");
    let db = dir.path().join("watch.db");
    std::fs::write(&log, "").expect("create");

    let mut daemon = start(&db, &logs);
    let (first, first_id) = code_reuse(1);
    append(&log, &first);
    let seen = story(&daemon.addr, &first_id, 1);
    assert_eq!(seen["failures"][0]["cause"], "code_reused", "{seen}");
    let events_before = seen["events"].as_array().map_or(0, Vec::len);

    // A refresh whose `Completed` line is not written yet when the daemon
    // is killed: the daemon holds it, so its checkpoint must not pass it.
    let rid = "dddddddd-0000-4000-8000-000000000004";
    let p = |msg: &str| format!("I, [2025-03-11T09:30:00.000000 #7]  INFO -- : [{rid}] {msg}\n");
    append(
        &log,
        &p("Started POST \"/oauth/token\" for 10.0.0.9 at 2025-03-11 09:30:00 +0000"),
    );
    append(
        &log,
        &p("Processing by Doorkeeper::TokensController#create as */*"),
    );
    std::thread::sleep(Duration::from_millis(400));

    // kill -9: no chance to flush anything.
    daemon.child.kill().expect("kill -9");
    daemon.child.wait().expect("reaped");
    append(
        &log,
        &p(
            "  Parameters: {\"grant_type\"=>\"password\", \"username\"=>\"kim@example.com\", \"password\"=>\"[FILTERED]\", \"client_id\"=>\"app\"}",
        ),
    );
    append(
        &log,
        &p(
            "Completed 400 Bad Request in 12ms (Views: 0.1ms | ActiveRecord: 2.0ms | Allocations: 2000)",
        ),
    );
    let (second, second_id) = code_reuse(2);
    append(&log, &second);

    let mut daemon = start(&db, &logs);
    let again = story(&daemon.addr, &second_id, 1);
    assert_eq!(again["failures"][0]["cause"], "code_reused", "{again}");
    let first_again = story(&daemon.addr, &first_id, 1);
    assert_eq!(
        first_again["events"].as_array().map_or(0, Vec::len),
        events_before,
        "the first failure's events were stored twice after the restart"
    );
    // The request cut by the kill was read again from its first line and
    // assembled whole: its grant type comes from the lines after the kill.
    let cut = story(&daemon.addr, rid, 1);
    assert_eq!(cut["failures"][0]["grant_type"], "password", "{cut}");
    assert_eq!(
        cut["failures"][0]["cause"], "invalid_resource_owner_credentials",
        "{cut}"
    );
    assert_eq!(cut["events"].as_array().map_or(0, Vec::len), 1, "{cut}");
    let (_, all) = get(&daemon.addr, "/api/failures");
    let all: serde_json::Value = serde_json::from_str(&all).expect("json");
    assert_eq!(all["total"], 3, "{all}");

    let pid = daemon.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = daemon.child.wait().expect("wait");
    assert_eq!(exit.code(), Some(0));
}

#[test]
fn retention_prunes_old_failures_and_keeps_recent_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.jsonl");
    let now = chrono::Utc::now();
    let line = |ts: chrono::DateTime<chrono::Utc>, rid: &str| {
        format!(
            "{{\"time\":\"{}\",\"request_id\":\"{rid}\",\"error\":\"invalid_grant\",\"error_description\":\"Code was already redeemed.\"}}\n",
            ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    };
    let old = line(now - chrono::Duration::days(30), "old-request");
    let recent = line(now - chrono::Duration::hours(1), "recent-request");
    std::fs::write(&log, old + &recent).expect("write");
    let daemon = start_with(&dir.path().join("w.db"), &log, &["--retain", "7"]);
    story(&daemon.addr, "recent-request", 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = get(&daemon.addr, "/api/requests/old-request");
        if status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the 30-day-old failure was never pruned"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, all) = get(&daemon.addr, "/api/failures");
    let all: serde_json::Value = serde_json::from_str(&all).expect("json");
    assert_eq!(all["total"], 1, "{all}");
}

#[test]
fn a_config_file_names_the_sources_and_their_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let (log, rid) = code_reuse(3);
    std::fs::write(logs.join("production.log"), log).expect("write");
    let config = dir.path().join("grantwatch.toml");
    std::fs::write(
        &config,
        format!(
            "db = {:?}\n[code_lifetime]\ndoorkeeper = 300\n[[source]]\npaths = [{:?}]\nformat = \"rails\"\n",
            dir.path().join("w.db"),
            logs.join("*.log")
        ),
    )
    .expect("config");
    let daemon = spawn(&["--config".into(), config.into()]);
    let seen = story(&daemon.addr, &rid, 1);
    assert_eq!(seen["failures"][0]["cause"], "code_reused", "{seen}");
    assert!(
        dir.path().join("w.db").exists(),
        "the database named in the config"
    );
}

#[test]
fn a_diagnosis_is_upgraded_when_the_clients_log_arrives_later_and_the_change_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    // The server's view of the second refresh of the Android sample's race:
    // Doorkeeper logs only a 400 (its refresh token filtered).
    let rid = "b81d4a06-92e3-4c5f-8e27-1a6f0d9c3b55";
    let p = |msg: &str| format!("I, [2025-03-11T09:41:07.420000 #7]  INFO -- : [{rid}] {msg}\n");
    let server = p("Started POST \"/oauth/token\" for 198.51.100.7 at 2025-03-11 09:41:07 +0000")
        + &p("Processing by Doorkeeper::TokensController#create as */*")
        + &p(
            "  Parameters: {\"grant_type\"=>\"refresh_token\", \"refresh_token\"=>\"[FILTERED]\", \"client_id\"=>\"Z_7hs3QNNUSyXcSzxspDgdnpI1ahwsF1XGyeEZ6LeRR\"}",
        )
        + &p("Completed 400 Bad Request in 9ms (Views: 0.1ms | ActiveRecord: 2.4ms)");
    std::fs::write(logs.join("production.log"), server).expect("write");
    let db = dir.path().join("w.db");
    let daemon = start(&db, &logs);
    let before = story(&daemon.addr, rid, 1);
    let id = before["failures"][0]["id"].as_str().expect("id").to_owned();
    assert_ne!(
        before["failures"][0]["cause"], "refresh_token_reused",
        "{before}"
    );

    // The app's log arrives: two refreshes 20 ms apart with one token.
    let client = std::fs::read(
        crate::helpers::root().join("sample_logs/android/flutter-doorkeeper.logcat.txt"),
    )
    .expect("sample");
    std::fs::write(logs.join("device.logcat.txt"), client).expect("write");
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        let (_, body) = get(&daemon.addr, &format!("/api/failures/{id}"));
        let f: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if f["cause"] == "refresh_token_reused" {
            break f;
        }
        assert!(Instant::now() < deadline, "never upgraded: {body}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(after["confidence"], "high", "{after}");
    assert!(
        after["evidence"]
            .as_array()
            .is_some_and(|e| e.iter().any(|l| l["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("device.logcat.txt")))),
        "the client's lines joined the evidence: {after}"
    );
    // The change is kept: the first diagnosis and the upgrade.
    let conn = rusqlite::Connection::open(&db).expect("db");
    let causes: Vec<String> = conn
        .prepare("SELECT cause FROM diagnosis_history WHERE failure_id = ?1 ORDER BY rowid")
        .expect("prepare")
        .query_map([&id], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(causes.len(), 2, "{causes:?}");
    assert_eq!(causes[1], "refresh_token_reused");
}
