//! docker's json-file driver, read without building a JSON value: every
//! line of a container's log is `{"log":"…\n","stream":"stdout","time":"…"}`
//! with its keys in that order (the daemon's `jsonlog` writer), so the
//! fields are taken by position and the log string is borrowed from the
//! file line when its only escape is the newline docker ends it with.
//!
//! `analyze` skims most lines unread, so the quiet path reads a line
//! lazily: the `log` string up to the quote docker's fixed tail follows,
//! the time only checked to hold no quote; [`quiet_scan`] checks the string without decoding it and
//! gives its start before the first escape, [`whole_line`] decodes it into
//! a reused buffer when the start does not settle the skim.
//!
//! Invariants: a line this module takes gives the piece the general JSON
//! path (`shipper::peel_json`) gives for it: the same text, stream,
//! partial flag and (computed) time. Anything off the exact shape, an
//! escape it does not decode (`\u` surrogates), or bytes JSON forbids in a
//! string is left to that path, which decides (`None` here never means
//! "not docker"). [`whole_line`] and [`quiet_scan`] give a text only for a
//! line [`peel`] takes as one whole piece, and then the text of that piece
//! (or the start of it).

use std::borrow::Cow;

use super::{EnvelopeKind, EnvelopeTime, Meta, Piece, Pieces, Stream, rfc3339_prefix};
use crate::quiet::ByteSet;
use specials::Specials;

const HEAD: &[u8] = br#"{"log":""#;

/// What docker writes between the `log` string's last byte and the time's
/// first, for either stream: the tail [`whole_line`] finds the log's end by.
const TAILS: [&[u8; 28]; 2] = [
    br#"","stream":"stdout","time":""#,
    br#"","stream":"stderr","time":""#,
];

/// The fast reading of a docker json-file line; `None` leaves the line to
/// the general JSON path.
pub(super) fn peel<'a>(line: &'a str, out: &mut Pieces<'a>) -> Option<EnvelopeKind> {
    let rest = line.as_bytes().strip_prefix(HEAD)?;
    let (log, after) = string(&line[HEAD.len()..])?;
    let rest = &rest[after..];
    let rest = rest.strip_prefix(br#","stream":""#)?;
    let (stream, rest) = if let Some(r) = rest.strip_prefix(b"stdout") {
        (Stream::Stdout, r)
    } else {
        (Stream::Stderr, rest.strip_prefix(b"stderr")?)
    };
    let rest = rest.strip_prefix(br#"","time":""#)?;
    // A time holds no escapes: the string ends at the first quote.
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if &rest[end..] != br#""}"# {
        return None;
    }
    // Between two ASCII quotes of the line: char boundaries, no need to
    // validate the bytes again.
    let start = line.len() - rest.len();
    let time_text = line.get(start..start + end)?;
    let time = match super::rfc3339_stamp(time_text) {
        Some((stamp, end)) if end == time_text.len() => EnvelopeTime::Written(stamp),
        _ => rfc3339_prefix(time_text).map(|(t, _)| t).into(),
    };
    // Docker ends each complete line with `\n`; a piece without it was
    // split at 16 KiB and continues in the next record.
    let (text, partial) = match log {
        Value::Line(s) => (Cow::Borrowed(s), false),
        Value::Exact(Cow::Borrowed(s)) => (Cow::Borrowed(s), true),
        Value::Exact(Cow::Owned(mut s)) => {
            let whole = s.ends_with('\n');
            if whole {
                s.pop();
                if s.ends_with('\r') {
                    s.pop();
                }
            }
            (Cow::Owned(s), !whole)
        }
    };
    out.push(Piece {
        text,
        meta: Meta {
            time,
            stream: Some(stream),
            ..Meta::default()
        },
        partial,
    });
    Some(EnvelopeKind::DockerJson)
}

/// What [`quiet_scan`] found in a whole docker json-file line.
pub(super) struct Scan<'x> {
    /// The application's line when nothing but the final newline is
    /// escaped (`whole`), else the part of it before the first escape.
    pub(super) text: &'x str,
    /// `text` is the whole line.
    pub(super) whole: bool,
    /// The bytes the escapes decode to.
    pub(super) made: ByteSet,
}

