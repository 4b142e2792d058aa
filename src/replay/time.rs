//! Where a log line's time is, in the shapes the supported formats write
//! ([`find_all`]), and the line with those times moved ([`rewrite_all`]),
//! each in the syntax it was written in (`--replay-now`, [`super`]).
//!
//! Invariants: only the time's characters change (a fraction keeps its
//! digits and separator, an offset its text, a `T` or a space between date
//! and time stays); a line's times all move by one shift; a line with no
//! time recognised is never changed.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// Where a line's time is and what it says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Shape {
    /// `YYYY-MM-DD[T ]HH:MM:SS[.frac]` (offset text after it is kept).
    DateTime,
    /// logcat `MM-DD HH:MM:SS.mmm`.
    MonthDay,
    /// syslog `Mon DD HH:MM:SS` (day space-padded).
    Syslog,
    /// `HH:MM:SS[.,frac]` alone.
    TimeOfDay,
    /// An HTTP date `Tue, 11 Mar 2025 08:11:03` (a `Date` header).
    HttpDate,
    /// A JSON epoch of 10, 13, 16 or 19 digits.
    Epoch(u32),
}

/// A time found on a line: its byte span, shape, and value (naive: the
/// shift is a duration, added in the line's own zone).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Found {
    start: usize,
    end: usize,
    pub(super) shape: Shape,
    pub(super) at: NaiveDateTime,
    /// Digits of the fraction (kept as written).
    frac_digits: usize,
    /// The zone offset written after a date and time (seconds east; 0
    /// when none: the parsers read such times as UTC unless told).
    offset_s: i64,
}

impl Found {
    /// The time as UTC.
    pub(super) fn utc(&self) -> NaiveDateTime {
        self.at - chrono::TimeDelta::seconds(self.offset_s)
    }
}

/// The offset at the start of `b` (`Z`, `+HH:MM`, `+HHMM`, `+HH`), if any.
fn offset_at(b: &[u8]) -> i64 {
    let sign = match b.first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return 0,
    };
    let Some(h) = digits(b, 1, 2) else { return 0 };
    let m = if b.get(3) == Some(&b':') {
        digits(b, 4, 2)
    } else {
        digits(b, 3, 2)
    };
    sign * (i64::from(h) * 3600 + i64::from(m.unwrap_or(0)) * 60)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    if !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// `HH:MM:SS` at `at`, with an optional `.` or `,` fraction: the time,
