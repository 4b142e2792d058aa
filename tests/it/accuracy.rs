//! The accuracy test: a generated log with known causes, analyzed, scored
//! with precision and recall per cause.

use std::collections::{BTreeMap, HashMap};

use grantwatch::generate::{GenOptions, INJECTED, generate};

use crate::helpers::analyze_json;

#[test]
fn precision_and_recall_per_cause_on_a_generated_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("production.log");
    let opts = GenOptions {
        target_bytes: 3 * 1024 * 1024,
        oauth_share: 0.15,
        failure_share: 0.4,
        seed: 7,
        ..GenOptions::default()
    };
    let mut file = std::fs::File::create(&path).expect("create");
    let expected = generate(&opts, &mut file).expect("generate");
    drop(file);
    assert!(
        expected.len() >= 100,
        "only {} injected failures",
        expected.len()
    );

    let truth: HashMap<&str, &str> = expected
        .iter()
        .map(|e| (e.request_id.as_str(), e.cause))
        .collect();
    let found = analyze_json(&[&path]);
    // (true positives, false positives, false negatives) per cause.
    let mut score: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
    let mut seen = 0;
    for f in &found {
        let cause = f["cause"].as_str().expect("cause");
        let rid = f["request_id"].as_str().unwrap_or("");
        let Some(&want) = truth.get(rid) else {
            score.entry(leak(cause)).or_default().1 += 1;
            continue;
        };
        seen += 1;
        if cause == want {
            score.entry(want).or_default().0 += 1;
        } else {
            score.entry(leak(cause)).or_default().1 += 1;
            score.entry(want).or_default().2 += 1;
        }
    }
    for e in &expected {
        if !found
            .iter()
            .any(|f| f["request_id"] == e.request_id.as_str())
        {
            score.entry(e.cause).or_default().2 += 1;
        }
    }
    println!("cause                               precision  recall   (tp fp fn)");
    for (cause, (tp, fp, fneg)) in &score {
        let p = f64::from(*tp) / f64::from((tp + fp).max(1));
        let r = f64::from(*tp) / f64::from((tp + fneg).max(1));
        println!("{cause:<36} {p:>9.3} {r:>7.3}   ({tp} {fp} {fneg})");
        assert!(
            p >= 0.95 && r >= 0.95,
            "{cause}: precision {p:.3}, recall {r:.3}"
        );
    }
    assert_eq!(seen, expected.len(), "every injected failure is found once");
    for cause in INJECTED {
        assert!(score.contains_key(cause), "{cause} was never injected");
    }
}

fn leak(s: &str) -> &'static str {
    INJECTED
        .iter()
        .find(|c| **c == s)
        .copied()
        .unwrap_or("other")
}
