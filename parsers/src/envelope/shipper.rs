//! JSON envelopes: docker's json-file driver, `journalctl -o json`, the
//! records Vector, Fluent Bit and the OpenTelemetry file exporter write, and
//! CloudWatch's JSON documents (`filter-log-events`, `get-log-events`, or
//! any array of log records).
//!
//! An application's own JSON log line is never taken for an envelope: a
//! line is parsed only when it carries a shipper's marker key, and a record
//! is an envelope only when the keys that make it one are all there.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::model::{EnvelopeKind, Meta, Name, Piece, Pieces, Stream};
use super::time::{EnvelopeTime, epoch_text, epoch_time, rfc3339_prefix};
use crate::parser::Context;

/// A JSON line or document (`{…}` or `[…]`) that is an envelope.
pub(super) fn peel_json<'a>(
    line: &'a str,
    _ctx: &Context,
    out: &mut Pieces<'a>,
) -> Option<EnvelopeKind> {
    // docker json-file, on every line of a container's log: read by
    // position, no JSON value built (the general path below decides when
    // the line is off docker's exact shape).
    if let Some(kind) = super::docker::peel(line, out) {
        return Some(kind);
    }
    peel_json_value(line, out)
}

/// [`peel_json`] by a parsed JSON value: every shape, docker's included.
pub(super) fn peel_json_value<'a>(line: &'a str, out: &mut Pieces<'a>) -> Option<EnvelopeKind> {
    let bytes = line.as_bytes();
    // Keys whose presence makes a JSON line worth parsing as an envelope.
    if bytes[0] == b'{' && !super::shipper_keys::holds_key(line) {
        return None;
    }
    let value: Value = serde_json::from_str(line).ok()?;
    let before = out.len();
    let kind = match value {
        Value::Object(map) => object(map, out),
        Value::Array(items) => array(items, out),
        _ => None,
    };
    if kind.is_none() {
        out.truncate(before);
    }
    kind
}

/// `kube.var.log.containers.web.log: [1741680000.123, {"log":"…"}]`:
/// Fluent Bit's `file` output in its default `out_file` format.
pub(super) fn peel_fluent_file<'a>(line: &'a str, out: &mut Pieces<'a>) -> Option<EnvelopeKind> {
    let (tag, rest) = line.split_once(": [")?;
    if tag.is_empty() || tag.contains(' ') {
        return None;
    }
    let value: Value = serde_json::from_str(&line[tag.len() + 2..]).ok()?;
    let Value::Array(mut pair) = value else {
        return None;
    };
    if pair.len() != 2 || rest.is_empty() {
        return None;
    }
    let Value::Object(map) = pair.pop()? else {
        return None;
    };
    let time = pair.first().and_then(Value::as_f64).and_then(epoch_time);
    let text = string_field(&map, &["log", "message"])?;
    let mut meta = kubernetes_meta(&map);
    meta.time = EnvelopeTime::from(time).or(meta.time);
    meta.unit = meta.unit.or(Some(Name::from(tag)));
    out.push(piece(text, meta));
    Some(EnvelopeKind::FluentBit)
}

fn object<'a>(map: Map<String, Value>, out: &mut Pieces<'a>) -> Option<EnvelopeKind> {
    if let Some(Value::Array(resource_logs)) = map.get("resourceLogs") {
        for resource in resource_logs {
            otel_resource(resource, out);
        }
        return Some(EnvelopeKind::Otel);
    }
    if let Some(Value::Array(events)) = map.get("events") {
        let before = out.len();
        for event in events {
            if let Value::Object(event) = event {
                cloudwatch_event(event, out);
            }
        }
        return (out.len() > before).then_some(EnvelopeKind::CloudWatchJson);
    }
    if map.contains_key("MESSAGE")
        && (map.contains_key("__REALTIME_TIMESTAMP") || map.contains_key("__CURSOR"))
    {
        return journal(&map, out);
    }
    if map.contains_key("body")
        && (map.contains_key("timeUnixNano") || map.contains_key("observedTimeUnixNano"))
    {
        otel_record(&map, &Meta::default(), out)?;
        return Some(EnvelopeKind::Otel);
    }
    if map.contains_key("logStreamName") && map.contains_key("message") {
        cloudwatch_event(&map, out);
        return Some(EnvelopeKind::CloudWatchJson);
    }
    record(&map, out)
}

