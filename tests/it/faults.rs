//! `grantwatch watch` under faults, as a user would meet them: a `kill -9`
//! between storing and diagnosing, a file truncated and rewritten, a restart
//! whose resume point lies in the file's first KiB, another process holding
//! the write lock for 10 s, and a full disk. Each test drives the real
//! binary and checks what the API, `/healthz` and the database say.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::watch::{Daemon, append, get_raw, start, story};

/// Polls `check` every 50 ms until it holds or `limit` passes.
fn wait_for(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One JSON Lines failure (a code reused) with request id `rid`.
fn failure_line(rid: &str, second: u32) -> String {
    format!(
        "{{\"time\":\"2025-03-11T09:{:02}:{:02}.000Z\",\"request_id\":\"{rid}\",\"error\":\"invalid_grant\",\"error_description\":\"Code was already redeemed.\"}}\n",
        (second / 60) % 60,
        second % 60
    )
}

/// (events, failures, events linked to no failure) in the database.
fn counts(db: &Path) -> (i64, i64, i64) {
    let conn = crate::helpers::read_sql(db);
    let one = |sql: &str| {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .unwrap_or(-1)
    };
    (
        one("SELECT count(*) FROM events"),
        one("SELECT count(*) FROM failures"),
        one("SELECT count(*) FROM events e WHERE NOT EXISTS
             (SELECT 1 FROM failure_events f WHERE f.event_id = e.id)"),
    )
}

fn kill_9(daemon: &mut Daemon) {
    daemon.child.kill().expect("kill -9");
    daemon.child.wait().expect("wait");
}

fn sigterm(daemon: &mut Daemon) -> Option<i32> {
    let pid = daemon.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    daemon.child.wait().expect("wait").code()
}

#[test]
fn failures_stored_before_a_kill_9_are_diagnosed_after_the_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.jsonl");
    let db = dir.path().join("w.db");
    // The figure is 1,000 requests; a debug build took 18-29 s to
    // diagnose them after the restart on a loaded 2-core machine, so this
    // run is 300 with room. The 1,000 are measured on a release build by
    // `benches/watch_bench.py kill9` (figures in benches/README.md).
    let n: i64 = 300;
    let text: String = (0..n)
        .map(|i| failure_line(&format!("req-{i:04}"), i as u32))
        .collect();
    std::fs::write(&log, text).expect("write");
    let mut daemon = start(&db, &log);
    std::thread::sleep(Duration::from_millis(fastrand::u64(100..=500)));
    kill_9(&mut daemon);
    let mut daemon = start(&db, &log);
    wait_for(Duration::from_secs(30), "every failure diagnosed", || {
        counts(&db) == (n, n, 0)
    });
    assert_eq!(sigterm(&mut daemon), Some(0));
    let mut daemon = start(&db, &log);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sigterm(&mut daemon), Some(0));
    assert_eq!(
        counts(&db),
        (n, n, 0),
        "nothing doubled by SIGTERM and restart"
    );
}

#[test]
fn a_line_appended_while_a_backlog_is_diagnosed_is_stored_without_waiting() {
    // Diagnosis runs beside reading: a pass over hundreds of failures
    // (seconds in a debug build) must not hold back the next line. The
    // pass writes its failures in one transaction at its end, so the new
    // line's event shows up while none of the backlog's failures is
    // written yet; when the reader ran the pass itself, the line was read
    // only after all of them were.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.jsonl");
    let db = dir.path().join("w.db");
    // Enough that the pass outlasts the append: a release build diagnosed
    // 300 before the late line came (4 of 8 release runs failed), and a
    // source's events are now read by time, not whole (a0b5a23).
    let n: i64 = if cfg!(debug_assertions) { 1_000 } else { 3_000 };
    let text: String = (0..n)
        .map(|i| failure_line(&format!("req-{i:04}"), i as u32))
        .collect();
    std::fs::write(&log, text).expect("write");
    let mut daemon = start(&db, &log);
    wait_for(Duration::from_secs(30), "the backlog stored", || {
        counts(&db).0 == n
    });
    append(&log, &failure_line("late-one", 400));
    wait_for(Duration::from_secs(30), "the late line stored", || {
        counts(&db).0 == n + 1
    });
    let failures = counts(&db).1;
    assert!(
        failures < n,
        "the late line waited for the backlog's diagnosis ({failures} failures written first)"
    );
    wait_for(Duration::from_secs(60), "everything diagnosed", || {
        counts(&db) == (n + 1, n + 1, 0)
    });
    assert_eq!(sigterm(&mut daemon), Some(0));
}

