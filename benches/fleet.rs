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
//! the held one alone, `FLEET_FLOOD_ONLY=syslog` a flood of `--syslog` TCP
//! connections with the writer held instead (`syslog_flood`);
//! `FLEET_FLOOD_CLIENTS` sets the flood's clients (16): each waits for its
//! answer, so only many of them keep more bodies in flight than the
//! daemon's bound. After each flood the daemon's `grantwatch_ingest_*` and
//! `grantwatch_http_connections_*` samples of `/metrics` (those not zero),
//! its kernel-counted peak RSS (`VmHWM`) and its threads are printed;
//! `FLEET_DAEMON_LOG=1` prints the daemon's stderr too.
//!
//! For measuring apart: `FLEET_DAEMON_BIN` runs another build of the
//! daemon (an earlier commit's, or one built with `--features
//! system-alloc`), `FLEET_DAEMON_WRAP` runs it under a command (`heaptrack
//! -o FILE`, `nice -n -15`); the daemon is stopped with SIGTERM so that
//! heaptrack writes its profile and `MIMALLOC_SHOW_STATS=1` prints.
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

/// The receivers' and the listener's samples of the daemon's `/metrics`
/// (`grantwatch_ingest_*`, `grantwatch_http_connections_*`).
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
        .filter(|l| {
            (l.starts_with("grantwatch_ingest") || l.starts_with("grantwatch_http_connections"))
                && !l.ends_with(" 0")
        })
        .map(|l| format!("  {l}\n"))
        .collect()
}

/// One field of `/proc/{pid}/status` (kB, or a count for `Threads:`).
fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn rss_kb(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

struct Daemon {
    child: std::process::Child,
    addr: String,
    /// The `--syslog` TCP address, when given.
    syslog: Option<String>,
    /// The `grantwatch` process itself (the child, or under
    /// `FLEET_DAEMON_WRAP` the wrapper's descendant).
    pid: u32,
    /// The thread reading the daemon's stderr.
    log: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Stopped gracefully, so that a wrapper (heaptrack) writes its
        // profile and `MIMALLOC_SHOW_STATS=1` prints the allocator's
        // statistics; killed after 20 s.
        // SAFETY: kill(2) on a pid this bench started.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(log) = self.log.take() {
            let _ = log.join();
        }
    }
}

/// The first descendant of `pid` named `grantwatch` (found through
/// `/proc/*/task/*/children`), or `pid` itself.
fn grantwatch_pid(pid: u32) -> u32 {
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        if comm.trim() == "grantwatch" {
            return p;
        }
        let children = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children"));
        todo.extend(
            children
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    pid
}

fn start(db: &std::path::Path) -> Daemon {
    start_with(db, &[])
}

/// Starts `grantwatch watch` on `db` with `args`, under `FLEET_DAEMON_WRAP`
/// (a command and its arguments, e.g. `heaptrack -o /tmp/h`) when set;
/// `FLEET_DAEMON_BIN` names another binary (an earlier build) to run.
fn start_with(db: &std::path::Path, args: &[&str]) -> Daemon {
    let wrap = std::env::var("FLEET_DAEMON_WRAP").unwrap_or_default();
    let bin = std::env::var("FLEET_DAEMON_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_grantwatch").to_owned());
    let mut argv: Vec<String> = wrap.split_whitespace().map(str::to_owned).collect();
    argv.push(bin);
    argv.extend(["watch", "--listen", "127.0.0.1:0"].map(str::to_owned));
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .arg("--db")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut syslog = None;
    let addr = loop {
        let line = lines.next().expect("a line").expect("utf-8");
        if let Some(rest) = line.split("receiving syslog on ").nth(1) {
            syslog = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(rest) = line.split("on http://").nth(1) {
            break rest.split_whitespace().next().expect("addr").to_owned();
        }
    };
    let log = std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if std::env::var("FLEET_DAEMON_LOG").is_ok() {
                println!("daemon: {l}");
            }
        }
    });
    let pid = grantwatch_pid(child.id());
    Daemon {
        child,
        addr,
        syslog,
        pid,
        log: Some(log),
    }
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
        rss_kb(d.pid) / 1024
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let only = std::env::var("FLEET_FLOOD_ONLY").unwrap_or_default();
    let flood_only = only == "1" || only == "held" || only == "syslog";
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
    if only == "syslog" {
        syslog_flood(&lines);
        return;
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
    let pid = d.pid;
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
    // At the sampled peak: anonymous and file-backed resident kB, threads.
    let mut at_peak = (0, 0, 0);
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(500));
        let kb = rss_kb(pid);
        if kb > peak {
            peak = kb;
            at_peak = (
                status_field(pid, "RssAnon:"),
                status_field(pid, "RssFile:"),
                status_field(pid, "Threads:"),
            );
        }
        samples.push(kb);
    }
    // The kernel's own high-water mark, between the samples too.
    let hwm = status_field(pid, "VmHWM:");
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
    println!(
        "  daemon VmHWM (kernel's peak RSS) {} MB; at the sampled peak: anonymous {} MB, file-backed {} MB, {} threads",
        hwm / 1024,
        at_peak.0 / 1024,
        at_peak.1 / 1024,
        at_peak.2
    );
    print!("{metrics}");
}

