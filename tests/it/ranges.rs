//! Reading one file on several cores (`analyze -j N`) must give, byte for
//! byte, the `analyze --json` output and the read counts of one core: over
//! every file of `sample_logs/`, and over generated Rails logs (plain, in
//! CRI and in docker json-file envelopes, a third of the requests OAuth, so
//! that requests are in flight at the boundaries) cut into eight ranges
//! read in chunks of a few kilobytes, and diagnosed on several cores in
//! units of a few events. The trace says the readers handed over, so a
//! test that only ever fell back to one core would fail.

use std::path::{Path, PathBuf};

use grantwatch::generate::{GenOptions, generate};

use crate::helpers::{event_indexes, grantwatch, gzip_file, read_sql, root, stderr};

/// `analyze --json` and the readable report's counts (its first line
/// without the times, and the per-file lines), with `args` added; and
/// the ranges trace.
fn analyze(path: &Path, args: &[&str]) -> (String, String, String) {
    let run = |json: bool| {
        let mut cmd = grantwatch();
        cmd.arg("analyze").args(args).arg(path);
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .env("GRANTWATCH_TRACE_RANGES", "1")
            .output()
            .expect("run grantwatch");
        assert!(out.status.success(), "analyze failed: {}", stderr(&out));
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr(&out),
        )
    };
    let (json, trace) = run(true);
    let (text, _) = run(false);
    let counts = text
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.split(" in ").next().unwrap_or(l).to_string())
        .collect::<Vec<_>>()
        .join("\n");
    (json, counts, trace)
}

/// Many small ranges and chunks: a boundary every few kilobytes; and the
/// diagnosis after the read cut into units of three events, so that
/// failures' groups cross unit boundaries. The events' keys are kept in
/// memory from the second event on (those stored before read back from the
/// table then), where the one-core runs they are compared with use
/// SQLite's indexes.
const SMALL: [&str; 10] = [
    "-j",
    "8",
    "--range-bytes",
    "3000",
    "--chunk-bytes",
    "700",
    "--diagnose-unit",
    "3",
    "--index-from-events",
    "2",
];

/// For Rails logs: a reader is at rest once it has seen 16 `Started`
/// lines of other requests, so its window must hold more.
const RAILS: [&str; 10] = [
    "-j",
    "8",
    "--range-bytes",
    "3000",
    "--chunk-bytes",
    "4000",
    "--diagnose-unit",
    "5",
    "--index-from-events",
    "2",
];

/// One core, with every file of more than a few kilobytes loaded in bulk
/// (as one that two cores would read in ranges is), the diagnosis after
/// the read instead of following it; the events' keys never kept in
/// memory (no sample holds a million events), so SQLite's indexes are
/// built after the load, where by default the memory ones stand for four.
const BULK_ON_ONE_CORE: [&str; 6] = [
    "-j",
    "1",
    "--range-bytes",
    "3000",
    "--index-from-events",
    "1000000",
];

/// Analyzes `path` on one core (the diagnosis following the read), on one
/// core loaded in bulk, and in ranges; asserts the same output and returns
/// how many handovers the trace told.
fn same_on_one_core_and_in_ranges(path: &Path, ranges: &[&str]) -> usize {
    same_output_three_ways(path, ranges).0
}

/// [`same_on_one_core_and_in_ranges`], with the output all three gave.
fn same_output_three_ways(path: &Path, ranges: &[&str]) -> (usize, String) {
    let (one_json, one_counts, one_trace) = analyze(path, &["-j", "1"]);
    assert!(!one_trace.contains("loaded in bulk"), "{}", path.display());
    let (bulk_json, bulk_counts, bulk_trace) = analyze(path, &BULK_ON_ONE_CORE);
    let big = std::fs::metadata(path).expect("size").len() >= 6000;
    assert_eq!(
        bulk_trace.contains("loaded in bulk"),
        big,
        "{}",
        path.display()
    );
    same_output(path, "loaded in bulk on one core", &bulk_json, &one_json);
    assert_eq!(
        bulk_counts,
        one_counts,
        "{}: counts differ in bulk",
        path.display()
    );
    let (json, counts, trace) = analyze(path, ranges);
    same_output(path, "in ranges", &json, &one_json);
    assert_eq!(counts, one_counts, "{}: counts differ", path.display());
    (trace.matches("handed over").count(), json)
}

/// Panics, saying where, when `json` (read `how`) is not `one_json`.
fn same_output(path: &Path, how: &str, json: &str, one_json: &str) {
    if json != one_json {
        let first = json.lines().zip(one_json.lines()).position(|(a, b)| a != b);
        panic!(
            "{}: JSON differs: {} lines {how}, {} on one core, first difference at line {first:?}",
            path.display(),
            json.lines().count(),
            one_json.lines().count()
        );
    }
}

