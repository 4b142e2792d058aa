//! The tailer's resources: the descriptors it holds (how many it may keep
//! open, closing the idle ones, deciding whether a closed file must be
//! opened again and can be) and how far its reading is behind the files.
//!
//! Invariants: only files read to their end, still matched and not
//! blocking a successor are closed (a rotated or deleted file keeps its
//! descriptor: it is the only way to what is left of it); a closed file is
//! reopened only through its path and only if the path still holds the same
//! device and inode, and its head is compared after that (`Followed::check`).

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::event::FileKey;
use super::file::{self, Followed};
use super::tailer::Tailer;

/// How far reading is behind one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lag {
    /// Where the file is.
    pub path: PathBuf,
    /// Bytes written and not read yet.
    pub bytes: u64,
    /// How long reading has been behind (zero when caught up).
    pub behind: Duration,
}

impl Tailer {
    /// How many followed files have an open descriptor.
    pub fn open_files(&self) -> usize {
        self.files.iter().filter(|f| f.is_open()).count()
    }

    /// Whether the last poll left work for the next one at once: a file
    /// waiting for a descriptor, or one not read to its end (its budget
    /// spent).
    pub fn behind(&self) -> bool {
        self.deferred > 0 || self.files.iter().any(|f| f.is_open() && !f.at_eof)
    }

    /// How far reading is behind each followed file, as of the last poll.
    pub fn lag(&self, now: Instant) -> Vec<Lag> {
        self.files
            .iter()
            .map(|f| Lag {
                path: f.path.clone(),
                bytes: f.size.saturating_sub(f.read_pos),
                behind: f
                    .behind_since
                    .map_or(Duration::ZERO, |t| now.saturating_duration_since(t)),
            })
            .collect()
    }

    /// Closes the descriptors of files read to their end, idle longest
    /// first, down to [`TailConfig::max_open`] (to half of it while files
    /// wait for one, so that they get their turn). Files rotated out of the
    /// specs or deleted keep theirs: it is the only way to what is left.
    pub(super) fn close_idle(&mut self) {
        let target = if self.deferred > 0 {
            self.config.max_open / 2
        } else {
            self.config.max_open
        };
        let open = self.open_files();
        if open <= target {
            return;
        }
        let mut idle: Vec<usize> = (0..self.files.len())
            .filter(|&i| {
                let f = &self.files[i];
                f.is_open() && f.at_eof && f.matched && f.blocked_by.is_none()
            })
            .collect();
        idle.sort_by_key(|&i| self.files[i].last_growth);
        for i in idle.into_iter().take(open - target) {
            self.files[i].close();
        }
    }
}

/// Whether a closed file must be opened again to be read: it changed
/// since it was closed (and there is a descriptor to spare), it did
/// not, or it is gone from its last path (what it had left is lost).
pub(super) fn wake(
    f: &mut Followed,
    stats: &HashMap<FileKey, (u64, i64, i64)>,
    open: &mut usize,
    max_open: usize,
) -> Wake {
    let stat = stats.get(&f.key).copied().or_else(|| {
        // Out of the specs (rotated away): look at its new path.
        let meta = std::fs::metadata(&f.path).ok()?;
        let key = FileKey {
            dev: meta.dev(),
            inode: meta.ino(),
        };
        (key == f.key).then(|| file::stat_of(&meta))
    });
    let Some(stat) = stat else {
        return Wake::Gone;
    };
    f.size = stat.0;
    if stat == f.last_stat {
        return Wake::Idle;
    }
    if *open >= max_open {
        return Wake::Wait;
    }
    match f.reopen() {
        Ok(true) => {
            *open += 1;
            Wake::Reopened
        }
        // Swapped since the folder was listed: the next poll places it.
        Ok(false) => Wake::Wait,
        Err(e) if out_of_descriptors(&e) => Wake::Wait,
        Err(_) => Wake::Gone,
    }
}

/// What [`wake`] decided for a closed file.
pub(super) enum Wake {
    /// Unchanged since it was closed: nothing to read.
    Idle,
    /// Changed, and open again.
    Reopened,
    /// Changed, but no descriptor to spare (or swapped meanwhile): later.
    Wait,
    /// No longer where it was.
    Gone,
}

/// Whether opening failed for want of a descriptor (this process's limit,
/// or the system's).
pub(super) fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

#[cfg(test)]
mod tests {
    use std::fs::{self, OpenOptions};
    use std::io::Write as _;
    use std::path::Path;

    use super::super::config::TailConfig;
    use super::super::event::TailEvent;
    use super::*;

    fn append(path: &Path, text: &str) {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(text.as_bytes()).expect("append");
    }

    /// Polls until nothing is left to read; the lines read, and the most
    /// descriptors open after any poll.
    fn drain(t: &mut Tailer, now: Instant, events: &mut Vec<TailEvent>) -> (Vec<String>, usize) {
        let mut lines = Vec::new();
        let mut most = 0;
        for _ in 0..100 {
            let polled = t.poll(now).expect("poll");
            most = most.max(t.open_files());
            for e in &polled {
                if let TailEvent::Lines(l) = e {
                    lines.extend(l.lines().map(|b| String::from_utf8_lossy(b).into_owned()));
                }
            }
            events.extend(polled);
            if !t.behind() {
                break;
            }
        }
        lines.sort();
        (lines, most)
    }

    #[test]
    fn more_files_than_descriptors_are_all_read_and_reopened_when_they_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = |i: usize| dir.path().join(format!("f{i:02}.log"));
        for i in 0..20 {
            append(&path(i), &format!("a{i:02}\n"));
        }
        let config = TailConfig {
            max_open: 4,
            ..TailConfig::default()
        };
        let mut t = Tailer::new(&[dir.path().to_path_buf()], Vec::new(), config).expect("tailer");
        let now = Instant::now();
        let mut events = Vec::new();
        let (lines, most) = drain(&mut t, now, &mut events);
        let want: Vec<String> = (0..20).map(|i| format!("a{i:02}")).collect();
        assert_eq!(lines, want);
        assert!(most <= 4, "{most} open");
        assert!(t.open_files() < 20);

        // Closed files that grow are opened again and read from where they
        // were; a truncated one is read again from its start.
        for i in 0..20 {
            append(&path(i), &format!("b{i:02}\n"));
        }
        fs::write(path(3), "c03\n").expect("truncate and rewrite");
        let (lines, most) = drain(&mut t, now, &mut events);
        let mut want: Vec<String> = (0..20)
            .filter(|&i| i != 3)
            .map(|i| format!("b{i:02}"))
            .collect();
        want.push("c03".into());
        want.sort();
        assert_eq!(lines, want);
        assert!(most <= 4, "{most} open");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, TailEvent::Truncated { .. }))
        );

        // A closed file renamed away and replaced: the rest of the old one
        // is read, then the new one; nothing is read twice.
        append(&path(5), "d05\n");
        fs::rename(path(5), dir.path().join("f05.log.1")).expect("rotate");
        append(&path(5), "e05\n");
        let (lines, _) = drain(&mut t, now, &mut events);
        assert_eq!(lines, ["d05", "e05"]);
    }
}
