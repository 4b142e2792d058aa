//! The command line as a user meets it: exit codes and one-line errors,
//! folders, gzip, files that are not logs, `--db` and `lookup`, and secrets
//! that never reach the output.

use std::io::Write;
use std::path::Path;

use grantwatch::generate::{GenOptions, generate};

use crate::helpers::{analyze_json, grantwatch, gzip_file, stderr};

fn generated(
    dir: &Path,
    name: &str,
    seed: u64,
) -> (std::path::PathBuf, Vec<grantwatch::generate::Expected>) {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).expect("create");
    let opts = GenOptions {
        target_bytes: 300_000,
        oauth_share: 0.2,
        failure_share: 0.5,
        seed,
        ..GenOptions::default()
    };
    let expected = generate(&opts, &mut file).expect("generate");
    (path, expected)
}

#[test]
fn a_bad_flag_is_one_line_on_stderr_and_exit_2() {
    let out = grantwatch()
        .args(["analyze", "--no-such-flag", "x"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--no-such-flag"), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn an_unreadable_path_is_one_line_on_stderr_and_exit_2() {
    let out = grantwatch()
        .args(["analyze", "/no/such/dir/production.log"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("/no/such/dir/production.log"), "{err}");
    // The cause once, not once from the message and again from its chain.
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

/// `grantwatch analyze … | head -1`: the reader going away ends the run
/// quietly, as a closed pipe ends any Unix filter, in both outputs.
#[test]
fn a_closed_output_pipe_ends_the_run_quietly() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("production.log");
    let opts = GenOptions {
        target_bytes: 3_000_000,
        oauth_share: 0.5,
        failure_share: 0.5,
        seed: 9,
        ..GenOptions::default()
    };
    let expected =
        generate(&opts, &mut std::fs::File::create(&log).expect("create")).expect("generate");
    for json in [true, false] {
        let mut cmd = grantwatch();
        cmd.arg("analyze").arg(&log);
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .expect("first line");
        // Dropped here: the pipe's reader is gone.
        let out = child.wait_with_output().expect("wait");
        assert!(!first.is_empty());
        // Far more than the pipe and the output buffer hold.
        assert!(expected.len() > 500, "{} failures", expected.len());
        assert_eq!(out.status.code(), Some(0), "json {json}: {}", stderr(&out));
        assert!(stderr(&out).is_empty(), "json {json}: {}", stderr(&out));
    }
}

#[test]
fn gzip_rotated_files_read_like_plain_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plain, expected) = generated(dir.path(), "production.log", 3);
    let gz_dir = tempfile::tempdir().expect("tempdir");
    gzip_file(&plain, &gz_dir.path().join("production.log.1.gz"));
    let a = analyze_json(&[&plain]);
    let b = analyze_json(&[gz_dir.path()]);
    assert_eq!(a.len(), expected.len());
    let causes = |v: &[serde_json::Value]| v.iter().map(|f| f["cause"].clone()).collect::<Vec<_>>();
    assert_eq!(causes(&a), causes(&b));
}

#[test]
fn binary_files_are_skipped_with_a_count_and_json_documents_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    generated(dir.path(), "production.log", 4);
    std::fs::write(
        dir.path().join("core.bin"),
        [0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0],
    )
    .expect("write");
    std::fs::write(dir.path().join("config.json"), "{\n  \"a\": 1\n}\n").expect("write");
    let out = grantwatch()
        .arg("analyze")
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("core.bin: binary data"), "{text}");
    // A JSON document is read (it may be an error body), and said to be
    // what it is.
    assert!(!text.contains("config.json: a JSON document"), "{text}");
    assert!(text.contains("config.json: "), "{text}");
    assert!(text.contains("failed token requests by cause"), "{text}");
}

#[test]
fn analyze_twice_into_one_database_stores_nothing_twice_and_lookup_tells_the_story() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, expected) = generated(dir.path(), "production.log", 5);
    let db = dir.path().join("g.db");
    for _ in 0..2 {
        let out = grantwatch()
            .args(["analyze", "--json", "--db"])
            .arg(&db)
            .arg(&log)
            .output()
            .expect("run");
        assert!(out.status.success(), "{}", stderr(&out));
        let n = String::from_utf8_lossy(&out.stdout).lines().count();
        assert_eq!(n, expected.len());
    }
    let target = &expected[0];
    let out = grantwatch()
        .args(["lookup", "--json", "--db"])
        .arg(&db)
        .arg(&target.request_id)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let story: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(story["request_id"], target.request_id.as_str());
    assert_eq!(story["failures"][0]["cause"], target.cause);
    assert!(story["events"].as_array().is_some_and(|e| !e.is_empty()));

    let out = grantwatch()
        .args(["lookup", "--db"])
        .arg(&db)
        .arg("no-such-request")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no-such-request"));
}

#[test]
fn no_authorization_code_from_the_log_reaches_the_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = generated(dir.path(), "production.log", 6);
    let text = std::fs::read_to_string(&log).expect("read");
    let codes: Vec<&str> = text
        .split("?code=")
        .skip(1)
        .filter_map(|rest| rest.split('&').next())
        .collect();
    assert!(!codes.is_empty());
    let out = grantwatch()
        .args(["analyze", "--json"])
        .arg(&log)
        .output()
        .expect("run");
    let printed = String::from_utf8_lossy(&out.stdout);
    for code in codes {
        assert!(!printed.contains(code), "code {code} leaked");
    }
}

#[test]
fn code_lifetimes_are_configurable_per_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, expected) = generated(dir.path(), "production.log", 8);
    let expired: Vec<&str> = expected
        .iter()
        .filter(|e| e.cause == "code_expired")
        .map(|e| e.request_id.as_str())
        .collect();
    assert!(!expired.is_empty());
    // The generator exchanges expired codes 14 minutes late: with a
    // 20-minute lifetime they are no longer expired.
    let out = grantwatch()
        .args(["analyze", "--json", "--code-lifetime", "doorkeeper=1200"])
        .arg(&log)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: serde_json::Value = serde_json::from_str(line).expect("json");
        if expired.contains(&f["request_id"].as_str().unwrap_or("")) {
            assert_ne!(f["cause"], "code_expired", "{f}");
        }
    }
}

/// Ctrl-C during an analysis (here while it copies standard input, which
/// the test holds open) ends it with status 130 and leaves nothing in the
/// temporary folder: a scratch database can be larger than the log.
#[test]
fn an_interrupted_analysis_leaves_no_scratch_folder() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut child = grantwatch()
        .args(["analyze", "--json", "-"])
        .env("TMPDIR", tmp.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start analyze");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"I, [2025-04-14T18:05:22.248000 #9]  INFO -- : [980a5760] Started POST \"/oauth/token\" for 198.51.100.188 at 2025-04-14 18:05:22 +0000\n")
        .expect("write stdin");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let copying = loop {
        let entries = std::fs::read_dir(tmp.path()).expect("list temp").count();
        if entries > 0 || std::time::Instant::now() > deadline {
            break entries > 0;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(copying, "analyze made no folder for standard input");
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = child.wait().expect("wait");
    drop(stdin);
    assert_eq!(status.code(), Some(130), "{status:?}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("list temp")
        .map(|e| e.map(|e| e.path()))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