/// Checks, without decoding it, that `line` is one whole piece [`peel`]
/// takes (the checks of `string` and of the tail, as [`whole_line`]
/// does), and gives its text or the start of it that no
/// escape touches: what a skim by the line's start needs. `None` as
/// [`whole_line`].
pub(super) fn quiet_scan(line: &str) -> Option<Scan<'_>> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt")
    {
        // SAFETY: the CPU has AVX2 and POPCNT, asked just above.
        return unsafe { quiet_scan_avx2(line) };
    }
    quiet_scan_by(line, Specials::new)
}

/// [`quiet_scan`] compiled for AVX2: a block at a time, the escaped
/// quotes whose backslash no backslash precedes taken a block at once
/// ([`specials::pair_marks_avx2`]), every other special byte one at a
/// time as [`quiet_scan_by`] takes it; the last bytes by [`quiet_scan_by`]'s
/// loop. With POPCNT, which counts a block's pairs in one step (every CPU
/// with AVX2 has it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn quiet_scan_avx2(line: &str) -> Option<Scan<'_>> {
    let bytes = line.as_bytes();
    if !bytes.starts_with(HEAD) {
        return None;
    }
    let mut scan = Scanning::new();
    let mut block = HEAD.len();
    while block + specials::BLOCK <= bytes.len() {
        // SAFETY: this runs on a CPU with AVX2 and POPCNT (compiled for
        // them, called only where the CPU was asked); `2 <= HEAD.len() <=
        // block`, and the block lies within the line.
        let (mut marks, pairs) = unsafe { specials::pair_marks_avx2(bytes, block) };
        scan.quotes(block, pairs);
        while marks != 0 {
            let i = block + marks.trailing_zeros() as usize;
            marks &= marks - 1;
            if i < scan.at {
                continue;
            }
            if bytes[i] != b'\\' {
                return closes_log(bytes, i).then(|| scan.finish(line, i))?;
            }
            scan.escape(line, i)?;
        }
        block += specials::BLOCK;
    }
    // SAFETY: as above.
    let specials = unsafe { Specials::on_avx2(bytes, block) };
    scan.read_to_end(line, specials)
}

/// [`quiet_scan`], its special bytes found by what `specials` makes.
#[inline(always)]
fn quiet_scan_by<'x, M: specials::Marks>(
    line: &'x str,
    specials: impl Fn(&'x [u8], usize) -> Specials<'x, M>,
) -> Option<Scan<'x>> {
    if !line.as_bytes().starts_with(HEAD) {
        return None;
    }
    Scanning::new().read_to_end(line, specials(line.as_bytes(), HEAD.len()))
}

/// What a scan of a line's `log` string has read so far.
struct Scanning {
    /// The bytes the escapes decode to.
    made: ByteSet,
    /// Where the first escape's backslash is.
    first: Option<usize>,
    escapes: usize,
    /// What the last escape taken one at a time decoded to.
    last: char,
    /// The first byte no escape taken one at a time has taken.
    at: usize,
}

impl Scanning {
    fn new() -> Scanning {
        Scanning {
            made: ByteSet::default(),
            first: None,
            escapes: 0,
            last: '\0',
            at: HEAD.len(),
        }
    }

