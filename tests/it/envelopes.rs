//! The multi-source sample scenarios with their server logs wrapped the way
//! runtimes, journald, syslog, process managers, platforms and shippers
//! wrap them must give exactly the diagnoses of the unwrapped logs: same
//! failures, same causes, same confidences. Long lines are split the way
//! CRI (`P` pieces) and docker (pieces without their newline) split them,
//! and every third journald message is a byte array. Shipped several
//! records a line (an OpenTelemetry batch, a CloudWatch document), they
//! must too.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{analyze_json, root};

/// The envelope around one line; `i` is the line's index (times advance).
type Wrap = fn(usize, &str) -> Vec<String>;

fn at(i: usize) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-11T09:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| unreachable!())
        + Duration::milliseconds(i as i64 * 7)
}

fn rfc3339_nano(i: usize) -> String {
    at(i).format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// Pieces of at most `n` bytes, on character boundaries.
fn pieces(line: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while rest.len() > n {
        let mut end = n;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out.push(rest);
    out
}

fn cri(i: usize, line: &str) -> Vec<String> {
    let parts = pieces(line, 100);
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let tag = if k == last { "F" } else { "P" };
            format!("{} stdout {tag} {p}", rfc3339_nano(i))
        })
        .collect()
}

fn docker(i: usize, line: &str) -> Vec<String> {
    let parts = pieces(line, 90);
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let log = if k == last {
                format!("{p}\n")
            } else {
                (*p).to_string()
            };
            json!({"log": log, "stream": "stdout", "time": rfc3339_nano(i)}).to_string()
        })
        .collect()
}

fn journal_json(i: usize, line: &str) -> Vec<String> {
    let message = if i.is_multiple_of(3) {
        Value::from(line.as_bytes().to_vec())
    } else {
        Value::from(line)
    };
    let micros = at(i).timestamp_micros().to_string();
    vec![
        json!({"__REALTIME_TIMESTAMP": micros, "_HOSTNAME": "web1", "SYSLOG_IDENTIFIER": "puma",
               "_PID": "812", "MESSAGE": message})
        .to_string(),
    ]
}

fn one(line: String) -> Vec<String> {
    vec![line]
}

const ENVELOPES: [(&str, Wrap); 17] = [
    ("cri", cri),
    ("docker", docker),
    ("kubectl-prefix", |_, l| {
        one(format!("[pod/web-7d9f/web] {l}"))
    }),
    ("kubectl-timestamps", |i, l| {
        one(format!("{} {l}", rfc3339_nano(i)))
    }),
    ("journal-json", journal_json),
    ("journal-short", |i, l| {
        one(format!(
            "{} web1 puma[812]: {l}",
            at(i).format("%b %e %H:%M:%S")
        ))
    }),
    ("syslog-3164", |i, l| {
        one(format!(
            "<134>{} web1 puma[812]: {l}",
            at(i).format("%b %e %H:%M:%S")
        ))
    }),
    ("syslog-5424", |i, l| {
        let msg = format!(
            "<134>1 {} web1 puma 812 - [meta@1 x=\"y\"] {l}",
            at(i).format("%Y-%m-%dT%H:%M:%S%.3fZ")
        );
        one(format!("{} {msg}", msg.len()))
    }),
    ("compose", |_, l| one(format!("web-1  | {l}"))),
    ("foreman", |i, l| {
        one(format!("{} web.1  | {l}", at(i).format("%H:%M:%S")))
    }),
    ("heroku", |i, l| {
        one(format!(
            "{} app[web.1]: {l}",
            at(i).format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        ))
    }),
    ("fly", |i, l| {
        one(format!(
            "{} app[e784e90eb32208] iad [info] {l}",
            at(i).format("%Y-%m-%dT%H:%M:%SZ")
        ))
    }),
    ("aws-logs-tail", |i, l| {
        one(format!(
            "{} web/1/0c1d7e5c2a6f {l}",
            at(i).format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        ))
    }),
    ("vector", |i, l| {
        one(
            json!({"message": l, "timestamp": rfc3339_nano(i), "source_type": "kubernetes_logs",
                   "host": "node-1", "kubernetes": {"pod_name": "web-1", "container_name": "web"}})
            .to_string(),
        )
    }),
    ("fluent-bit", |i, l| {
        one(
            json!({"date": at(i).timestamp_millis() as f64 / 1000.0, "log": l, "stream": "stdout",
                   "kubernetes": {"pod_name": "web-1", "container_name": "web"}})
            .to_string(),
        )
    }),
    ("otel", |i, l| {
        one(json!({"resourceLogs": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "web"}}]},
            "scopeLogs": [{"scope": {}, "logRecords": [{"timeUnixNano":
            at(i).timestamp_nanos_opt().unwrap_or(0).to_string(), "body": {"stringValue": l}}]}]}]})
        .to_string())
    }),
    ("syslog-over-cri", |i, l| {
        cri(i, l)
            .into_iter()
            .map(|c| {
                format!(
                    "<134>{} node-1 kubelet: {c}",
                    at(i).format("%b %e %H:%M:%S")
                )
            })
            .collect()
    }),
];

