//! Tailing: following log files as they grow, rotate, get truncated, deleted
//! or replaced, handing out what was appended as whole lines with the offsets
//! to commit with them. The core of `watch`, synchronous (the caller decides
//! when to [`Tailer::poll`]): tests drive it with real files and a fake clock.
//!
//! Invariants (what the store's "nothing lost, nothing twice" rests on):
//! - A file is known by its [`FileKey`] (device, inode) while it is open,
//!   and by that key plus the hash of its first bytes across restarts (a
//!   reused inode has other first bytes). Two files with the same content
//!   are two files. Paths only say where a file was last seen.
//! - Each [`Lines`] event carries whole lines and the checkpoint just past
//!   them; the consumer commits the lines and `Lines::checkpoint()` in one
//!   transaction, keyed by [`FileKey`] (after a rotation the old and the new
//!   file were both at `app.log`; keying by path would mix them up). A new
//!   [`Tailer`] built from the committed checkpoints resumes exactly there,
//!   including for a file rotated to another name while it was down (found
//!   by its inode in the same folder).
//! - A file whose path now holds another file (rename rotation, editor
//!   save, delete and recreate) is read to its end through its still-open
//!   descriptor before the new file is started; a file whose path moved to
//!   another matched path (`app.log` → `app.log.1` under `app.log*`) is the
//!   same file, followed under its new path, never read again.
//! - A file shorter than what was read, or whose first bytes changed, was
//!   truncated: it is read again from 0 ([`TailEvent::Truncated`]).
//! - Memory is bounded: at most `poll_read_bytes` per poll, shared by the
//!   files behind (each at least [`config::MIN_SHARE`]), and one
//!   partial line (at most [`MAX_LINE_BYTES`]) per file.
//! - Descriptors are bounded: at most [`TailConfig::max_open`] files are
//!   open at once (by default half the process's limit, the rest kept for the
//!   listener, its connections and SQLite). Files read to their end and idle
//!   longest are closed first and reopened by identity when they change, as
//!   Vector's file source does; new files beyond the bound wait for a later
//!   poll, and [`Tailer::behind`] tells the caller to come back at once.
//!
//! Known limits (inherent to tailing): lines appended and then truncated
//! away (or deleted) before any poll read them are never seen; a
//! copytruncate copy placed under a matched name is a new file and is read
//! (so keep rotated copies out of the specs, or use rename rotation); a file
//! rotated out of the specs twice before it was ever polled is not known.
//!
//! [`MAX_LINE_BYTES`]: crate::source::MAX_LINE_BYTES

mod config;
mod event;
mod fds;
mod file;
mod spec;
mod tailer;
mod waker;

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use event::{Checkpoint, FileKey, Lines, TailEvent};
pub use file::{HEAD_BYTES, fingerprint, head_hash};
pub use waker::{Waker, waker};

pub use config::TailConfig;
pub use fds::Lag;
use fds::{Wake, out_of_descriptors};
use file::Followed;
use spec::PathSpec;
pub use tailer::Tailer;

/// A matched file as the last poll saw it: key, path, size and mtime.
type Seen = (FileKey, PathBuf, (u64, i64, i64));

impl Tailer {
    /// A tailer of `specs` (files, folders, globs), resuming from the
    /// `checkpoints` the store had. An invalid glob is an `InvalidInput`
    /// error; paths that do not exist yet are fine.
    pub fn new(
        specs: &[PathBuf],
        checkpoints: Vec<Checkpoint>,
        config: TailConfig,
    ) -> io::Result<Tailer> {
        let specs = specs
            .iter()
            .map(|s| PathSpec::parse(s))
            .collect::<io::Result<Vec<_>>>()?;
        let mut by_key = HashMap::new();
        for cp in checkpoints {
            // Two checkpoints for one file: the one read furthest is newer.
            let keep = by_key
                .get(&cp.key())
                .is_none_or(|old: &Checkpoint| old.offset <= cp.offset);
            if keep {
                by_key.insert(cp.key(), cp);
            }
        }
        Ok(Tailer {
            specs,
            config,
            files: Vec::new(),
            checkpoints: by_key,
            first_poll: true,
            unreadable: HashSet::new(),
            deferred: 0,
        })
    }

