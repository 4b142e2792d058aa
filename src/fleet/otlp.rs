//! OTLP/HTTP logs (`POST /v1/logs`): `ExportLogsServiceRequest` in
//! protobuf or in the OTLP JSON mapping, decoded with the maintained
//! generated messages (`opentelemetry-proto`, prost), answered with an
//! `ExportLogsServiceResponse` in the request's encoding. One endpoint for
//! the OTel Collector, Alloy, Fluent Bit's `opentelemetry` output, Vector's
//! OTLP codec and the OpenTelemetry SDKs.
//!
//! A record's stream is named from its resource's attributes and its own
//! (`log.file.path` is a record attribute of the Collector's filelog
//! receiver); its line is its body (a string; a structured body is kept as
//! its JSON). A record without a body is rejected and counted in
//! `partial_success`.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;

use super::Record;
use super::records::{Decoded, stream_name};

/// How a request (and so its answer) is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

impl Encoding {
    /// From a `Content-Type` header value; `None` for anything else.
    pub fn from_content_type(ct: &str) -> Option<Encoding> {
        let mime = ct.split(';').next().unwrap_or("").trim();
        match mime.to_ascii_lowercase().as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }

    /// The answer's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// A body that is not an OTLP logs request (400).
#[derive(Debug, thiserror::Error)]
#[error("not an OTLP logs request: {0}")]
pub struct BadOtlp(String);

/// Decodes a (decompressed) request body into records.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<Decoded, BadOtlp> {
    let request = match encoding {
        Encoding::Protobuf => {
            ExportLogsServiceRequest::decode(body).map_err(|e| BadOtlp(e.to_string()))?
        }
        // Invalid UTF-8 in a JSON string is replaced, not a reason to lose
        // the whole batch.
        Encoding::Json => serde_json::from_str(&String::from_utf8_lossy(body))
            .map_err(|e| BadOtlp(e.to_string()))?,
    };
    Ok(records(request))
}

fn records(request: ExportLogsServiceRequest) -> Decoded {
    let mut out = Decoded::default();
    for rl in request.resource_logs {
        let resource = rl.resource.map(|r| r.attributes).unwrap_or_default();
        for sl in rl.scope_logs {
            for lr in sl.log_records {
                let Some(body) = lr.body.as_ref().and_then(line_of) else {
                    out.rejected += 1;
                    continue;
                };
                let stream = stream_name(|key| {
                    attribute(&lr.attributes, key).or_else(|| attribute(&resource, key))
                });
                let time = match (lr.time_unix_nano, lr.observed_time_unix_nano) {
                    (0, 0) => String::new(),
                    (0, t) | (t, _) => t.to_string(),
                };
                out.records.push(Record { stream, time, body });
            }
        }
    }
    out
}

/// An attribute's value as text.
fn attribute(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(line_of)
}

/// A body as a line: a string as it is, bytes as (lossy) text, scalars as
/// text, structures as JSON; empty is no line.
fn line_of(v: &AnyValue) -> Option<String> {
    use any_value::Value as V;
    let line = match v.value.as_ref()? {
        V::StringValue(s) => s.clone(),
        V::BytesValue(b) => String::from_utf8_lossy(b).into_owned(),
        V::BoolValue(b) => b.to_string(),
        V::IntValue(i) => i.to_string(),
        V::DoubleValue(d) => d.to_string(),
        V::ArrayValue(_) | V::KvlistValue(_) => to_json(v).to_string(),
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    (!line.is_empty()).then_some(line)
}

/// A structured value as plain JSON (what a JSON-lines parser reads).
fn to_json(v: &AnyValue) -> serde_json::Value {
    use any_value::Value as V;
    match v.value.as_ref() {
        None => serde_json::Value::Null,
        Some(V::StringValue(s)) => s.clone().into(),
        Some(V::BytesValue(b)) => String::from_utf8_lossy(b).into_owned().into(),
        Some(V::BoolValue(b)) => (*b).into(),
        Some(V::IntValue(i)) => (*i).into(),
        Some(V::DoubleValue(d)) => (*d).into(),
        Some(V::ArrayValue(a)) => a.values.iter().map(to_json).collect(),
        Some(V::KvlistValue(kv)) => kv
            .values
            .iter()
            .map(|p| {
                let value = p.value.as_ref().map_or(serde_json::Value::Null, to_json);
                (p.key.clone(), value)
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        #[allow(unreachable_patterns)]
        Some(_) => serde_json::Value::Null,
    }
}

/// The `ExportLogsServiceResponse` for a request with `rejected` records
/// refused, encoded as the request was.
pub fn response(rejected: u64, encoding: Encoding) -> Vec<u8> {
    let answer = ExportLogsServiceResponse {
        partial_success: (rejected > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message: "log records without a body were rejected".into(),
        }),
    };
    match encoding {
        Encoding::Protobuf => answer.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&answer).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..KeyValue::default()
        }
    }

    fn request(bodies: &[Option<&str>]) -> ExportLogsServiceRequest {
        let log_records = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| LogRecord {
                time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                body: b.map(|s| AnyValue {
                    value: Some(any_value::Value::StringValue(s.into())),
                }),
                attributes: vec![kv("log.file.path", "/var/log/app/production.log")],
                ..LogRecord::default()
            })
            .collect();
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", "rails"), kv("k8s.pod.name", "web-1")],
                    ..Resource::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records,
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
    }

    #[test]
    fn protobuf_and_json_of_one_request_give_the_same_records() {
        let req = request(&[Some("line one"), None, Some("line two")]);
        let pb = decode(&req.encode_to_vec(), Encoding::Protobuf).expect("protobuf");
        let json = serde_json::to_vec(&req).expect("json");
        let js = decode(&json, Encoding::Json).expect("json");
        assert_eq!(pb, js);
        assert_eq!(pb.rejected, 1);
        assert_eq!(pb.records.len(), 2);
        assert_eq!(
            pb.records[0].stream,
            "rails/web-1//var/log/app/production.log"
        );
        assert_eq!(pb.records[1].body, "line two");
        assert_eq!(pb.records[0].time, "1700000000000000000");
    }

    #[test]
    fn the_spec_json_shape_with_string_nanos_decodes() {
        let body = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"host.name","value":{"stringValue":"kc-0"}}]},
          "scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000","body":{"stringValue":"hello"},
          "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]}"#;
        let d = decode(body, Encoding::Json).expect("decode");
        assert_eq!(d.records[0].stream, "kc-0");
        assert_eq!(d.records[0].body, "hello");
    }

    #[test]
    fn a_body_that_is_not_otlp_is_refused() {
        assert!(decode(b"\xff\xff\xff\xff garbage", Encoding::Protobuf).is_err());
        assert!(decode(b"{\"message\":", Encoding::Json).is_err());
    }

    #[test]
    fn the_answer_reports_rejected_records_in_the_request_encoding() {
        let pb = response(2, Encoding::Protobuf);
        let back = ExportLogsServiceResponse::decode(&pb[..]).expect("decode");
        assert_eq!(
            back.partial_success.map(|p| p.rejected_log_records),
            Some(2)
        );
        let js: serde_json::Value =
            serde_json::from_slice(&response(0, Encoding::Json)).expect("json");
        assert!(js.get("partialSuccess").is_none_or(|p| p.is_null()), "{js}");
    }
}
