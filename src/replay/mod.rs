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

use chrono::{Datelike, NaiveDateTime, Utc};

mod time;

use time::{Found, Shape, find_all, rewrite_all};

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
        // as the reader assumes (`source::with_year`); else this year.
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
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 2)
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
