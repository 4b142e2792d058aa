//! What identifies a log file and how it is read, shared by the one-shot
//! reader (`ingest/`), the follower (`tail/`, `watch`) and the receivers
//! (`fleet/`) so they agree byte for byte: a file generation is known by the
//! hash of its first [`HEAD_BYTES`] (stored with its offset; a restart
//! compares them), lines are cut at [`MAX_LINE_BYTES`], a file is judged
//! text or binary on its first [`SNIFF_BYTES`], documents beside the logs
//! are not logs ([`is_documentation`]), and lines without a year or a date
//! take the file's ([`with_year`]).

use std::path::Path;

use chrono::Datelike as _;
use grantwatch_parsers::Context;
use grantwatch_parsers::hex::lower_hex;
use sha2::{Digest, Sha256};

pub(crate) mod lines;

/// Bytes of a file's head that identify its content.
pub const HEAD_BYTES: usize = 1024;

/// Lines longer than this are cut (the rest of the line is dropped) and
/// counted.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Bytes sniffed to tell a log from binary data.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The hash of a file's first bytes (at most [`HEAD_BYTES`] of `head`), in
/// the store's form: hex of the first 8 bytes of SHA-256.
pub fn head_hash(head: &[u8]) -> String {
    lower_hex(&Sha256::digest(&head[..head.len().min(HEAD_BYTES)])[..8])
}

/// Files in a log folder that are documents, not logs (a README beside the
/// logs): skipped when walking a folder, read when named explicitly.
pub fn is_documentation(path: &Path) -> bool {
    const DOCS: [&str; 6] = ["md", "markdown", "rst", "adoc", "html", "pdf"];
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| DOCS.iter().any(|d| e.eq_ignore_ascii_case(d)))
}

/// Year-less lines (logcat) need a year, date-less ones a date. Unless they
/// were configured, take them from the file itself (an HTTP `Date` header a
/// client logged, which has a full date), else from the file's modification
/// time. Such times are marked as inferred in the events.
pub fn with_year(ctx: &Context, head: &str, meta: &std::fs::Metadata) -> Context {
    let modified = meta
        .modified()
        .ok()
        .map(chrono::DateTime::<chrono::Utc>::from);
    with_year_at(ctx, head, modified)
}

/// [`with_year`] for lines that have no file: `modified` stands in for the
/// file's time (a received stream: the time it arrived).
pub fn with_year_at(
    ctx: &Context,
    head: &str,
    modified: Option<chrono::DateTime<chrono::Utc>>,
) -> Context {
    let mut ctx = ctx.clone();
    if ctx.assumed_year.is_some() && ctx.assumed_date.is_some() {
        return ctx;
    }
    let from_header = head.lines().find_map(|line| {
        let lower = line.to_ascii_lowercase();
        let at = lower.find("date: ")?;
        let value = line[at + 6..]
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        grantwatch_parsers::common::http_date(value)
    });
    if ctx.assumed_year.is_none() {
        ctx.assumed_year = from_header.map(|d| d.year()).or(modified.map(|m| m.year()));
    }
    // Lines with only a time of day (WildFly, Serilog's console) keep their
    // order and spacing on the file's own date; the true date needs --date.
    if ctx.assumed_date.is_none() {
        ctx.assumed_date = from_header.or(modified).map(|d| d.date_naive());
    }
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_head_counts() {
        let mut long = vec![b'a'; HEAD_BYTES];
        let same = head_hash(&long);
        long.extend_from_slice(b"more lines after the head");
        assert_eq!(head_hash(&long), same);
        assert_eq!(head_hash(b"").len(), 16);
        assert_ne!(head_hash(b"a\n"), head_hash(b"b\n"));
    }
}
