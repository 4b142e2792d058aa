//! Live fan-out under load (issue 13): 100 clients hold `GET /api/events`
//! open on a release `grantwatch watch` while a writer appends a generated
//! Rails + Doorkeeper log (`grantwatch-gen`, 5% OAuth flows, 30% of them
//! failing) to the watched file at 10,000 lines a second, in 100-line
//! appends every 10 ms. For every failure event each client receives, the
//! latency is the time from the append that held the failure's last
//! evidence line to the client reading the event; the bench prints the
//! count, p50, p99 and max over all clients and failures.
//!
//! Run: `cargo bench --bench live` (about a minute: the log is generated,
//! then written for about 25 s). `cargo test --benches` skips it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CLIENTS: usize = 100;
const LINES_PER_SECOND: usize = 10_000;
const TICK: Duration = Duration::from_millis(10);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What a client read of one `failure` event: the failure, when its change
/// was recorded (the event's `at`, in the transaction that stored it), when
/// the client read it.
type Seen = (String, i64, i64);

/// One SSE client: what it read of each `failure` event.
fn client(addr: String, stop: Arc<AtomicBool>, seen: Arc<Mutex<Vec<Seen>>>) {
    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("request");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut failure_event = false;
    let mut mine = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => continue,
        }
        let at = now_ms();
        let l = line.trim_end();
        if l.starts_with("event:") {
            failure_event = l == "event: failure";
        } else if let Some(data) = l.strip_prefix("data: ")
            && failure_event
        {
            let v: serde_json::Value = serde_json::from_str(data).expect("json");
            let recorded = v["at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map_or(0, |t| t.timestamp_millis());
            if let Some(id) = v["failure_id"].as_str() {
                mine.push((id.to_owned(), recorded, at));
            }
        }
    }
    seen.lock().expect("lock").extend(mine);
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The number after `label` in a trace line (`waited 3.2 ms`, `7 failures touched`).
fn number_after(line: &str, label: &str) -> Option<f64> {
    let rest = line.split(label).nth(1)?.trim_start();
    rest.split([' ', ',', ';']).next()?.parse().ok()
}

/// The number before `label` in a trace line (`7 failures touched`).
fn number_before(line: &str, label: &str) -> Option<f64> {
    line.split(label)
        .next()?
        .trim_end()
        .rsplit([' ', ';', ','])
        .next()?
        .parse()
        .ok()
}