fn sample_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root().join("sample_logs"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .filter(|p| p.extension().is_some_and(|e| e != "md" && e != "json"))
        .collect();
    files.sort();
    files
}

/// Asserts that every evidence line of `json` (an `analyze --json` of
/// `path`) is the log's line of that number, or that line with its secrets
/// redacted: never another line, nor the note that the log changed after
/// it was read. An unchanged line is read back from the log itself.
fn evidence_is_the_logs_own(path: &Path, json: &str) -> usize {
    let log = std::fs::read(path).expect("read log");
    let log = String::from_utf8_lossy(&log);
    let lines: Vec<&str> = log.split('\n').collect();
    let mut unchanged = 0;
    for failure in json.lines() {
        let failure: serde_json::Value = serde_json::from_str(failure).expect("JSON line");
        for e in failure["evidence"].as_array().expect("evidence") {
            let n = e["line"].as_u64().expect("line number") as usize;
            let text = e["text"].as_str().expect("text");
            let line = lines.get(n - 1).copied().unwrap_or_default();
            if text == line {
                unchanged += 1;
            } else {
                assert!(
                    text.contains("[REDACTED "),
                    "{}:{n}: evidence {text:?} is not the line {line:?}",
                    path.display()
                );
            }
        }
    }
    unchanged
}

#[test]
fn every_sample_log_reads_the_same_in_ranges() {
    let mut handovers = 0;
    let mut unchanged = 0;
    for file in sample_files() {
        let (handed_over, json) = same_output_three_ways(&file, &SMALL);
        handovers += handed_over;
        unchanged += evidence_is_the_logs_own(&file, &json);
    }
    // Read back from the logs (Keycloak and Hydra lines, JSON records).
    assert!(unchanged > 100, "only {unchanged} evidence lines unchanged");
    // Keycloak, Hydra, JSON and logfmt samples are cut into ranges.
    assert!(
        handovers > 20,
        "only {handovers} handovers over the samples"
    );
}

/// A generated Rails log, a third of its requests OAuth (many in flight at
/// any line), and the failures it injected.
fn generated(dir: &Path, seed: u64) -> (PathBuf, usize) {
    let opts = GenOptions {
        target_bytes: 600 << 10,
        oauth_share: 0.3,
        seed,
        ..GenOptions::default()
    };
    let mut out = Vec::new();
    let expected = generate(&opts, &mut out).expect("generate");
    let path = dir.join(format!("gen-{seed}.log"));
    std::fs::write(&path, out).expect("write log");
    (path, expected.len())
}

#[test]
fn a_generated_rails_log_reads_the_same_across_range_boundaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    for seed in [3, 11] {
        let (path, injected) = generated(dir.path(), seed);
        let handovers = same_on_one_core_and_in_ranges(&path, &RAILS);
        assert!(handovers >= 7, "seed {seed}: {handovers} handovers");
        let (json, _, _) = analyze(&path, &RAILS);
        assert!(
            json.lines().count() >= injected * 9 / 10,
            "seed {seed}: {} failures for {injected} injected",
            json.lines().count()
        );
    }
}

