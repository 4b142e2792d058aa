//! The daemon and `analyze` against bad input and scarce resources, as a
//! user meets them, with the real binary: an idle `watch` of a folder that
//! must cost next to nothing, a NUL early in a log, 5,000 files under a
//! limit of 1,024 descriptors, a folder with files that cannot be read
//! (even by root), a database deleted under the daemon, and a short token on
//! a public address.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::helpers::{grantwatch, root, stderr};
use crate::watch::{append, code_reuse, get_raw, spawn_command, story};

/// `grantwatch watch` on loopback over `paths`, with its database in `db`.
fn watch_cmd(db: &Path, paths: &[&Path]) -> std::process::Command {
    let mut cmd = grantwatch();
    cmd.args(["watch", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(paths);
    cmd
}

/// User plus system CPU time of a process so far, from /proc/PID/stat.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // The command name may hold spaces: fields are counted after its ')'.
    let rest = stat.rsplit_once(')').expect("comm").1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks as f64 / hz
}

#[test]
fn an_idle_watch_of_a_folder_costs_next_to_nothing_and_still_sees_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let log = logs.join("production.log");
    std::fs::write(&log, "").expect("create");
    let daemon = spawn_command(watch_cmd(
        &dir.path().join("w.db"),
        &[&root().join("sample_logs"), &logs],
    ));
    // Let it read and diagnose the samples (seconds in a debug build), then
    // measure it doing nothing. A loop that wakes itself never settles.
    // Settled is two quiet seconds in a row: on a loaded machine (CI runs
    // the other tests beside this one) a debug build's work on the samples
    // has lulls of a second, and one lull was taken for idleness.
    let pid = daemon.child.id();
    let settle = Instant::now() + Duration::from_secs(60);
    let mut quiet_seconds = 0;
    while quiet_seconds < 2 {
        let before = cpu_seconds(pid);
        std::thread::sleep(Duration::from_secs(1));
        if cpu_seconds(pid) - before < 0.1 {
            quiet_seconds += 1;
        } else {
            quiet_seconds = 0;
        }
        assert!(Instant::now() < settle, "still busy after a minute");
    }
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(3));
    let idle = cpu_seconds(pid) - before;
    // Before the fix, its own reads woke it: a whole core (3 s of CPU).
    assert!(idle < 0.3, "{idle:.2} s of CPU in 3 s of idling");
    // Idle, reading is behind no file: the lag is 0, however long since
    // the last commit.
    let (_, metrics) = get_raw(&daemon.addr, "/metrics");
    let lags: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("grantwatch_ingest_lag_seconds{"))
        .collect();
    assert!(!lags.is_empty(), "{metrics}");
    for l in lags {
        assert!(l.ends_with(" 0"), "{l}");
    }
    let (text, rid) = code_reuse(1);
    let appended = Instant::now();
    append(&log, &text);
    story(&daemon.addr, &rid, 1);
    assert!(appended.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_nul_early_in_a_log_hides_nothing_and_binary_files_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let (text, first) = code_reuse(1);
    // A NUL in the first line, and a hole of NULs (a crash) before the
    // second request's first line.
    let (second_text, second) = code_reuse(2);
    let mut bytes = b"boot\0 marker\n".to_vec();
    bytes.extend(text.as_bytes());
    bytes.extend([0u8; 300]);
    bytes.extend(second_text.as_bytes());
    let log = logs.join("production.log");
    std::fs::write(&log, &bytes).expect("write");
    let mut rng = fastrand::Rng::with_seed(11);
    let blob: Vec<u8> = (0..8192).map(|_| rng.u8(..)).collect();
    std::fs::write(logs.join("core.bin"), &blob).expect("write");

    let out = grantwatch()
        .args(["analyze", "--json"])
        .arg(&logs)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let json = String::from_utf8_lossy(&out.stdout);
    for rid in [&first, &second] {
        assert!(json.contains(rid.as_str()), "{rid} missing from {json}");
    }
    let err = stderr(&out);
    assert!(err.contains("core.bin: binary data"), "{err}");
    assert!(err.contains("production.log: 2 binary runs"), "{err}");

    let daemon = spawn_command(watch_cmd(&dir.path().join("w.db"), &[&logs]));
    for rid in [&first, &second] {
        assert_eq!(
            story(&daemon.addr, rid, 1)["failures"][0]["cause"],
            "code_reused"
        );
    }
    // Lines appended later are read too.
    let (third_text, third) = code_reuse(3);
    append(&log, &third_text);
    story(&daemon.addr, &third, 1);
    let (status, page) = get_raw(&daemon.addr, "/sources");
    assert_eq!(status, 200);
    assert!(
        page.contains("Skipped files") && page.contains("core.bin"),
        "{page}"
    );
    assert!(page.contains("Binary runs"), "{page}");
    let (_, metrics) = get_raw(&daemon.addr, "/metrics");
    assert!(
        metrics.contains("grantwatch_files_skipped 1\n"),
        "{metrics}"
    );
}

