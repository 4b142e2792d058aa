//! Feeding one chunk of whole lines to a file's parser: the one loop from
//! bytes to events, shared by `analyze`'s readers (one core or ranges,
//! `ingest/`) and `watch`'s follower (`watch.rs`). Lines that hold no needle
//! of the parser's quiet rule are offered to be skimmed; a chunk with binary
//! bytes is cleaned line by line. Lines come from `source/lines.rs`, which
//! has already cut those past the length limit.
//!
//! Invariant: every line of the chunk is either fed (line numbers counted
//! one by one, [`LineHooks::fed`] told of each) or, when
//! [`LineHooks::stop_before`] asks, the chunk ends at that line's start and
//! nothing of it or after it is fed.

use std::borrow::Cow;

use grantwatch_parsers::quiet::{Hint, QuietSkip};
use grantwatch_parsers::{Event, FileParser, Outcome};

use crate::text::{BinaryRuns, has_binary_bytes, text_of_line};

/// What feeding one chunk counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fed {
    /// Lines that held nothing but binary bytes (counted as skipped).
    pub(crate) binary_only: u64,
    /// Where the chunk was stopped ([`LineHooks::stop_before`] said so at
    /// this byte of the chunk), if it was.
    pub(crate) stopped_at: Option<usize>,
}

/// What a caller of [`feed_chunk`] hears about each line.
pub(crate) trait LineHooks {
    /// Before the line starting at byte `at` of the chunk is fed, with the
    /// parser as it stands: `true` ends the chunk there.
    fn stop_before(&mut self, _at: usize, _parser: &FileParser) -> bool {
        false
    }

    /// After line `line_no` was fed: its outcome (a line of binary bytes
    /// only is `Skipped`), and the events it completed, `events[mark..]`.
    fn fed<'t>(
        &mut self,
        _line_no: u64,
        _outcome: Outcome,
        _events: &mut Vec<Event<'t>>,
        _mark: usize,
    ) {
    }
}

/// Hears nothing.
pub(crate) struct NoHooks;

impl LineHooks for NoHooks {}

/// Hears of line starts only: the function is [`LineHooks::stop_before`].
pub(crate) struct StopBefore<F>(pub(crate) F);

impl<F: FnMut(usize, &FileParser) -> bool> LineHooks for StopBefore<F> {
    fn stop_before(&mut self, at: usize, parser: &FileParser) -> bool {
        (self.0)(at, parser)
    }
}

/// A chunk as text: borrowed when it is valid UTF-8 (the rule), else
/// with the invalid bytes replaced. The validation is `simdutf8`'s, which
/// answers only valid or not; the rare invalid chunk is read again by the
/// standard library's lossy conversion.
pub(crate) fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Feeds the lines of `text` (a chunk without its last newline) to
/// `parser`, numbering them after `line_no`; `hooks` hears of each line.
pub(crate) fn feed_chunk<'t>(
    parser: &mut FileParser,
    quiet: Option<&QuietSkip>,
    text: &'t str,
    line_no: &mut u64,
    runs: &mut BinaryRuns,
    events: &mut Vec<Event<'t>>,
    hooks: &mut impl LineHooks,
) -> Fed {
    let mut fed = Fed::default();
    let any_binary = has_binary_bytes(text.as_bytes());
    // One search over the chunk finds the lines that can matter; the
    // parser only counts the others (a chunk with binary runs is fed line
    // by line as it is cleaned).
    let mut candidates = quiet.filter(|_| !any_binary).map(|q| q.lines(text));
    let mut start = 0;
    // memchr's iterator is several times faster than `str::split`.
    for end in memchr::memchr_iter(b'\n', text.as_bytes()).chain([text.len()]) {
        if hooks.stop_before(start, parser) {
            fed.stopped_at = Some(start);
            return fed;
        }
        *line_no += 1;
        let hint = candidates
            .as_mut()
            .map_or(Hint::Feed, |c| c.line(start, end));
        let (binary, line) = if any_binary {
            text_of_line(&text[start..end])
        } else {
            (false, &text[start..end])
        };
        start = end + 1;
        runs.note(binary);
        if binary && line.is_empty() {
            fed.binary_only += 1;
            hooks.fed(*line_no, Outcome::Skipped, events, events.len());
            continue;
        }
        let mark = events.len();
        let outcome = parser.feed_hinted(*line_no, line, hint, events);
        hooks.fed(*line_no, outcome, events, mark);
    }
    fed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Valid text is borrowed as it is; a chunk with an invalid byte
    /// anywhere (inside a long ASCII run, a sequence cut by the chunk's
    /// end, an overlong form) reads as the standard library's lossy text.
    #[test]
    fn a_chunk_is_its_text_or_the_lossy_reading_of_it() {
        let ascii = "I, [2025-03-11T09:00:00.0 #9]  INFO -- : ok\n".repeat(40);
        let valid = format!("{ascii}é ü 日本 🙂\n{ascii}");
        assert!(matches!(utf8(valid.as_bytes()), Cow::Borrowed(t) if t == valid));
        for bad in [
            &b"\xff"[..],
            b"\xc3",
            b"\xe6\x97",
            b"\xc0\xaf",
            b"\xed\xa0\x80",
        ] {
            for at in [0, 1, 63, 64, ascii.len(), valid.len()] {
                let mut bytes = valid.as_bytes().to_vec();
                bytes.splice(at..at, bad.iter().copied());
                let read = utf8(&bytes);
                assert!(matches!(read, Cow::Owned(_)), "{bad:?} at {at}");
                assert_eq!(read, String::from_utf8_lossy(&bytes), "{bad:?} at {at}");
            }
        }
    }
}