/// Prints where the daemon spent the time: its read rounds and diagnosis
/// passes as it traced them.
fn stages(trace: &[String]) {
    let summary = |name: &str, mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let pick = |p: f64| {
            v.get(((v.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        println!(
            "{name}: n {} p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}",
            v.len(),
            pick(0.5),
            pick(0.9),
            pick(0.99),
            v.last().copied().unwrap_or(0.0)
        );
    };
    let rounds: Vec<&String> = trace.iter().filter(|l| l.contains("read round:")).collect();
    let passes: Vec<&String> = trace
        .iter()
        .filter(|l| l.contains("diagnosis pass:"))
        .collect();
    let of = |lines: &[&String], f: &dyn Fn(&str) -> Option<f64>| -> Vec<f64> {
        lines.iter().filter_map(|l| f(l)).collect()
    };
    summary(
        "read round (poll, parse, commit) ms",
        of(&rounds, &|l| number_after(l, "read round:")),
    );
    summary(
        "diagnosis pass: wait from the reader's wake ms",
        of(&passes, &|l| number_after(l, "waited")),
    );
    summary(
        "diagnosis pass: select ms",
        of(&passes, &|l| number_after(l, "select")),
    );
    summary(
        "diagnosis pass: regroup ms",
        of(&passes, &|l| number_after(l, "regroup")),
    );
    summary(
        "diagnosis pass: write + commit ms",
        of(&passes, &|l| number_after(l, "write")),
    );
    summary(
        "diagnosis pass: stored failures touched",
        of(&passes, &|l| number_before(l, "failures touched")),
    );
    summary(
        "diagnosis pass: failures diagnosed",
        of(&passes, &|l| number_before(l, "diagnosed")),
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("live bench: skipped (run it with cargo bench --bench live)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source.log");
    let status = Command::new(env!("CARGO_BIN_EXE_grantwatch-gen"))
        .args(["--size", "40M", "--oauth-share", "0.05"])
        .arg(&source)
        .stdout(Stdio::null())
        .status()
        .expect("grantwatch-gen");
    assert!(status.success());
    let text = std::fs::read_to_string(&source).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let log = dir.path().join("production.log");
    std::fs::write(&log, "").expect("create");
    let db = dir.path().join("g.db");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_grantwatch"))
        .args(["watch", "--listen", "127.0.0.1:0", "--db"])
        .env("GRANTWATCH_TRACE_DIAGNOSIS", "1")
        .arg(&db)
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    let stderr = daemon.stderr.take().expect("stderr");
    let mut err_lines = BufReader::new(stderr).lines();
    let addr = loop {
        let l = err_lines.next().expect("a line").expect("utf-8");
        if let Some(rest) = l.split("on http://").nth(1) {
            break rest.split_whitespace().next().expect("addr").to_owned();
        }
    };
    // The daemon's trace of its read rounds and diagnosis passes.
    let traced = Arc::new(Mutex::new(Vec::new()));
    let keep = traced.clone();
    std::thread::spawn(move || {
        for l in err_lines.map_while(Result::ok) {
            if l.contains("read round:") || l.contains("diagnosis pass:") {
                keep.lock().expect("lock").push(l);
            }
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (addr, stop, seen) = (addr.clone(), stop.clone(), seen.clone());
            std::thread::spawn(move || client(addr, stop, seen))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));

    // The writer: 100 lines every 10 ms; when each append returned.
    let per_tick = LINES_PER_SECOND * TICK.as_millis() as usize / 1000;
    let mut appended: Vec<(u64, i64)> = Vec::new(); // (last line number, ms)
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    let started = Instant::now();
    for (k, chunk) in lines.chunks(per_tick).enumerate() {
        let due = started + TICK * k as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let mut buf = chunk.join("\n");
        buf.push('\n');
        file.write_all(buf.as_bytes()).expect("append");
        appended.push(((k * per_tick + chunk.len()) as u64, now_ms()));
    }
    let wrote = started.elapsed();
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.join();
    }
    let _ = daemon.kill();
    let _ = daemon.wait();

    // Each failure's last evidence line in the watched file.
    let store = grantwatch::store::Store::open_read_only(&db).expect("open");
    let ids: Vec<String> = store
        .raw_connection()
        .prepare("SELECT id FROM failures")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("ids");
    let mut last_line: HashMap<String, u64> = HashMap::new();
    for id in &ids {
        if let Some(f) = store.failure(id).expect("failure") {
            let max = f.evidence.iter().map(|e| e.line).max().unwrap_or(0);
            last_line.insert(id.clone(), max);
        }
    }
    let append_ms = |line: u64| -> Option<i64> {
        let i = appended.partition_point(|(last, _)| *last < line);
        appended.get(i).map(|(_, ms)| *ms)
    };
    let seen = seen.lock().expect("lock");
    let mut latencies: Vec<i64> = seen
        .iter()
        .filter_map(|(id, _, at)| Some(at - append_ms(*last_line.get(id)?)?))
        .collect();
    latencies.sort_unstable();
    // The two parts: reading, parsing, diagnosing and committing (append to
    // the change recorded), then the fan-out (recorded to read).
    let mut ingest: Vec<i64> = seen
        .iter()
        .filter_map(|(id, recorded, _)| Some(recorded - append_ms(*last_line.get(id)?)?))
        .collect();
    ingest.sort_unstable();
    let mut fan_out: Vec<i64> = seen.iter().map(|(_, recorded, at)| at - recorded).collect();
    fan_out.sort_unstable();
    println!(
        "live fan-out: {} lines appended in {:.1} s ({:.0} lines/s), {} failures stored, {} clients",
        lines.len(),
        wrote.as_secs_f64(),
        lines.len() as f64 / wrote.as_secs_f64(),
        ids.len(),
        CLIENTS
    );
    println!(
        "events read: {} of {} expected; append -> event ms: p50 {} p90 {} p99 {} max {}",
        latencies.len(),
        ids.len() * CLIENTS,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0)
    );
    for (name, v) in [
        ("append -> change recorded", &ingest),
        ("change recorded -> event read", &fan_out),
    ] {
        println!(
            "{name} ms: p50 {} p90 {} p99 {} max {}",
            percentile(v, 0.5),
            percentile(v, 0.9),
            percentile(v, 0.99),
            v.last().copied().unwrap_or(0)
        );
    }
    stages(&traced.lock().expect("lock"));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after the run: {}", load.trim());
}
