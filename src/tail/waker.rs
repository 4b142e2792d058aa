//! Wake-ups from the OS (inotify, kqueue, …) so that appended lines are
//! read at once rather than at the next poll tick.
//!
//! Invariants: a wake-up only means "poll now"; it carries no path and no
//! kind, because event kinds differ by backend and editor and events can be
//! lost (queue overflow, network file systems). [`Tailer::poll`] stays the
//! source of truth, and `watch --poll` simply runs without a waker. Folders
//! are watched, not files, so a file created by a rotation is seen. The
//! channel holds at most one pending wake-up: a burst of writes costs one
//! poll, and a slow consumer never makes it grow.
//!
//! [`Tailer::poll`]: super::Tailer::poll

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, sync_channel};

use notify::{RecursiveMode, Watcher as _};

/// Keeps the OS watches alive; dropping it stops the wake-ups.
pub struct Waker {
    _watcher: notify::RecommendedWatcher,
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waker")
    }
}

/// Watches `dirs` (from [`Tailer::watch_dirs`]) and signals on the returned
/// channel whenever something changes in them. A folder that does not exist
/// yet is skipped (polling finds its files when it appears); any other
/// failure (inotify limits: "No space left on device", an unsupported
/// backend) is returned, so the caller can fall back to polling alone.
///
/// [`Tailer::watch_dirs`]: super::Tailer::watch_dirs
pub fn waker(dirs: &[(PathBuf, bool)]) -> notify::Result<(Waker, Receiver<()>)> {
    let (tx, rx) = sync_channel(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Errors (a lost queue) also mean "look again". A full channel
        // already has a wake-up pending; a closed one has no one to wake.
        let _ = event;
        let _ = tx.try_send(());
    })?;
    for (dir, recursive) in dirs {
        if !dir.is_dir() {
            continue;
        }
        let mode = if *recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        watcher.watch(dir, mode)?;
    }
    Ok((Waker { _watcher: watcher }, rx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::time::Duration;

    #[test]
    fn an_append_in_a_watched_folder_wakes_the_receiver() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"a\n").expect("write");
        let (_waker, rx) = waker(&[(dir.path().to_path_buf(), false)]).expect("waker");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(b"b\n").expect("append");
        f.sync_all().expect("sync");
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
        // Wake-ups coalesce: many writes leave at most one pending signal.
        for _ in 0..50 {
            f.write_all(b"c\n").expect("append");
        }
        std::thread::sleep(Duration::from_millis(200));
        let pending = rx.try_iter().count();
        assert!(pending <= 1, "{pending} pending wake-ups");
    }

    #[test]
    fn a_missing_folder_is_skipped() {
        let (_waker, _rx) = waker(&[(PathBuf::from("/nonexistent/grantwatch"), false)])
            .expect("skips missing folders");
    }
}
