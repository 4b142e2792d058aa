//! `GET /metrics`: Prometheus text exposition format 0.0.4.
//!
//! - `grantwatch_failures_diagnosed_total{cause,server,client}`: failures
//!   diagnosed, counted once when first stored, under the labels of that
//!   first diagnosis. It only goes up: retention and re-diagnosis never
//!   lower it (alert on `increase()` of this one, see `docs/alerts.yml`).
//! - `grantwatch_records_ingested_total`: OAuth records stored (only up).
//! - `grantwatch_failures_stored{cause,server,client}`: failures in the
//!   database now (a gauge: retention prunes them, a re-diagnosis moves
//!   them between causes). It was `grantwatch_failures_total`, declared a
//!   counter: `increase()` over it fired on a prune or a re-diagnosis.
//! - `grantwatch_live_clients`: open `/api/events` streams.
//! - `grantwatch_incidents_open{cause}`: incidents with a failure in the
//!   last 30 minutes (of the dashboard's "now").
//! - `grantwatch_lines_read_total{source,format}` and
//!   `grantwatch_lines_unparsed_total{source}`: lines read from each source,
//!   and those no parser knew.
//! - `grantwatch_ingest_lag_seconds{source}` and
//!   `grantwatch_ingest_lag_bytes{source}`: how far reading is behind each
//!   followed file: for how long it has not caught up with the file's end
//!   (0 when it has, so an idle daemon shows 0 however long since the last
//!   line), and the bytes written and not read yet. Only `watch` knows them
//!   (`serve` has no reader and shows no sample).
//! - `grantwatch_files_skipped`: files `watch` does not read (not logs).
//! - `grantwatch_file_events_total{event}`: what happened to followed files
//!   since start (rotated, truncated, replaced, removed, closed, unreadable).
//! - `grantwatch_reader_*`: whether the reader reads, its failed attempts
//!   and the age of its last round (`watch` only, [`super::health`]).
//! - `grantwatch_ingest_*`: the shippers' receivers (`watch` only,
//!   [`crate::fleet::metrics`]).
//! - `grantwatch_http_connections_total{outcome}` and
//!   `grantwatch_http_connections_open`: connections served and those
//!   answered 503 over the listener's bound ([`super::listener`]).
//!
//! Label values are log text (client ids, paths) and are escaped as the
//! format asks: backslash, double quote and line feed.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::WebError;
use super::state::AppState;
use crate::live::LiveState;
use crate::store::incidents::IncidentFilter;
use crate::store::labels::server_label;
use crate::store::sources::SourceStats;
use crate::store::stats::FailureCount;

/// The counters that only go up, and the incidents open now.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Failures diagnosed, by the labels of their first diagnosis.
    pub diagnosed: Vec<FailureCount>,
    /// OAuth records stored.
    pub records: u64,
    /// Open incidents per cause.
    pub open_incidents: Vec<(String, u64)>,
    /// Open `/api/events` streams.
    pub live_clients: usize,
}

fn counters(store: &crate::store::Store) -> Result<Counters, WebError> {
    let now = super::pages::now_ms(store)?;
    let open = IncidentFilter {
        open: true,
        ..IncidentFilter::default()
    };
    let (_, incidents) = store.incidents(&open, now, u32::MAX, 0)?;
    let mut open_incidents = std::collections::BTreeMap::<String, u64>::new();
    for i in incidents {
        *open_incidents
            .entry(i.cause.as_str().to_owned())
            .or_default() += 1;
    }
    Ok(Counters {
        diagnosed: store.diagnosed_totals()?,
        records: store.ingest_total("records")?,
        open_incidents: open_incidents.into_iter().collect(),
        live_clients: super::events::clients(),
    })
}

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, WebError> {
    let (failures, sources, counts) = state
        .read(|store| {
            Ok((
                store.failure_counts()?,
                store.source_stats()?,
                counters(store)?,
            ))
        })
        .await?;
    let live = state
        .live
        .as_ref()
        .map(|l| l.snapshot())
        .unwrap_or_default();
    let mut body = render_counters(&counts);
    body += &render(&failures, &sources, &live);
    if let Some(health) = &state.health {
        body += &health.snapshot().metrics();
    }
    if let Some(fleet) = &state.fleet {
        body += &fleet.metrics();
    }
    body += &super::listener::metrics();
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body,
    )
        .into_response())
}

/// One sample of `name` per failure count, labelled by cause, server and
/// client.
fn failure_samples(out: &mut String, name: &str, counts: &[FailureCount]) {
    for f in counts {
        sample(
            out,
            name,
            &[
                ("cause", f.cause.as_str()),
                ("server", server_label(f.server)),
                ("client", &f.client),
            ],
            &f.count.to_string(),
        );
    }
}

