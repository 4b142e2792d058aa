//! `GET /metrics`: Prometheus text exposition format 0.0.4.
//!
//! - `grantwatch_failures_total{cause,server,client}`: failures in the
//!   database (a counter: failures are never deleted).
//! - `grantwatch_lines_read_total{source,format}` and
//!   `grantwatch_lines_unparsed_total{source}`: lines read from each source,
//!   and those no parser knew.
//! - `grantwatch_ingest_lag_seconds{source}`: time since each source's last
//!   committed batch.
//!
//! Label values are log text (client ids, paths) and are escaped as the
//! format asks: backslash, double quote and line feed.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, WebError};
use crate::store::stats::{FailureCount, SourceStats};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, WebError> {
    let (failures, sources) = state
        .read(|store| Ok((store.failure_counts()?, store.source_stats()?)))
        .await?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut body = render(&failures, &sources, now_ms);
    if let Some(health) = &state.health {
        body += &health.snapshot().metrics();
    }
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body,
    )
        .into_response())
}

/// The exposition text of the failure counts and the sources, with the lag
/// measured at `now_ms`.
pub fn render(failures: &[FailureCount], sources: &[SourceStats], now_ms: i64) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "grantwatch_failures_total",
        "counter",
        "Failed token requests, by root cause, authorization server kind and client id.",
    );
    for f in failures {
        sample(
            &mut out,
            "grantwatch_failures_total",
            &[
                ("cause", &f.cause),
                ("server", &f.server),
                ("client", &f.client),
            ],
            &f.count.to_string(),
        );
    }
    family(
        &mut out,
        "grantwatch_lines_read_total",
        "counter",
        "Lines read from a source file (parsed, skipped or unknown).",
    );
    for s in sources {
        sample(
            &mut out,
            "grantwatch_lines_read_total",
            &[("source", &s.path), ("format", &s.format)],
            &s.lines_read.to_string(),
        );
    }
    family(
        &mut out,
        "grantwatch_lines_unparsed_total",
        "counter",
        "Lines of a source file that no parser knew.",
    );
    for s in sources {
        sample(
            &mut out,
            "grantwatch_lines_unparsed_total",
            &[("source", &s.path)],
            &s.lines_unknown.to_string(),
        );
    }
    family(
        &mut out,
        "grantwatch_ingest_lag_seconds",
        "gauge",
        "Seconds since the last batch read from a source file was committed.",
    );
    for s in sources {
        if let Some(updated) = s.updated_ms {
            let lag = (now_ms - updated).max(0) as f64 / 1000.0;
            sample(
                &mut out,
                "grantwatch_ingest_lag_seconds",
                &[("source", &s.path)],
                &lag.to_string(),
            );
        }
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {}", escape(help, false));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: &str) {
    out.push_str(name);
    out.push('{');
    for (i, (label, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{label}=\"{}\"", escape(v, true));
    }
    out.push_str("} ");
    out.push_str(value);
    out.push('\n');
}

/// Escapes a label value (`\`, `"`, line feed) or a HELP text (`\`, line
/// feed).
fn escape(text: &str, quote: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let failures = [FailureCount {
            cause: "code_reused".into(),
            server: "unknown".into(),
            client: "a\"b\\c\nd".into(),
            count: 2,
        }];
        let text = render(&failures, &[], 0);
        assert!(
            text.contains(
                "grantwatch_failures_total{cause=\"code_reused\",server=\"unknown\",client=\"a\\\"b\\\\c\\nd\"} 2\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn lag_is_seconds_since_the_last_commit() {
        let sources = [
            SourceStats {
                path: "a.log".into(),
                format: "rails".into(),
                lines_read: 10,
                lines_unknown: 3,
                updated_ms: Some(1_000),
            },
            SourceStats {
                path: "never.log".into(),
                format: "rails".into(),
                lines_read: 0,
                lines_unknown: 0,
                updated_ms: None,
            },
        ];
        let text = render(&[], &sources, 3_500);
        assert!(text.contains("grantwatch_ingest_lag_seconds{source=\"a.log\"} 2.5\n"));
        assert!(!text.contains("grantwatch_ingest_lag_seconds{source=\"never.log\"}"));
        assert!(
            text.contains("grantwatch_lines_read_total{source=\"a.log\",format=\"rails\"} 10\n")
        );
        assert!(text.contains("grantwatch_lines_unparsed_total{source=\"a.log\"} 3\n"));
        assert!(text.contains("# TYPE grantwatch_ingest_lag_seconds gauge\n"));
    }
}