#[test]
fn a_new_failure_on_the_line_of_an_old_one_never_replaces_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.jsonl");
    let db = dir.path().join("w.db");
    std::fs::write(&log, failure_line("first-gen", 1)).expect("write");
    let daemon = start(&db, &log);
    story(&daemon.addr, "first-gen", 1);
    // Truncated and rewritten: a new failure on line 1 of a new generation.
    std::fs::write(&log, "").expect("truncate");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&log, failure_line("second-gen", 2)).expect("rewrite");
    story(&daemon.addr, "second-gen", 1);
    let first = story(&daemon.addr, "first-gen", 1);
    assert_eq!(first["failures"][0]["cause"], "code_reused", "{first}");
    assert_eq!(counts(&db).1, 2, "both failures kept");
}

/// A Doorkeeper request as Rails logs it, cut before its `Completed`
/// line when `complete` is false.
fn rails_request(id: &str, minute: u32, complete: bool) -> String {
    let p = |msg: &str| {
        format!("I, [2025-03-11T09:{minute:02}:01.000000 #7]  INFO -- : [{id}] {msg}\n")
    };
    let mut out = p(&format!(
        "Started POST \"/oauth/token\" for 10.0.0.1 at 2025-03-11 09:{minute:02}:01 +0000"
    ));
    out += &p("Processing by Doorkeeper::TokensController#create as */*");
    out += &p(
        "  Parameters: {\"grant_type\"=>\"password\", \"username\"=>\"kim@example.com\", \"password\"=>\"[FILTERED]\", \"client_id\"=>\"app\"}",
    );
    if complete {
        out += &p(
            "Completed 400 Bad Request in 12ms (Views: 0.1ms | ActiveRecord: 2.0ms | Allocations: 2000)",
        );
    }
    out
}

#[test]
fn a_restart_inside_the_first_kib_reads_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let log = logs.join("production.log");
    let db = dir.path().join("w.db");
    let first = "aaaaaaa1-0000-4000-8000-000000000001";
    let second = "bbbbbbb2-0000-4000-8000-000000000002";
    std::fs::write(&log, rails_request(first, 10, true)).expect("write");
    let mut daemon = start(&db, &logs);
    story(&daemon.addr, first, 1);
    // A request held open: the checkpoint stays before it, well inside the
    // first KiB, while the bytes read go past it.
    assert!(rails_request(first, 10, true).len() < 1024);
    append(&log, &rails_request(second, 11, false));
    std::thread::sleep(Duration::from_millis(400));
    kill_9(&mut daemon);
    let mut daemon = start(&db, &logs);
    append(
        &log,
        &format!(
            "I, [2025-03-11T09:11:01.000000 #7]  INFO -- : [{second}] Completed 400 Bad Request in 12ms (Views: 0.1ms | ActiveRecord: 2.0ms | Allocations: 2000)\n"
        ),
    );
    let done = story(&daemon.addr, second, 1);
    assert_eq!(done["failures"][0]["grant_type"], "password", "{done}");
    let again = story(&daemon.addr, first, 1);
    assert_eq!(again["events"].as_array().map_or(0, Vec::len), 1, "{again}");
    assert_eq!(
        counts(&db),
        (2, 2, 0),
        "each request stored and diagnosed once"
    );
    assert_eq!(sigterm(&mut daemon), Some(0));
}

