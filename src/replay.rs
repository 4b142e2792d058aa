//! `watch --replay-now`: the given logs (the samples, for a first run) fed
//! to the watcher as if they were being written now, so a newcomer sees
//! incidents open, charts fill and the pages update by themselves.
//!
//! The logs are read once; every line keeps its text except its time,
//! rewritten in the syntax it was written in (an RFC 3339 or log4j-style
//! date and time with its fraction and offset, logcat's `MM-DD HH:MM:SS.mmm`,
//! syslog's `Mon DD HH:MM:SS`, a time of day alone, a JSON epoch in
//! seconds, milliseconds, microseconds or nanoseconds). The time found is
//! the first of these shapes on the line; a line with none keeps its place
//! after the line before it. The lines are then appended, each at its new
//! time, to a copy of each file under a spool folder the watcher follows:
//! the same pipeline as any growing log.
//!
//! Invariants:
//! - The files of one folder share a timeline, so a client's log and its
//!   server's stay aligned as they were (a request's two sides keep their
//!   order and gap); times are compared as UTC (offsets read).
//! - The stamped gaps are the logged ones, except that a gap longer than
//!   [`MAX_GAP`] (the days between two captures) becomes a minute: what a
//!   diagnosis reads of time (a code's age, a clock's skew) is unchanged.
//! - The lines are written `--replay-speed` times faster than logged, in
//!   each file's order, all folders at once from the start. A folder's last
//!   line is stamped with the time it is written and the others keep their
//!   gaps to it: at speed 1 every line is stamped when it is written, and
//!   no stamp is ever in the future.
//! - The spool folder is a temporary one, removed when the replay is
//!   dropped; the replay thread stops then too.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// The longest gap kept between two consecutive times of a timeline
/// (longer than any code lifetime or clock skew a diagnosis reads); a
/// longer one (the days between two captures) becomes a minute.
pub const MAX_GAP: Duration = Duration::from_secs(30 * 60);

/// Why a replay cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input cannot be listed or read.
    #[error(transparent)]
    Input(#[from] crate::ingest::Error),
    /// A file cannot be read.
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The spool folder cannot be created.
    #[error("cannot create the replay folder: {0}")]
    Spool(std::io::Error),
    /// The speed factor is not a positive number.
    #[error("--replay-speed must be a positive number, got {0}")]
    Speed(f64),
}

/// Where a line's time is and what it says.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
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
struct Found {
    start: usize,
    end: usize,
    shape: Shape,
    at: NaiveDateTime,
    /// Digits of the fraction (kept as written).
    frac_digits: usize,
    /// The zone offset written after a date and time (seconds east; 0
    /// when none: the parsers read such times as UTC unless told).
    offset_s: i64,
}

