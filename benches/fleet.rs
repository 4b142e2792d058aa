//! Throughput and memory of the fleet receivers (`src/fleet`), release
//! build, against the real `grantwatch watch` binary with no paths:
//!
//! 1. records per second over OTLP/HTTP protobuf and over OTLP/HTTP JSON:
//!    a generated Rails production log (1% OAuth, the project's generator)
//!    cut into requests of 1,000 records, four client threads each sending
//!    its own stream's slice in order, while a fifth thread loads the
//!    dashboard (`/` and `/api/failures`) every 200 ms; a 429 is retried
//!    after 20 ms. The rate counts records answered 200 (committed).
//! 2. memory during a flood: 16 client threads send as fast as they can
//!    for `FLEET_FLOOD_SECS` (30) seconds; the daemon's resident memory is
//!    sampled every 500 ms, and the 429s counted.
//! 3. the same flood with the writer held to a tenth of its pace: another
//!    connection holds the database's write lock 900 ms of every second (a
//!    backup, a slow disk), so the clients offer at least ten times what the
//!    writer keeps up with; memory must stay bounded and the excess be
//!    answered 429/503.
//!
//! `FLEET_FLOOD_ONLY=1` runs the two floods alone, `FLEET_FLOOD_ONLY=held`
//! the held one alone; `FLEET_FLOOD_CLIENTS` sets the flood's clients (16):
//! each waits for its answer, so only many of them keep more bodies in
//! flight than the daemon's bound. After each flood the daemon's
//! `grantwatch_ingest_*` samples of `/metrics` (those not zero) are printed;
//! `FLEET_DAEMON_LOG=1` prints the daemon's stderr too.
//!
//! `cargo bench --bench fleet` (figures in benches/README.md). Plain
//! `main`, no Criterion: one run of each is the measurement.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;

const BATCH: usize = 1000;
const CLIENTS: usize = 4;

fn request(stream: &str, lines: &[String], t0: u64) -> ExportLogsServiceRequest {
    let s = |v: &str| AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "k8s.pod.name".into(),
                    value: Some(s(stream)),
                    ..KeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| LogRecord {
                        time_unix_nano: t0 + i as u64,
                        body: Some(s(l)),
                        ..LogRecord::default()
                    })
                    .collect(),
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

/// POSTs one body; the status.
fn post(addr: &str, content_type: &str, body: &[u8]) -> u16 {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return 0;
    };
    let head = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: b\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if s.write_all(head.as_bytes()).is_err() || s.write_all(body).is_err() {
        return 0;
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn get_ms(addr: &str, path: &str) -> f64 {
    let started = Instant::now();
    if let Ok(mut s) = TcpStream::connect(addr) {
        let _ = write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
        );
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    started.elapsed().as_secs_f64() * 1000.0
}

/// The receivers' samples of the daemon's `/metrics` (`grantwatch_ingest_*`).
fn ingest_metrics(addr: &str) -> String {
    let mut text = String::new();
    if let Ok(mut s) = TcpStream::connect(addr) {
        let _ = write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
        );
        let _ = s.read_to_string(&mut text);
    }
    text.lines()
        .filter(|l| l.starts_with("grantwatch_ingest") && !l.ends_with(" 0"))
        .map(|l| format!("  {l}\n"))
        .collect()
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Daemon {
    child: std::process::Child,
    addr: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &std::path::Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_grantwatch"))
        .args(["watch", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines.next().expect("a line").expect("utf-8");
        if let Some(rest) = line.split("on http://").nth(1) {
            break rest.split_whitespace().next().expect("addr").to_owned();
        }
    };
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if std::env::var("FLEET_DAEMON_LOG").is_ok() {
                println!("daemon: {l}");
            }
        }
    });
    Daemon { child, addr }
}

