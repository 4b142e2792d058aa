//! Syslog lines as rsyslog, syslog-ng and journald write them: RFC 3164
//! (`<34>Mar 11 08:00:00 host ident[pid]: line`, the `<PRI>` optional, as
//! in files and `journalctl -o short`/`short-precise`), its ISO-time variant
//! (`journalctl -o short-iso`, rsyslog's file format), and RFC 5424
//! (`<165>1 TIME HOST APP PROCID MSGID [SD] line`), each possibly led by an
//! octet count (RFC 6587 framing kept in a capture).

use chrono::{DateTime, Datelike as _, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use super::model::{EnvelopeKind, Meta, Name, Piece, Pieces};
use super::time::{rfc3339_prefix, starts_with_level};
use crate::parser::Context;

/// Compared as three bytes, not as strings: a string comparison is a
/// `memcmp` call, and the month is looked for on every line.
const MONTHS: [[u8; 3]; 12] = [
    *b"Jan", *b"Feb", *b"Mar", *b"Apr", *b"May", *b"Jun", *b"Jul", *b"Aug", *b"Sep", *b"Oct",
    *b"Nov", *b"Dec",
];

/// One syslog layer, or `None`.
pub(super) fn peel<'a>(line: &'a str, ctx: &Context, out: &mut Pieces<'a>) -> Option<EnvelopeKind> {
    let line = skip_octet_count(line);
    let (rest, pri) = match line.strip_prefix('<') {
        Some(r) => {
            let end = r.find('>')?;
            if end == 0 || end > 3 || !r[..end].bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (&r[end + 1..], true)
        }
        None => (line, false),
    };
    if let Some(kind) = rest.strip_prefix("1 ").and_then(|r| rfc5424(r, out)) {
        return Some(kind);
    }
    let (time, rest) = month_time(rest, ctx).or_else(|| iso_time(rest, ctx))?;
    let (host, ident, pid, text) = after_time(rest, pri)?;
    out.push(Piece::new(
        text,
        Meta {
            time: time.into(),
            host: Some(Name::from(host)),
            unit: Some(Name::from(ident)),
            pid: pid.map(Name::from),
            ..Meta::default()
        },
    ));
    Some(EnvelopeKind::Syslog3164)
}

/// An RFC 3164 line without `<PRI>` (`Mar 11 08:00:00 host ident[pid]:
/// line`) read for the quiet path: its host, ident and line, exactly as
/// [`peel`] reads them, without its time made or its names kept. A line
/// that starts as the last one `memo` kept is read from it.
pub(super) fn quiet_parts<'l>(
    line: &'l str,
    memo: &mut HeaderMemo,
) -> Option<(&'l str, &'l str, &'l str)> {
    if let Some(parts) = memo.parts_of(line) {
        return Some(parts);
    }
    let (_, rest) = month_clock(line)?;
    let (host, ident, _, text) = after_time(rest, false)?;
    memo.keep(line, host, ident);
    Some((host, ident, text))
}

/// The start of the last line [`quiet_parts`] read in full, through the
/// colon that ends its tag (`Mar 11 08:00:00 host ident[pid]:`), with where
/// its host and ident are in it. The lines of one program within one
/// second start alike, and reading a line's time and names was a sixth of
/// a syslog-wrapped log's read (benches/README.md).
///
/// Invariant: what [`quiet_parts`] reads of a line is decided by its bytes
/// through that colon — the time ends at the space before the host, the
/// tag at its first colon — and the one byte after it (a space there is
/// not the text's): a line that holds the same bytes there has the same
/// host and ident at the same places, and its text after them.
#[derive(Debug, Default)]
pub struct HeaderMemo {
    head: Vec<u8>,
    host: (usize, usize),
    ident: (usize, usize),
}

