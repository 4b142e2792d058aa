//! The corpus test: real cases from public issue threads
//! (`tests/corpus/cases.json`: `id`, `file`, `reference`, the `cause` the
//! thread settled and any equally right `accept`ed alternative), each file
//! analyzed on its own the way `grantwatch analyze --json FILE` does, and
//! scored the way a person reads the output: the most frequent cause among
//! the failures reported for the file (ties going to the one reported
//! first). Every miss is printed with its source.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::helpers::{analyze_json, root};

/// One case of the index.
struct Case {
    id: String,
    file: String,
    reference: String,
    cause: String,
    accept: Vec<String>,
}

/// What the analysis of one case's file gave.
struct Outcome {
    case: Case,
    /// The cause a person would read off the output (`none` when no failure).
    got: String,
    /// The confidences of the failures with that cause.
    confidences: Vec<String>,
    /// How many failures per cause.
    counts: BTreeMap<String, usize>,
}

impl Outcome {
    fn right(&self) -> bool {
        self.got == self.case.cause || self.case.accept.contains(&self.got)
    }

    fn high(&self) -> bool {
        self.confidences.iter().any(|c| c == "high")
    }
}

fn cases() -> Vec<Case> {
    let path = root().join("tests/corpus/cases.json");
    let text = std::fs::read_to_string(&path).expect("read tests/corpus/cases.json");
    let entries: Vec<Value> = serde_json::from_str(&text).expect("cases.json is a JSON array");
    entries
        .iter()
        .map(|e| Case {
            id: e["id"].as_str().expect("id").to_owned(),
            file: e["file"].as_str().expect("file").to_owned(),
            reference: e["reference"].as_str().expect("reference").to_owned(),
            cause: e["cause"].as_str().expect("cause").to_owned(),
            accept: e["accept"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
        })
        .collect()
}

/// The cause most failures name, the first named on a tie.
fn most_frequent(found: &[Value]) -> Option<String> {
    let mut order: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for f in found {
        let cause = f["cause"].as_str().unwrap_or("?").to_owned();
        if !order.contains(&cause) {
            order.push(cause.clone());
        }
        *counts.entry(cause).or_default() += 1;
    }
    let best = counts.values().copied().max()?;
    order.into_iter().find(|c| counts[c] == best)
}

/// Every case analyzed, once for all the tests of this file.
fn outcomes() -> &'static [Outcome] {
    static OUTCOMES: OnceLock<Vec<Outcome>> = OnceLock::new();
    OUTCOMES.get_or_init(|| {
        let dir = root().join("tests/corpus");
        cases()
            .into_iter()
            .map(|case| {
                let path = dir.join(&case.file);
                assert!(path.is_file(), "{}: missing file {}", case.id, case.file);
                let found = analyze_json(&[&path]);
                let got = most_frequent(&found).unwrap_or_else(|| "none".into());
                let mut counts: BTreeMap<String, usize> = BTreeMap::new();
                for f in &found {
                    *counts
                        .entry(f["cause"].as_str().unwrap_or("?").to_owned())
                        .or_default() += 1;
                }
                let confidences = found
                    .iter()
                    .filter(|f| f["cause"].as_str() == Some(got.as_str()))
                    .filter_map(|f| f["confidence"].as_str().map(str::to_owned))
                    .collect();
                Outcome {
                    case,
                    got,
                    confidences,
                    counts,
                }
            })
            .collect()
    })
}

/// Prints every miss and returns (right, total).
fn report(outcomes: &[Outcome]) -> (usize, usize) {
    let right = outcomes.iter().filter(|o| o.right()).count();
    for o in outcomes.iter().filter(|o| !o.right()) {
        println!(
            "MISS {}: wanted {}, got {} ({}) {:?} - {}",
            o.case.id,
            o.case.cause,
            o.got,
            o.confidences.join(", "),
            o.counts,
            o.case.reference
        );
    }
    println!("corpus: {right}/{} right", outcomes.len());
    (right, outcomes.len())
}

#[test]
fn the_corpus_index_is_well_formed() {
    let all = cases();
    assert!(all.len() >= 80, "only {} cases", all.len());
    for c in &all {
        assert!(
            c.reference.starts_with("https://"),
            "{}: reference {}",
            c.id,
            c.reference
        );
        for cause in std::iter::once(&c.cause).chain(&c.accept) {
            assert!(
                grantwatch::diagnose::cause::Cause::from_id(cause).is_some(),
                "{}: unknown cause {cause}",
                c.id
            );
        }
    }
}

#[test]
fn no_corpus_case_gets_a_wrong_answer_with_high_confidence() {
    let outcomes = outcomes();
    report(outcomes);
    let wrong_high: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.right() && o.high())
        .map(|o| format!("{} (wanted {}, got {})", o.case.id, o.case.cause, o.got))
        .collect();
    assert!(
        wrong_high.is_empty(),
        "wrong answers with high confidence: {wrong_high:?}"
    );
}

#[test]
fn at_least_nine_corpus_cases_in_ten_get_the_settled_cause() {
    let (right, total) = report(outcomes());
    assert!(
        right * 10 >= total * 9,
        "{right}/{total} right, below 90% (the misses are printed above)"
    );
}