/// One throughput run: every body sent once, in order per client.
fn throughput(name: &str, content_type: &str, bodies: Vec<Vec<Vec<u8>>>, records: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = start(&dir.path().join("bench.db"));
    let done = Arc::new(AtomicBool::new(false));
    let dash = {
        let (addr, done) = (d.addr.clone(), done.clone());
        std::thread::spawn(move || {
            let mut worst: f64 = 0.0;
            let mut n = 0;
            while !done.load(Ordering::Relaxed) {
                worst = worst
                    .max(get_ms(&addr, "/"))
                    .max(get_ms(&addr, "/api/failures"));
                n += 2;
                std::thread::sleep(Duration::from_millis(200));
            }
            (n, worst)
        })
    };
    let retries = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let clients: Vec<_> = bodies
        .into_iter()
        .map(|mine| {
            let (addr, retries, ct) = (d.addr.clone(), retries.clone(), content_type.to_owned());
            std::thread::spawn(move || {
                for body in mine {
                    loop {
                        match post(&addr, &ct, &body) {
                            200 => break,
                            _ => {
                                retries.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
    let secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let (pages, worst) = dash.join().expect("dashboard");
    println!(
        "{name}: {records} records in {secs:.2} s = {:.0} records/s ({} retries after 429/503); dashboard: {pages} loads, slowest {worst:.0} ms; daemon RSS after: {} MB",
        records as f64 / secs,
        retries.load(Ordering::Relaxed),
        rss_kb(d.child.id()) / 1024
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let only = std::env::var("FLEET_FLOOD_ONLY").unwrap_or_default();
    let flood_only = only == "1" || only == "held";
    let mut log = Vec::new();
    let opts = grantwatch::generate::GenOptions {
        target_bytes: 160 * 1024 * 1024,
        ..Default::default()
    };
    grantwatch::generate::generate(&opts, &mut log).expect("generate");
    let text = String::from_utf8_lossy(&log);
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let per_client = lines.len() / CLIENTS;
    let records = (per_client * CLIENTS) as u64;
    println!(
        "generated {} lines ({} MB)",
        lines.len(),
        log.len() / (1024 * 1024)
    );
    let encodings = [
        ("OTLP/HTTP protobuf", "application/x-protobuf"),
        ("OTLP/HTTP JSON", "application/json"),
    ];
    for (name, ct) in encodings.into_iter().filter(|_| !flood_only) {
        let bodies: Vec<Vec<Vec<u8>>> = (0..CLIENTS)
            .map(|c| {
                let slice = &lines[c * per_client..(c + 1) * per_client];
                slice
                    .chunks(BATCH)
                    .enumerate()
                    .map(|(i, chunk)| {
                        let r = request(&format!("pod-{c}"), chunk, (i * BATCH) as u64);
                        if ct == "application/json" {
                            serde_json::to_vec(&r).expect("json")
                        } else {
                            r.encode_to_vec()
                        }
                    })
                    .collect()
            })
            .collect();
        throughput(name, ct, bodies, records);
    }
    if only != "held" {
        flood(&lines, false);
    }
    flood(&lines, true);
}

/// Holds the write lock of `db` 900 ms of every second until `stop`.
fn hold_writer(db: std::path::PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&db).expect("open the flood database");
        conn.busy_timeout(Duration::from_secs(5))
            .expect("busy timeout");
        let mut held = 0;
        while !stop.load(Ordering::Relaxed) {
            if conn.execute_batch("BEGIN IMMEDIATE").is_ok() {
                std::thread::sleep(Duration::from_millis(900));
                conn.execute_batch("COMMIT").expect("commit");
                held += 1;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        held
    })
}

/// 16 clients as fast as they can for FLEET_FLOOD_SECS; RSS sampled. With
/// `held`, the writer gets the database a tenth of the time.
fn flood(lines: &[String], held: bool) {
    let secs: u64 = std::env::var("FLEET_FLOOD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("flood.db");
    let d = start(&db);
    let pid = d.child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let holder = held.then(|| hold_writer(db.clone(), stop.clone()));
    let (ok, busy) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let lines = Arc::new(lines.to_vec());
    let n_clients: usize = std::env::var("FLEET_FLOOD_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let clients: Vec<_> = (0..n_clients)
        .map(|c| {
            let (addr, stop, ok, busy, lines) = (
                d.addr.clone(),
                stop.clone(),
                ok.clone(),
                busy.clone(),
                lines.clone(),
            );
            std::thread::spawn(move || {
                let mut i = c * 7919;
                let mut pass = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let at = (i * BATCH) % (lines.len() - BATCH);
                    let r = request(&format!("flood-{c}"), &lines[at..at + BATCH], pass);
                    pass += 1_000_000;
                    match post(&addr, "application/x-protobuf", &r.encode_to_vec()) {
                        200 => ok.fetch_add(BATCH as u64, Ordering::Relaxed),
                        _ => busy.fetch_add(1, Ordering::Relaxed),
                    };
                    i += 1;
                }
            })
        })
        .collect();
    let started = Instant::now();
    let mut peak = 0;
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(500));
        let kb = rss_kb(pid);
        peak = peak.max(kb);
        samples.push(kb);
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client");
    }
    let metrics = ingest_metrics(&d.addr);
    let lock_periods = holder.map(|h| h.join().expect("holder"));
    let n = samples.len().max(1);
    let what = match lock_periods {
        Some(p) => format!("writer held 900 ms of every second ({p} periods)"),
        None => "writer free".to_string(),
    };
    println!(
        "flood {secs} s, {n_clients} clients, {what}: {} records stored ({:.0}/s), {} requests answered 429/503; daemon RSS peak {} MB, last {} MB, first {} MB",
        ok.load(Ordering::Relaxed),
        ok.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
        busy.load(Ordering::Relaxed),
        peak / 1024,
        samples[n - 1] / 1024,
        samples[0] / 1024
    );
    print!("{metrics}");
}
