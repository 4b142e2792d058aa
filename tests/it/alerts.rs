//! `docs/alerts.yml` checked by Prometheus's own tools: `promtool check
//! rules`, and `promtool test rules` over series scraped from a real
//! `watch` (in process) through five phases of 20 minutes each:
//!
//! 1. a token request alone (diagnosed `unknown`),
//! 2. its authorize request arrives late: re-diagnosed `redirect_uri_mismatch`,
//! 3. retention prunes every failure,
//! 4. one new failure (a new kind: `GrantwatchNewFailureKind` fires),
//! 5. five more of that kind (`GrantwatchFailureBurst` fires).
//!
//! No rule fires in phases 2 and 3: nothing new failed. Needs Debian's
//! `prometheus` package (promtool); `.ci/run` installs it, and on a machine
//! without it the test says so and passes (not in CI, `CI` set).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::{get, root};
use crate::incidents::{SENT, flow, whole};
use grantwatch::store::Store;
use grantwatch::watch::{SourceSpec, WatchOptions, Watcher};
use grantwatch::web::{AppState, router};

/// Samples per phase (one a minute).
const PHASE: usize = 20;
/// The families the series are taken from.
const FAMILIES: [&str; 2] = [
    "grantwatch_failures_diagnosed_total",
    "grantwatch_failures_stored",
];

fn promtool() -> Option<&'static str> {
    Command::new("promtool")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "promtool")
}

/// The samples of [`FAMILIES`] in a `/metrics` answer: series → value.
async fn scrape(db: &Path) -> BTreeMap<String, f64> {
    let text = get(router(AppState::new(db)), "/metrics").await.text();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| FAMILIES.iter().any(|f| l.starts_with(&format!("{f}{{"))))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

fn settle(w: &mut Watcher) {
    for later in [0, 2, 4] {
        w.round(Instant::now() + Duration::from_secs(later))
            .expect("round");
    }
}

