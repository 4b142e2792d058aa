//! `watch` started on an empty database beside a large backlog stores it
//! with the events' indexes set aside, builds them once, then diagnoses the
//! backlog as `analyze` does: its failures are those `analyze --db` finds
//! in the same log, the database has every index, and a `kill -9` in the
//! middle of the catch-up loses nothing. (The backlog is small here: the
//! tests lower the poll's read and the threshold.)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use grantwatch::generate::{GenOptions, generate};

use crate::helpers::{diagnoses, event_indexes, grantwatch, stderr};
use crate::watch::Daemon;

/// A folder with one generated Rails log (a third of its requests OAuth,
/// about 6 MB: a debug build stores it in about 0.4 s), and the log.
fn backlog(dir: &Path) -> (PathBuf, PathBuf) {
    let logs = dir.join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let log = logs.join("production.log");
    let opts = GenOptions {
        target_bytes: 6 << 20,
        oauth_share: 0.3,
        seed: 17,
        ..GenOptions::default()
    };
    let mut out = Vec::new();
    generate(&opts, &mut out).expect("generate");
    std::fs::write(&log, out).expect("write log");
    (logs, log)
}

/// Starts `watch` on `logs` reading 64 KiB a poll and catching up in bulk
/// from 256 KiB left, and hands over its stderr lines.
fn start(db: &Path, logs: &Path) -> (Daemon, mpsc::Receiver<String>) {
    let mut child = grantwatch()
        .args([
            "watch",
            "--listen",
            "127.0.0.1:0",
            "--poll-interval-ms",
            "50",
        ])
        .args([
            "--poll-read-bytes",
            "65536",
            "--bulk-catch-up-bytes",
            "262144",
        ])
        .arg("--db")
        .arg(db)
        .arg(logs)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch");
    let lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let daemon = Daemon {
        child,
        addr: String::new(),
    };
    (daemon, rx)
}

/// Waits for a stderr line holding `what`.
fn wait_for_line(rx: &mpsc::Receiver<String>, what: &str) {
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.contains(what) => return,
            Ok(_) => {}
            Err(e) => panic!("no line with {what:?}: {e}"),
        }
    }
}

/// The failures `analyze --db` finds in `log`.
fn analyzed(dir: &Path, log: &Path) -> crate::helpers::Diagnoses {
    let db = dir.join("analyzed.db");
    let out = grantwatch()
        .args(["analyze", "--json", "--db"])
        .arg(&db)
        .arg(log)
        .output()
        .expect("analyze");
    assert!(out.status.success(), "{}", stderr(&out));
    diagnoses(&db)
}

/// Polls until the daemon's failures are `expected` (they settle once the
/// backlog's diagnosis ends).
fn wait_for_failures(db: &Path, expected: &crate::helpers::Diagnoses) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let now = crate::helpers::try_read_sql(db)
            .ok()
            .map(|_| diagnoses(db))
            .unwrap_or_default();
        if &now == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} failures, {} expected",
            now.len(),
            expected.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_first_start_on_a_large_backlog_stores_it_in_bulk_and_ends_as_analyze_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (logs, log) = backlog(dir.path());
    let expected = analyzed(dir.path(), &log);
    assert!(expected.len() > 50, "{} failures", expected.len());
    let db = dir.path().join("w.db");
    let (_daemon, rx) = start(&db, &logs);
    wait_for_line(&rx, "catching up");
    wait_for_line(&rx, "caught up");
    wait_for_failures(&db, &expected);
    assert_eq!(
        event_indexes(&db),
        event_indexes(&dir.path().join("analyzed.db"))
    );
}

#[test]
fn a_kill_9_in_the_middle_of_a_catch_up_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (logs, log) = backlog(dir.path());
    let expected = analyzed(dir.path(), &log);
    let all = event_indexes(&dir.path().join("analyzed.db"));
    let db = dir.path().join("w.db");
    let (mut daemon, rx) = start(&db, &logs);
    wait_for_line(&rx, "catching up");
    daemon.child.kill().expect("kill -9");
    daemon.child.wait().expect("wait");
    let ended: Vec<String> = rx.try_iter().collect();
    assert!(
        !ended.iter().any(|l| l.contains("caught up")),
        "the catch-up ended before the kill: {ended:?}"
    );
    assert!(event_indexes(&db).len() < all.len(), "indexes set aside");
    // Restarted: the indexes are built again at the open, the rest of the
    // backlog read with them live, every failure diagnosed.
    let (_daemon, _rx) = start(&db, &logs);
    wait_for_failures(&db, &expected);
    assert_eq!(event_indexes(&db), all);
}
