//! The failure as the contract shows it (`analyze --json`, `/api/failures`)
//! and the pieces it carries: candidates, evidence lines, the flow's context,
//! and the filters of the failure list. Plain data: the SQL that stores and
//! reads them is in `failures.rs`; the modules that index a stored failure
//! (the change feed, the incidents) read these types from here, so none of
//! them imports `failures.rs` and `failures.rs` can call them.

use std::io::Write;
use std::ops::Range;

use super::json_string::{write_opt_str, write_str};

use serde::{Deserialize, Serialize};

use crate::cause::{Cause, Confidence};
use grantwatch_parsers::{GrantType, ServerKind};

/// Another cause the evidence leaves open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The cause.
    pub cause: Cause,
    /// Why it is still possible.
    pub why: String,
}

/// One line of evidence for a failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Source file.
    pub file: String,
    /// Line number.
    pub line: u64,
    /// Time of the event the line belongs to (RFC 3339, UTC, ms), if known.
    pub ts: Option<String>,
    /// The redacted line.
    pub text: String,
}

/// The authorize request's redirect_uri beside the token request's, for the
/// failure page to compare.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectPair {
    /// What the authorize request sent.
    pub authorize: String,
    /// When the authorize request was made (RFC 3339 UTC), if known.
    pub authorize_ts: Option<String>,
    /// What the token request sent.
    pub token: String,
}

/// The clock of the client log that saw the failure, as measured against the
/// server's `Date` header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockContext {
    /// The client log.
    pub file: String,
    /// Its median offset (client minus server, ms).
    pub offset_ms: i64,
    /// How many paired observations the median is of.
    pub samples: usize,
    /// What the offset looks like (in sync, drift, a time-zone mistake).
    pub note: String,
    /// The offset measured closest before the failure (ms), and when (RFC
    /// 3339 UTC): a device clock can be changed mid-log.
    pub nearest: Option<(i64, String)>,
}

/// What the diagnosis compared, kept for the failure page (not part of the
/// JSON contract, whose `summary` says it in words).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureContext {
    /// Both redirect URIs of the flow, when both were logged.
    pub redirect_uris: Option<RedirectPair>,
    /// The client's clock, when a client log with server times was read.
    pub clock: Option<ClockContext>,
}

impl FailureContext {
    /// Nothing known beyond the failure's own fields (stored as NULL).
    pub(crate) fn is_empty(&self) -> bool {
        self.redirect_uris.is_none() && self.clock.is_none()
    }
}

/// A diagnosed failed token request: the JSON object of the contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// Stable id.
    pub id: String,
    /// Time of the failure, RFC 3339 UTC with milliseconds.
    pub ts: Option<String>,
    /// Authorization server kind (`None`, written `unknown`: no log named
    /// one).
    #[serde(
        serialize_with = "super::labels::serialize_server",
        deserialize_with = "super::labels::deserialize_server"
    )]
    pub server: Option<ServerKind>,
    /// Request id.
    pub request_id: Option<String>,
    /// Client id.
    pub client_id: Option<String>,
    /// Grant type, as logged (or inferred).
    pub grant_type: Option<GrantType>,
    /// OAuth error.
    pub error: Option<String>,
    /// HTTP status.
    pub http_status: Option<u16>,
    /// The root cause.
    pub cause: Cause,
    /// How sure the diagnosis is.
    pub confidence: Confidence,
    /// Other causes still possible.
    pub candidates: Vec<Candidate>,
    /// One sentence a person can act on.
    pub summary: String,
    /// What to change.
    pub fix: String,
    /// Evidence lines across sources, in time order.
    pub evidence: Vec<Evidence>,
    /// Which log would settle it (only when confidence is not high).
    pub missing: Option<String>,
    /// What the diagnosis compared (stored, not serialized).
    #[serde(skip)]
    pub context: FailureContext,
}