/// The server logs of the scenarios (the client logs stay as they are).
fn is_server_log(path: &Path) -> bool {
    matches!(
        path.file_name().and_then(|n| n.to_str()),
        Some("production.log" | "keycloak.log")
    )
}

/// A copy of `sample_logs/scenarios` in `dir` with each line of the server
/// logs wrapped.
fn wrapped_copy(dir: &Path, wrap: Wrap) {
    packed_copy(dir, &|lines| {
        lines
            .iter()
            .enumerate()
            .flat_map(|(i, line)| wrap(i, line))
            .collect()
    });
}

/// A copy of `sample_logs/scenarios` in `dir` with the lines of each server
/// log turned into the lines `pack` makes of them.
fn packed_copy(dir: &Path, pack: &dyn Fn(&[&str]) -> Vec<String>) {
    let scenarios = root().join("sample_logs/scenarios");
    for entry in walkdir::WalkDir::new(&scenarios) {
        let entry = entry.expect("walk scenarios");
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(&scenarios).expect("inside");
        let target = dir.join(rel);
        std::fs::create_dir_all(target.parent().expect("a folder")).expect("mkdir");
        let text = std::fs::read_to_string(entry.path()).expect("read sample");
        let out = if is_server_log(entry.path()) {
            let lines: Vec<&str> = text.lines().collect();
            pack(&lines).join("\n") + "\n"
        } else {
            text
        };
        std::fs::write(&target, out).expect("write");
    }
}

/// What must not change: the failure and its diagnosis, not where the
/// evidence sits in which file.
fn diagnoses(failures: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = failures
        .iter()
        .map(|f| {
            let key = [
                "ts",
                "server",
                "request_id",
                "client_id",
                "grant_type",
                "error",
                "http_status",
                "cause",
                "confidence",
            ];
            key.iter()
                .map(|k| f[*k].to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    out.sort();
    out
}

#[test]
fn wrapped_server_logs_give_the_diagnoses_of_the_unwrapped_ones() {
    let plain = diagnoses(&analyze_json(&[&root().join("sample_logs/scenarios")]));
    assert!(
        plain.len() >= 17,
        "the scenarios give a failure per cause: {plain:#?}"
    );
    let mut wrong = Vec::new();
    for (name, wrap) in ENVELOPES {
        let dir = tempfile::tempdir().expect("tempdir");
        wrapped_copy(dir.path(), wrap);
        let got = diagnoses(&analyze_json(&[dir.path()]));
        if got != plain {
            let missing: Vec<_> = plain.iter().filter(|d| !got.contains(d)).collect();
            let extra: Vec<_> = got.iter().filter(|d| !plain.contains(d)).collect();
            wrong.push(format!(
                "{name}:\n  missing {missing:#?}\n  extra {extra:#?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Shippers that write several log records on one line: the OpenTelemetry
/// collector's file exporter (one `resourceLogs` batch a line) and `aws logs
/// filter-log-events` (one document of events; `--output json` pretty
/// prints it, `jq -c` or a script's `json.dumps` writes it on one line).
/// Four records a line.
const BATCHES: [(&str, Batch); 2] = [
    ("otel-batch", |first, lines| {
        let records: Vec<Value> = lines
            .iter()
            .enumerate()
            .map(|(k, l)| {
                json!({"timeUnixNano": at(first + k).timestamp_nanos_opt().unwrap_or(0).to_string(),
                       "body": {"stringValue": l}})
            })
            .collect();
        json!({"resourceLogs": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "web"}}]},
            "scopeLogs": [{"scope": {}, "logRecords": records}]}]})
        .to_string()
    }),
    ("cloudwatch-document", |first, lines| {
        cloudwatch(first, lines).to_string()
    }),
];

/// A `filter-log-events` document of `lines`, the first of which is the
/// log's line `first`.
fn cloudwatch(first: usize, lines: &[&str]) -> Value {
    let events: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let ms = at(first + k).timestamp_millis();
            json!({"logStreamName": "web/1/0c1d7e5c2a6f", "timestamp": ms, "message": l,
                   "ingestionTime": ms + 400, "eventId": format!("{}", first + k)})
        })
        .collect();
    json!({"events": events, "searchedLogStreams": []})
}

/// One line holding the records of `lines`, the first of which is the
/// log's line `first`.
type Batch = fn(usize, &[&str]) -> String;