/// `lines read` of the latest generation of the files in the database.
fn read_line_no(db: &Path) -> i64 {
    let Ok(conn) = crate::helpers::try_read_sql(db) else {
        return -1;
    };
    conn.query_row(
        "SELECT coalesce(max(read_line_no), -1) FROM sources",
        [],
        |r| r.get(0),
    )
    .unwrap_or(-1)
}

#[test]
fn a_file_rewritten_while_down_behind_a_held_record_is_read_as_a_new_one() {
    // The class of the model test's seed 7680933859065218064, made
    // deterministic: a record held open keeps the resume point at 0 while
    // the lines read past it were stored (a whole request before it), and
    // a restart skips what those lines complete as stored. The file is
    // then rewritten in place, same inode, with more bytes than were read.
    // An identity of the bytes before the resume point (none) let the new
    // content pass for the old file: the old generation went on with it
    // and the first new request, completed within the lines read before,
    // was dropped (so it was, before the fix).
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let log = logs.join("production.log");
    let db = dir.path().join("w.db");
    let whole = "aaaaaaaa-0000-4000-8000-00000000000a";
    let held = "dddddddd-0000-4000-8000-000000000004";
    let first = rails_request(whole, 9, true) + &rails_request(held, 10, false);
    std::fs::write(&log, first).expect("write");
    let mut daemon = start(&db, &logs);
    story(&daemon.addr, whole, 1);
    wait_for(
        Duration::from_secs(15),
        "the held request's lines read",
        || read_line_no(&db) == 7,
    );
    assert_eq!(sigterm(&mut daemon), Some(0));
    let ids: Vec<String> = (1..=3)
        .map(|i| format!("eeeeeee{i}-0000-4000-8000-00000000000{i}"))
        .collect();
    let text: String = ids
        .iter()
        .zip(20..)
        .map(|(id, minute)| rails_request(id, minute, true))
        .collect();
    let inode =
        |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).expect("stat"));
    let before = inode(&log);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .expect("open");
    f.write_all(text.as_bytes()).expect("rewrite");
    drop(f);
    assert_eq!(inode(&log), before, "rewritten in place");
    let mut daemon = start(&db, &logs);
    for id in &ids {
        let s = story(&daemon.addr, id, 1);
        assert_eq!(s["failures"][0]["grant_type"], "password", "{id}: {s}");
    }
    assert_eq!(
        counts(&db),
        (4, 4, 0),
        "the first request and the three new ones, each once; nothing of the held one"
    );
    assert_eq!(sigterm(&mut daemon), Some(0));
}

