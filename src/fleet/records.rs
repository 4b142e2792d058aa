//! `POST /api/ingest` bodies: NDJSON, or one JSON array of records, or one
//! record, as Vector's `http` sink, Fluent Bit's `http` output (`json`,
//! `json_lines`) and syslog-ng's `http()` destination send them. The line
//! is the record's `message`, `log`, `MESSAGE` or `body`; the stream is
//! named from what the shipper knows of the record's origin
//! ([`stream_name`]), the same keys as OTLP's resource attributes.
//!
//! Invariant: a body that does not decode as a whole is refused as a whole
//! (a batch cut mid-body stores nothing, so its retry stores it once); a
//! record without a line is counted as rejected, never guessed at.

use serde_json::{Map, Value};

use super::Record;

/// Why a body was refused (400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadBody {
    /// Not JSON, or JSON cut short.
    #[error("not JSON records (line {line}): {why}")]
    Json {
        /// The NDJSON line (1 for an array or a single record).
        line: usize,
        /// serde_json's message.
        why: String,
    },
}

/// The records of a body, and how many carried no line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Records with a line.
    pub records: Vec<Record>,
    /// Records without one.
    pub rejected: u64,
}

/// Keys naming a record's origin, most general first; the first key of
/// each group that is present adds one part to the stream's name.
const STREAM_KEYS: &[&[&str]] = &[
    &["service.name"],
    &["host.name", "host", "hostname", "HOST"],
    &["k8s.namespace.name", "kubernetes.namespace_name"],
    &["k8s.pod.name", "kubernetes.pod_name", "kubernetes.pod.name"],
    &[
        "k8s.container.name",
        "kubernetes.container_name",
        "kubernetes.container.name",
    ],
    &[
        "log.file.path",
        "file",
        "filename",
        "FILE_NAME",
        "log.file.name",
    ],
];

/// Keys of the line.
const LINE_KEYS: &[&str] = &["message", "log", "MESSAGE", "body"];

/// Keys of the shipper's time of the record.
const TIME_KEYS: &[&str] = &["timestamp", "time", "@timestamp", "date", "ts", "ISODATE"];

/// The stream a record belongs to, from `get` (an attribute or field by
/// name): its parts joined by `/`, or `unnamed`.
pub fn stream_name(get: impl Fn(&str) -> Option<String>) -> String {
    let mut name = String::new();
    for group in STREAM_KEYS {
        if let Some(v) = group.iter().find_map(|k| get(k).filter(|v| !v.is_empty())) {
            if !name.is_empty() {
                name.push('/');
            }
            name.push_str(&v);
        }
    }
    if name.is_empty() {
        name.push_str("unnamed");
    }
    name
}

/// Decodes an `/api/ingest` body (already decompressed). Invalid UTF-8 is
/// replaced (U+FFFD), so such a record is stored rather than lost.
pub fn decode(body: &[u8]) -> Result<Decoded, BadBody> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    let mut out = Decoded::default();
    if trimmed.starts_with('[') {
        let values: Vec<Value> = serde_json::from_str(trimmed).map_err(|e| BadBody::Json {
            line: 1,
            why: e.to_string(),
        })?;
        for v in values {
            push(&mut out, v);
        }
        return Ok(out);
    }
    for (i, line) in trimmed.split('\n').enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| BadBody::Json {
            line: i + 1,
            why: e.to_string(),
        })?;
        push(&mut out, v);
    }
    Ok(out)
}

fn push(out: &mut Decoded, v: Value) {
    match v {
        Value::Object(map) => match record(&map) {
            Some(r) => out.records.push(r),
            None => out.rejected += 1,
        },
        Value::String(line) => out.records.push(Record {
            stream: "unnamed".into(),
            time: String::new(),
            body: line,
        }),
        _ => out.rejected += 1,
    }
}

/// One JSON record: its line, stream and time.
fn record(map: &Map<String, Value>) -> Option<Record> {
    let body = LINE_KEYS.iter().find_map(|k| map.get(*k)).and_then(text)?;
    let get = |key: &str| field(map, key).and_then(text);
    Some(Record {
        stream: stream_name(get),
        time: TIME_KEYS
            .iter()
            .find_map(|k| map.get(*k))
            .and_then(text)
            .unwrap_or_default(),
        body,
    })
}

/// A field by its dotted name: the flat key (`kubernetes.pod_name` as
/// Vector's or Fluent Bit's flattened records write it), else the nested
/// path (`{"kubernetes": {"pod_name": …}}`).
fn field<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    if let Some(v) = map.get(key) {
        return Some(v);
    }
    let (head, rest) = key.split_once('.')?;
    match map.get(head)? {
        Value::Object(inner) => field(inner, rest),
        _ => None,
    }
}

/// A value as a line: strings as they are, numbers and structures as JSON;
/// null is no value.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_and_an_array_give_the_same_records() {
        let nd = br#"{"message":"a","kubernetes":{"pod_name":"web-1","container_name":"rails"},"timestamp":"t1"}
{"log":"b","host":"h2","file":"/var/log/x.log"}
"#;
        let arr = br#"[{"message":"a","kubernetes":{"pod_name":"web-1","container_name":"rails"},"timestamp":"t1"},
                     {"log":"b","host":"h2","file":"/var/log/x.log"}]"#;
        let a = decode(nd).expect("ndjson");
        let b = decode(arr).expect("array");
        assert_eq!(a, b);
        assert_eq!(a.records[0].stream, "web-1/rails");
        assert_eq!(a.records[0].time, "t1");
        assert_eq!(a.records[1].stream, "h2//var/log/x.log");
        assert_eq!(a.records[1].body, "b");
    }

    #[test]
    fn flat_dotted_keys_and_each_line_key_are_read() {
        let d = decode(
            br#"{"MESSAGE":"m","k8s.pod.name":"p","k8s.container.name":"c","service.name":"svc"}
{"body":"x"}"#,
        )
        .expect("decode");
        assert_eq!(d.records[0].stream, "svc/p/c");
        assert_eq!(d.records[0].body, "m");
        assert_eq!(d.records[1].stream, "unnamed");
    }

    #[test]
    fn a_record_without_a_line_is_rejected_not_guessed() {
        let d = decode(b"{\"message\":\"ok\"}\n{\"msg\":\"no line key\"}\n42\n").expect("decode");
        assert_eq!(d.records.len(), 1);
        assert_eq!(d.rejected, 2);
    }

    #[test]
    fn a_body_cut_mid_record_is_refused_whole() {
        let body = b"{\"message\":\"one\"}\n{\"message\":\"tw";
        assert!(matches!(decode(body), Err(BadBody::Json { line: 2, .. })));
        assert!(decode(b"[{\"message\":\"one\"},").is_err());
    }

    #[test]
    fn invalid_utf8_is_replaced_and_the_record_kept() {
        let d = decode(b"{\"message\":\"caf\xe9 invalid_grant\"}\n").expect("decode");
        assert_eq!(d.records[0].body, "caf\u{fffd} invalid_grant");
    }
}