/// Three refused grants in one shipped line were one failure: every event
/// of a kind after the first of a line was taken for one stored already.
/// Packed four records a line, the scenarios' server logs give every
/// diagnosis of the unwrapped ones, and a second read of the same files
/// into the same database stores nothing twice.
#[test]
fn server_logs_shipped_several_records_a_line_give_the_diagnoses_of_the_unwrapped_ones() {
    let plain = diagnoses(&analyze_json(&[&root().join("sample_logs/scenarios")]));
    let mut wrong = Vec::new();
    for (name, batch) in BATCHES {
        let dir = tempfile::tempdir().expect("tempdir");
        let logs = dir.path().join("logs");
        packed_copy(&logs, &|lines| {
            lines
                .chunks(4)
                .enumerate()
                .map(|(c, chunk)| batch(c * 4, chunk))
                .collect()
        });
        let got = diagnoses(&analyze_json(&[&logs]));
        if got != plain {
            let missing: Vec<_> = plain.iter().filter(|d| !got.contains(d)).collect();
            let extra: Vec<_> = got.iter().filter(|d| !plain.contains(d)).collect();
            wrong.push(format!(
                "{name}:\n  missing {missing:#?}\n  extra {extra:#?}"
            ));
        }
        let db = dir.path().join("kept.db");
        let once = stored_counts(&db, &logs);
        let twice = stored_counts(&db, &logs);
        if once != twice || once.1 != plain.len() {
            wrong.push(format!(
                "{name}: (events, failures) stored {once:?}, then {twice:?}; {} failures read",
                plain.len()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Events and failures in `db` after `analyze --db db logs`.
fn stored_counts(db: &Path, logs: &Path) -> (i64, usize) {
    crate::helpers::analyze_into(vec![logs.to_path_buf()], db);
    let conn = crate::helpers::read_sql(db);
    let count = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    };
    (count("events"), count("failures") as usize)
}

/// `aws logs filter-log-events` prints its document indented over many
/// lines, and that is what a person pastes: read as one unknown block, the
/// records of a server that logs a line a record (Hydra's JSON, Keycloak's
/// text and JSON) were one or two error records without time, request id
/// or grant. Each record is now read as its own line would be.
#[test]
fn an_indented_cloudwatch_export_gives_the_diagnoses_of_the_log_it_holds() {
    let logs = [
        "hydra/hydra-v2.3.json.log",
        "hydra/hydra-v26.json.log",
        "keycloak/keycloak-21.log",
        "keycloak/keycloak-26.log",
        "keycloak/keycloak.json.log",
    ];
    let mut wrong = Vec::new();
    for log in logs {
        let path = root().join("sample_logs").join(log);
        let plain = diagnoses(&analyze_json(&[&path]));
        assert!(!plain.is_empty(), "{log}: the sample has failures");
        let text = std::fs::read_to_string(&path).expect("read sample");
        let lines: Vec<&str> = text.lines().collect();
        let documents: Vec<String> = lines
            .chunks(4)
            .enumerate()
            .map(|(c, chunk)| {
                serde_json::to_string_pretty(&cloudwatch(c * 4, chunk)).expect("a document")
            })
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let export = dir.path().join("export.json");
        std::fs::write(&export, documents.join("\n") + "\n").expect("write");
        let got = diagnoses(&analyze_json(&[&export]));
        if got != plain {
            wrong.push(format!("{log}:\n  read {plain:#?}\n  indented {got:#?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A saved `filter-log-events` output holds a whole log in one indented
/// document, larger than any JSON block the reassembly joins (400 lines):
/// a 3,000-event Keycloak export was read as an unknown format, its
/// failures without time or server, and the scenarios' Rails logs lost two
/// of their failures. Each server log as one document (`aws` pads with four
/// spaces, the sample with two: the reader does not count them), with the
/// frame's `searchedLogStreams` and `nextToken`, gives the diagnoses of the
/// unwrapped logs, and the file is read as the CloudWatch envelope around
/// the server's format.
#[test]
fn a_saved_export_of_a_whole_log_in_one_indented_document_gives_its_diagnoses() {
    let plain = diagnoses(&analyze_json(&[&root().join("sample_logs/scenarios")]));
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    packed_copy(&logs, &|lines| {
        let mut document = cloudwatch(0, lines);
        document["searchedLogStreams"] =
            json!([{"logStreamName": "web/1/0c1d7e5c2a6f", "searchedCompletely": true}]);
        document["nextToken"] = json!("Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCrI");
        let text = serde_json::to_string_pretty(&document).expect("a document");
        text.lines().map(str::to_owned).collect()
    });
    let code_reused = logs.join("code_reused/production.log");
    let lines = std::fs::read_to_string(&code_reused)
        .expect("read")
        .lines()
        .count();
    assert!(lines > 400, "{lines} lines: larger than a joined block");
    let got = diagnoses(&analyze_json(&[&logs]));
    let missing: Vec<_> = plain.iter().filter(|d| !got.contains(d)).collect();
    let extra: Vec<_> = got.iter().filter(|d| !plain.contains(d)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    let out = crate::helpers::grantwatch()
        .arg("analyze")
        .arg(&code_reused)
        .output()
        .expect("run analyze");
    let report =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("read as CloudWatch JSON around rails")
            && report.contains("0 unrecognised"),
        "{report}"
    );
}