/// Docker json-file, Vector and Fluent Bit records.
fn record(map: &Map<String, Value>, out: &mut Pieces<'_>) -> Option<EnvelopeKind> {
    let stream = map
        .get("stream")
        .and_then(Value::as_str)
        .and_then(Stream::from_name);
    if let Some(log) = map.get("log").and_then(Value::as_str) {
        let docker = map.contains_key("time") && stream.is_some() && map.len() <= 4;
        let fluent = map.contains_key("date")
            || map.contains_key("kubernetes")
            || map.contains_key("logtag")
            || (map.contains_key("time") && !docker);
        if !docker && !fluent && stream.is_none() {
            return None;
        }
        let mut meta = kubernetes_meta(map);
        meta.stream = stream;
        meta.time = map
            .get("time")
            .and_then(Value::as_str)
            .and_then(|t| rfc3339_prefix(t).map(|(t, _)| t))
            .or_else(|| map.get("date").and_then(Value::as_f64).and_then(epoch_time))
            .into();
        // Docker ends each complete line with `\n`; a piece without it was
        // split at 16 KiB and continues in the next record.
        let (text, partial) = match log.strip_suffix('\n') {
            Some(t) => (t.strip_suffix('\r').unwrap_or(t), false),
            None if docker => (log, true),
            None => (log, map.get("logtag").and_then(Value::as_str) == Some("P")),
        };
        out.push(Piece {
            text: Cow::Owned(text.to_string()),
            meta,
            partial,
        });
        return Some(if docker {
            EnvelopeKind::DockerJson
        } else {
            EnvelopeKind::FluentBit
        });
    }
    let message = map.get("message").and_then(Value::as_str)?;
    let vector = map.contains_key("source_type")
        || map.contains_key("kubernetes")
        || (map.contains_key("file") && map.contains_key("host"));
    if !vector {
        return None;
    }
    let mut meta = kubernetes_meta(map);
    meta.stream = stream;
    meta.time = map
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| rfc3339_prefix(t).map(|(t, _)| t))
        .into();
    out.push(piece(message, meta));
    Some(EnvelopeKind::Vector)
}

/// `kubernetes.{pod_name, container_name, host}` and `host`/`hostname`.
fn kubernetes_meta(map: &Map<String, Value>) -> Meta {
    let k8s = map.get("kubernetes").and_then(Value::as_object);
    let from_k8s = |key: &str| {
        k8s.and_then(|k| k.get(key))
            .and_then(Value::as_str)
            .map(Name::from)
    };
    let top = |key: &str| map.get(key).and_then(Value::as_str).map(Name::from);
    Meta {
        host: top("host")
            .or_else(|| top("hostname"))
            .or_else(|| from_k8s("host")),
        pod: from_k8s("pod_name"),
        container: from_k8s("container_name"),
        ..Meta::default()
    }
}

fn journal(map: &Map<String, Value>, out: &mut Pieces<'_>) -> Option<EnvelopeKind> {
    let text: Cow<'_, str> = match map.get("MESSAGE")? {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        // Non-UTF-8 or control characters: journald gives the bytes.
        Value::Array(bytes) => {
            let raw: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64())
                .map(|b| b as u8)
                .collect();
            Cow::Owned(String::from_utf8_lossy(&raw).into_owned())
        }
        _ => return None,
    };
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let field = |key: &str| map.get(key).and_then(Value::as_str).map(Name::from);
    let time = map
        .get("__REALTIME_TIMESTAMP")
        .and_then(Value::as_str)
        .and_then(epoch_text);
    let meta = Meta {
        time: time.into(),
        host: field("_HOSTNAME"),
        container: field("CONTAINER_NAME"),
        unit: field("_SYSTEMD_UNIT").or_else(|| field("SYSLOG_IDENTIFIER")),
        pid: field("_PID"),
        ..Meta::default()
    };
    out.push(piece(text, meta));
    Some(EnvelopeKind::JournalJson)
}