    /// The folders whose changes should wake the caller up (see [`waker`]),
    /// with whether to watch them recursively.
    pub fn watch_dirs(&self) -> Vec<(PathBuf, bool)> {
        let mut dirs: Vec<_> = self.specs.iter().map(PathSpec::watch_dir).collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// The files being followed, with their current paths.
    pub fn followed(&self) -> Vec<(FileKey, PathBuf)> {
        self.files.iter().map(|f| (f.key, f.path.clone())).collect()
    }

    /// Looks at every spec and every followed file and reads what was
    /// appended. `now` drives the quiet period and `rotate_wait` (a fake
    /// clock in tests). Problems with single files are reported as events;
    /// this never fails for them.
    pub fn poll(&mut self, now: Instant) -> io::Result<Vec<TailEvent>> {
        let mut out = Vec::new();
        self.deferred = 0;
        let seen = self.discover();
        let vacated = self.place_known(&seen, &mut out);
        if std::mem::take(&mut self.first_poll) {
            self.recover_rotated(&seen, now, &mut out);
        }
        self.open_new(&seen, &vacated, now, &mut out);
        self.read_all(&seen, now, &mut out);
        self.close_idle();
        Ok(out)
    }

    /// Every matched regular file, by key (the first path wins for a file
    /// matched twice, through a hard or symbolic link).
    fn discover(&self) -> Vec<Seen> {
        let mut seen: Vec<Seen> = Vec::new();
        let mut keys = HashSet::new();
        for path in spec::expand_all(&self.specs) {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let key = FileKey {
                dev: meta.dev(),
                inode: meta.ino(),
            };
            if meta.is_file() && keys.insert(key) {
                seen.push((key, path, file::stat_of(&meta)));
            }
        }
        seen
    }

    /// Updates the followed files' paths from `seen`. Returns the paths
    /// that files left (path → the file that was there).
    fn place_known(
        &mut self,
        seen: &[Seen],
        out: &mut Vec<TailEvent>,
    ) -> HashMap<PathBuf, FileKey> {
        let by_key: HashMap<FileKey, &PathBuf> = seen.iter().map(|(k, p, _)| (*k, p)).collect();
        let paths: HashSet<&PathBuf> = seen.iter().map(|(_, p, _)| p).collect();
        let mut vacated = HashMap::new();
        for f in &mut self.files {
            if let Some(&now_at) = by_key.get(&f.key) {
                if *now_at != f.path {
                    out.push(TailEvent::Rotated {
                        file: f.key,
                        from: f.path.clone(),
                        to: Some(now_at.clone()),
                    });
                    vacated.insert(std::mem::replace(&mut f.path, now_at.clone()), f.key);
                }
                f.matched = true;
                continue;
            }
            if !f.matched {
                continue;
            }
            // The file left the specs: rotated away, deleted or replaced.
            f.matched = false;
            vacated.insert(f.path.clone(), f.key);
            // No link left (or no way to tell): deleted. A closed file is
            // looked for in its folder instead.
            let deleted = if f.is_open() {
                f.nlink().unwrap_or(0) == 0
            } else {
                find_in_folder(&spec::parent_of(&f.path), f.key).is_none()
            };
            if deleted {
                if paths.contains(&f.path) {
                    out.push(TailEvent::Replaced {
                        path: f.path.clone(),
                        file: None,
                    });
                } else {
                    out.push(TailEvent::Removed {
                        file: f.key,
                        path: f.path.clone(),
                    });
                }
            } else {
                let to = find_in_folder(&spec::parent_of(&f.path), f.key);
                out.push(TailEvent::Rotated {
                    file: f.key,
                    from: f.path.clone(),
                    to: to.clone(),
                });
                if let Some(to) = to {
                    f.path = to;
                }
            }
        }
        vacated
    }

    /// At start: a checkpointed file that is no longer at a matched path
    /// was rotated while we were down; it is looked for by inode in its
    /// folder and read to its end. Not found: it is gone, and so is what
    /// was not read of it.
    fn recover_rotated(&mut self, seen: &[Seen], now: Instant, out: &mut Vec<TailEvent>) {
        let matched: HashSet<FileKey> = seen.iter().map(|(k, _, _)| *k).collect();
        let mut missing: Vec<Checkpoint> = self
            .checkpoints
            .values()
            .filter(|cp| !matched.contains(&cp.key()))
            .cloned()
            .collect();
        missing.sort_by(|a, b| a.path.cmp(&b.path).then(a.offset.cmp(&b.offset)));
        for cp in missing {
            self.checkpoints.remove(&cp.key());
            let Some(to) = find_in_folder(&spec::parent_of(&cp.path), cp.key()) else {
                out.push(TailEvent::Closed {
                    file: cp.key(),
                    path: cp.path.clone(),
                });
                continue;
            };
            let mut notices = Vec::new();
            match Followed::open(&to, Some(&cp), now, &mut notices) {
                // Only the very file (same head) resumes; a reused inode is
                // some other file outside the specs: not ours to read.
                Ok(mut f) if f.key == cp.key() && notices.is_empty() => {
                    out.push(TailEvent::Rotated {
                        file: f.key,
                        from: cp.path.clone(),
                        to: Some(to),
                    });
                    f.matched = false;
                    self.files.push(f);
                }
                _ => out.push(TailEvent::Closed {
                    file: cp.key(),
                    path: cp.path.clone(),
                }),
            }
        }
    }

    /// Opens the matched files not followed yet, from their checkpoint if
    /// they have one, else from 0.
    fn open_new(
        &mut self,
        seen: &[Seen],
        vacated: &HashMap<PathBuf, FileKey>,
        now: Instant,
        out: &mut Vec<TailEvent>,
    ) {
        let followed: HashSet<FileKey> = self.files.iter().map(|f| f.key).collect();
        let mut open = self.open_files();
        for (key, path, _) in seen {
            if followed.contains(key) {
                continue;
            }
            if open >= self.config.max_open {
                self.deferred += 1;
                continue;
            }
            let cp = self.checkpoints.get(key);
            match Followed::open(path, cp, now, out) {
                Ok(mut f) => {
                    self.unreadable.remove(path);
                    self.checkpoints.remove(&f.key);
                    if self.files.iter().any(|g| g.key == f.key) {
                        continue; // swapped between stat and open: known
                    }
                    f.blocked_by = vacated.get(path).copied();
                    self.files.push(f);
                    open += 1;
                }
                // Out of descriptors after all (other parts of the process
                // hold more than planned): try again at the next poll.
                Err(e) if out_of_descriptors(&e) => self.deferred += 1,
                Err(e) => self.report_unreadable(path, &e, out),
            }
        }
    }

    /// Reads every followed file in order, hands out partial lines that
    /// were quiet long enough, and closes drained unmatched files.
    fn read_all(&mut self, seen: &[Seen], now: Instant, out: &mut Vec<TailEvent>) {
        let stats: HashMap<FileKey, (u64, i64, i64)> =
            seen.iter().map(|(k, _, st)| (*k, *st)).collect();
        let mut open = self.open_files();
        // Known from the walk: a file not seen there may have grown too.
        let behind = self
            .files
            .iter()
            .filter(|f| stats.get(&f.key).is_none_or(|st| st.0 > f.read_pos))
            .count();
        let share = self.config.share(behind);
        let mut drained: HashSet<FileKey> = HashSet::new();
        let mut close = Vec::new();
        for i in 0..self.files.len() {
            let f = &mut self.files[i];
            if let Some(before) = f.blocked_by {
                // The file that was at this path first: until it has been
                // read to its end once, the new one waits.
                if drained.contains(&before) || !self.files.iter().any(|g| g.key == before) {
                    self.files[i].blocked_by = None;
                } else {
                    continue;
                }
            }
            let f = &mut self.files[i];
            if !f.is_open() {
                match fds::wake(f, &stats, &mut open, self.config.max_open) {
                    Wake::Idle => {}
                    Wake::Reopened => {}
                    Wake::Wait => {
                        self.deferred += 1;
                        continue;
                    }
                    Wake::Gone => {
                        close.push(i);
                        continue;
                    }
                }
            }
            let f = &mut self.files[i];
            if f.is_open() {
                if let Err(e) = f.check(out) {
                    let path = f.path.clone();
                    self.report_unreadable(&path, &e, out);
                    continue;
                }
                match f.read(share, now) {
                    Ok(Some(lines)) => out.push(TailEvent::Lines(lines)),
                    Ok(None) => {}
                    Err(e) => {
                        let path = f.path.clone();
                        self.report_unreadable(&path, &e, out);
                        continue;
                    }
                }
            }
            let f = &mut self.files[i];
            if f.read_pos < f.size {
                f.behind_since.get_or_insert(now);
            } else {
                f.behind_since = None;
            }
            if !f.at_eof {
                continue;
            }
            drained.insert(f.key);
            let quiet = now.saturating_duration_since(f.last_growth);
            if f.holds_partial() && quiet >= self.config.quiet_period {
                out.extend(f.flush_partial().map(TailEvent::Lines));
            }
            if !f.matched && !f.holds_partial() && quiet >= self.config.rotate_wait {
                close.push(i);
            }
        }
        close.dedup();
        for i in close.into_iter().rev() {
            let f = self.files.remove(i);
            out.push(TailEvent::Closed {
                file: f.key,
                path: f.path,
            });
        }
    }

    fn report_unreadable(&mut self, path: &Path, e: &io::Error, out: &mut Vec<TailEvent>) {
        if self.unreadable.insert(path.to_path_buf()) {
            out.push(TailEvent::Unreadable {
                path: path.to_path_buf(),
                error: e.to_string(),
            });
        }
    }
}

/// The entry of `dir` that is the file `key`, if any (one `readdir`, done
/// only when a file left its path).
fn find_in_folder(dir: &Path, key: FileKey) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            e.metadata()
                .is_ok_and(|m| m.is_file() && m.dev() == key.dev && m.ino() == key.inode)
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found.into_iter().next()
}

#[cfg(test)]
mod tests;