impl HeaderMemo {
    pub(super) fn parts_of<'l>(&self, line: &'l str) -> Option<(&'l str, &'l str, &'l str)> {
        if self.head.is_empty() || !line.as_bytes().starts_with(&self.head) {
            return None;
        }
        let text = line.get(self.head.len()..)?;
        let text = text.strip_prefix(' ').unwrap_or(text);
        let host = line.get(self.host.0..self.host.1)?;
        let ident = line.get(self.ident.0..self.ident.1)?;
        Some((host, ident, text))
    }

    /// Keeps `line`'s start, whose `host` and `ident` (slices of it)
    /// [`after_time`] found.
    fn keep(&mut self, line: &str, host: &str, ident: &str) {
        let at = |s: &str| s.as_ptr() as usize - line.as_ptr() as usize;
        let host_end = at(host) + host.len();
        self.head.clear();
        // The tag's colon: the first after the host, where `after_time`
        // split it.
        let Some(colon) = memchr::memchr(b':', &line.as_bytes()[host_end..]) else {
            return;
        };
        self.head
            .extend_from_slice(&line.as_bytes()[..host_end + colon + 1]);
        self.host = (at(host), host_end);
        self.ident = (at(ident), at(ident) + ident.len());
    }
}

/// What follows the time: ` host ident[pid]: line`.
fn after_time(rest: &str, pri: bool) -> Option<(&str, &str, Option<&str>, &str)> {
    let rest = rest.strip_prefix(' ')?;
    let (host, rest) = split_at_byte(rest, b' ')?;
    let (tag, text) = split_at_byte(rest, b':')?;
    let text = text.strip_prefix(' ').unwrap_or(text);
    let (ident, pid) = match tag.strip_suffix(']').and_then(|t| split_at_byte(t, b'[')) {
        Some((ident, pid)) => (ident, Some(pid)),
        None => (tag, None),
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'[' && b != b']' && b != b':')
    };
    // A program name starts with a letter; a host is never a date (that
    // is the application's own time after the envelope's).
    let date_like = host.len() >= 10 && host.as_bytes()[4] == b'-' && host.as_bytes()[7] == b'-';
    if host.is_empty()
        || date_like
        || starts_with_level(host)
        || !word(ident)
        || !ident.as_bytes()[0].is_ascii_alphabetic()
        || !pid.is_none_or(word)
    {
        return None;
    }
    // Without `<PRI>`, a bare `host ident:` could be an application's own
    // words after a time; a syslog host has no `=` and the ident no `"`.
    if !pri && (host.as_bytes().contains(&b'=') || ident.as_bytes().contains(&b'"')) {
        return None;
    }
    Some((host, ident, pid, text))
}

/// `text` split around its first `byte` (ASCII), as `str::split_once`
/// with a `char` splits it: by `memchr`, whose call costs less than a
/// `char` searcher's set-up, made five times on every line of a syslog file.
fn split_at_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    debug_assert!(byte.is_ascii());
    let at = memchr::memchr(byte, text.as_bytes())?;
    Some((&text[..at], &text[at + 1..]))
}

/// `123 <34>…` (octet counting): the count is dropped.
fn skip_octet_count(line: &str) -> &str {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    match line[digits..].strip_prefix(" <") {
        Some(_) if digits > 0 && digits < 8 => &line[digits + 1..],
        _ => line,
    }
}

/// `TIME HOST APP PROCID MSGID SD [MSG]` after `<PRI>1 `.
fn rfc5424<'a>(text: &'a str, out: &mut Pieces<'a>) -> Option<EnvelopeKind> {
    let (time, rest) = match text.strip_prefix("- ") {
        Some(rest) => (None, rest),
        None => {
            let (t, r) = rfc3339_prefix(text)?;
            (Some(t), r.strip_prefix(' ')?)
        }
    };
    let mut fields = rest.splitn(4, ' ');
    let host = nil(fields.next()?);
    let app = nil(fields.next()?);
    let procid = nil(fields.next()?);
    let rest = fields.next()?;
    let (_msgid, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let message = skip_structured_data(rest)?;
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    out.push(Piece::new(
        message,
        Meta {
            time: time.into(),
            host: host.map(Name::from),
            unit: app.map(Name::from),
            pid: procid.map(Name::from),
            ..Meta::default()
        },
    ));
    Some(EnvelopeKind::Syslog5424)
}

fn nil(field: &str) -> Option<&str> {
    (field != "-" && !field.is_empty()).then_some(field)
}

