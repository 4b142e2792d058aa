//! Helpers the format modules' unit tests share: feeding a text through one
//! format's parser (directly, or through a [`FileParser`] as the daemon
//! does), finding an event, and the checks every format's tests make
//! (detection, planted secrets redacted, other formats' lines `Unknown`).
//!
//! Line numbers are 1-based like the daemon's, and a parser is flushed after
//! the last line as at the end of a file, so a test sees every record.

use crate::event::{Event, EventKind};
use crate::file_parser::FileParser;
use crate::format::Format;
use crate::parser::{Context, LineParser, Outcome};
use crate::registry::{DETECT_LINES, detect};

/// Feeds every line of `text` to a fresh `P`, then flushes it: the events
/// (borrowing `text`) and each line's outcome, by line index.
pub(crate) fn parse_lines<'a, P: LineParser + Default>(
    text: &'a str,
    ctx: &Context,
) -> (Vec<Event<'a>>, Vec<Outcome>) {
    let mut parser = P::default();
    let mut out = Vec::new();
    let outcomes = text
        .lines()
        .enumerate()
        .map(|(i, line)| parser.feed(i as u64 + 1, line, ctx, &mut out))
        .collect();
    parser.flush(ctx, &mut out);
    (out, outcomes)
}

/// [`parse_lines`] with owned events, for tests that build the text in a
/// temporary.
pub(crate) fn parse_lines_owned<P: LineParser + Default>(
    text: &str,
    ctx: &Context,
) -> (Vec<Event<'static>>, Vec<Outcome>) {
    let (events, outcomes) = parse_lines::<P>(text, ctx);
    (
        events.into_iter().map(Event::into_owned).collect(),
        outcomes,
    )
}

/// Feeds every line of `text` through a [`FileParser`] forced to `format`
/// (redaction and dispatch included, as the daemon runs it): owned events
/// and each line's outcome, by line index.
pub(crate) fn parse_file(format: Format, text: &str) -> (Vec<Event<'static>>, Vec<Outcome>) {
    let mut parser = FileParser::new(format, Context::default());
    let mut out = Vec::new();
    let outcomes = text
        .lines()
        .enumerate()
        .map(|(i, line)| parser.feed(i as u64 + 1, line, &mut out))
        .collect();
    parser.flush(&mut out);
    (out.into_iter().map(Event::into_owned).collect(), outcomes)
}

/// The event whose evidence starts at `line`.
pub(crate) fn at_line<'e, 'a>(events: &'e [Event<'a>], line: u64) -> &'e Event<'a> {
    events
        .iter()
        .find(|e| e.line() == line)
        .unwrap_or_else(|| panic!("no event at line {line}"))
}

/// The events of `kind`, in order.
pub(crate) fn of_kind<'e, 'a>(events: &'e [Event<'a>], kind: EventKind) -> Vec<&'e Event<'a>> {
    events.iter().filter(|e| e.kind == kind).collect()
}

/// The event of the request with id `id`.
pub(crate) fn by_request_id<'e, 'a>(events: &'e [Event<'a>], id: &str) -> &'e Event<'a> {
    events
        .iter()
        .find(|e| e.request_id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no event with request id {id}"))
}

/// Asserts that detection picks `format` for `text` from its first
/// [`DETECT_LINES`] lines, blank ones included, as the daemon hands them over.
pub(crate) fn assert_detected(text: &str, format: Format) {
    let lines: Vec<&str> = text.lines().take(DETECT_LINES).collect();
    assert_eq!(detect(&lines), format);
}

/// Asserts that no text field of any event holds any of `secrets`.
pub(crate) fn assert_no_secret<S: AsRef<str>>(events: &[Event<'_>], secrets: &[S]) {
    for e in events {
        for field in e.text_fields() {
            for s in secrets {
                let s = s.as_ref();
                assert!(!field.contains(s), "secret {s} in {field}");
            }
        }
    }
}

/// Asserts that `parser` claims none of `lines` (each fed as line 1) and
/// emits nothing for them: another format's lines are not its own.
pub(crate) fn assert_all_unknown<'l>(
    parser: &mut impl LineParser,
    ctx: &Context,
    lines: impl IntoIterator<Item = &'l str>,
) {
    let mut out = Vec::new();
    for line in lines {
        assert_eq!(
            parser.feed(1, line, ctx, &mut out),
            Outcome::Unknown,
            "{line}"
        );
    }
    assert!(out.is_empty());
}

/// Feeds each of `lines` to `parser` as line 1, outcomes ignored: hostile
/// input only has to be survived.
pub(crate) fn feed_each<'l>(
    parser: &mut impl LineParser,
    ctx: &Context,
    lines: impl IntoIterator<Item = &'l str>,
) {
    let mut out = Vec::new();
    for line in lines {
        let _ = parser.feed(1, line, ctx, &mut out);
    }
}

/// Every line of every file of the sample logs and the corpus (real and
/// generated lines a searcher or reader is held to).
pub(crate) fn sample_and_corpus_lines() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut lines = Vec::new();
    let mut dirs = vec![root.join("sample_logs"), root.join("tests/corpus")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                lines.extend(text.lines().map(str::to_owned));
            }
        }
    }
    lines
}

/// A small xorshift generator for the tests' generated inputs (no
/// dependency; a seed gives the same sequence everywhere).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// A number below `n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