/// A failure as `analyze --json` writes it from a kept database's row: its
/// candidates and evidence as JSON arrays, written out as they are. The
/// same bytes as the record's serialization, which
/// `store::tests::a_stored_failure_writes_the_bytes_of_its_record` checks;
/// a scratch database's lines, rendered by the same function
/// ([`RenderedJson`]), are printed without reading the row back.
#[derive(Debug)]
pub struct StoredFailure {
    /// Every field but the two below (left empty) and the context.
    pub record: FailureRecord,
    /// `record.candidates` as stored: a JSON array.
    pub candidates: String,
    /// `record.evidence` as stored: a JSON array.
    pub evidence: String,
}

/// A failure as `analyze --json` prints it, rendered where it is
/// diagnosed (on every core): all of its line but the id, which may still
/// change when the failure settles (`diagnose/pipeline.rs`), and its
/// context. The store's one writer, the busiest thread at the end of a
/// Rails log's diagnosis, only copies it, and a scratch analysis's report
/// prints the line as it was rendered here instead of reading the row back
/// and writing it again (benches/README.md).
///
/// Invariant: `{"id":<id>` followed by `rest` is the line
/// [`StoredFailure::write_json`] writes for the row the store makes of the
/// record with that id and `ts_ms` (the same function writes both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedJson {
    /// The line after its id: from the `,"ts":` that follows the id to the
    /// closing brace.
    pub(super) rest: String,
    /// Where the candidates' JSON array is in `rest`.
    pub(super) candidates: Range<usize>,
    /// Where the evidence's JSON array is in `rest`.
    pub(super) evidence: Range<usize>,
    /// `None` when the context is empty.
    pub(super) context: Option<String>,
}

impl RenderedJson {
    /// The candidates as the store writes them: a JSON array.
    pub(super) fn candidates(&self) -> &str {
        &self.rest[self.candidates.clone()]
    }

    /// The evidence as the store writes it: a JSON array.
    pub(super) fn evidence(&self) -> &str {
        &self.rest[self.evidence.clone()]
    }
}

impl FailureRecord {
    /// Its line and context as [`RenderedJson`], for the row the store
    /// makes of it with the time `ts_ms` (whose `ts` a report prints, not
    /// the record's own).
    pub fn render_json(&self, ts_ms: Option<i64>) -> serde_json::Result<RenderedJson> {
        let candidates = candidates_json(&self.candidates)?;
        let evidence = evidence_json(&self.evidence)?;
        let ts = ts_ms.and_then(crate::time::format_ts);
        let mut rest = Vec::with_capacity(candidates.len() + evidence.len() + 1024);
        let (candidates, evidence) =
            write_rest(&mut rest, self, ts.as_deref(), &candidates, &evidence)?;
        Ok(RenderedJson {
            rest: into_string(rest)?,
            candidates,
            evidence,
            context: match self.context.is_empty() {
                true => None,
                false => Some(serde_json::to_string(&self.context)?),
            },
        })
    }

    /// Empties what [`FailureRecord::render_json`] rendered (candidates,
    /// evidence, context), for a record that is written from its rendering
    /// alone.
    pub fn forget_rendered(&mut self) {
        self.candidates = Vec::new();
        self.evidence = Vec::new();
        self.context = FailureContext::default();
    }
}

#[cfg(test)]
impl FailureRecord {
    /// A `code_reused` failure of low confidence with id `id` and nothing
    /// else known: for tests that store failures.
    pub(crate) fn bare(id: &str) -> FailureRecord {
        FailureRecord {
            id: id.to_owned(),
            ts: None,
            server: None,
            request_id: None,
            client_id: None,
            grant_type: None,
            error: None,
            http_status: None,
            cause: crate::cause::Cause::CodeReused,
            confidence: crate::cause::Confidence::Low,
            candidates: Vec::new(),
            summary: String::new(),
            fix: String::new(),
            evidence: Vec::new(),
            missing: None,
            context: FailureContext::default(),
        }
    }
}

