//! `watch --replay-now` (issue 13, "First run"): a short replay of sample
//! logs, compressed, into a running `watch` gives the causes `analyze`
//! gives over the same logs, with failure times in the last minutes and
//! none in the future.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::helpers::{analyze_json, root};
use crate::watch::{get, spawn};

/// Scenario folders (a client's log and its server's each) whose
/// timelines are short: replayed 200 times faster, in a few seconds.
const FOLDERS: [&str; 4] = [
    "sample_logs/scenarios/redirect_uri_mismatch",
    "sample_logs/scenarios/pkce_missing",
    "sample_logs/scenarios/clock_skew",
    "sample_logs/scenarios/malformed_grant",
];

fn causes<'a>(failures: impl Iterator<Item = &'a serde_json::Value>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for f in failures {
        let cause = f["cause"].as_str().expect("a cause").to_owned();
        *out.entry(cause).or_insert(0) += 1;
    }
    out
}

#[test]
fn a_compressed_replay_gives_the_causes_of_analyze_with_present_times() {
    let paths: Vec<_> = FOLDERS.iter().map(|f| root().join(f)).collect();
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let expected = causes(analyze_json(&refs).iter());
    let total: usize = expected.values().sum();
    assert!(total >= 4, "the folders hold failures: {expected:?}");

    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("g.db");
    let mut args: Vec<std::ffi::OsString> = vec![
        "--db".into(),
        db.clone().into(),
        "--replay-now".into(),
        "--replay-speed".into(),
        "200".into(),
    ];
    args.extend(paths.iter().map(Into::into));
    let started = chrono::Utc::now();
    let daemon = spawn(&args);
    let deadline = Instant::now() + Duration::from_secs(90);
    let failures = loop {
        let (status, body) = get(&daemon.addr, "/api/failures?limit=1000");
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("json");
        let list = json["failures"].as_array().cloned().unwrap_or_default();
        if causes(list.iter()) == expected {
            break list;
        }
        assert!(
            Instant::now() < deadline,
            "replayed: {:?}, analyze: {expected:?}",
            causes(list.iter())
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let now = chrono::Utc::now();
    for f in &failures {
        let ts = f["ts"].as_str().expect("a time");
        let at = chrono::DateTime::parse_from_rfc3339(ts).expect("rfc 3339");
        assert!(
            at <= now + chrono::TimeDelta::seconds(1),
            "{ts} is in the future"
        );
        assert!(
            at >= started - chrono::TimeDelta::minutes(30),
            "{ts}: not within the last minutes (replay started {started})"
        );
    }
}
