//! The failure as the contract shows it (`analyze --json`, `/api/failures`)
//! and the pieces it carries: candidates, evidence lines, the flow's context,
//! and the filters of the failure list. Plain data: the SQL that stores and
//! reads them is in `failures.rs`; the modules that index a stored failure
//! (the change feed, the incidents) read these types from here, so none of
//! them imports `failures.rs` and `failures.rs` can call them.

use std::io::Write;

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

/// A failure as `analyze --json` writes it from a scratch database: its
/// candidates and evidence still the JSON they were stored as. This binary
/// wrote them from [`Candidate`] and [`Evidence`] moments before, so they
/// are written out as they are instead of parsed and written again (a
/// tenth of a Rails log's serial tail), nor parsed to be checked (serde's
/// `RawValue` checks what it holds: a sixth of writing a failure out,
/// benches/README.md). The same bytes as the record's serialization, which
/// `store::tests::a_stored_failure_writes_the_bytes_of_its_record` checks.
#[derive(Debug)]
pub struct StoredFailure {
    /// Every field but the two below (left empty) and the context.
    pub record: FailureRecord,
    /// `record.candidates` as stored: a JSON array.
    pub candidates: String,
    /// `record.evidence` as stored: a JSON array.
    pub evidence: String,
}

/// A failure's candidates, evidence and context as the store writes
/// them: JSON texts ([`FailureRecord::render_json`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedJson {
    pub(super) candidates: String,
    pub(super) evidence: String,
    /// `None` when the context is empty.
    pub(super) context: Option<String>,
}

impl FailureRecord {
    /// Its candidates, evidence and context as JSON, as the store writes
    /// them: rendered where the failure is diagnosed (on every core), so
    /// that the store's one writer, the busiest thread at the end of a
    /// Rails log's diagnosis, only copies them (benches/README.md).
    pub fn render_json(&self) -> serde_json::Result<RenderedJson> {
        Ok(RenderedJson {
            candidates: serde_json::to_string(&self.candidates)?,
            evidence: serde_json::to_string(&self.evidence)?,
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
        struct Server(Option<ServerKind>);
        impl Serialize for Server {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                super::labels::serialize_server(&self.0, s)
            }
        }
        let r = &self.record;
        let mut json = JsonObject { out, first: true };
        json.field("id", &r.id)?;
        json.field("ts", &r.ts)?;
        json.field("server", &Server(r.server))?;
        json.field("request_id", &r.request_id)?;
        json.field("client_id", &r.client_id)?;
        json.field("grant_type", &r.grant_type)?;
        json.field("error", &r.error)?;
        json.field("http_status", &r.http_status)?;
        json.field("cause", &r.cause)?;
        json.field("confidence", &r.confidence)?;
        json.raw_field("candidates", &self.candidates)?;
        json.field("summary", &r.summary)?;
        json.field("fix", &r.fix)?;
        json.raw_field("evidence", &self.evidence)?;
        json.field("missing", &r.missing)?;
        json.end()
    }
}

/// A JSON object written a field at a time, as `serde_json`'s compact
/// writer writes a struct.
struct JsonObject<'w> {
    out: &'w mut dyn Write,
    first: bool,
}

impl JsonObject<'_> {
    fn key(&mut self, name: &str) -> serde_json::Result<()> {
        let open: &[u8] = if std::mem::take(&mut self.first) {
            b"{"
        } else {
            b","
        };
        self.out.write_all(open).map_err(serde_json::Error::io)?;
        serde_json::to_writer(&mut *self.out, name)?;
        self.out.write_all(b":").map_err(serde_json::Error::io)
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> serde_json::Result<()> {
        self.key(name)?;
        serde_json::to_writer(&mut *self.out, value)
    }

    fn raw_field(&mut self, name: &str, json: &str) -> serde_json::Result<()> {
        self.key(name)?;
        self.out
            .write_all(json.as_bytes())
            .map_err(serde_json::Error::io)
    }

    fn end(self) -> serde_json::Result<()> {
        let close: &[u8] = if self.first { b"{}" } else { b"}" };
        self.out.write_all(close).map_err(serde_json::Error::io)
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
