//! Helpers shared by the crate-level integration tests: run lines through a
//! [`FileParser`] the way the daemon does (every line, then flush), with a
//! forced format or with the one [`detect`] picks.
//!
//! Events are returned owned so that the input lines can be dropped; line
//! numbers are 1-based like the daemon's.

#![allow(dead_code)]

use grantwatch_parsers::{CONCRETE_FORMATS, Context, Event, FileParser, Format, detect};

/// Every format a user can force: the crate's concrete formats, then
/// `Mixed`.
pub fn all_formats() -> Vec<Format> {
    CONCRETE_FORMATS
        .iter()
        .copied()
        .chain([Format::Mixed])
        .collect()
}

/// Feeds every line to a fresh parser of `format`, then flushes.
pub fn parse_forced<S: AsRef<str>>(format: Format, lines: &[S]) -> Vec<Event<'static>> {
    let mut parser = FileParser::new(format, Context::default());
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        parser.feed(i as u64 + 1, line.as_ref(), &mut out);
    }
    parser.flush(&mut out);
    out.into_iter().map(Event::into_owned).collect()
}

/// Detects the format of `lines` (as the daemon does, from the first lines)
/// and parses them with it. Returns the detected format too.
pub fn parse_detected<S: AsRef<str>>(lines: &[S]) -> (Format, Vec<Event<'static>>) {
    let refs: Vec<&str> = lines.iter().map(AsRef::as_ref).collect();
    let format = detect(&refs);
    (format, parse_forced(format, &refs))
}