/// `text` with a slow token request opened every 400 lines and completed
/// (refused) 300 lines later, about 48 KB on: longer than a reader needs
/// to come to rest past its range's start, so some lie on both sides of a
/// handover point, and a reader that handed over with one in flight would
/// lose it.
fn with_slow_requests(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut open: Vec<(usize, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let prefix = line
            .split_once(" : ")
            .map_or("I, [2025-03-11T09:00:00.000000 #9]  INFO --", |p| p.0);
        if i % 400 == 0 {
            let id = format!("5105e000-0000-4000-8000-{i:012}");
            out.push_str(&format!(
                "{prefix} : [{id}] Started POST \"/oauth/token\" for 10.9.9.9 at 2025-03-11 09:00:00 +0000\n\
                 {prefix} : [{id}] Processing by Doorkeeper::TokensController#create as */*\n\
                 {prefix} : [{id}]   Parameters: {{\"grant_type\"=>\"refresh_token\", \"refresh_token\"=>\"[FILTERED]\", \"client_id\"=>\"slow-client-{i}\"}}\n"
            ));
            open.push((i + 300, id));
        }
        if let Some(pos) = open.iter().position(|(at, _)| *at == i) {
            let (_, id) = open.remove(pos);
            out.push_str(&format!(
                "{prefix} : [{id}] Completed 400 Bad Request in 30012ms (Views: 0.2ms | ActiveRecord: 1.1ms)\n"
            ));
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn slow_requests_across_boundaries_are_kept_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = GenOptions {
        target_bytes: 2 << 20,
        oauth_share: 0.3,
        seed: 13,
        ..GenOptions::default()
    };
    let mut text = Vec::new();
    generate(&opts, &mut text).expect("generate");
    let text = String::from_utf8(text).expect("generated text");
    let slow = dir.path().join("slow.log");
    let body = with_slow_requests(&text);
    let refused = body.matches("Completed 400 Bad Request in 30012ms").count();
    std::fs::write(&slow, body).expect("write");
    // Four ranges, a window of 128 KB each.
    let ranges = ["-j", "4", "--range-bytes", "3000", "--chunk-bytes", "8000"];
    let handovers = same_on_one_core_and_in_ranges(&slow, &ranges);
    assert_eq!(handovers, 3, "every boundary handed over");
    let (json, _, _) = analyze(&slow, &ranges);
    let slow_failures = json.lines().filter(|l| l.contains("slow-client-")).count();
    assert_eq!(
        slow_failures, refused,
        "every slow refused request is a failure"
    );
}

#[test]
fn enveloped_logs_read_the_same_in_ranges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = generated(dir.path(), 5);
    let text = std::fs::read_to_string(&path).expect("read log");
    let cri: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            format!(
                "2025-03-11T09:{:02}:{:02}.{:06}000Z stdout F {l}\n",
                i / 60_000 % 60,
                i / 1000 % 60,
                i % 1000
            )
        })
        .collect();
    let docker: String = text
        .lines()
        .map(|l| {
            let log = serde_json::to_string(&format!("{l}\n")).expect("json string");
            format!(r#"{{"log":{log},"stream":"stdout","time":"2025-03-11T09:00:00.000000000Z"}}"#)
                + "\n"
        })
        .collect();
    // Syslog names the host and the program: the lines are an origin's,
    // read apart from the file's plain lines, which refused every
    // handover point until the origins' parsers at rest were enough.
    let syslog: String = text
        .lines()
        .map(|l| format!("Mar 11 09:00:00 web1 rails[4711]: {l}\n"))
        .collect();
    for (name, body) in [
        ("cri.log", cri),
        ("docker.log", docker),
        ("syslog.log", syslog),
    ] {
        let wrapped = dir.path().join(name);
        std::fs::write(&wrapped, body).expect("write wrapped");
        let handovers = same_on_one_core_and_in_ranges(&wrapped, &RAILS);
        assert!(handovers >= 7, "{name}: {handovers} handovers");
    }
}

/// Two hosts, each serving whole requests (by their request id's first
/// byte): a reader hands over only where it holds the same origins as the
/// next one, each at rest, and what it stores is what one core stores.
#[test]
fn a_log_of_two_origins_reads_the_same_in_ranges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = generated(dir.path(), 9);
    let text = std::fs::read_to_string(&path).expect("read log");
    let body: String = text
        .lines()
        .map(|l| {
            let id = l.split_once(" -- : [").and_then(|(_, r)| r.bytes().next());
            let host = id.map_or(0, |b| b % 2);
            format!("Mar 11 09:00:00 web{host} rails[4711]: {l}\n")
        })
        .collect();
    let wrapped = dir.path().join("two-hosts.log");
    std::fs::write(&wrapped, body).expect("write wrapped");
    let handovers = same_on_one_core_and_in_ranges(&wrapped, &TWO_ORIGINS);
    assert_eq!(handovers, 2, "every range handed over");
}

/// A saved `filter-log-events` output of the whole log, one indented
/// document: a range's reader starts inside an event object, reads the tail
/// it meets, and hands over where both readers hold nothing or the same
/// lines of the same object (the export used to be read on one core).
#[test]
fn an_indented_cloudwatch_export_reads_the_same_in_ranges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = generated(dir.path(), 11);
    let text = std::fs::read_to_string(&path).expect("read log");
    let events: Vec<serde_json::Value> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let ms = 1_741_683_600_000_i64 + i as i64;
            serde_json::json!({"logStreamName": "web/1", "timestamp": ms, "message": l,
                               "ingestionTime": ms + 400, "eventId": i.to_string()})
        })
        .collect();
    let document = serde_json::json!({"events": events, "searchedLogStreams": []});
    let export = dir.path().join("export.json");
    let body = serde_json::to_string_pretty(&document).expect("a document") + "\n";
    std::fs::write(&export, body).expect("write export");
    let handovers = same_on_one_core_and_in_ranges(&export, &TWO_ORIGINS);
    assert_eq!(handovers, 2, "every range handed over");
}