/// Skips `-` or `[id k="v" …][…]` (with `\]` and `\"` escapes) and the
/// space after it; returns the message.
fn skip_structured_data(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix('-') {
        return Some(rest.strip_prefix(' ').unwrap_or(rest));
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while bytes.get(i) == Some(&b'[') {
        let mut in_quote = false;
        i += 1;
        loop {
            match bytes.get(i)? {
                b'\\' => i += 1,
                b'"' => in_quote = !in_quote,
                b']' if !in_quote => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let rest = &text[i..];
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

/// `Mar 11 08:00:00` or `Mar  1 08:00:00.123456` (no year, no zone: the
/// configured ones are assumed; without a year the time is unknown).
fn month_time<'a>(text: &'a str, ctx: &Context) -> Option<(Option<DateTime<Utc>>, &'a str)> {
    let ((month, day, clock), rest) = month_clock(text)?;
    let time = ctx.assumed_year.and_then(|year| {
        let date = NaiveDate::from_ymd_opt(year, month, day)?;
        let local = ctx
            .assumed_offset
            .from_local_datetime(&NaiveDateTime::new(date, clock))
            .single()?;
        Some(local.with_timezone(&Utc))
    });
    Some((time, rest))
}

/// [`month_time`]'s month, day and clock, and what follows them.
fn month_clock(text: &str) -> Option<((u32, u32, NaiveTime), &str)> {
    let head: [u8; 3] = text.as_bytes().get(..3)?.try_into().ok()?;
    let month = MONTHS.iter().position(|m| *m == head)? as u32 + 1;
    let rest = text.get(3..)?.strip_prefix(' ')?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let day_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if day_len == 0 || day_len > 2 {
        return None;
    }
    let day: u32 = rest[..day_len].parse().ok()?;
    let rest = rest[day_len..].strip_prefix(' ')?;
    let clock_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b':' || *b == b'.')
        .count();
    if clock_len < 8 {
        return None;
    }
    let clock = clock(&rest[..clock_len])?;
    Some(((month, day, clock), &rest[clock_len..]))
}

/// `08:00:00` or `08:00:00.123456`, read by position: chrono's
/// `parse_from_str` reads its format string again for every line, and that
/// was a sixth of reading a syslog-wrapped log (benches/README.md). Any
/// other shape is left to chrono, as every shape was.
fn clock(text: &str) -> Option<NaiveTime> {
    let b = text.as_bytes();
    let two = |at: usize| -> Option<u32> {
        let (d1, d2) = (*b.get(at)?, *b.get(at + 1)?);
        (d1.is_ascii_digit() && d2.is_ascii_digit())
            .then(|| u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0'))
    };
    let digits = b.get(9..).unwrap_or_default();
    let simple = b.len() >= 8
        && b[2] == b':'
        && b[5] == b':'
        && (b.len() == 8
            || (b[8] == b'.'
                && (1..=9).contains(&digits.len())
                && digits.iter().all(u8::is_ascii_digit)));
    let fast = || {
        let (h, m, sec) = (two(0)?, two(3)?, two(6)?);
        let nanos = digits
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(9)
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        // A leap second, as chrono reads `:60`.
        let (sec, nanos) = if sec == 60 {
            (59, nanos + 1_000_000_000)
        } else {
            (sec, nanos)
        };
        NaiveTime::from_hms_nano_opt(h, m, sec, nanos)
    };
    if simple {
        return fast();
    }
    NaiveTime::parse_from_str(text, "%H:%M:%S%.f").ok()
}

/// `2025-03-11T08:00:00+0000`, `…+00:00`, `…123456+00:00` (short-iso,
/// short-iso-precise, rsyslog's RFC 3339 file format).
fn iso_time<'a>(text: &'a str, ctx: &Context) -> Option<(Option<DateTime<Utc>>, &'a str)> {
    if text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    let (ts, rest) = crate::common::timestamp(text, ctx)?;
    (ts.utc.year() > 1970).then_some((Some(ts.utc), rest))
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    /// The clock read by position is the clock chrono reads, on every
    /// shape a syslog time takes and on the odd ones.
    #[test]
    fn a_clock_is_read_as_chrono_reads_it() {
        let shapes = [
            "08:00:00",
            "23:59:59",
            "00:00:00.1",
            "08:00:00.123456",
            "08:00:00.123456789",
            "08:00:60",
            "08:00:60.5",
            "24:00:00",
            "08:60:00",
            "08:00:61",
            "08:00:00.",
            "08:00:00.1234567891",
            "8:00:00",
            "08:00:0a",
            "08:00:00.12.3",
            "08.00.00",
        ];
        for text in shapes {
            let chrono = NaiveTime::parse_from_str(text, "%H:%M:%S%.f").ok();
            assert_eq!(clock(text), chrono, "{text}");
        }
    }
}
