//! Envelope times: the RFC 3339 times runtimes write on every line, read
//! by their shape into packed fields ([`Stamp`]) and computed only when
//! asked ([`EnvelopeTime`]), with chrono's parser kept for the shapes the
//! fast path does not take. Also the epoch times shippers write
//! ([`epoch_text`], [`epoch_time`]) and the level-word check that keeps an
//! application's own `TIME LEVEL …` line from being taken for an envelope
//! ([`starts_with_level`]).
//!
//! Invariant: a time the fast path computes equals chrono's reading of the
//! same stamp (`envelope/tests.rs`, `runtime_times_read_by_position…`).

use chrono::{DateTime, Utc};

use super::nano_stamp;
use crate::bytes::word;

/// An envelope's time. A runtime's RFC 3339 time is on every line but
/// needed only for the few lines that give an event or have no time of
/// their own, so it is kept as its checked fields ([`Stamp`], 12 bytes)
/// and computed when asked ([`EnvelopeTime::get`]).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub enum EnvelopeTime {
    /// The envelope gave no time.
    #[default]
    None,
    /// A time already computed (from an epoch, a syslog date).
    At(DateTime<Utc>),
    /// An RFC 3339 time as written, computed on [`EnvelopeTime::get`].
    Written(Stamp),
}

/// The fields of an RFC 3339 stamp whose shape was checked
/// ([`rfc3339_stamp`]), packed, not yet a time: the calendar arithmetic is
/// left to [`Stamp::time`], which few lines need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Year (14 bits), month << 14, day << 18, hour << 23.
    date_hour: u32,
    /// Minute, second << 6, (offset in minutes + [`OFFSET_BIAS`]) << 12.
    rest: u32,
    nanos: u32,
}

/// A stamp's fields as read, before [`Stamp::pack`].
struct Fields {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    /// Minutes east of UTC.
    offset: i64,
}

/// Added to an offset in minutes (at most 99:99 by shape) to pack it.
const OFFSET_BIAS: i64 = 8192;

impl Stamp {
    /// The fields packed, when the month, day, hour, minute and second are
    /// each in range (a day the month does not have is left to
    /// [`Stamp::time`]).
    fn pack(f: Fields) -> Option<Stamp> {
        in_range(f.month, f.day, f.hour, f.minute, f.second).then(|| Stamp {
            date_hour: f.year | f.month << 14 | f.day << 18 | f.hour << 23,
            rest: f.minute | f.second << 6 | ((f.offset + OFFSET_BIAS) as u32) << 12,
            nanos: f.nanos,
        })
    }

    /// The instant, or `None` for a day the month does not have (the
    /// same as chrono's reading of the stamp).
    pub fn time(self) -> Option<DateTime<Utc>> {
        let d = i64::from(self.date_hour);
        let (year, month, day, hour) = (d & 0x3fff, (d >> 14) & 0xf, (d >> 18) & 0x1f, d >> 23);
        let r = i64::from(self.rest);
        let (minute, second, offset) = (r & 0x3f, (r >> 6) & 0x3f, (r >> 12) - OFFSET_BIAS);
        if day > days_in_month(year, month) {
            return None;
        }
        let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
            - offset * 60;
        DateTime::from_timestamp(secs, self.nanos)
    }
}

impl EnvelopeTime {
    /// The time, computed now if it was kept as written.
    pub fn get(&self) -> Option<DateTime<Utc>> {
        match self {
            EnvelopeTime::None => None,
            EnvelopeTime::At(t) => Some(*t),
            EnvelopeTime::Written(stamp) => stamp.time(),
        }
    }

    /// Whether the envelope gave a time.
    pub fn is_some(&self) -> bool {
        !matches!(self, EnvelopeTime::None)
    }

    /// This time, or `other` when there is none.
    pub fn or(self, other: EnvelopeTime) -> EnvelopeTime {
        if self.is_some() { self } else { other }
    }
}

impl From<DateTime<Utc>> for EnvelopeTime {
    fn from(t: DateTime<Utc>) -> Self {
        EnvelopeTime::At(t)
    }
}

impl From<Option<DateTime<Utc>>> for EnvelopeTime {
    fn from(t: Option<DateTime<Utc>>) -> Self {
        t.map_or(EnvelopeTime::None, EnvelopeTime::At)
    }
}

