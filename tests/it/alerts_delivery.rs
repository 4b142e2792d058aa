//! Alerts delivered end to end: Debian's `prometheus-alertmanager` runs on
//! loopback, a local receiver stands for a webhook, `grantwatch watch`
//! runs with an `[alerting]` rule (three `code_reused` failures in 4 s),
//! three such failures are appended to a watched log (times of now), and
//! the alert arrives in Alertmanager and at the webhook, then resolves in
//! both once the window has passed.
//!
//! Without `prometheus-alertmanager` the test says so and passes on a
//! developer machine, but fails in CI (`CI` set), where `.ci/run` installs
//! it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A webhook receiver: every POST body, in order.
fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let got = Arc::new(Mutex::new(Vec::new()));
    let bodies = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok()
                && let Ok(v) = serde_json::from_slice(&body)
            {
                bodies.lock().expect("lock").push(v);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    (addr, got)
}

/// Alertmanager's active alerts named `name`.
fn active(addr: &str, name: &str) -> Vec<Value> {
    let (status, _) = crate::watch::get(addr, "/-/ready");
    if status != 200 {
        return Vec::new();
    }
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET /api/v2/alerts?active=true&silenced=false&inhibited=false HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json = body
        .find('[')
        .and_then(|s| body.rfind(']').map(|e| &body[s..=e]))
        .unwrap_or("[]");
    let alerts: Vec<Value> = serde_json::from_str(json).unwrap_or_default();
    alerts
        .into_iter()
        .filter(|a| a["labels"]["alertname"] == name && a["status"]["state"] == "active")
        .collect()
}

fn wait(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_alert_reaches_alertmanager_and_the_webhook_then_resolves() {
    if !std::path::Path::new(ALERTMANAGER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have prometheus-alertmanager (.ci/run installs it)"
        );
        eprintln!("skipped: no prometheus-alertmanager (apt-get install prometheus-alertmanager)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("am.yml"),
        "route:\n  receiver: none\n  group_wait: 1s\nreceivers:\n  - name: none\n",
    )
    .expect("write");
    let am_addr = format!("127.0.0.1:{}", free_port());
    let _alertmanager = Killed(
        Command::new(ALERTMANAGER)
            .arg(format!(
                "--config.file={}",
                dir.path().join("am.yml").display()
            ))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("am").display()
            ))
            .arg(format!("--web.listen-address={am_addr}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    );
    wait("alertmanager", Duration::from_secs(20), || {
        std::net::TcpStream::connect(&am_addr).is_ok()
            && crate::watch::get(&am_addr, "/-/ready").0 == 200
    });
    let (hook_addr, hooks) = receiver();
    let config = dir.path().join("grantwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[alerting]\nalertmanager = \"http://{am_addr}\"\nwebhook = \"http://{hook_addr}/hook\"\ninterval_ms = 200\n\n[[alerting.rule]]\nname = \"ReusedCodes\"\nkind = \"threshold\"\ncause = \"code_reused\"\nthreshold = 3\nwindow_s = 4\nseverity = \"page\"\n"
        ),
    )
    .expect("write");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let log = logs.join("app.jsonl");
    std::fs::write(&log, "").expect("write");
    let config_arg = config.to_string_lossy().into_owned();
    let _daemon =
        crate::watch::start_with(&dir.path().join("g.db"), &logs, &["--config", &config_arg]);

    // Three reused codes of one client, now (three request ids: three
    // failures).
    let now = chrono::Utc::now();
    let mut lines = String::new();
    for i in 0..3 {
        let ts = (now + chrono::Duration::milliseconds(i * 10))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        lines += &format!(
            "{{\"time\":\"{ts}\",\"request_id\":\"req-{i}\",\"error\":\"invalid_grant\",\"error_description\":\"Code was already redeemed.\",\"client_id\":\"mobile\"}}\n"
        );
    }
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(lines.as_bytes()))
        .expect("append");

    wait("the alert in Alertmanager", Duration::from_secs(20), || {
        !active(&am_addr, "ReusedCodes").is_empty()
    });
    let alert = active(&am_addr, "ReusedCodes").remove(0);
    assert_eq!(alert["labels"]["cause"], "code_reused");
    assert_eq!(alert["labels"]["client"], "mobile");
    assert_eq!(alert["labels"]["severity"], "page");
    assert!(
        alert["labels"]["incident"]
            .as_str()
            .is_some_and(|i| !i.is_empty())
    );
    wait("the webhook's firing post", Duration::from_secs(10), || {
        hooks
            .lock()
            .expect("lock")
            .iter()
            .any(|h| h["status"] == "firing")
    });
    {
        let got = hooks.lock().expect("lock");
        let firing = got
            .iter()
            .find(|h| h["status"] == "firing")
            .expect("firing");
        assert!(
            firing["text"]
                .as_str()
                .is_some_and(|t| t.contains("3 code_reused failures from mobile")),
            "{firing}"
        );
    }

    // No new failure: the window passes and the alert resolves in both.
    wait(
        "the resolve in Alertmanager",
        Duration::from_secs(20),
        || active(&am_addr, "ReusedCodes").is_empty(),
    );
    wait(
        "the webhook's resolved post",
        Duration::from_secs(10),
        || {
            hooks
                .lock()
                .expect("lock")
                .iter()
                .any(|h| h["status"] == "resolved")
        },
    );
    let got = hooks.lock().expect("lock");
    assert_eq!(
        got.iter().filter(|h| h["status"] == "firing").count(),
        1,
        "told once, not every round: {got:?}"
    );
}