/// For two origins of Rails lines: each origin's parser must see 16
/// `Started` lines of its own before it is at rest, so the window must
/// hold twice as many as [`RAILS`]'s.
const TWO_ORIGINS: [&str; 8] = [
    "-j",
    "3",
    "--range-bytes",
    "100000",
    "--chunk-bytes",
    "10000",
    "--diagnose-unit",
    "5",
];

#[test]
fn a_log_never_at_rest_falls_back_to_one_core_with_the_same_output() {
    // A Rails log whose first OAuth request never completes: its reader is
    // never at rest past it, so no handover point exists and the file is
    // read again on one core.
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = generated(dir.path(), 7);
    let text = std::fs::read_to_string(&path).expect("read log");
    let open = "I, [2025-03-11T08:59:59.000000 #7]  INFO -- : [0badc0de-0000-4000-8000-000000000001] \
                Started POST \"/oauth/token\" for 10.0.0.1 at 2025-03-11 08:59:59 +0000\n";
    let stuck = dir.path().join("stuck.log");
    std::fs::write(&stuck, format!("{open}{text}")).expect("write");
    let (one_json, one_counts, _) = analyze(&stuck, &["-j", "1"]);
    let (json, counts, trace) = analyze(&stuck, &RAILS);
    assert_eq!(json, one_json);
    assert_eq!(counts, one_counts);
    assert!(trace.contains("read on one core"), "trace: {trace}");
    // Then loaded as `-j 1` loads a file this large, not read with the
    // diagnosis following (which diagnosed a log of two hosts taking turns
    // otherwise than `-j 1`).
    assert!(
        trace.contains("one range, loaded in bulk"),
        "trace: {trace}"
    );
}

/// The whole sample folder (server and client logs of the same requests,
/// so that failures join events of other files and other units) diagnosed
/// in units of one event on three cores gives one core's output, after the
/// writer dropped diagnoses that an earlier unit's failure had taken.
#[test]
fn the_sample_folder_diagnoses_the_same_on_several_cores() {
    let samples = root().join("sample_logs");
    let (one, _, _) = analyze(&samples, &["-j", "1"]);
    let (many, _, trace) = analyze(&samples, &["-j", "3", "--diagnose-unit", "1"]);
    assert!(one.lines().count() > 20, "{} failures", one.lines().count());
    assert_eq!(many, one, "analyze --json differs on three cores");
    let dropped: usize = trace
        .lines()
        .filter_map(|l| l.strip_prefix("diagnosis: "))
        .filter_map(|l| {
            l.split("; ")
                .nth(1)?
                .split(" ")
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    assert!(dropped > 0, "no prepared diagnosis was dropped: {trace}");
}

/// A gzip log cannot be cut into ranges: one large enough is loaded in
/// bulk, decompressed and parsed on a thread of its own beside the store's
/// writer, and gives what reading it with the diagnosis following does.
/// A folder of logs, loaded in one bulk load, each file parsed beside the
/// writer while the one before it is stored, gives what one core gives
/// (`-j 1`: parsed and stored in turn on one thread), with a hard link to
/// one of its files (the same file: not parsed ahead, its turn finds it
/// read) and two gzip files in a row.
#[test]
fn a_gzip_log_and_a_folder_parsed_beside_the_writer_read_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plain, injected) = generated(dir.path(), 5);
    let logs = tempfile::tempdir().expect("tempdir");
    let gz = logs.path().join("production.log.1.gz");
    gzip_file(&plain, &gz);
    let (followed, followed_counts, followed_trace) = analyze(&gz, &["-j", "2"]);
    assert!(
        !followed_trace.contains("loaded in bulk"),
        "{followed_trace}"
    );
    let (json, counts, trace) = analyze(&gz, &["-j", "2", "--range-bytes", "3000"]);
    assert!(trace.contains("loaded in bulk"), "{trace}");
    same_output(&gz, "parsed beside the writer", &json, &followed);
    assert_eq!(counts, followed_counts);
    assert!(json.lines().count() >= injected * 9 / 10);
    // Other days' logs beside it: a folder.
    let (other, _) = generated(dir.path(), 6);
    std::fs::copy(&other, logs.path().join("production.log")).expect("copy");
    let (third, _) = generated(dir.path(), 8);
    gzip_file(&third, &logs.path().join("production.log.2.gz"));
    std::fs::hard_link(
        logs.path().join("production.log"),
        logs.path().join("production.log.linked"),
    )
    .expect("hard link");
    let (folder, folder_counts, folder_trace) = analyze(logs.path(), &["-j", "2"]);
    assert_eq!(
        folder_trace.matches("loaded in bulk").count(),
        4,
        "{folder_trace}"
    );
    let (one, one_counts, _) = analyze(logs.path(), &["-j", "1"]);
    same_output(logs.path(), "parsed ahead", &folder, &one);
    assert_eq!(folder_counts, one_counts);
    let db = dir.path().join("kept.db");
    let db_arg = db.to_string_lossy().into_owned();
    // (The helper's second run, for the counts, finds the kept database's
    // files read already.)
    let (kept, _, _) = analyze(logs.path(), &["--db", &db_arg]);
    same_output(logs.path(), "into a new database", &folder, &kept);
    // The gzip files count their decompressed bytes; the hard link is the
    // file read before it, read to its end already.
    let bytes: u64 = [&plain, &other, &third]
        .iter()
        .map(|p| std::fs::metadata(p).expect("size").len())
        .sum();
    let read = format!("Read 4 files ({bytes} bytes");
    assert!(folder_counts.starts_with(&read), "{folder_counts}");
}

