//! Envelope times: the RFC 3339 times runtimes write on every line, read
//! by their shape and computed only when asked ([`EnvelopeTime`]), with
//! chrono's parser kept for the shapes the fast path does not take.
//!
//! Invariant: a time the fast path computes equals chrono's reading of the
//! same stamp (`envelope/tests.rs`, `runtime_times_read_by_position…`).

use chrono::{DateTime, Utc};

/// An envelope's time. A runtime's RFC 3339 time is on every line but
/// needed only for the few lines that give an event or have no time of
/// their own, so it is kept as written (its shape checked) and computed
/// when asked ([`EnvelopeTime::get`]).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub enum EnvelopeTime {
    /// The envelope gave no time.
    #[default]
    None,
    /// A time already computed (from an epoch, a syslog date).
    At(DateTime<Utc>),
    /// An RFC 3339 time as written, computed on [`EnvelopeTime::get`].
    Written {
        /// The stamp's bytes (ASCII, checked by [`rfc3339_shape`]).
        bytes: [u8; STAMP_MAX],
        /// How many of them.
        len: u8,
    },
}

/// The longest RFC 3339 stamp kept as written (nine fraction digits and an
/// offset: 35 bytes).
pub const STAMP_MAX: usize = 35;

impl EnvelopeTime {
    /// The time, computed now if it was kept as written.
    pub fn get(&self) -> Option<DateTime<Utc>> {
        match self {
            EnvelopeTime::None => None,
            EnvelopeTime::At(t) => Some(*t),
            EnvelopeTime::Written { bytes, len } => {
                let text = std::str::from_utf8(bytes.get(..usize::from(*len))?).ok()?;
                rfc3339_prefix(text).map(|(t, _)| t)
            }
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

    /// A stamp checked by [`rfc3339_shape`], kept as written.
    pub(crate) fn written(stamp: &str) -> EnvelopeTime {
        let mut bytes = [0; STAMP_MAX];
        let len = stamp.len().min(STAMP_MAX);
        bytes[..len].copy_from_slice(&stamp.as_bytes()[..len]);
        EnvelopeTime::Written {
            bytes,
            len: len as u8,
        }
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

/// The RFC 3339 stamp at the start of `text` by its shape alone (digits
/// where digits go, the separators, a month, day and time in range, up to
/// nine fraction digits, `Z` or `±HH:MM`), and what follows it: no time is
/// computed. A stamp that fits and names no real instant (30 February)
/// computes to nothing later.
pub(crate) fn rfc3339_shape(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    // Every line of a node's log has one: one pass over the digits' places
    // (`Iterator::all` here stayed a call per byte in the profile).
    let mut not_digit = false;
    for i in [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18] {
        not_digit |= b[i].wrapping_sub(b'0') > 9;
    }
    if not_digit {
        return None;
    }
    let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
    if !matches!(two(5), 1..=12)
        || !matches!(two(8), 1..=31)
        || two(11) > 23
        || two(14) > 59
        || two(17) > 59
    {
        return None;
    }
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        let mut end = at + 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if !(1..=9).contains(&(end - at - 1)) {
            return None;
        }
        at = end;
    }
    let end = match b.get(at)? {
        b'Z' => at + 1,
        b'+' | b'-'
            if b.len() >= at + 6
                && b[at + 3] == b':'
                && [1, 2, 4, 5].iter().all(|&i| b[at + i].is_ascii_digit()) =>
        {
            at + 6
        }
        _ => return None,
    };
    Some((text.get(..end)?, text.get(end..)?))
}

/// Nanoseconds per unit of the n-th fraction digit.
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

/// The common shapes of [`rfc3339_prefix`] ([`rfc3339_shape`]) computed
/// from their digits, an order of magnitude faster than chrono's general
/// parser. Returns the time and where it ends; anything else (a leap
/// second, more fraction digits) is left to chrono.
fn fixed_rfc3339(text: &str) -> Option<(DateTime<Utc>, usize)> {
    let (stamp, _) = rfc3339_shape(text)?;
    let b = stamp.as_bytes();
    // The shape check saw digits at these places.
    let two = |i: usize| i64::from(b[i] - b'0') * 10 + i64::from(b[i + 1] - b'0');
    let (year, month, day) = (two(0) * 100 + two(2), two(5), two(8));
    if day > days_in_month(year, month) {
        return None;
    }
    let mut nanos: u32 = 0;
    let mut at = 19;
    if b[at] == b'.' {
        at += 1;
        while let Some(d) = b.get(at).filter(|c| c.is_ascii_digit()) {
            nanos += u32::from(d - b'0') * FRACTION_UNIT[at - 20];
            at += 1;
        }
    }
    let offset = match b[at] {
        b'+' => two(at + 1) * 3600 + two(at + 4) * 60,
        b'-' => -(two(at + 1) * 3600 + two(at + 4) * 60),
        _ => 0,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + two(11) * 3600 + two(14) * 60 + two(17)
        - offset;
    Some((DateTime::from_timestamp(secs, nanos)?, stamp.len()))
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