/// the end, the fraction's digits.
fn clock(b: &[u8], at: usize) -> Option<(NaiveTime, usize, usize)> {
    let (h, m, s) = (
        digits(b, at, 2)?,
        digits(b, at + 3, 2)?,
        digits(b, at + 6, 2)?,
    );
    if b.get(at + 2) != Some(&b':') || b.get(at + 5) != Some(&b':') {
        return None;
    }
    let mut end = at + 8;
    let mut nanos = 0u32;
    let mut frac = 0;
    if matches!(b.get(end), Some(b'.' | b',')) {
        let n = b[end + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if n > 0 {
            let text = std::str::from_utf8(&b[end + 1..end + 1 + n.min(9)]).ok()?;
            nanos = text.parse::<u32>().ok()? * 10u32.pow(9 - n.min(9) as u32);
            frac = n;
            end += 1 + n;
        }
    }
    Some((NaiveTime::from_hms_nano_opt(h, m, s, nanos)?, end, frac))
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac][offset]` at `i`.
fn date_time_at(b: &[u8], i: usize) -> Option<Found> {
    let (y, mo, d) = (digits(b, i, 4)?, digits(b, i + 5, 2)?, digits(b, i + 8, 2)?);
    if b.get(i + 4) != Some(&b'-')
        || b.get(i + 7) != Some(&b'-')
        || !matches!(b.get(i + 10), Some(b'T' | b' '))
    {
        return None;
    }
    let (t, end, frac) = clock(b, i + 11)?;
    let at = NaiveDate::from_ymd_opt(y as i32, mo, d)?.and_time(t);
    Some(Found {
        start: i,
        end,
        shape: Shape::DateTime,
        at,
        frac_digits: frac,
        offset_s: offset_at(&b[end..]),
    })
}

/// An HTTP date (`Tue, 11 Mar 2025 08:11:03`, GMT) at `i`.
fn http_date_at(b: &[u8], i: usize) -> Option<Found> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let day_name = std::str::from_utf8(b.get(i..i + 3)?).ok()?;
    if !DAYS.contains(&day_name) || b.get(i + 3..i + 5) != Some(b", ") {
        return None;
    }
    let d = digits(b, i + 5, 2)?;
    let month = std::str::from_utf8(b.get(i + 8..i + 11)?).ok()?;
    let mo = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let y = digits(b, i + 12, 4)?;
    if b.get(i + 7) != Some(&b' ') || b.get(i + 11) != Some(&b' ') || b.get(i + 16) != Some(&b' ') {
        return None;
    }
    let (t, end, _) = clock(b, i + 17)?;
    let at = NaiveDate::from_ymd_opt(y as i32, mo, d)?.and_time(t);
    Some(Found {
        start: i,
        end,
        shape: Shape::HttpDate,
        at,
        frac_digits: 0,
        offset_s: 0,
    })
}

/// Every time on `line` the replay moves: the first ([`find`]), then the
/// dates and times after it (a Rails `at …`, a `Date` header), in order.
pub(super) fn find_all(line: &str, year: i32) -> Vec<Found> {
    let Some(first) = find(line, year) else {
        return Vec::new();
    };
    let b = line.as_bytes();
    let mut out = vec![first];
    let mut i = first.end;
    while i < b.len() {
        let next = date_time_at(b, i).or_else(|| http_date_at(b, i));
        match next {
            Some(f) if i == 0 || !b[i - 1].is_ascii_alphanumeric() => {
                i = f.end;
                out.push(f);
            }
            _ => i += 1,
        }
    }
    out
}

/// `line` with every time of `found` (in order) moved by `shift`.
pub(super) fn rewrite_all(line: &str, found: &[Found], shift: chrono::TimeDelta) -> String {
    let mut out = line.to_owned();
    // From the last: each rewrite leaves the spans before it in place.
    for f in found.iter().rev() {
        let moved = rewrite(&out, f, shift);
        out = moved;
    }
    out
}

/// A JSON epoch under a time key of the object on `line`.
fn json_epoch(line: &str) -> Option<Found> {
    let b = line.as_bytes();
    for key in ["\"timestamp\":", "\"time\":", "\"ts\":"] {
        let Some(k) = line.find(key) else { continue };
        let start = k + key.len();
        let n = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
        let value: i64 = line.get(start..start + n)?.parse().ok()?;
        let (secs, nanos) = match n {
            10 => (value, 0),
            13 => (value.div_euclid(1000), value.rem_euclid(1000) * 1_000_000),
            16 => (
                value.div_euclid(1_000_000),
                value.rem_euclid(1_000_000) * 1000,
            ),
            19 => (
                value.div_euclid(1_000_000_000),
                value.rem_euclid(1_000_000_000),
            ),
            _ => continue,
        };
        let at = DateTime::<Utc>::from_timestamp(secs, nanos as u32)?.naive_utc();
        let shape = Shape::Epoch(n as u32);
        return Some(Found {
            start,
            end: start + n,
            shape,
            at,
            frac_digits: 0,
            offset_s: 0,
        });
    }
    None
}

/// The first time on `line` (`year`: the year of times that carry none).
/// A JSON object's time is its time key's, before any time in its text.
fn find(line: &str, year: i32) -> Option<Found> {
    if line.starts_with('{')
        && let Some(f) = json_epoch(line)
    {
        return Some(f);
    }
    let b = line.as_bytes();
    // At the start: logcat, syslog, a time of day (log4j, WildFly).
    if let (Some(mo), Some(d), Some(b' ')) = (digits(b, 0, 2), digits(b, 3, 2), b.get(5))
        && b.get(2) == Some(&b'-')
        && let Some((t, end, frac)) = clock(b, 6)
    {
        let date = NaiveDate::from_ymd_opt(year, mo, d)?;
        let at = date.and_time(t);
        let shape = Shape::MonthDay;
        return Some(Found {
            start: 0,
            end,
            shape,
            at,
            frac_digits: frac,
            offset_s: 0,
        });
    }
    if let Some(month) = MONTHS.iter().position(|m| line.starts_with(m))
        && b.get(3) == Some(&b' ')
        && let Some((t, end, frac)) = clock(b, 7)
    {
        let day: u32 = line.get(4..6)?.trim().parse().ok()?;
        let date = NaiveDate::from_ymd_opt(year, month as u32 + 1, day)?;
        let at = date.and_time(t);
        return Some(Found {
            start: 0,
            end,
            shape: Shape::Syslog,
            at,
            frac_digits: frac,
            offset_s: 0,
        });
    }
    for (i, c) in b.iter().enumerate() {
        if !c.is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
            continue;
        }
        if let Some(f) = date_time_at(b, i) {
            return Some(f);
        }
        // A time of day alone, at the start or after `[`.
        if (i == 0 || b[i - 1] == b'[')
            && let Some((t, end, frac)) = clock(b, i)
            && !b.get(end).is_some_and(u8::is_ascii_digit)
        {
            let at = NaiveDate::from_ymd_opt(year, 1, 1)?.and_time(t);
            return Some(Found {
                start: i,
                end,
                shape: Shape::TimeOfDay,
                at,
                frac_digits: frac,
                offset_s: 0,
            });
        }
    }
    None
}

/// `line` with its time `f` moved by `shift`, written as it was.
fn rewrite(line: &str, f: &Found, shift: chrono::TimeDelta) -> String {
    let at = f.at + shift;
    let frac = |at: &NaiveDateTime, sep: u8| -> String {
        if f.frac_digits == 0 {
            return String::new();
        }
        let nanos = format!("{:09}", at.and_utc().timestamp_subsec_nanos());
        let mut digits: String = nanos.chars().take(f.frac_digits.min(9)).collect();
        while digits.len() < f.frac_digits {
            digits.push('0');
        }
        format!("{}{digits}", sep as char)
    };
    let original = &line[f.start..f.end];
    let sep = original
        .bytes()
        .rev()
        .find(|c| *c == b'.' || *c == b',')
        .filter(|_| f.frac_digits > 0)
        .unwrap_or(b'.');
    let text = match f.shape {
        Shape::DateTime => {
            let t = original.as_bytes().get(10).copied().unwrap_or(b'T') as char;
            format!(
                "{}{t}{}{}",
                at.format("%Y-%m-%d"),
                at.format("%H:%M:%S"),
                frac(&at, sep)
            )
        }
        Shape::MonthDay => format!("{}{}", at.format("%m-%d %H:%M:%S"), frac(&at, sep)),
        Shape::Syslog => format!(
            "{} {:>2} {}{}",
            MONTHS[at.month0() as usize],
            at.day(),
            at.format("%H:%M:%S"),
            frac(&at, sep)
        ),
        Shape::TimeOfDay => format!("{}{}", at.format("%H:%M:%S"), frac(&at, sep)),
        Shape::HttpDate => at.format("%a, %d %b %Y %H:%M:%S").to_string(),
        Shape::Epoch(n) => {
            let u = at.and_utc();
            match n {
                10 => u.timestamp().to_string(),
                13 => u.timestamp_millis().to_string(),
                16 => u.timestamp_micros().to_string(),
                _ => u
                    .timestamp_nanos_opt()
                    .map_or_else(|| original.to_owned(), |n| n.to_string()),
            }
        }
    };
    format!("{}{text}{}", &line[..f.start], &line[f.end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shifted(line: &str) -> String {
        let f = find(line, 2025).expect("a time");
        rewrite(
            line,
            &f,
            chrono::TimeDelta::days(10) + chrono::TimeDelta::milliseconds(1500),
        )
    }

    #[test]
    fn each_shape_is_rewritten_in_its_own_syntax() {
        assert_eq!(
            shifted("I, [2025-04-05T11:05:00.123456 #7]  INFO -- : x"),
            "I, [2025-04-15T11:05:01.623456 #7]  INFO -- : x"
        );
        assert_eq!(
            shifted("2025-03-02 18:40:11.902114+0000 Runner[2817:1190512] y"),
            "2025-03-12 18:40:13.402114+0000 Runner[2817:1190512] y"
        );
        assert_eq!(
            shifted("2025-03-11 11:00:03,512 INFO  [io.quarkus] z"),
            "2025-03-21 11:00:05,012 INFO  [io.quarkus] z"
        );
        assert_eq!(
            shifted("03-11 09:40:58.102  1402  1431 I ActivityManager: a"),
            "03-21 09:40:59.602  1402  1431 I ActivityManager: a"
        );
        assert_eq!(
            shifted("Mar  1 09:41:07 iPhone b"),
            "Mar 11 09:41:08 iPhone b"
        );
        assert_eq!(shifted("10:05:40,118 INFO  [c]"), "10:05:41,618 INFO  [c]");
        assert_eq!(
            shifted("[09:38:12 Information] d"),
            "[09:38:13 Information] d"
        );
        assert_eq!(
            shifted(r#"{"a":1,"timestamp":1762329631001000000,"b":2}"#),
            r#"{"a":1,"timestamp":1763193632501000000,"b":2}"#
        );
        assert_eq!(find("no time here: 12:3", 2025), None);
        // Every time on a line moves with the first.
        let line = "I, [2025-03-11T09:12:04.118000 #7]  INFO -- : Started POST \"/oauth/token\" for 198.51.100.23 at 2025-03-11 09:12:04 +0000";
        let found = find_all(line, 2025);
        assert_eq!(
            rewrite_all(line, &found, chrono::TimeDelta::days(1)),
            "I, [2025-03-12T09:12:04.118000 #7]  INFO -- : Started POST \"/oauth/token\" for 198.51.100.23 at 2025-03-12 09:12:04 +0000"
        );
        let line = "2025-03-11 08:11:03.019715+0000 Runner[2817:1190331] flutter:  date: [Tue, 11 Mar 2025 08:11:03 GMT]";
        let found = find_all(line, 2025);
        assert_eq!(
            rewrite_all(line, &found, chrono::TimeDelta::days(1)),
            "2025-03-12 08:11:03.019715+0000 Runner[2817:1190331] flutter:  date: [Wed, 12 Mar 2025 08:11:03 GMT]"
        );
    }
}
