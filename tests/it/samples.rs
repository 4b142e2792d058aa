//! The sample-log test: `analyze` over all of `sample_logs/` must give every
//! failure listed in `sample_logs/expected.json` exactly its expected cause.
//!
//! An expected entry names a line (`file`, `line`) of the failure's evidence
//! (the server's failing line, or the client's error line when no server log
//! saw the request); the failure whose evidence holds that line is the one
//! checked. Every mismatch is reported at once.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::helpers::{analyze_json, root};

/// One entry of `sample_logs/expected.json`.
struct Expected {
    file: String,
    line: u64,
    cause: String,
}

fn expected() -> Vec<Expected> {
    let path = root().join("sample_logs/expected.json");
    let text = std::fs::read_to_string(&path).expect("read sample_logs/expected.json");
    let entries: Vec<Value> = serde_json::from_str(&text).expect("expected.json is a JSON array");
    entries
        .iter()
        .map(|e| Expected {
            file: e["file"].as_str().expect("file").to_owned(),
            line: e["line"].as_u64().expect("line"),
            cause: e["cause"].as_str().expect("cause").to_owned(),
        })
        .collect()
}

/// An evidence file as a path relative to the repository root
/// (`sample_logs/...`), whatever form `analyze` printed it in.
fn relative(file: &str, root: &Path) -> String {
    let p = Path::new(file);
    let rel = p.strip_prefix(root).unwrap_or(p);
    rel.to_string_lossy().replace('\\', "/")
}

#[test]
fn every_sample_failure_gets_its_expected_cause() {
    let root = root();
    let expected = expected();
    assert!(!expected.is_empty(), "expected.json lists no failure");
    for e in &expected {
        assert!(
            root.join(&e.file).is_file(),
            "expected.json names a missing file: {}",
            e.file
        );
    }

    let found = analyze_json(&[&root.join("sample_logs")]);
    // (file, line) -> indexes of the failures whose evidence holds it.
    let mut by_line: BTreeMap<(String, u64), Vec<usize>> = BTreeMap::new();
    for (i, f) in found.iter().enumerate() {
        for ev in f["evidence"].as_array().into_iter().flatten() {
            let (Some(file), Some(line)) = (ev["file"].as_str(), ev["line"].as_u64()) else {
                continue;
            };
            let hits = by_line.entry((relative(file, &root), line)).or_default();
            if hits.last() != Some(&i) {
                hits.push(i);
            }
        }
    }

    let describe = |f: &Value| {
        format!(
            "{} ({}, {})",
            f["cause"].as_str().unwrap_or("?"),
            f["confidence"].as_str().unwrap_or("?"),
            f["summary"].as_str().unwrap_or("")
        )
    };
    let mut problems = Vec::new();
    let mut matched = vec![false; found.len()];
    for e in &expected {
        let hits = by_line
            .get(&(e.file.clone(), e.line))
            .map(Vec::as_slice)
            .unwrap_or_default();
        for &i in hits {
            matched[i] = true;
        }
        match hits {
            [] => problems.push(format!(
                "{}:{} expected {} got no failure with this line in its evidence",
                e.file, e.line, e.cause
            )),
            [i] => {
                let f = &found[*i];
                if f["cause"].as_str() != Some(e.cause.as_str()) {
                    problems.push(format!(
                        "{}:{} expected {} got {}",
                        e.file,
                        e.line,
                        e.cause,
                        describe(f)
                    ));
                }
            }
            many => problems.push(format!(
                "{}:{} expected {} but {} failures hold this line: {}",
                e.file,
                e.line,
                e.cause,
                many.len(),
                many.iter()
                    .map(|&i| describe(&found[i]))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        }
    }

    let unlisted: Vec<&Value> = found
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(f, _)| f)
        .collect();
    println!(
        "{} expected failures, {} failures found, {} found but not in expected.json",
        expected.len(),
        found.len(),
        unlisted.len()
    );
    for f in &unlisted {
        let first = f["evidence"]
            .as_array()
            .and_then(|ev| ev.first())
            .map(|ev| {
                format!(
                    "{}:{}",
                    relative(ev["file"].as_str().unwrap_or("?"), &root),
                    ev["line"]
                )
            })
            .unwrap_or_default();
        println!("  unlisted: {first} {}", describe(f));
    }

    assert!(
        problems.is_empty(),
        "{} of {} expected failures are wrong:\n{}",
        problems.len(),
        expected.len(),
        problems.join("\n")
    );
}

#[test]
fn every_cause_has_a_scenario_and_an_expected_failure() {
    let root = root();
    let expected = expected();
    let mut problems = Vec::new();
    for cause in grantwatch::diagnose::cause::ALL_CAUSES {
        if cause == grantwatch::diagnose::cause::Cause::Unknown {
            continue;
        }
        let dir = format!("sample_logs/scenarios/{cause}");
        let logs = std::fs::read_dir(root.join(&dir))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_name() != "README.md")
                    .count()
            })
            .unwrap_or(0);
        if logs == 0 || !root.join(&dir).join("README.md").is_file() {
            problems.push(format!("{dir}: no README.md and log"));
        }
        let listed = expected
            .iter()
            .any(|e| e.file.starts_with(&format!("{dir}/")) && e.cause == cause.as_str());
        if !listed {
            problems.push(format!("{dir}: no expected.json entry with cause {cause}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
