//! docker's json-file driver, read without building a JSON value: every
//! line of a container's log is `{"log":"…\n","stream":"stdout","time":"…"}`
//! with its keys in that order (the daemon's `jsonlog` writer), so the
//! fields are taken by position and the log string is borrowed from the
//! file line when its only escape is the newline docker ends it with.
//!
//! Invariants: a line this module takes gives the piece the general JSON
//! path (`shipper::peel_json`) gives for it: the same text, stream,
//! partial flag and (computed) time. Anything off the exact shape, an
//! escape it does not decode (`\u` surrogates), or bytes JSON forbids in a
//! string is left to that path, which decides (`None` here never means
//! "not docker").

use std::borrow::Cow;

use super::{EnvelopeKind, EnvelopeTime, Meta, Piece, Pieces, Stream, rfc3339_prefix};

const HEAD: &[u8] = br#"{"log":""#;

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
    // Start of the raw run not yet copied into `owned`.
    let mut from = 0;
    let mut at = 0;
    loop {
        let i = at + memchr::memchr2(b'"', b'\\', &bytes[at..])?;
        if has_control(&bytes[at..i]) {
            return None;
        }
        if bytes[i] == b'"' {
            let value = match owned {
                Some(mut s) => {
                    s.push_str(&text[from..i]);
                    Cow::Owned(s)
                }
                None => Cow::Borrowed(&text[..i]),
            };
            return Some((Value::Exact(value), i + 1));
        }
        let escape = *bytes.get(i + 1)?;
        if escape == b'n' && owned.is_none() && bytes.get(i + 2) == Some(&b'"') {
            // The common case: nothing escaped but docker's final newline.
            return Some((Value::Line(&text[..i]), i + 3));
        }
        let s = owned.get_or_insert_with(|| String::with_capacity(text.len()));
        s.push_str(&text[from..i]);
        let (decoded, len) = match escape {
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
                // Surrogates (pairs or lone) are left to serde_json.
                (char::from_u32(u32::from_str_radix(hex, 16).ok()?)?, 6)
            }
            _ => return None,
        };
        s.push(decoded);
        at = i + len;
        from = at;
    }
}

/// Whether `raw` holds a byte JSON forbids unescaped in a string (below
/// 0x20). Eight bytes a word: a byte loop here was a fifth of the docker
/// line's cost in the profile.
fn has_control(raw: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = raw.chunks_exact(8);
    let mut seen = false;
    for w in &mut words {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(w);
        let x = u64::from_le_bytes(bytes);
        // A byte below 0x20 borrows into its high bit; bytes with the
        // high bit already set are excluded by `!x` (the "has less than"
        // word test, exact for bounds up to 0x80).
        seen |= x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
    }
    seen || words.remainder().iter().any(|&b| b < 0x20)
}

#[cfg(test)]
mod tests;
