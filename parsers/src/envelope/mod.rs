//! Envelopes: the wrappers that container runtimes, journald, syslog,
//! process managers, hosting platforms and log shippers put around each line
//! an application wrote. This stage runs before format detection and the
//! format parsers: it takes the wrapper off, keeps what it said (time,
//! stream, host, pod, container, unit, pid) and hands the inner line on.
//!
//! Invariants:
//! - No I/O, no panic on any input; a line no envelope recognises is passed
//!   through unchanged (the common case costs one or two byte comparisons).
//! - Envelopes stack (a syslog line carrying a CRI line): [`peel`] unwraps
//!   up to [`MAX_DEPTH`] layers, the innermost layer's fields winning.
//! - Shapes that an application's own prefix could imitate (a bare RFC 3339
//!   time in front of the message) are only taken when they cannot be the
//!   start of the application's line (see `peel.rs`), or when the file
//!   has already shown that envelope (the `sticky` hint).
//! - Split records (CRI `P` lines, docker's 16 KiB pieces) are joined by
//!   [`Unwrapper`] per origin and stream, bounded in size.
//!
//! Layout: `model.rs` the types every envelope file fills ([`EnvelopeKind`],
//! [`Meta`], [`Piece`]), `time.rs` the envelopes' times, `peel.rs` one layer
//! taken off, one file per family of envelopes (`container.rs`, `docker.rs`,
//! `syslog.rs`, `cloud.rs`, `shipper.rs`), `indented.rs` an indented
//! CloudWatch export read line by line, `joiner.rs` the layers stacked
//! and the split lines joined, `quiet_line.rs` a line read for a skim. This file only declares and re-exports them,
//! so that none of them imports it.

mod cloud;
mod container;
mod docker;
mod indented;
mod joiner;
mod model;
mod nano_stamp;
mod peel;
mod quiet_line;
mod shipper;
mod shipper_keys;
mod syslog;
mod time;

pub use joiner::{Record, Unwrapped, Unwrapper};
pub use model::{ALL_ENVELOPES, EnvelopeKind, MAX_DEPTH, Meta, Name, Piece, Pieces, Stream};
pub use peel::peel;
pub use quiet_line::{QuietOrigin, QuietText};
pub use syslog::HeaderMemo;
pub use time::{EnvelopeTime, Stamp};
pub(crate) use time::{rfc3339_prefix, rfc3339_stamp};

/// The records of a shipper's JSON document that a person's paste spread
/// over many lines (`aws logs filter-log-events` prints its document
/// indented), once joined back into one text: each record's text and what
/// the document said of it. `None` when the text is no such document (an
/// error body, an application's own JSON).
pub(crate) fn document_records(text: &str) -> Option<Vec<(String, Meta)>> {
    let mut pieces = Pieces::new();
    shipper::peel_json_value(text, &mut pieces)?;
    Some(
        pieces
            .into_iter()
            .map(|p| (p.text.into_owned(), p.meta))
            .collect(),
    )
}

#[cfg(test)]
mod syslog_memo_tests;
#[cfg(test)]
mod tests;