/// `FLEET_FLOOD_ONLY=syslog`: `FLEET_FLOOD_CLIENTS` TCP connections to
/// `--syslog`, each writing RFC 5424 lines (newline-framed, a stream per
/// connection) as fast as the daemon reads them for `FLEET_FLOOD_SECS`,
/// with the writer held 900 ms of every second; RSS sampled as for the
/// HTTP flood. Syslog has no refusal: a busy daemon stops reading and the
/// senders' writes wait (back-pressure into their sockets).
fn syslog_flood(lines: &[String]) {
    let secs: u64 = std::env::var("FLEET_FLOOD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let n_clients: usize = std::env::var("FLEET_FLOOD_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("syslog.db");
    let d = start_with(&db, &["--syslog", "127.0.0.1:0"]);
    let syslog = d.syslog.clone().expect("the daemon's syslog address");
    let pid = d.pid;
    let stop = Arc::new(AtomicBool::new(false));
    let holder = hold_writer(db.clone(), stop.clone());
    let written = Arc::new(AtomicU64::new(0));
    let lines = Arc::new(lines.to_vec());
    let clients: Vec<_> = (0..n_clients)
        .map(|c| {
            let (addr, stop, written, lines) =
                (syslog.clone(), stop.clone(), written.clone(), lines.clone());
            std::thread::spawn(move || {
                let Ok(mut s) = TcpStream::connect(&addr) else {
                    return;
                };
                // A write blocked by back-pressure gives up after 1 s so
                // the thread sees `stop`.
                let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
                let mut i = (c * 7919 * BATCH) % lines.len();
                let mut frame = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    frame.clear();
                    for _ in 0..100 {
                        let _ = writeln!(
                            frame,
                            "<134>1 2026-12-02T10:00:00Z host-{c} rails - - - {}",
                            lines[i]
                        );
                        i = (i + 1) % lines.len();
                    }
                    match s.write_all(&frame) {
                        Ok(()) => {
                            written.fetch_add(100, Ordering::Relaxed);
                        }
                        Err(e)
                            if e.kind() == std::io::ErrorKind::WouldBlock
                                || e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => return,
                    }
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
    let threads = status_field(pid, "Threads:");
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client");
    }
    let hwm = status_field(pid, "VmHWM:");
    let periods = holder.join().expect("holder");
    let metrics = ingest_metrics(&d.addr);
    let n = samples.len().max(1);
    println!(
        "syslog flood {secs} s, {n_clients} TCP connections, writer held 900 ms of every second ({periods} periods): {} lines written into the sockets; daemon RSS peak {} MB (VmHWM {} MB), last {} MB, first {} MB, {threads} threads at the end",
        written.load(Ordering::Relaxed),
        peak / 1024,
        hwm / 1024,
        samples[n - 1] / 1024,
        samples[0] / 1024
    );
    print!("{metrics}");
}