impl StoredFailure {
    /// Writes the failure as one JSON object: [`FailureRecord`]'s fields,
    /// in its order, under its names, as `serde_json` writes them; the
    /// candidates and evidence as stored.
    pub fn write_json(&self, out: &mut dyn Write) -> serde_json::Result<()> {
        let r = &self.record;
        let mut line = Vec::with_capacity(self.candidates.len() + self.evidence.len() + 1024);
        write_failure_id(&mut line, &r.id);
        write_rest(
            &mut line,
            r,
            r.ts.as_deref(),
            &self.candidates,
            &self.evidence,
        )?;
        out.write_all(&line).map_err(serde_json::Error::io)
    }
}

/// The start of a failure's JSON object: `{"id":` and the id.
pub fn write_failure_id(out: &mut Vec<u8>, id: &str) {
    JsonObject { out, first: true }.str_field("id", Some(id));
}

/// The candidates as `serde_json` writes the vector (the cause by its
/// serialization, the reason as [`write_str`] writes it).
fn candidates_json(candidates: &[Candidate]) -> serde_json::Result<String> {
    json_array(candidates, 64 * candidates.len(), |json, c| {
        json.field("cause", &c.cause)?;
        json.str_field("why", Some(&c.why));
        Ok(())
    })
}

/// The evidence lines as `serde_json` writes the vector: most of a
/// failure's JSON, its texts written sixteen bytes at a time
/// (`json_string.rs`).
fn evidence_json(evidence: &[Evidence]) -> serde_json::Result<String> {
    let texts: usize = evidence.iter().map(|e| e.file.len() + e.text.len()).sum();
    json_array(evidence, texts + 64 * evidence.len(), |json, e| {
        json.str_field("file", Some(&e.file));
        json.field("line", &e.line)?;
        json.str_field("ts", e.ts.as_deref());
        json.str_field("text", Some(&e.text));
        Ok(())
    })
}

/// A JSON array of `items`, each an object `write` fills, as `serde_json`
/// writes a vector of structs; about `bytes` long.
fn json_array<T>(
    items: &[T],
    bytes: usize,
    write: impl Fn(&mut JsonObject<'_>, &T) -> serde_json::Result<()>,
) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(bytes + 2);
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut json = JsonObject {
            out: &mut out,
            first: true,
        };
        write(&mut json, item)?;
        json.end();
    }
    out.push(b']');
    into_string(out)
}

/// JSON written from `&str`s and ASCII as a `String`.
fn into_string(bytes: Vec<u8>) -> serde_json::Result<String> {
    String::from_utf8(bytes).map_err(|e| serde_json::Error::io(std::io::Error::other(e)))
}

/// A failure's JSON object after its id (`,"ts":` … `}`), its time `ts`,
/// its candidates and evidence the JSON arrays given; returns where those
/// two are in `out`.
fn write_rest(
    out: &mut Vec<u8>,
    r: &FailureRecord,
    ts: Option<&str>,
    candidates: &str,
    evidence: &str,
) -> serde_json::Result<(Range<usize>, Range<usize>)> {
    struct Server(Option<ServerKind>);
    impl Serialize for Server {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            super::labels::serialize_server(&self.0, s)
        }
    }
    let start = out.len();
    let mut json = JsonObject { out, first: false };
    json.str_field("ts", ts);
    json.field("server", &Server(r.server))?;
    json.str_field("request_id", r.request_id.as_deref());
    json.str_field("client_id", r.client_id.as_deref());
    json.field("grant_type", &r.grant_type)?;
    json.str_field("error", r.error.as_deref());
    json.field("http_status", &r.http_status)?;
    json.field("cause", &r.cause)?;
    json.field("confidence", &r.confidence)?;
    let candidates = json.raw_field("candidates", candidates);
    json.str_field("summary", Some(&r.summary));
    json.str_field("fix", Some(&r.fix));
    let evidence = json.raw_field("evidence", evidence);
    json.str_field("missing", r.missing.as_deref());
    json.end();
    let from_start = |at: Range<usize>| at.start - start..at.end - start;
    Ok((from_start(candidates), from_start(evidence)))
}

