//! Feeding one chunk of whole lines to a file's parser: the loop the
//! one-core reader and the range readers share. Lines that hold no needle of
//! the parser's quiet rule are offered to be skimmed; a chunk with binary
//! bytes is cleaned line by line; a line past [`MAX_LINE_BYTES`] is cut and
//! counted.
//!
//! Invariant: every line of the chunk is either fed (line numbers counted
//! one by one) or, when `stop_before` asks, the chunk ends at that line's
//! start and nothing of it or after it is fed.

use grantwatch_parsers::quiet::{Hint, QuietSkip};
use grantwatch_parsers::{Event, FileParser};

use crate::source::MAX_LINE_BYTES;
use crate::text::{BinaryRuns, has_binary_bytes, text_of_line};

/// What feeding one chunk counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Fed {
    /// Lines cut at [`MAX_LINE_BYTES`].
    pub(super) cut: u64,
    /// Lines that held nothing but binary bytes (counted as skipped).
    pub(super) binary_only: u64,
    /// Where the chunk was stopped (`stop_before` said so at this byte of
    /// the chunk), if it was.
    pub(super) stopped_at: Option<usize>,
}

/// Feeds the lines of `text` (a chunk without its last newline) to
/// `parser`, numbering them after `line_no`. `stop_before` hears of each
/// line's start (its byte in the chunk) before the line is fed, with the
/// parser as it stands, and ends the chunk there when it says so.
pub(super) fn feed_chunk<'t>(
    parser: &mut FileParser,
    quiet: Option<&QuietSkip>,
    text: &'t str,
    line_no: &mut u64,
    runs: &mut BinaryRuns,
    events: &mut Vec<Event<'t>>,
    stop_before: &mut dyn FnMut(usize, &FileParser) -> bool,
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
        if stop_before(start, parser) {
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
            continue;
        }
        let line = cut_line(line, &mut fed.cut);
        parser.feed_hinted(*line_no, line, hint, events);
    }
    fed
}

/// A line cut at [`MAX_LINE_BYTES`] (on a character boundary), counted.
fn cut_line<'l>(line: &'l str, cut: &mut u64) -> &'l str {
    if line.len() <= MAX_LINE_BYTES {
        return line;
    }
    *cut += 1;
    let mut end = MAX_LINE_BYTES;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}
