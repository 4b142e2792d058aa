//! Record reassembly: the lines a format parser did not know, put back
//! together the way a person pasted or a runtime printed them.
//!
//! A run of consecutive unknown lines is held (bounded) and, when a known
//! line or the end of the input comes, cut into records:
//! - a pretty-printed JSON object or array (an error body, a response dump,
//!   a CloudWatch export), with any text before it on its first line
//!   (`Response: {`), becomes one line of compact JSON;
//! - a stack trace or exception chain (Java `at …`/`Caused by:`, Ruby
//!   backtraces, Python tracebacks, .NET `--->` inner exceptions, Node
//!   `at …` frames) becomes one record with its message;
//! - a line hard-wrapped when pasted (at 80 or 120 columns) is rejoined
//!   when its continuation cannot start a record of its own.
//!
//! Invariants: no I/O, no panic; every held line comes out exactly once (in
//! a record, or alone when nothing joins it), in file order; a run holds at
//! most [`MAX_RUN_LINES`] lines and [`MAX_RUN_BYTES`] bytes.

use chrono::{DateTime, Utc};

/// Lines a run holds before it is cut into records anyway.
pub const MAX_RUN_LINES: usize = 512;
/// Bytes a run holds before it is cut into records anyway.
pub const MAX_RUN_BYTES: usize = 512 * 1024;
/// Lines a JSON block may span.
const MAX_JSON_LINES: usize = 400;

/// One record cut from a run: its first line, how many lines it joined, and
/// its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Joined {
    /// The file line it began on.
    pub line_no: u64,
    /// Lines it was made of.
    pub lines: usize,
    /// The record's text (frames of a trace are kept on their own lines).
    pub text: String,
    /// The file lines it was made of, as they were.
    pub originals: Vec<(u64, String)>,
}

/// Consecutive unknown lines, held until the run ends.
#[derive(Debug, Default)]
pub struct Run {
    lines: Vec<(u64, String)>,
    bytes: usize,
    /// The envelope's time of each held line (same order as `lines`).
    times: Vec<Option<DateTime<Utc>>>,
}

impl Run {
    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The first line held.
    pub fn first_line(&self) -> Option<u64> {
        self.lines.first().map(|(n, _)| *n)
    }

    /// Whether the run is full and should be cut now.
    pub fn is_full(&self) -> bool {
        self.lines.len() >= MAX_RUN_LINES || self.bytes >= MAX_RUN_BYTES
    }

    /// Holds one more line, with its envelope's time if it had one.
    pub fn push(&mut self, line_no: u64, text: &str, time: Option<DateTime<Utc>>) {
        self.bytes += text.len();
        self.lines.push((line_no, text.to_string()));
        self.times.push(time);
    }

    /// Cuts the held lines into records and empties the run; each record
    /// comes with the envelope time of its first line.
    pub fn take_records(&mut self) -> Vec<(Joined, Option<DateTime<Utc>>)> {
        let lines = std::mem::take(&mut self.lines);
        let times = std::mem::take(&mut self.times);
        self.bytes = 0;
        let first_lines: Vec<u64> = lines.iter().map(|(n, _)| *n).collect();
        cut(lines)
            .into_iter()
            .map(|j| {
                let time = first_lines
                    .iter()
                    .position(|n| *n == j.line_no)
                    .and_then(|i| times.get(i).copied().flatten());
                (j, time)
            })
            .collect()
    }
}

fn cut(lines: Vec<(u64, String)>) -> Vec<Joined> {
    let mut out: Vec<Joined> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some((joined, used)) = json_block(&lines[i..]) {
            out.push(joined);
            i += used;
            continue;
        }
        let (line_no, text) = &lines[i];
        let continues = out
            .last()
            .is_some_and(|prev| continues(prev, &lines[i - 1].1, text));
        match out.last_mut() {
            Some(prev) if continues => {
                prev.text.push_str(separator(&lines[i - 1].1, text));
                prev.text.push_str(text.trim_end());
                prev.lines += 1;
                prev.originals.push((*line_no, text.clone()));
            }
            _ => out.push(Joined {
                line_no: *line_no,
                lines: 1,
                text: text.clone(),
                originals: vec![(*line_no, text.clone())],
            }),
        }
        i += 1;
    }
    out
}