/// `analyze --db` into a new file loads it as a scratch database is (in
/// ranges, its indexes built once afterwards) and prints what one core
/// prints; a second run into the same file reads on one core, stores no
/// event twice and prints the same.
#[test]
fn a_new_database_is_loaded_in_ranges_and_a_second_run_stores_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = generated(dir.path(), 7);
    let (one_json, _, _) = analyze(&path, &["-j", "1"]);
    let db = dir.path().join("kept.db");
    let db_arg = db.to_string_lossy().into_owned();
    let args: Vec<&str> = ["--db", db_arg.as_str()].into_iter().chain(RAILS).collect();
    let events = || -> i64 {
        read_sql(&db)
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .expect("count")
    };
    // (The helper runs twice, the second time for the counts: into the
    // database the first filled.)
    let (json, _, trace) = analyze(&path, &args);
    assert!(trace.contains("handed over"), "not read in ranges: {trace}");
    same_output(&path, "into a new --db", &json, &one_json);
    let stored = events();
    let (json, _, trace) = analyze(&path, &args);
    assert!(
        !trace.contains("handed over"),
        "read in ranges again: {trace}"
    );
    same_output(&path, "into the same --db again", &json, &one_json);
    assert_eq!(events(), stored);
}

/// `analyze --db` killed in the middle of loading a new database in bulk
/// (its first file stored, its indexes dropped, the second file a pipe
/// with nothing written yet): the next run builds the indexes again,
/// stores what was not stored, and prints what a run from nothing prints.
#[test]
fn a_bulk_load_killed_midway_is_mended_and_finished_by_the_next_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = generated(dir.path(), 13);
    let (one_json, _, _) = analyze(&path, &["-j", "1"]);
    let fifo = dir.path().join("still-writing.log");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let db = dir.path().join("kept.db");
    let mut child = grantwatch()
        .args(["analyze", "--json", "--db"])
        .arg(&db)
        .args(RAILS)
        .arg(&path)
        .arg(&fifo)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Opening the pipe's writing end waits for analyze to open it (first
    // when it checks its paths); held open, its reads wait for lines.
    let _writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open the pipe");
    let fd_dir = PathBuf::from(format!("/proc/{}/fd", child.id()));
    let reading_pipe = || {
        std::fs::read_dir(&fd_dir).is_ok_and(|fds| {
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|to| to == fifo))
        })
    };
    let journal = db.with_extension("db-journal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !(journal.exists() && reading_pipe()) {
        assert!(
            std::time::Instant::now() < deadline,
            "analyze never reached the pipe"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    let fresh_dir = tempfile::tempdir().expect("tempdir");
    let fresh = fresh_dir.path().join("fresh.db");
    drop(grantwatch::store::Store::open(&fresh).expect("fresh"));
    let left = event_indexes(&db);
    assert!(
        left.len() < event_indexes(&fresh).len(),
        "killed before its indexes were dropped: {left:?}"
    );
    let out = grantwatch()
        .args(["analyze", "--json", "--db"])
        .arg(&db)
        .arg(&path)
        .output()
        .expect("run grantwatch");
    assert!(out.status.success(), "analyze failed: {}", stderr(&out));
    same_output(
        &path,
        "after a killed load",
        &String::from_utf8_lossy(&out.stdout),
        &one_json,
    );
    assert_eq!(event_indexes(&db), event_indexes(&fresh));
}
