//! The receivers' memory budget: one count of the bytes that bodies being
//! read, inflated and decoded, and batches waiting for the writer, take in
//! memory, charged **before** the memory is taken (admission), and the
//! estimates it is charged by.
//!
//! A request is charged its wire size before its body is read, grows its
//! charge chunk by chunk while a gzip body inflates, is charged the
//! estimate of what decoding makes ([`decode_cost`]) before decoding, and
//! after decoding keeps only what its records take ([`records_cost`]) until
//! the writer has committed them. A charge that does not fit is refused
//! (the caller answers 429), never waited for on the HTTP side; syslog over
//! TCP waits instead (back-pressure into the sender's socket).
//!
//! Invariants: the permits out never exceed the budget; one charge is at
//! most the whole budget (clamped), so a body of the largest accepted size
//! is still taken when nothing else is in flight; the estimates are upper
//! bounds of what the decoders allocate for well-formed input (each field
//! or JSON value counted at the size of the largest struct it can become),
//! so a body of many tiny records is charged for its records, not its
//! bytes.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Record;

/// Bytes charged per protobuf field on top of its wire bytes (a scalar
/// field lives inside its message's struct; this covers a repeated
/// element's share of a `Vec`).
const PB_FIELD: usize = 32;

/// Bytes charged per embedded protobuf message (prost's largest OTLP
/// message struct, `LogRecord`, is about 220 bytes; an `AnyValue` 56).
const PB_MESSAGE: usize = 256;

/// Embedded messages looked into at most (OTLP logs nest about 8 deep).
const PB_DEPTH: u32 = 12;

/// Bytes charged per JSON object (a `serde_json` map, or a prost struct
/// decoded from it).
const JSON_OBJECT: usize = 256;

/// Bytes charged per other JSON value, key or array element.
const JSON_VALUE: usize = 64;

/// Bytes of one [`Record`] beyond its strings' contents (three `String`s
/// and the allocator's headers of their buffers).
const RECORD_OVERHEAD: usize = 3 * 24 + 3 * 16;

/// The in-flight byte budget.
#[derive(Debug)]
pub struct Budget {
    sem: Arc<Semaphore>,
    total: usize,
}

impl Budget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> Budget {
        let total = total.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        Budget {
            sem: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// The budget.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes charged now.
    pub fn in_use(&self) -> usize {
        self.total - self.sem.available_permits()
    }

    fn clamp(&self, bytes: usize) -> u32 {
        // `total` fits in a u32 (clamped in `new`).
        bytes.clamp(1, self.total) as u32
    }

    /// Charges `bytes` now, or `None` when they do not fit.
    pub fn try_charge(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.sem)
            .try_acquire_many_owned(self.clamp(bytes))
            .ok()
    }

    /// Charges `bytes`, waiting until they fit (`None` only if the budget
    /// were closed, which nothing does).
    pub async fn charge(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.sem)
            .acquire_many_owned(self.clamp(bytes))
            .await
            .ok()
    }

    /// Makes `permit` hold `bytes` (clamped to the budget): grows it if the
    /// difference fits (`false` when it does not: the charge is unchanged),
    /// or gives the excess back.
    pub fn resize(&self, permit: &mut OwnedSemaphorePermit, bytes: usize) -> bool {
        let want = self.clamp(bytes) as usize;
        let have = permit.num_permits();
        if want > have {
            match self.try_charge(want - have) {
                Some(more) => permit.merge(more),
                None => return false,
            }
        } else if want < have {
            drop(permit.split(have - want));
        }
        true
    }
}

/// An upper bound of the bytes decoding `body` takes at its peak (the
/// decoded message and the records made from it), for an OTLP protobuf body
/// (`protobuf`) or a JSON one (OTLP JSON or `/api/ingest`).
pub fn decode_cost(body: &[u8], protobuf: bool) -> usize {
    let shape = if protobuf {
        let mut cost = 0;
        scan_pb(body, 0, &mut cost);
        cost
    } else {
        json_cost(body)
    };
    // The body, the decoded strings (at most as long as encoded) and the
    // records' copies of them.
    2 * body.len() + shape + body.len()
}

/// What `records` take in memory while they wait for the writer.
pub fn records_cost(records: &[Record]) -> usize {
    records
        .iter()
        .map(|r| RECORD_OVERHEAD + r.body.capacity() + r.stream.capacity() + r.time.capacity())
        .sum()
}

