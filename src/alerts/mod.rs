//! Alerts of `watch`: rules from the config file's `[alerting]` table,
//! evaluated every `interval_ms` over the database (read-only), delivered
//! to Alertmanager (`POST /api/v2/alerts`) and to a generic JSON webhook
//! ([`deliver`]).
//!
//! Rules (`[[alerting.rule]]`), each firing per incident (labels `alertname`,
//! `cause`, `server`, `client`, `incident`, plus the rule's `severity`):
//! - `threshold`: at least `threshold` failures in the last `window_s`;
//! - `new`: an incident first seen in the last `window_s`;
//! - `spike`: at least `threshold` failures in the last `window_s` and
//!   `factor` times its own rate over the day before;
//! - `regression`: an incident that came back after 30 quiet minutes within
//!   the last `window_s`.
//!
//! `cause` narrows a rule to one cause. Times are the failures' log times
//! against the wall clock: alerts are about what happens now.

pub mod deliver;
mod url;

use serde::Deserialize;

use crate::cause::Cause;
use crate::store::Store;
use crate::store::alert_counts::IncidentCount;
use crate::store::labels::server_label;

/// The `[alerting]` table.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// Alertmanager's base URL (`http://127.0.0.1:9093`).
    pub alertmanager: Option<String>,
    /// A URL that gets a JSON POST per alert that fires or resolves.
    pub webhook: Option<String>,
    /// How often the rules are evaluated (ms; default 15,000).
    pub interval_ms: Option<u64>,
    /// Webhook posts per minute at most (default 20); the rest wait.
    pub max_per_minute: Option<u32>,
    /// The rules.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

/// What a rule looks for.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Failures over a threshold in a window.
    Threshold,
    /// An incident first seen in the window.
    New,
    /// Failures in the window against the day before.
    Spike,
    /// An incident back after a quiet spell, in the window.
    Regression,
}

/// One `[[alerting.rule]]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The alert's name (`alertname`).
    pub name: String,
    /// What it looks for.
    pub kind: Kind,
    /// Only this cause (an unknown name is an error when the config file is
    /// read, naming the key).
    pub cause: Option<Cause>,
    /// Failures in the window (threshold, spike; default 1).
    pub threshold: Option<u64>,
    /// The window (seconds; default 300).
    pub window_s: Option<u64>,
    /// How many times the baseline rate a spike is (default 3).
    pub factor: Option<f64>,
    /// The `severity` label (default `warning`).
    pub severity: Option<String>,
}

/// An alert that fires now.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Firing {
    /// Its labels, sorted; they are its identity.
    pub labels: Vec<(String, String)>,
    /// One line a person reads.
    pub summary: String,
}

/// A rule's window in ms.
fn window_ms(rule: &Rule) -> i64 {
    rule.window_s.unwrap_or(300).max(1) as i64 * 1000
}

/// The alerts `rules` fire at `now` (ms), sorted.
pub fn evaluate(store: &Store, rules: &[Rule], now: i64) -> crate::store::Result<Vec<Firing>> {
    let mut out = Vec::new();
    for rule in rules {
        let window = window_ms(rule);
        let since = now - window;
        let threshold = rule.threshold.unwrap_or(1).max(1);
        let cause = rule.cause;
        let found: Vec<IncidentCount> = match rule.kind {
            Kind::Threshold => store
                .incident_failures_between(since, now, cause)?
                .into_iter()
                .filter(|h| h.count >= threshold)
                .collect(),
            Kind::Spike => {
                let day_before =
                    store.incident_failures_between(since - 86_400_000, since - 1, cause)?;
                let factor = rule.factor.unwrap_or(3.0);
                store
                    .incident_failures_between(since, now, cause)?
                    .into_iter()
                    .filter(|h| {
                        let before = day_before
                            .iter()
                            .find(|b| b.incident == h.incident)
                            .map_or(0, |b| b.count);
                        // Its usual count in one window of the day before.
                        let usual = before as f64 * window as f64 / 86_400_000.0;
                        h.count >= threshold && h.count as f64 >= factor * usual.max(1.0 / factor)
                    })
                    .collect()
            }
            Kind::New => store.incidents_first_seen_between(since, now, cause)?,
            Kind::Regression => store.incidents_regressed_between(
                since,
                now,
                now - crate::incidents::QUIET_MS,
                cause,
            )?,
        };
        for h in found {
            let server = server_label(h.server);
            let client = if h.client.is_empty() {
                "unknown client".to_owned()
            } else {
                h.client.clone()
            };
            let summary = match rule.kind {
                Kind::Threshold | Kind::Spike => format!(
                    "{}: {} {} failures from {client} on {} in the last {} s",
                    rule.name,
                    h.count,
                    h.cause,
                    server,
                    window / 1000
                ),
                Kind::New => format!(
                    "{}: new {} failures from {client} on {server}",
                    rule.name, h.cause
                ),
                Kind::Regression => format!(
                    "{}: {} failures from {client} on {server} are back",
                    rule.name, h.cause
                ),
            };
            let mut labels = vec![
                ("alertname".to_owned(), rule.name.clone()),
                ("cause".to_owned(), h.cause.as_str().to_owned()),
                ("client".to_owned(), h.client),
                ("incident".to_owned(), h.incident.to_string()),
                ("server".to_owned(), server.to_owned()),
                (
                    "severity".to_owned(),
                    rule.severity.clone().unwrap_or_else(|| "warning".into()),
                ),
            ];
            labels.sort();
            out.push(Firing { labels, summary });
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.labels == b.labels);
    Ok(out)
}

/// Checks the `[alerting]` table: URLs plain `http://`, rules named.
pub fn check(config: &AlertConfig) -> Result<(), String> {
    for url in config.alertmanager.iter().chain(&config.webhook) {
        url::Url::parse(url)?;
    }
    for rule in &config.rules {
        if rule.name.trim().is_empty() {
            return Err("[[alerting.rule]]: name is empty".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_is_checked() {
        let config: AlertConfig = toml::from_str(
            r#"
            alertmanager = "http://127.0.0.1:9093"
            webhook = "http://127.0.0.1:9000/hook"
            [[rule]]
            name = "ReusedCodes"
            kind = "threshold"
            cause = "code_reused"
            threshold = 3
            window_s = 60
            "#,
        )
        .expect("parse");
        assert_eq!(config.rules[0].kind, Kind::Threshold);
        assert_eq!(check(&config), Ok(()));
        let mut tls = config;
        tls.webhook = Some("https://hooks.example.com/x".into());
        assert!(check(&tls).is_err_and(|e| e.contains("http://")));
    }
}