impl Found {
    /// The time as UTC.
    fn utc(&self) -> NaiveDateTime {
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
fn find_all(line: &str, year: i32) -> Vec<Found> {
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
fn rewrite_all(line: &str, found: &[Found], shift: chrono::TimeDelta) -> String {
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

/// One line to write: into which file, when (ms after the start), what.
struct Due {
    file: usize,
    after_ms: i64,
    text: String,
}

/// A running replay: the spool folder the watcher follows. Dropping it
/// stops the writer and removes the folder.
pub struct Replay {
    dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Replay {
    /// The folder to follow.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Gaps longer than [`MAX_GAP`] become this.
const CUT_GAP: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The lines of `files` in the order they are due, times rewritten. The
/// files of one folder (a client's log and its server's) share a timeline;
/// each line's time is its own, or the line before it's.
fn schedule(files: &[(PathBuf, String)], speed: f64, now: NaiveDateTime) -> Vec<Due> {
    let year = now.year();
    // (file, UTC time, the time found, text)
    type Line<'t> = (usize, Option<NaiveDateTime>, Vec<Found>, &'t str);
    let mut groups: HashMap<&Path, Vec<Line<'_>>> = HashMap::new();
    for (n, (path, text)) in files.iter().enumerate() {
        let lines = groups
            .entry(path.parent().unwrap_or(Path::new("")))
            .or_default();
        let start = lines.len();
        let mut last: Option<NaiveDateTime> = None;
        // Year-less times take the year of the file's first `Date` header,
        // as the reader assumes (`ingest::with_year`); else this year.
        let year = text
            .lines()
            .flat_map(|l| find_all(l, year))
            .find(|f| f.shape == Shape::HttpDate)
            .map_or(year, |f| f.at.year());
        for line in text.lines() {
            let found = find_all(line, year);
            if let Some(f) = found.first() {
                last = Some(f.utc());
            }
            lines.push((n, last, found, line));
        }
        // Lines before the file's first time take that time.
        let first = lines[start..].iter().find_map(|l| l.1);
        for l in &mut lines[start..] {
            if l.1.is_none() {
                l.1 = first;
            }
        }
    }
    let max_gap = chrono::TimeDelta::from_std(MAX_GAP).unwrap_or(chrono::TimeDelta::MAX);
    let mut due = Vec::new();
    for lines in groups.into_values() {
        let mut times: Vec<NaiveDateTime> = lines.iter().filter_map(|l| l.1).collect();
        times.sort();
        times.dedup();
        // Each distinct time's place on the group's timeline (ms after its
        // first): gaps kept, long ones cut.
        let mut placed: HashMap<NaiveDateTime, i64> = HashMap::with_capacity(times.len());
        let mut at = chrono::TimeDelta::zero();
        for (i, t) in times.iter().enumerate() {
            if i > 0 {
                let gap = *t - times[i - 1];
                at += if gap > max_gap { CUT_GAP } else { gap };
            }
            placed.insert(*t, at.num_milliseconds());
        }
        let span = at.num_milliseconds();
        // Written `speed` times faster; stamped so that the last line's
        // time is when it is written, and every gap is as it was logged.
        let end_ms = (span as f64 / speed) as i64;
        let mut last_due: HashMap<usize, i64> = HashMap::new();
        for (file, t, found, line) in lines {
            let m = t.and_then(|t| placed.get(&t).copied()).unwrap_or(0);
            let text = match (found.first(), t) {
                (Some(_), Some(t)) => {
                    let stamp = now + chrono::TimeDelta::milliseconds(end_ms - (span - m));
                    rewrite_all(line, &found, stamp - t)
                }
                _ => line.to_owned(),
            };
            // A line never goes before the one above it in its file.
            let previous = last_due.entry(file).or_insert(0);
            let after_ms = ((m as f64 / speed) as i64).max(*previous);
            *previous = after_ms;
            due.push(Due {
                file,
                after_ms,
                text,
            });
        }
    }
    // Stable: a file's lines keep their order among equal times.
    due.sort_by_key(|d| (d.after_ms, d.file));
    due
}

/// Reads every file of `paths` and starts writing their lines, times
/// shifted to now, into a new spool folder, `speed` times faster than
/// they were written (gaps over [`MAX_GAP`] cut first).
pub fn start(paths: &[PathBuf], speed: f64) -> Result<Replay, Error> {
    if !(speed.is_finite() && speed > 0.0) {
        return Err(Error::Speed(speed));
    }
    let (found, _) = crate::ingest::collect_files(paths)?;
    let mut files = Vec::with_capacity(found.len());
    for path in found {
        let bytes = std::fs::read(&path).map_err(|e| Error::Read(path.clone(), e))?;
        files.push((path, String::from_utf8_lossy(&bytes).into_owned()));
    }
    let dir = tempfile::Builder::new()
        .prefix("grantwatch-replay-")
        .tempdir()
        .map_err(Error::Spool)?;
    // Each copy keeps its name and the folders under the path given (the
    // samples' folders say which logs belong together).
    let targets: Vec<PathBuf> = files
        .iter()
        .enumerate()
        .map(|(n, (path, _))| {
            let under = paths
                .iter()
                .find_map(|p| {
                    path.strip_prefix(p)
                        .ok()
                        .filter(|r| !r.as_os_str().is_empty())
                })
                .map_or_else(
                    || PathBuf::from(path.file_name().unwrap_or_default()),
                    Path::to_path_buf,
                );
            dir.path().join(format!("{n:03}")).join(under)
        })
        .collect();
    let started = std::time::Instant::now();
    let now = Utc::now().naive_utc();
    let due = schedule(&files, speed, now);
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || write_all(&targets, due, started, &stop))
    };
    Ok(Replay {
        dir,
        stop,
        thread: Some(thread),
    })
}

/// Appends each line when its time comes, until done or `stop`.
fn write_all(targets: &[PathBuf], due: Vec<Due>, started: std::time::Instant, stop: &AtomicBool) {
    let mut open: HashMap<usize, std::fs::File> = HashMap::new();
    let total = due.len();
    let mut i = 0;
    while i < total {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let now_ms = started.elapsed().as_millis() as i64;
        let next = due[i].after_ms;
        if next > now_ms {
            std::thread::sleep(Duration::from_millis((next - now_ms).min(100) as u64));
            continue;
        }
        // Everything due by now, grouped per file in one write each.
        let mut batch: HashMap<usize, String> = HashMap::new();
        while i < total && due[i].after_ms <= now_ms {
            let d = &due[i];
            let text = batch.entry(d.file).or_default();
            text.push_str(&d.text);
            text.push('\n');
            i += 1;
        }
        for (file, text) in batch {
            let f = match open.entry(file) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let path = &targets[file];
                    let created = path
                        .parent()
                        .map_or(Ok(()), std::fs::create_dir_all)
                        .and_then(|()| {
                            std::fs::OpenOptions::new()
                                .create(true)
                                .append(true)
                                .open(path)
                        });
                    match created {
                        Ok(f) => v.insert(f),
                        Err(e) => {
                            eprintln!("grantwatch: replay cannot write {}: {e}", path.display());
                            return;
                        }
                    }
                }
            };
            if let Err(e) = f.write_all(text.as_bytes()) {
                eprintln!("grantwatch: replay cannot write: {e}");
                return;
            }
        }
    }
    eprintln!("grantwatch: replay done ({total} lines)");
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

    #[test]
    fn gaps_are_kept_long_ones_cut_and_the_pace_divided_by_the_speed() {
        // A client's log (+01:00) and its server's (UTC) in one folder, a
        // log of another folder, days apart.
        let client = "2025-04-05T12:00:00+01:00 a\nno time\n2025-04-05T12:00:20+01:00 b\n2025-04-07T00:00:00+01:00 c\n";
        let server = "2025-04-05T11:00:10Z d\n";
        let other = "03-11 09:00:00.000 e\n03-11 09:00:30.000 f\n";
        let files = vec![
            (PathBuf::from("s/client.log"), client.to_owned()),
            (PathBuf::from("s/server.log"), server.to_owned()),
            (PathBuf::from("o/logcat.txt"), other.to_owned()),
        ];
        let now = NaiveDate::from_ymd_opt(2026, 12, 2)
            .and_then(|d| d.and_hms_opt(8, 0, 0))
            .expect("now");
        let due = schedule(&files, 2.0, now);
        let plan: Vec<(usize, i64, &str)> = due
            .iter()
            .map(|d| (d.file, d.after_ms, d.text.as_str()))
            .collect();
        // Folder s spans 20 s then a cut gap of 60 s: 80 s, written in 40;
        // its last line stamped at 08:00:40, the others 80 s, 60 s... before.
        assert_eq!(
            plan,
            [
                (0, 0, "2026-12-02T08:59:20+01:00 a"),
                (0, 0, "no time"),
                (2, 0, "12-02 07:59:45.000 e"),
                (1, 5_000, "2026-12-02T07:59:30Z d"),
                (0, 10_000, "2026-12-02T08:59:40+01:00 b"),
                (2, 15_000, "12-02 08:00:15.000 f"),
                (0, 40_000, "2026-12-02T09:00:40+01:00 c"),
            ]
        );
    }
}