/// The exposition text of the monotonic counters and the open incidents.
pub fn render_counters(c: &Counters) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "grantwatch_failures_diagnosed_total",
        "counter",
        "Failed token requests diagnosed, by the root cause, server kind and client id of their first diagnosis; never lowered by retention or re-diagnosis.",
    );
    failure_samples(
        &mut out,
        "grantwatch_failures_diagnosed_total",
        &c.diagnosed,
    );
    family(
        &mut out,
        "grantwatch_records_ingested_total",
        "counter",
        "OAuth records stored from every source.",
    );
    let _ = writeln!(out, "grantwatch_records_ingested_total {}", c.records);
    family(
        &mut out,
        "grantwatch_incidents_open",
        "gauge",
        "Incidents with a failure in the last 30 minutes, by root cause.",
    );
    for (cause, n) in &c.open_incidents {
        sample(
            &mut out,
            "grantwatch_incidents_open",
            &[("cause", cause)],
            &n.to_string(),
        );
    }
    family(
        &mut out,
        "grantwatch_live_clients",
        "gauge",
        "Open /api/events streams (dashboards updating live).",
    );
    let _ = writeln!(out, "grantwatch_live_clients {}", c.live_clients);
    out
}

/// The exposition text of the stored failure counts, the sources and the
/// running daemon's view.
pub fn render(failures: &[FailureCount], sources: &[SourceStats], live: &LiveState) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "grantwatch_failures_stored",
        "gauge",
        "Failed token requests stored now, by root cause, server kind and client id (retention and re-diagnosis lower it).",
    );
    failure_samples(&mut out, "grantwatch_failures_stored", failures);
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
        "Seconds reading has been behind the end of a followed file (0 when caught up).",
    );
    for l in &live.lag {
        sample(
            &mut out,
            "grantwatch_ingest_lag_seconds",
            &[("source", &l.path.to_string_lossy())],
            &l.behind.as_secs_f64().to_string(),
        );
    }
    family(
        &mut out,
        "grantwatch_ingest_lag_bytes",
        "gauge",
        "Bytes written to a followed file and not read yet.",
    );
    for l in &live.lag {
        sample(
            &mut out,
            "grantwatch_ingest_lag_bytes",
            &[("source", &l.path.to_string_lossy())],
            &l.bytes.to_string(),
        );
    }
    family(
        &mut out,
        "grantwatch_files_skipped",
        "gauge",
        "Files matched by the paths watched that are not read (binary data).",
    );
    let _ = writeln!(out, "grantwatch_files_skipped {}", live.skipped.len());
    family(
        &mut out,
        "grantwatch_file_events_total",
        "counter",
        "What happened to followed files since start: rotated, truncated, replaced, removed, closed, unreadable.",
    );
    for (event, n) in &live.file_events {
        sample(
            &mut out,
            "grantwatch_file_events_total",
            &[("event", event)],
            &n.to_string(),
        );
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
            cause: crate::cause::Cause::CodeReused,
            server: None,
            client: "a\"b\\c\nd".into(),
            count: 2,
        }];
        let text = render(&failures, &[], &LiveState::default());
        assert!(
            text.contains(
                "grantwatch_failures_stored{cause=\"code_reused\",server=\"unknown\",client=\"a\\\"b\\\\c\\nd\"} 2\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn lag_is_how_far_reading_is_behind_not_the_time_since_a_commit() {
        let sources = [SourceStats {
            path: "a.log".into(),
            format: "rails".into(),
            lines_read: 10,
            lines_unknown: 3,
            // Committed long ago: an idle source is not behind for that.
            updated_ms: Some(1_000),
        }];
        let live = LiveState {
            lag: vec![
                crate::tail::Lag {
                    path: "a.log".into(),
                    bytes: 0,
                    behind: std::time::Duration::ZERO,
                },
                crate::tail::Lag {
                    path: "busy.log".into(),
                    bytes: 4096,
                    behind: std::time::Duration::from_millis(2500),
                },
            ],
            ..LiveState::default()
        };
        let text = render(&[], &sources, &live);
        assert!(
            text.contains("grantwatch_ingest_lag_seconds{source=\"a.log\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("grantwatch_ingest_lag_bytes{source=\"a.log\"} 0\n"));
        assert!(text.contains("grantwatch_ingest_lag_seconds{source=\"busy.log\"} 2.5\n"));
        assert!(text.contains("grantwatch_ingest_lag_bytes{source=\"busy.log\"} 4096\n"));
        assert!(
            text.contains("grantwatch_lines_read_total{source=\"a.log\",format=\"rails\"} 10\n")
        );
        assert!(text.contains("grantwatch_lines_unparsed_total{source=\"a.log\"} 3\n"));
        assert!(text.contains("# TYPE grantwatch_ingest_lag_seconds gauge\n"));
        assert!(text.contains("grantwatch_files_skipped 0\n"));
        // `serve` has no reader: no lag sample at all.
        let text = render(&[], &sources, &LiveState::default());
        assert!(!text.contains("grantwatch_ingest_lag_seconds{"), "{text}");
    }
}