/// A JSON object written a field at a time, as `serde_json`'s compact
/// writer writes a struct (`first`: no field written yet).
struct JsonObject<'w> {
    out: &'w mut Vec<u8>,
    first: bool,
}

impl JsonObject<'_> {
    fn key(&mut self, name: &str) {
        let open = if std::mem::take(&mut self.first) {
            b'{'
        } else {
            b','
        };
        self.out.push(open);
        write_str(self.out, name);
        self.out.push(b':');
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> serde_json::Result<()> {
        self.key(name);
        serde_json::to_writer(&mut *self.out, value)
    }

    /// A string field (`None`: `null`), as `serde_json` writes one.
    fn str_field(&mut self, name: &str, text: Option<&str>) {
        self.key(name);
        write_opt_str(self.out, text);
    }

    /// Writes `json` as it is under `name`; returns where it is in `out`.
    fn raw_field(&mut self, name: &str, json: &str) -> Range<usize> {
        self.key(name);
        let at = self.out.len();
        self.out.extend_from_slice(json.as_bytes());
        at..self.out.len()
    }

    fn end(self) {
        self.out
            .extend_from_slice(if self.first { b"{}" } else { b"}" });
    }
}

/// Filters of the failure list (all optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureFilter {
    /// Only this cause.
    pub cause: Option<Cause>,
    /// Only this client id.
    pub client: Option<String>,
    /// Only this server (`Some(None)`: the failures no log named a server
    /// for, the `unknown` of the labels).
    pub server: Option<Option<ServerKind>>,
    /// Only failures at or after this time (ms).
    pub since_ms: Option<i64>,
    /// Only failures before this time (ms).
    pub until_ms: Option<i64>,
}

/// Causes and confidences are stored by their ids (`code_reused`, `high`)
/// and read back checked: an id this binary does not know is an error, not
/// a silent default.
mod sql {
    use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

    use crate::cause::{Cause, Confidence};

    fn unknown(what: &str, name: &str) -> FromSqlError {
        FromSqlError::Other(format!("unknown {what} {name:?}").into())
    }

    impl ToSql for Cause {
        fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
            Ok(ToSqlOutput::from(self.as_str()))
        }
    }

    impl FromSql for Cause {
        fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
            let name = value.as_str()?;
            Cause::from_id(name).ok_or_else(|| unknown("cause", name))
        }
    }

    impl ToSql for Confidence {
        fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
            Ok(ToSqlOutput::from(self.as_str()))
        }
    }

    impl FromSql for Confidence {
        fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
            let name = value.as_str()?;
            Confidence::from_name(name).ok_or_else(|| unknown("confidence", name))
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::cause::Cause;

    fn evidence_line() -> impl Strategy<Value = Evidence> {
        let text = "[ -~\t\n\u{1}\u{1b}\"\\\\é日]{0,120}";
        (text, any::<u64>(), proptest::option::of(text), text).prop_map(|(file, line, ts, text)| {
            Evidence {
                file,
                line,
                ts,
                text,
            }
        })
    }

    proptest! {
        /// The arrays a failure's line holds are the bytes `serde_json`
        /// writes for the same vectors.
        #[test]
        fn the_arrays_are_written_as_serde_writes_them(
            evidence in proptest::collection::vec(evidence_line(), 0..4),
            whys in proptest::collection::vec(any::<String>(), 0..3),
        ) {
            let candidates: Vec<Candidate> = whys
                .into_iter()
                .map(|why| Candidate { cause: Cause::CodeExpired, why })
                .collect();
            prop_assert_eq!(
                evidence_json(&evidence).expect("evidence"),
                serde_json::to_string(&evidence).expect("serde")
            );
            prop_assert_eq!(
                candidates_json(&candidates).expect("candidates"),
                serde_json::to_string(&candidates).expect("serde")
            );
        }
    }
}