/// JSON: every object charged as a struct, every other value, key and
/// element (each follows a `,`, `:` or `[`) as a value. Counting bytes
/// inside strings too only overestimates.
fn json_cost(body: &[u8]) -> usize {
    let mut objects = 0usize;
    let mut values = 1usize;
    for b in body {
        match b {
            b'{' => objects += 1,
            b',' | b':' | b'[' => values += 1,
            _ => {}
        }
    }
    objects * JSON_OBJECT + values * JSON_VALUE
}

/// Walks protobuf wire format, adding [`PB_FIELD`] per field and
/// [`PB_MESSAGE`] per length-delimited field that is itself a well-formed
/// message (a string that happens to parse as one is overcounted, which
/// only overestimates). `false` when `buf` is not a message.
fn scan_pb(buf: &[u8], depth: u32, cost: &mut usize) -> bool {
    let mut at = 0;
    while at < buf.len() {
        let Some((key, n)) = varint(&buf[at..]) else {
            return false;
        };
        at += n;
        if key >> 3 == 0 {
            return false;
        }
        *cost += PB_FIELD;
        match key & 7 {
            0 => match varint(&buf[at..]) {
                Some((_, n)) => at += n,
                None => return false,
            },
            1 => at += 8,
            5 => at += 4,
            2 => {
                let Some((len, n)) = varint(&buf[at..]) else {
                    return false;
                };
                at += n;
                let Some(end) = usize::try_from(len)
                    .ok()
                    .and_then(|l| at.checked_add(l))
                    .filter(|e| *e <= buf.len())
                else {
                    return false;
                };
                let mut inner = 0;
                if depth < PB_DEPTH && end > at && scan_pb(&buf[at..end], depth + 1, &mut inner) {
                    *cost += PB_MESSAGE + inner;
                }
                at = end;
            }
            _ => return false,
        }
    }
    at == buf.len()
}

/// A protobuf varint and its length.
fn varint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, b) in buf.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use prost::Message as _;

    fn request(records: usize, body: &str) -> Vec<u8> {
        use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: (0..records)
                        .map(|i| LogRecord {
                            time_unix_nano: i as u64,
                            body: (!body.is_empty()).then(|| AnyValue {
                                value: Some(any_value::Value::StringValue(body.into())),
                            }),
                            ..LogRecord::default()
                        })
                        .collect(),
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn many_tiny_records_are_charged_for_their_records_not_their_bytes() {
        // Records with a time only are 11 bytes on the wire and a ~220-byte
        // struct decoded: the charge must cover the structs.
        let tiny = request(10_000, "");
        assert!(tiny.len() <= 11 * 10_000 + 16, "{}", tiny.len());
        let cost = decode_cost(&tiny, true);
        assert!(cost >= 10_000 * 220, "{cost}");
        // A typical line is charged a small multiple of its bytes.
        let line = "Started POST \"/oauth/token\" for 10.0.0.1 at 2025-04-14 10:00:00 +0000";
        let typical = request(1000, line);
        let cost = decode_cost(&typical, true);
        assert!(
            cost > 3 * typical.len() && cost < 12 * typical.len(),
            "{cost}"
        );
    }

    #[test]
    fn json_is_charged_per_object_and_value() {
        let tiny = "{},".repeat(10_000);
        assert!(decode_cost(tiny.as_bytes(), false) >= 10_000 * JSON_OBJECT);
        assert_eq!(json_cost(b"\"x\""), JSON_VALUE);
    }

    #[test]
    fn garbage_is_charged_at_least_its_bytes() {
        let junk = b"\xff\xff\xff\xff not protobuf";
        assert!(decode_cost(junk, true) >= 2 * junk.len());
    }

    #[test]
    fn charges_never_exceed_the_budget_and_resize_both_ways() {
        let b = Budget::new(1000);
        let mut big = b.try_charge(5000).expect("clamped to the whole budget");
        assert_eq!(b.in_use(), 1000);
        assert!(b.try_charge(1).is_none());
        assert!(b.resize(&mut big, 300));
        assert_eq!(b.in_use(), 300);
        let other = b.try_charge(600).expect("fits");
        assert!(!b.resize(&mut big, 500), "200 more does not fit");
        assert_eq!(b.in_use(), 900);
        drop(other);
        assert!(b.resize(&mut big, 500));
        drop(big);
        assert_eq!(b.in_use(), 0);
    }
}