impl std::fmt::Debug for EnvelopeTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// A strict RFC 3339 time at the start of `text` (`T`, seconds, optional
/// fraction, `Z` or `±HH:MM`), as runtimes write them.
pub(crate) fn rfc3339_prefix(text: &str) -> Option<(DateTime<Utc>, &str)> {
    if let Some((time, end)) = fixed_rfc3339(text) {
        return Some((time, text.get(end..)?));
    }
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes.get(10) != Some(&b'T') || bytes.get(4) != Some(&b'-') {
        return None;
    }
    let mut end = 19;
    if bytes.get(end) == Some(&b'.') {
        end += 1;
        while bytes.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
    }
    match bytes.get(end)? {
        b'Z' => end += 1,
        b'+' | b'-' => end += 6,
        _ => return None,
    }
    let stamp = text.get(..end)?;
    let time = DateTime::parse_from_rfc3339(stamp).ok()?;
    Some((time.with_timezone(&Utc), &text[end..]))
}

/// Eight places of a stamp: the template's bytes as one word, and the
/// places of its separators (the template's `0`s stand for digits).
struct Template {
    word: u64,
    separators: u64,
}

impl Template {
    const fn new(template: &[u8; 8]) -> Template {
        let mut separators = 0;
        let mut i = 0;
        while i < 8 {
            if template[i] != b'0' {
                separators |= 0xff << (8 * i);
            }
            i += 1;
        }
        Template {
            word: u64::from_le_bytes(*template),
            separators,
        }
    }
}

const DATE: Template = Template::new(b"0000-00-");
const DAY_HOUR: Template = Template::new(b"00T00:00");
const TIME: Template = Template::new(b"00:00:00");

/// The word `w` against a template: the digits' values (0..=9) at the
/// digits' places when every digit's place holds a digit and every
/// separator is there; eight places in a few word operations (every line
/// of a node's log has such a stamp; a loop per byte showed in the
/// profile).
fn fits(w: u64, template: &Template) -> Option<u64> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A digit's place becomes 0..=9, a separator's 0 when it matches.
    let x = w ^ template.word;
    // Bytes over 9 get their high bit set (no carry: the high bit is
    // cleared first and tested on its own).
    let over_nine = ((x & !HIGH) + 0x7676_7676_7676_7676) | x;
    (over_nine & HIGH == 0 && x & template.separators == 0).then_some(x)
}

/// The two-digit number at byte places `i`, `i + 1` of a word of digits.
fn two_at(x: u64, i: u32) -> u32 {
    let byte = |k: u32| ((x >> (8 * k)) & 0xff) as u32;
    byte(i) * 10 + byte(i + 1)
}

/// The RFC 3339 stamp at the start of `text` by its shape alone (digits
/// where digits go, the separators, a month, day and time in range, up to
/// nine fraction digits, `Z` or `±HH:MM`): its fields packed, and the index
/// where it ends. No time is computed: a stamp that fits and names no real
/// instant (30 February) computes to nothing later. A runtime's own shape
/// (nine fraction digits, `Z`) is taken at once ([`nano_utc_stamp`]).
pub(crate) fn rfc3339_stamp(text: &str) -> Option<(Stamp, usize)> {
    nano_utc_stamp(text.as_bytes()).or_else(|| rfc3339_stamp_by_words(text))
}

/// Whether a month, day, hour, minute and second are each in range (a
/// day the month does not have is left to [`Stamp::time`]).
fn in_range(month: u32, day: u32, hour: u32, minute: u32, second: u32) -> bool {
    matches!(month, 1..=12) && matches!(day, 1..=31) && hour <= 23 && minute <= 59 && second <= 59
}

/// Where the stamp [`rfc3339_stamp`] takes at the start of `text` ends,
/// without its fields: for a caller that asks only whether a line starts
/// with one (the quiet path's CRI lines, nearly all of a runtime's
/// shape). Packing the fields, the fraction's value among them, was
/// about half of what the CRI envelope cost a skimmed line
/// (benches/README.md).
pub(crate) fn rfc3339_stamp_len(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    if let Some(s) = b.first_chunk::<{ nano_stamp::LEN }>()
        && nano_stamp::has_shape(s)
    {
        let two = |i: usize| u32::from(s[i] - b'0') * 10 + u32::from(s[i + 1] - b'0');
        // In range, `nano_utc_stamp` takes it; else the word reader
        // decides, as for `rfc3339_stamp`.
        if in_range(two(5), two(8), two(11), two(14), two(17)) {
            return Some(nano_stamp::LEN);
        }
    }
    rfc3339_stamp_by_words(text).map(|(_, end)| end)
}