    /// Takes the escapes of the string from `specials` on, one at a time,
    /// to its end.
    #[inline(always)]
    fn read_to_end<'x, M: specials::Marks>(
        mut self,
        line: &'x str,
        mut specials: Specials<'x, M>,
    ) -> Option<Scan<'x>> {
        let end = loop {
            match next_escape(line.as_bytes(), &mut specials, self.at)? {
                Next::Escape(i) => self.escape(line, i)?,
                Next::Closed(end) => break end,
            }
        };
        self.finish(line, end)
    }

    /// Takes the escape whose backslash is at `i`; `None` for one
    /// [`escape_at`] does not decode.
    #[inline(always)]
    fn escape(&mut self, line: &str, i: usize) -> Option<()> {
        let (decoded, len) = match line.as_bytes().get(i + 1) {
            Some(b'"') => ('"', 2),
            _ => escape_at(line, i)?,
        };
        match u8::try_from(decoded) {
            Ok(ascii) => self.made.add_byte(ascii),
            Err(_) => self.made.add(decoded.encode_utf8(&mut [0; 4]).as_bytes()),
        }
        // A block's pairs are taken before its other escapes.
        self.first = Some(self.first.map_or(i, |f| f.min(i)));
        self.escapes += 1;
        self.last = decoded;
        self.at = i + len;
        Some(())
    }

    /// Takes the escaped quotes `pairs` marks in the block at `block` (bit
    /// `i`: a quote at `block + i`, its backslash just before), which
    /// follow every escape taken so far in blocks before. `last` and `at`
    /// stay: a pair after the last escape taken one at a time leaves `at`
    /// short of the string's end, which [`Scanning::finish`] refuses as it
    /// refuses a string whose last escape is not `\n`.
    #[inline(always)]
    fn quotes(&mut self, block: usize, pairs: u32) {
        if pairs == 0 {
            return;
        }
        let backslash = block + pairs.trailing_zeros() as usize - 1;
        self.first = Some(self.first.map_or(backslash, |f| f.min(backslash)));
        self.made.add_byte(b'"');
        self.escapes += pairs.count_ones() as usize;
    }

    /// The scan of a string closed at `end`: whole when the decoded string
    /// ends with `\n` (raw bytes hold none, so its last escape is one,
    /// ending the string).
    fn finish(self, line: &str, end: usize) -> Option<Scan<'_>> {
        if self.last != '\n' || self.at != end {
            return None;
        }
        Some(Scan {
            text: line.get(HEAD.len()..self.first.unwrap_or(end))?,
            whole: self.escapes == 1,
            made: self.made,
        })
    }
}

/// The application's line a whole docker json-file line carries, for a
/// line the quiet path will most likely skim: the text of the one piece
/// [`peel`] makes of `line`, and the bytes its escapes decode to (a needle
/// search of the file line says nothing of those). Borrowed from `line`
/// when only the final newline is escaped, else decoded into `scratch`,
/// reused from line to line. `None` when [`peel`] would not give one whole
/// piece: a 16 KiB piece, or anything off the exact shape (then the line
/// goes through [`peel`], which decides).
pub(super) fn whole_line<'x>(
    line: &'x str,
    scratch: &'x mut Vec<u8>,
) -> Option<(&'x str, ByteSet)> {
    let bytes = line.as_bytes();
    if !bytes.starts_with(HEAD) {
        return None;
    }
    scratch.clear();
    let mut made = ByteSet::default();
    // The first byte no escape has taken, and not copied yet.
    let mut at = HEAD.len();
    let mut specials = Specials::new(bytes, HEAD.len());
    let end = loop {
        let i = match next_escape(bytes, &mut specials, at)? {
            Next::Escape(i) => i,
            Next::Closed(end) => break end,
        };
        let (decoded, len) = escape_at(line, i)?;
        if decoded == '\n' && at == HEAD.len() && closes_log(bytes, i + len) {
            // Nothing escaped but docker's final newline (`Value::Line`).
            return Some((line.get(at..i)?, made));
        }
        scratch.extend_from_slice(&bytes[at..i]);
        let mut utf8 = [0; 4];
        let decoded = decoded.encode_utf8(&mut utf8).as_bytes();
        scratch.extend_from_slice(decoded);
        made.add(decoded);
        at = i + len;
    };
    if at != end {
        // Raw bytes after the last escape: the text does not end with an
        // escaped newline (a 16 KiB piece).
        return None;
    }
    // Raw runs cut at ASCII bytes and whole characters: UTF-8 again.
    let text = std::str::from_utf8(scratch).ok()?;
    // The piece `peel` gives: whole when it ends with `\n`, then without it
    // (and a `\r` before it).
    let text = text.strip_suffix('\n')?;
    Some((text.strip_suffix('\r').unwrap_or(text), made))
}

