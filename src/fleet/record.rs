//! One received log record, as every receiver (OTLP, HTTP JSON, syslog)
//! hands it on: the stream it belongs to, the shipper's time, the line; and
//! the name of a stream's source row ([`source_path`]). A leaf the
//! receivers, the in-flight budget and the writer share.

/// One received log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The stream it belongs to (pod, container, host, file, service).
    pub stream: String,
    /// The shipper's time of the record, as sent (only part of the digest:
    /// the line's own time is what the parsers read).
    pub time: String,
    /// The log line (several lines when the record carried a multi-line
    /// message).
    pub body: String,
}

/// The name of a stream's source row (`/sources` lists it next to files).
pub fn source_path(stream: &str) -> String {
    format!("stream:{stream}")
}