/// [`rfc3339_stamp`] of a stamp of the runtimes' own shape
/// (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`), its shape checked at once
/// (`nano_stamp.rs`); `None` says nothing (the word reader decides).
fn nano_utc_stamp(b: &[u8]) -> Option<(Stamp, usize)> {
    if !nano_stamp::has_shape(b) {
        return None;
    }
    let digit = |i: usize| u32::from(b[i] - b'0');
    let two = |i: usize| digit(i) * 10 + digit(i + 1);
    let mut fraction = [0; 8];
    fraction.copy_from_slice(&b[20..28]);
    let eight = eight_digits(u64::from_le_bytes(fraction) - 0x3030_3030_3030_3030);
    let packed = Stamp::pack(Fields {
        year: two(0) * 100 + two(2),
        month: two(5),
        day: two(8),
        hour: two(11),
        minute: two(14),
        second: two(17),
        nanos: eight * 10 + digit(28),
        offset: 0,
    })?;
    Some((packed, nano_stamp::LEN))
}

/// [`rfc3339_stamp`] for any shape, a word of eight places at a time.
fn rfc3339_stamp_by_words(text: &str) -> Option<(Stamp, usize)> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    // Places 0..8, 8..16 and 11..19: `YYYY-MM-`, `DDTHH:MM`, `HH:MM:SS`.
    let date = fits(word(b, 0)?, &DATE)?;
    let day_hour = fits(word(b, 8)?, &DAY_HOUR)?;
    let time = fits(word(b, 11)?, &TIME)?;
    let (month, day, hour) = (two_at(date, 5), two_at(day_hour, 0), two_at(day_hour, 3));
    let (minute, second) = (two_at(day_hour, 6), two_at(time, 6));
    let mut at = 19;
    let mut nanos = 0;
    if b.get(at) == Some(&b'.') {
        let (fraction, digits) = fraction_digits(b, at + 1)?;
        nanos = fraction * FRACTION_UNIT[digits - 1];
        at += 1 + digits;
    }
    let (end, offset) = match b.get(at)? {
        b'Z' => (at + 1, 0),
        sign @ (b'+' | b'-')
            if b.len() >= at + 6
                && b[at + 3] == b':'
                && [1, 2, 4, 5].iter().all(|&i| b[at + i].is_ascii_digit()) =>
        {
            let two = |i: usize| i64::from(b[i] - b'0') * 10 + i64::from(b[i + 1] - b'0');
            let minutes = two(at + 1) * 60 + two(at + 4);
            (at + 6, if *sign == b'-' { -minutes } else { minutes })
        }
        _ => return None,
    };
    let year = two_at(date, 0) * 100 + two_at(date, 2);
    let stamp = Stamp::pack(Fields {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
        offset,
    })?;
    Some((stamp, end))
}

const EIGHT_DIGITS: Template = Template::new(b"00000000");

/// The fraction's digits from `from` (one to nine; a tenth refuses the
/// stamp): their value and how many. A runtime writes nine (CRI, docker),
/// so the first eight are taken as one word when they are all digits
/// (the loop per digit showed in the profile); any other count goes
/// digit by digit.
fn fraction_digits(b: &[u8], from: usize) -> Option<(u32, usize)> {
    let digit = |i: usize| b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d <= 9);
    if let Some(x) = word(b, from).and_then(|w| fits(w, &EIGHT_DIGITS)) {
        let eight = eight_digits(x);
        return match digit(from + 8) {
            None => Some((eight, 8)),
            Some(_) if digit(from + 9).is_some() => None,
            Some(d) => Some((eight * 10 + u32::from(d), 9)),
        };
    }
    let mut fraction: u32 = 0;
    let mut digits = 0;
    while let Some(d) = digit(from + digits) {
        if digits == 9 {
            return None;
        }
        fraction = fraction * 10 + u32::from(d);
        digits += 1;
    }
    (digits > 0).then_some((fraction, digits))
}

