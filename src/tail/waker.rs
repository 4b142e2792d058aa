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
//! Access events (a file or folder opened, read, or closed without
//! writing) never wake: every poll lists the watched folders and reads the
//! files, and inotify reports those reads too; waking on them made an idle
//! `watch` of a folder poll itself thousands of times a second. What a
//! writer does (create, modify, close after writing, rename, delete) still
//! wakes.
//!
//! [`Tailer::poll`]: super::Tailer::poll

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, sync_channel};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher as _};

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
        if event.as_ref().is_ok_and(|e| is_own_access(&e.kind)) {
            return;
        }
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

/// An access that does not change the file: what a poll itself causes.
fn is_own_access(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Access(a) if *a != AccessKind::Close(AccessMode::Write))
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
    fn reading_a_watched_folder_and_its_files_does_not_wake() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"a\n").expect("write");
        let (_waker, rx) = waker(&[(dir.path().to_path_buf(), true)]).expect("waker");
        std::thread::sleep(Duration::from_millis(100));
        rx.try_iter().count();
        for _ in 0..20 {
            std::fs::read_dir(dir.path()).expect("list").for_each(drop);
            std::fs::read(&path).expect("read");
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(rx.try_iter().count(), 0, "a read woke the loop");
    }

    #[test]
    fn a_missing_folder_is_skipped() {
        let (_waker, _rx) = waker(&[(PathBuf::from("/nonexistent/grantwatch"), false)])
            .expect("skips missing folders");
    }
}