fn otel_resource(resource: &Value, out: &mut Pieces<'_>) {
    let attrs = resource.pointer("/resource/attributes");
    let meta = Meta {
        host: otel_attr(attrs, "host.name"),
        pod: otel_attr(attrs, "k8s.pod.name"),
        container: otel_attr(attrs, "k8s.container.name"),
        unit: otel_attr(attrs, "service.name").or_else(|| otel_attr(attrs, "log.file.path")),
        ..Meta::default()
    };
    let scopes = resource
        .get("scopeLogs")
        .or_else(|| resource.get("instrumentationLibraryLogs"));
    for scope in scopes.and_then(Value::as_array).into_iter().flatten() {
        let records = scope.get("logRecords").and_then(Value::as_array);
        for record in records.into_iter().flatten() {
            if let Value::Object(record) = record {
                otel_record(record, &meta, out);
            }
        }
    }
}

fn otel_record(record: &Map<String, Value>, resource: &Meta, out: &mut Pieces<'_>) -> Option<()> {
    let body = record.get("body")?;
    let text = match body {
        Value::String(s) => s.clone(),
        Value::Object(any) => match any.get("stringValue") {
            Some(Value::String(s)) => s.clone(),
            _ => serde_json::to_string(body).ok()?,
        },
        other => serde_json::to_string(other).ok()?,
    };
    let time = |key: &str| match record.get(key)? {
        Value::String(s) => epoch_text(s),
        v => v
            .as_i64()
            .map(|n| n.to_string())
            .and_then(|s| epoch_text(&s)),
    };
    let mut meta = resource.clone();
    meta.time = time("timeUnixNano")
        .or_else(|| time("observedTimeUnixNano"))
        .into();
    let attrs = record.get("attributes");
    meta.unit = meta.unit.or_else(|| otel_attr(attrs, "log.file.path"));
    out.push(piece(text.trim_end_matches('\n'), meta));
    Some(())
}

/// `[{"key":"service.name","value":{"stringValue":"keycloak"}}, …]`.
fn otel_attr(attrs: Option<&Value>, key: &str) -> Option<Name> {
    attrs?.as_array()?.iter().find_map(|kv| {
        (kv.get("key")?.as_str()? == key)
            .then(|| kv.pointer("/value/stringValue")?.as_str().map(Name::from))?
    })
}

fn cloudwatch_event(event: &Map<String, Value>, out: &mut Pieces<'_>) {
    if let Some(piece) = cloudwatch_event_piece(event) {
        out.push(piece);
    }
}

/// The record of one CloudWatch event object: its message, with its time
/// and log stream.
pub(super) fn cloudwatch_event_piece(event: &Map<String, Value>) -> Option<Piece<'static>> {
    let message = event.get("message").and_then(Value::as_str)?;
    let meta = Meta {
        time: event
            .get("timestamp")
            .and_then(Value::as_f64)
            .and_then(epoch_time)
            .into(),
        unit: event
            .get("logStreamName")
            .and_then(Value::as_str)
            .map(Name::from),
        ..Meta::default()
    };
    Some(piece(message.trim_end_matches('\n'), meta))
}

/// A JSON array of log records: each element an envelope record, or an
/// object with a `message` and a `timestamp`.
fn array<'a>(items: Vec<Value>, out: &mut Pieces<'a>) -> Option<EnvelopeKind> {
    let mut kind = None;
    for item in items {
        let Value::Object(map) = item else {
            return None;
        };
        let before = out.len();
        if let Some(k) = object(map.clone(), out) {
            kind = kind.or(Some(k));
        } else if map.contains_key("message") && map.contains_key("timestamp") {
            cloudwatch_event(&map, out);
            kind = kind.or(Some(EnvelopeKind::CloudWatchJson));
        }
        if out.len() == before {
            return None;
        }
    }
    kind
}

fn string_field<'m>(map: &'m Map<String, Value>, keys: &[&str]) -> Option<&'m str> {
    keys.iter()
        .find_map(|k| map.get(*k).and_then(Value::as_str))
}

fn piece(text: &str, meta: Meta) -> Piece<'static> {
    Piece {
        text: Cow::Owned(text.strip_suffix('\n').unwrap_or(text).to_string()),
        meta,
        partial: false,
    }
}