/// The number eight digits' values (each 0..=9, the first in the low
/// byte) write: pairs, then fours, then the eight, in a few word
/// operations.
fn eight_digits(x: u64) -> u32 {
    let x = (x * 10 + (x >> 8)) & 0x00ff_00ff_00ff_00ff;
    let x = (x * 100 + (x >> 16)) & 0x0000_ffff_0000_ffff;
    ((x * 10_000 + (x >> 32)) & 0xffff_ffff) as u32
}

/// Nanoseconds per unit of the last of n fraction digits.
const FRACTION_UNIT: [u32; 9] = [
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

/// The common shapes of [`rfc3339_prefix`] ([`rfc3339_stamp`]) computed
/// from their digits, an order of magnitude faster than chrono's general
/// parser. Returns the time and where it ends; anything else (a leap
/// second, more fraction digits) is left to chrono.
fn fixed_rfc3339(text: &str) -> Option<(DateTime<Utc>, usize)> {
    let (stamp, end) = rfc3339_stamp(text)?;
    Some((stamp.time()?, end))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The words [`starts_with_level`] knows a level by.
const LEVELS: [&str; 12] = [
    "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "trace", "debug", "info", "warn", "error",
    "level=",
];

/// Whether `text` starts with a log level word (the rest of an
/// application's own `TIME LEVEL …` line).
pub(crate) fn starts_with_level(text: &str) -> bool {
    let text = text.trim_start_matches('[');
    // Byte by byte, the first byte first: a syslog host is tested on every
    // line, and twelve `memcmp` calls were a twentieth of reading a
    // syslog-wrapped log.
    let bytes = text.as_bytes();
    LEVELS.iter().any(|level| {
        let level = level.as_bytes();
        bytes.len() >= level.len()
            && level.iter().zip(bytes).all(|(l, b)| l == b)
            && bytes
                .get(level.len())
                .is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}

/// Unix time written as an integer string (journald's microseconds, OTLP's
/// nanoseconds): exact, without a detour through `f64`.
pub(crate) fn epoch_text(text: &str) -> Option<DateTime<Utc>> {
    let Ok(n) = text.parse::<i64>() else {
        return text.parse::<f64>().ok().and_then(epoch_time);
    };
    let nanos = if n > 100_000_000_000_000_000 {
        n
    } else if n > 100_000_000_000_000 {
        n.checked_mul(1_000)?
    } else if n > 100_000_000_000 {
        n.checked_mul(1_000_000)?
    } else {
        n.checked_mul(1_000_000_000)?
    };
    (n > 0).then(|| DateTime::from_timestamp_nanos(nanos))
}

/// Unix time in nanoseconds, microseconds, milliseconds or seconds (by
/// magnitude), as shippers write it.
pub(crate) fn epoch_time(value: f64) -> Option<DateTime<Utc>> {
    if !value.is_finite() || value <= 0.0 {
        return None;
    }
    let nanos = if value > 1e17 {
        value
    } else if value > 1e14 {
        value * 1e3
    } else if value > 1e11 {
        value * 1e6
    } else {
        value * 1e9
    };
    Some(DateTime::from_timestamp_nanos(nanos as i64))
}

#[cfg(test)]
#[path = "nano_utc_tests.rs"]
mod nano_utc_tests;

#[cfg(test)]
mod tests {
    use super::{LEVELS, starts_with_level};

    /// The byte-by-byte reading answers what a reading by `strip_prefix`
    /// answers, on level words, their neighbours and odd texts.
    #[test]
    fn a_level_is_found_as_by_its_prefix() {
        let by_prefix = |text: &str| {
            let text = text.trim_start_matches('[');
            LEVELS.iter().any(|l| {
                text.strip_prefix(l)
                    .is_some_and(|r| r.is_empty() || !r.as_bytes()[0].is_ascii_alphanumeric())
            })
        };
        let texts = [
            "",
            "[",
            "INFO",
            "[INFO]",
            "[[WARN",
            "INFO:",
            "INFOS",
            "INF",
            "info ",
            "information",
            "warning",
            "warn-",
            "web1",
            "ERROR1",
            "error_",
            "level=info",
            "level",
            "Levels",
            "FATAL é",
            "é",
            "débug",
            "TRACEé",
            "DEBUG\u{301}",
            "[[[",
        ];
        for text in texts {
            assert_eq!(starts_with_level(text), by_prefix(text), "{text:?}");
        }
    }
}