/// Whether `line` continues the record `prev`, whose last line was `last`.
fn continues(prev: &Joined, last: &str, line: &str) -> bool {
    if line.trim().is_empty() {
        return false;
    }
    if is_frame(line) {
        return true;
    }
    if prev.text.starts_with("Traceback (most recent call last)") && !prev.text.contains("\n\n") {
        // The exception line that closes a Python traceback is unindented.
        return last.starts_with("    ") || last.starts_with("  File ");
    }
    hard_wrapped(last, line)
}

/// A stack frame or exception-chain line of the languages servers and
/// clients are written in.
fn is_frame(line: &str) -> bool {
    let t = line.trim_start();
    let indented = t.len() < line.len();
    (indented && (t.starts_with("at ") || t.starts_with("from ") || t.starts_with("File \"")))
        || t.starts_with("Caused by: ")
        || t.starts_with("... ") && t.ends_with(" more")
        || t.starts_with("---> ")
        || t.starts_with("----> ")
        || t.starts_with("--- End of ")
        || (line.starts_with('/') && line.contains(".rb:") && line.contains(":in "))
        || (indented && t.contains(".rb:") && t.contains(":in "))
        || t.starts_with("During handling of the above exception")
        || t.starts_with("The above exception was the direct cause")
}

/// A line broken by a viewer's width: the last line was long, and this one
/// cannot start a record (no time, level, bracket or JSON at its start, no
/// indentation of its own).
fn hard_wrapped(last: &str, line: &str) -> bool {
    last.chars().count() >= 60 && !line.starts_with([' ', '\t']) && !starts_a_record(line)
}

/// Whether a line looks like the start of a log record of some format.
pub fn starts_a_record(line: &str) -> bool {
    let b = line.as_bytes();
    match b.first() {
        None => true,
        Some(b'{' | b'[' | b'<' | b'#') => true,
        Some(c) if c.is_ascii_digit() => starts_with_a_time(b),
        Some(c) if c.is_ascii_uppercase() => {
            // `I, [` (Ruby Logger), `Mar 11` (syslog), `INFO`, `Started`,
            // `Traceback`, an exception class at the start of a line.
            (b.len() > 2 && b[1] == b',' && b[2] == b' ')
                || line.split([' ', ':']).next().is_some_and(|w| {
                    w.len() >= 3 && (w.bytes().all(|c| c.is_ascii_uppercase()) || w.contains('.'))
                })
                || line.starts_with("Started ")
                || line.starts_with("Traceback ")
                || [
                    "Jan ", "Feb ", "Mar ", "Apr ", "May ", "Jun ", "Jul ", "Aug ", "Sep ", "Oct ",
                    "Nov ", "Dec ",
                ]
                .iter()
                .any(|m| line.starts_with(m))
        }
        Some(_) => {
            // `time="…" level=…` (logfmt), `level=error …`; not the middle
            // of a URL (`.com/error?code=700082`).
            line.split(' ').next().is_some_and(|w| {
                w.split_once('=').is_some_and(|(key, value)| {
                    !value.starts_with('=')
                        && key.starts_with(|c: char| c.is_ascii_alphabetic())
                        && key
                            .bytes()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
                })
            })
        }
    }
}

/// Whether a line that starts with a digit starts with a date or a time
/// (`2019-09-27`, `2019/09/27`, `27/Sep`, `12:41:21`, an epoch) or an HTTP
/// status (`400 Bad Request`), not with
/// the rest of a wrapped id (`624f7355-…`, `1-417b…`).
fn starts_with_a_time(b: &[u8]) -> bool {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let next = b.get(digits).copied();
    match (digits, next) {
        (4, Some(b'-' | b'/' | b'.')) => b.get(5).is_some_and(u8::is_ascii_digit),
        (1 | 2, Some(b':' | b'/')) => b.get(digits + 1).is_some_and(u8::is_ascii_alphanumeric),
        (1 | 2, Some(b' ')) => b.get(digits + 1).is_some_and(u8::is_ascii_uppercase),
        // `27-09-2019`
        (2, Some(b'-')) => b.len() > 5 && b[3..5].iter().all(u8::is_ascii_digit) && b[5] == b'-',
        // An HTTP status (`400 Bad Request`, `400: b'{…`).
        (3, Some(b' ' | b':')) => (b'1'..=b'5').contains(&b[0]),
        (9.., _) => true,
        _ => false,
    }
}