#[test]
fn a_write_lock_held_10_s_pauses_reading_says_so_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.jsonl");
    let db = dir.path().join("w.db");
    std::fs::write(&log, failure_line("before-lock", 1)).expect("write");
    let mut daemon = start(&db, &log);
    story(&daemon.addr, "before-lock", 1);
    let (status, body) = get_raw(&daemon.addr, "/healthz");
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ok"), "{body}");

    let locker = rusqlite::Connection::open(&db).expect("open");
    locker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let locked_at = Instant::now();
    let text: String = (0..50)
        .map(|i| failure_line(&format!("during-lock-{i}"), 100 + i))
        .collect();
    append(&log, &text);
    wait_for(
        Duration::from_secs(9),
        "a 503 while the lock is held",
        || {
            let (status, body) = get_raw(&daemon.addr, "/healthz");
            status == 503 && body.contains("locked")
        },
    );
    let (_, metrics) = get_raw(&daemon.addr, "/metrics");
    assert!(metrics.contains("grantwatch_reader_up 0"), "{metrics}");
    let (_, sources) = get_raw(&daemon.addr, "/sources");
    assert!(sources.contains("not reading"), "{sources}");
    std::thread::sleep(Duration::from_secs(10).saturating_sub(locked_at.elapsed()));
    locker.execute_batch("ROLLBACK").expect("release");
    drop(locker);

    wait_for(Duration::from_secs(10), "reading to resume", || {
        get_raw(&daemon.addr, "/healthz").0 == 200 && counts(&db) == (51, 51, 0)
    });
    let (_, metrics) = get_raw(&daemon.addr, "/metrics");
    assert!(metrics.contains("grantwatch_reader_up 1"), "{metrics}");
    assert!(
        !metrics.contains("grantwatch_reader_failures_total 0\n"),
        "{metrics}"
    );
    assert_eq!(
        sigterm(&mut daemon),
        Some(0),
        "SIGTERM after a pause exits 0"
    );
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `at`; `None` where the test may not mount
    /// (not root, no CAP_SYS_ADMIN, not Linux).
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-l"])
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_pauses_reading_says_so_and_resumes_when_space_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(disk) = Tmpfs::mount(&dir.path().join("disk"), "16m") else {
        // Documented in benches/README.md: without the right to mount, the
        // full-disk case is not exercised here.
        eprintln!("skipped: cannot mount a tmpfs (needs root or CAP_SYS_ADMIN)");
        return;
    };
    let db = disk.0.join("w.db");
    let log = dir.path().join("app.jsonl");
    std::fs::write(&log, failure_line("before-full", 1)).expect("write");
    let mut daemon = start(&db, &log);
    story(&daemon.addr, "before-full", 1);
    // Fill the disk to its last bytes.
    let filler = disk.0.join("filler");
    {
        let mut f = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let small = vec![0u8; 512];
        while f.write_all(&small).is_ok() {}
        let _ = f.flush();
    }
    let text: String = (0..300)
        .map(|i| failure_line(&format!("while-full-{i}"), 100 + i))
        .collect();
    append(&log, &text);
    wait_for(
        Duration::from_secs(15),
        "a 503 while the disk is full",
        || {
            let (status, body) = get_raw(&daemon.addr, "/healthz");
            status == 503 && body.contains("full")
        },
    );
    std::fs::remove_file(&filler).expect("free the disk");
    wait_for(Duration::from_secs(30), "reading to resume", || {
        get_raw(&daemon.addr, "/healthz").0 == 200 && counts(&db) == (301, 301, 0)
    });
    assert_eq!(sigterm(&mut daemon), Some(0));
    drop(daemon);
    drop(disk);
}

#[test]
fn a_sigterm_right_after_the_address_is_announced_stops_watch_gracefully() {
    // The model test met a daemon killed by SIGTERM's default action: the
    // handlers were installed after the "serving … on http://" line.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.jsonl");
    let db = dir.path().join("w.db");
    std::fs::write(&log, failure_line("before-term", 1)).expect("write");
    for round in 0..10 {
        let mut daemon = start(&db, &log);
        assert_eq!(sigterm(&mut daemon), Some(0), "round {round}");
    }
}

/// What happens to the files followed is counted on `/metrics`
/// (`grantwatch_file_events_total{event}`), not only said on stderr: a
/// rotation, then a truncation of the new file.
#[test]
fn rotations_and_truncations_are_counted_on_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let log = logs.join("app.jsonl");
    let db = dir.path().join("w.db");
    std::fs::write(&log, failure_line("req-0001", 1)).expect("write");
    let daemon = start(&db, &logs);
    story(&daemon.addr, "req-0001", 1);
    let events = |kind: &str| -> u64 {
        let (_, metrics) = get_raw(&daemon.addr, "/metrics");
        let series = format!("grantwatch_file_events_total{{event=\"{kind}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series.as_str()))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(events("rotated"), 0);
    std::fs::rename(&log, logs.join("app.jsonl.1")).expect("rotate");
    std::fs::write(&log, failure_line("req-0002", 2)).expect("new file");
    story(&daemon.addr, "req-0002", 1);
    wait_for(Duration::from_secs(10), "a rotation counted", || {
        events("rotated") >= 1
    });
    // Shorter than what was read: a truncation.
    std::fs::write(&log, "{}\n").expect("truncate");
    wait_for(Duration::from_secs(10), "a truncation counted", || {
        events("truncated") >= 1
    });
}