#[test]
fn five_thousand_files_under_a_limit_of_1024_descriptors_are_all_read() {
    use std::os::unix::process::CommandExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    const FILES: usize = 5000;
    for i in 0..FILES {
        std::fs::write(
            logs.join(format!("app-{i:04}.log")),
            format!("{{\"time\":\"2025-03-11T09:00:00Z\",\"msg\":\"file {i}\"}}\n"),
        )
        .expect("write");
    }
    let db = dir.path().join("w.db");
    let mut cmd = watch_cmd(&db, &[&logs]);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the
    // child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1024,
                rlim_max: 1024,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let daemon = spawn_command(cmd);
    let deadline = Instant::now() + Duration::from_secs(90);
    let conn = || rusqlite::Connection::open(&db).expect("db");
    loop {
        // The API answers while the files are read: "ok", or 503 while
        // the reader's first round over all the files is not done yet.
        let (status, body) = get_raw(&daemon.addr, "/healthz");
        assert!(
            (status == 200 && body.starts_with("ok\n"))
                || (status == 503 && body.contains("reader: starting")),
            "{status} {body}"
        );
        let read: i64 = conn()
            .query_row(
                "SELECT count(DISTINCT path) FROM sources
                 WHERE lines_parsed + lines_skipped + lines_unknown > 0",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0);
        if read == FILES as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {read} of {FILES} files read"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let open = std::fs::read_dir(format!("/proc/{}/fd", daemon.child.id()))
        .expect("fds")
        .count();
    assert!(open < 1024, "{open} descriptors open");
    // Appending to a file closed for want of descriptors is still seen.
    append(
        &logs.join("app-0007.log"),
        "{\"time\":\"2025-03-11T09:00:01Z\",\"msg\":\"again\"}\n",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while conn()
        .query_row(
            "SELECT max(line_no) FROM sources WHERE path LIKE '%app-0007.log'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0)
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "the appended line was never read"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get_raw(&daemon.addr, "/api/failures").0, 200);
    let (status, body) = get_raw(&daemon.addr, "/healthz");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn analyze_reads_the_rest_of_a_folder_around_files_it_cannot_read() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let good = root().join("sample_logs/rails/production.log");
    std::fs::copy(&good, logs.join("production.log")).expect("copy");
    // Unreadable whoever runs it, root included: a symlink to itself
    // (ELOOP), a dangling one (ENOENT), a folder loop, and a file whose
    // reads fail with EIO (this process's memory at address 0).
    symlink("self.log", logs.join("self.log")).expect("link");
    symlink("nowhere.log", logs.join("dangling.log")).expect("link");
    symlink(".", logs.join("loop")).expect("link");
    symlink("/proc/self/mem", logs.join("mem.log")).expect("link");

    let alone = crate::helpers::analyze_json(&[&good]).len();
    assert!(alone > 0);
    let out = grantwatch()
        .args(["analyze", "--json"])
        .arg(&logs)
        .output()
        .expect("run");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "partial: {err}");
    for bad in ["self.log", "dangling.log", "loop", "mem.log"] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("grantwatch: cannot read") && l.contains(bad)),
            "{bad} not named: {err}"
        );
    }
    let failures = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(failures, alone, "the readable log was analyzed whole");
    // The text report says so too.
    let out = grantwatch()
        .arg("analyze")
        .arg(&logs)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Could not read"));
}

#[test]
fn a_database_deleted_under_the_daemon_fails_the_health_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    std::fs::write(&log, "hello\n").expect("write");
    let db = dir.path().join("w.db");
    let daemon = spawn_command(watch_cmd(&db, &[&log]));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // 503 only until the reader's first round is done.
        let (status, body) = get_raw(&daemon.addr, "/healthz");
        if status == 200 {
            assert!(body.starts_with("ok\nreader: reading"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "never healthy: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::remove_file(&db).expect("delete");
    let (status, body) = get_raw(&daemon.addr, "/healthz");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("database: ") && body.contains("deleted"),
        "{body}"
    );
    // The reader goes on (into the deleted file): its line is still there.
    assert!(body.contains("reader: "), "{body}");
}

#[test]
fn a_short_token_is_refused_on_a_public_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("g.db");
    drop(grantwatch::store::Store::open(&db).expect("create"));
    let out = grantwatch()
        .args(["serve", "--listen", "0.0.0.0:0", "--token", "x", "--db"])
        .arg(&db)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("at least 16 characters"), "{err}");
}