#[tokio::test]
async fn no_alert_fires_without_a_new_failure() {
    let Some(promtool) = promtool() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have promtool (.ci/run installs prometheus)"
        );
        eprintln!("promtool not found (Debian package prometheus): alert rules not tested");
        return;
    };
    let rules = root().join("docs/alerts.yml");
    let check = Command::new(promtool)
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
        .expect("run promtool");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let db = dir.path().join("g.db");
    let (authorize, token) = flow(1, "11:05", SENT);
    std::fs::write(logs.join("token.log"), token).expect("write");
    let mut watcher = Watcher::open(WatchOptions {
        sources: vec![SourceSpec {
            paths: vec![logs.clone()],
            format: None,
            context: grantwatch_parsers::Context::default(),
        }],
        db: db.clone(),
        settings: grantwatch::config::DiagnoseSettings::default(),
        poll_interval: Duration::from_millis(50),
        notify: false,
        retain: None,
        bulk_catch_up_bytes: grantwatch::watch::BULK_CATCH_UP_BYTES,
        poll_read_bytes: grantwatch::tail::TailConfig::default().poll_read_bytes,
    })
    .expect("watch");
    let mut phases = Vec::new();
    settle(&mut watcher);
    phases.push(scrape(&db).await);
    std::fs::write(logs.join("authorize.log"), authorize).expect("write");
    settle(&mut watcher);
    phases.push(scrape(&db).await);
    let pruned = Store::open(&db)
        .expect("open")
        .prune_before(i64::MAX)
        .expect("prune");
    assert!(pruned > 0);
    phases.push(scrape(&db).await);
    let other = "com.acme.fieldapp:/callback";
    std::fs::write(logs.join("d.log"), whole(&[(2, "11:20", other)])).expect("write");
    settle(&mut watcher);
    phases.push(scrape(&db).await);
    let five: Vec<(usize, String)> = (3..8).map(|n| (n, format!("11:{}", 20 + n))).collect();
    let five: Vec<(usize, &str, &str)> =
        five.iter().map(|(n, t)| (*n, t.as_str(), other)).collect();
    std::fs::write(logs.join("e.log"), whole(&five)).expect("write");
    settle(&mut watcher);
    phases.push(scrape(&db).await);

    // What the phases must show for the test to mean anything: the
    // re-diagnosis and the prune moved the stored gauge, not the counter.
    let diagnosed = |p: &BTreeMap<String, f64>| -> f64 {
        p.iter()
            .filter(|(k, _)| k.starts_with("grantwatch_failures_diagnosed_total"))
            .map(|(_, v)| v)
            .sum()
    };
    let stored = |p: &BTreeMap<String, f64>, cause: &str| -> f64 {
        p.iter()
            .filter(|(k, _)| {
                k.starts_with("grantwatch_failures_stored")
                    && k.contains(&format!("cause=\"{cause}\""))
            })
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(stored(&phases[0], "unknown"), 1.0);
    assert_eq!(stored(&phases[1], "unknown"), 0.0);
    assert_eq!(stored(&phases[1], "redirect_uri_mismatch"), 1.0);
    assert_eq!(stored(&phases[2], "redirect_uri_mismatch"), 0.0);
    let counts: Vec<f64> = phases.iter().map(diagnosed).collect();
    assert_eq!(counts, [1.0, 1.0, 1.0, 2.0, 7.0]);

    // One input series per series seen in any phase, `_` where absent.
    let mut names: Vec<&String> = phases.iter().flat_map(|p| p.keys()).collect();
    names.sort();
    names.dedup();
    let mut input = String::new();
    for name in &names {
        let values: Vec<String> = phases
            .iter()
            .flat_map(|p| {
                let v = p.get(*name).map_or("_".to_owned(), |v| v.to_string());
                std::iter::repeat_n(v, PHASE)
            })
            .collect();
        input += &format!(
            "      - series: '{}'\n        values: '{}'\n",
            name.replace('\'', "''"),
            values.join(" ")
        );
    }
    let new_kind = names
        .iter()
        .find(|n| {
            n.starts_with("grantwatch_failures_diagnosed_total")
                && n.contains("redirect_uri_mismatch")
        })
        .expect("the new kind's series");
    let labels = &new_kind[new_kind.find('{').expect("labels") + 1..new_kind.len() - 1];
    let label = |key: &str| -> String {
        let start = labels.find(&format!("{key}=\"")).expect("label") + key.len() + 2;
        labels[start..].split('"').next().unwrap_or("").to_owned()
    };
    let (cause, server, client) = (label("cause"), label("server"), label("client"));
    let expected = |severity: &str, summary: &str, description: &str| {
        format!(
            "          - exp_labels: {{severity: {severity}, cause: {cause}, server: {server}, client: {client}}}\n            exp_annotations:\n              summary: '{summary}'\n              description: '{description}'\n",
        )
    };
    let burst = expected(
        "page",
        &format!("{cause} failures from client {client} on {server}"),
        &format!(
            "At least 5 failed token requests of one cause in 10 minutes; see /incidents?cause={cause}"
        ),
    );
    let new = expected(
        "ticket",
        &format!("new: {cause} failures from client {client} on {server}"),
        &format!(
            "A kind of failed token request not seen in the 30 minutes before; see /incidents?cause={cause}"
        ),
    );
    let none = |t: usize, alert: &str| {
        format!("      - eval_time: {t}m\n        alertname: {alert}\n        exp_alerts: []\n")
    };
    let some = |t: usize, alert: &str, body: &str| {
        format!("      - eval_time: {t}m\n        alertname: {alert}\n        exp_alerts:\n{body}")
    };
    let mut cases = String::new();
    // After the re-diagnosis (phase 2) and the prune (phase 3): nothing.
    for t in [35, 39, 45, 55, 59] {
        cases += &none(t, "GrantwatchFailureBurst");
        cases += &none(t, "GrantwatchNewFailureKind");
    }
    // One new failure of a new kind: new, no burst.
    cases += &some(65, "GrantwatchNewFailureKind", &new);
    cases += &none(65, "GrantwatchFailureBurst");
    // Five more within 10 minutes: a burst.
    cases += &some(81, "GrantwatchFailureBurst", &burst);
    // Thirty minutes on, the kind is no longer new.
    cases += &none(95, "GrantwatchNewFailureKind");
    let test = format!(
        "rule_files:\n  - {}\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    alert_rule_test:\n{cases}",
        rules.display()
    );
    let file = dir.path().join("alerts_test.yml");
    std::fs::write(&file, &test).expect("write");
    let out = Command::new(promtool)
        .arg("test")
        .arg("rules")
        .arg(&file)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool test rules failed:\n{}\n{}\n{test}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