/// What comes next in a docker line's `log` string.
enum Next {
    /// An escape, its backslash here.
    Escape(usize),
    /// The string's closing quote, here.
    Closed(usize),
}

/// The next escape or the end of the `log` string at or after `at` (the
/// quotes and backslashes before `at` were taken by escapes already);
/// `None` for a quote that does not close the string where docker's tail
/// follows, or a control byte: off the shape.
#[inline(always)]
fn next_escape<M: specials::Marks>(
    bytes: &[u8],
    specials: &mut Specials<'_, M>,
    at: usize,
) -> Option<Next> {
    for i in specials {
        if i < at {
            continue;
        }
        if bytes[i] == b'\\' {
            return Some(Next::Escape(i));
        }
        return closes_log(bytes, i).then_some(Next::Closed(i));
    }
    None
}

/// Whether the byte at `i` is the quote closing the `log` string of a
/// line in docker's exact shape: one of [`TAILS`] from it, then a time
/// without quote, backslash or control byte, then `"}` ending the line.
fn closes_log(bytes: &[u8], i: usize) -> bool {
    let Some((tail, rest)) = bytes.get(i..).and_then(|b| b.split_first_chunk::<28>()) else {
        return false;
    };
    (tail == TAILS[0] || tail == TAILS[1])
        && rest.strip_suffix(b"\"}").is_some_and(|time| {
            // docker's own stamp holds digits and separators only: the
            // search of its thirty bytes, padded to a block, was most of
            // what this check cost a line.
            (time.len() == super::nano_stamp::LEN && super::nano_stamp::has_shape(time))
                || Specials::new(time, 0).next().is_none()
        })
}

/// A JSON string's value.
enum Value<'a> {
    /// The raw text before a final escaped `\n`, nothing else escaped: the
    /// value is this text and a newline (a whole docker line).
    Line(&'a str),
    /// The value exactly (borrowed when nothing was escaped).
    Exact(Cow<'a, str>),
}

/// The JSON string starting at `text` (after its opening quote): its value
/// and the byte index just past its closing quote.
fn string(text: &str) -> Option<(Value<'_>, usize)> {
    let bytes = text.as_bytes();
    let mut owned: Option<String> = None;
    // Start of the raw run not yet copied into `owned`; before it, the
    // bytes an escape took.
    let mut from = 0;
    for i in Specials::new(bytes, 0) {
        if i < from {
            continue;
        }
        match bytes[i] {
            b'"' => {
                let value = match owned {
                    Some(mut s) => {
                        s.push_str(&text[from..i]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&text[..i]),
                };
                return Some((Value::Exact(value), i + 1));
            }
            b'\\' => {}
            // A control byte JSON forbids unescaped.
            _ => return None,
        }
        let escape = *bytes.get(i + 1)?;
        if escape == b'n' && owned.is_none() && bytes.get(i + 2) == Some(&b'"') {
            // The common case: nothing escaped but docker's final newline.
            return Some((Value::Line(&text[..i]), i + 3));
        }
        let s = owned.get_or_insert_with(|| String::with_capacity(text.len()));
        s.push_str(&text[from..i]);
        let (decoded, len) = escape_at(text, i)?;
        s.push(decoded);
        from = i + len;
    }
    None
}

/// The escape whose backslash is at `text[i]`: the character it stands
/// for and its length in `text`; `None` for one this module does not
/// decode (surrogates, which are left to serde_json, or a bad escape).
fn escape_at(text: &str, i: usize) -> Option<(char, usize)> {
    Some(match *text.as_bytes().get(i + 1)? {
        b'"' => ('"', 2),
        b'\\' => ('\\', 2),
        b'/' => ('/', 2),
        b'b' => ('\u{8}', 2),
        b'f' => ('\u{c}', 2),
        b'n' => ('\n', 2),
        b'r' => ('\r', 2),
        b't' => ('\t', 2),
        b'u' => {
            let hex = text.get(i + 2..i + 6)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            (char::from_u32(u32::from_str_radix(hex, 16).ok()?)?, 6)
        }
        _ => return None,
    })
}

mod specials;
#[cfg(test)]
mod tests;