/// What goes between a wrapped line and its continuation: nothing when a
/// word was cut in two, a space when the wrap fell between words, a newline
/// for a frame.
fn separator(last: &str, line: &str) -> &'static str {
    if is_frame(line) || last.starts_with("Traceback") || last.starts_with("    ") {
        return "\n";
    }
    // Characters of words, ids and URLs: a wrap between two of them cut a
    // token in two (`bf4` / `1-417b…`, `microsoftonline` / `.com/…`).
    let in_token = |c: char| c.is_alphanumeric() || "_-./:?=&%".contains(c);
    let cut_word =
        last.chars().last().is_some_and(in_token) && line.chars().next().is_some_and(in_token);
    if cut_word || last.ends_with(' ') {
        ""
    } else {
        " "
    }
}

/// A JSON object or array that opens on the first line and closes within
/// [`MAX_JSON_LINES`]: the record (the text before the bracket, then the
/// JSON made compact) and the lines it used.
fn json_block(lines: &[(u64, String)]) -> Option<(Joined, usize)> {
    let (line_no, first) = &lines[0];
    let open = json_start(first)?;
    let mut depth = Depth::default();
    let mut body = String::new();
    for (used, (_, text)) in lines.iter().enumerate().take(MAX_JSON_LINES) {
        let part = if used == 0 {
            &first[open..]
        } else {
            text.as_str()
        };
        if used > 0 && starts_a_record(text) && !text.starts_with(['{', '[', '"']) {
            return None;
        }
        if let Some(end) = depth.scan(part) {
            body.push_str(&part[..end]);
            let rest = part[end..].trim();
            if used == 0 {
                return None; // closed on its own line: nothing to join
            }
            let compact = match serde_json::from_str::<serde_json::Value>(&body) {
                Ok(v) => serde_json::to_string(&v).unwrap_or_else(|_| body.clone()),
                Err(_) => return None,
            };
            let mut text = first[..open].to_string();
            text.push_str(&compact);
            if !rest.is_empty() {
                text.push(' ');
                text.push_str(rest);
            }
            let joined = Joined {
                line_no: *line_no,
                lines: used + 1,
                text,
                originals: lines[..=used].to_vec(),
            };
            return Some((joined, used + 1));
        }
        body.push_str(part.trim());
        body.push('\n');
    }
    None
}

/// Where a JSON block opens on a line: at its start (`{`, `[{`, `[`), or
/// after a label at its end (`Response: {`, `body = {`).
fn json_start(line: &str) -> Option<usize> {
    let trimmed = line.trim_end();
    let lead = line.len() - line.trim_start().len();
    let t = &line[lead..];
    if t.starts_with('{') || t.starts_with("[{") || t == "[" {
        return Some(lead);
    }
    if trimmed.ends_with('{') || trimmed.ends_with('[') {
        let at = trimmed.rfind(['{', '['])?;
        let before = trimmed[..at].trim_end();
        if before.ends_with([':', '=']) || before.is_empty() || before.ends_with("Response") {
            return Some(at);
        }
    }
    None
}

/// Bracket depth outside JSON strings, across lines.
#[derive(Debug, Default)]
struct Depth {
    depth: usize,
    in_string: bool,
    escaped: bool,
    opened: bool,
}

impl Depth {
    /// Scans `text`; the byte offset just past the bracket that closes the
    /// outermost value, if it closes here.
    fn scan(&mut self, text: &str) -> Option<usize> {
        for (i, b) in text.bytes().enumerate() {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    self.opened = true;
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.opened && self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
