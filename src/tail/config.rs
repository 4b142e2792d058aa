//! How a [`Tailer`](super::Tailer) is tuned ([`TailConfig`]): its quiet
//! period, its read budget, how long a rotated file is kept, and how many
//! descriptors it may hold (by default half the process's limit). A leaf,
//! so that the tailer (`mod.rs`), its descriptor keeping (`fds.rs`) and
//! their tests name it without importing each other.

use std::time::Duration;

/// Tuning of a [`Tailer`].
#[derive(Clone, Debug)]
pub struct TailConfig {
    /// A partial last line is handed out as a line after this long without
    /// new bytes.
    pub quiet_period: Duration,
    /// Bytes read per poll, all files together: the files behind share
    /// them equally ([`TailConfig::share`]), so one busy file cannot starve
    /// the others and memory is bounded however many files are behind.
    pub poll_read_bytes: usize,
    /// A file rotated out of the specs or deleted is closed after being
    /// read to its end and quiet this long (a logger may still write to it
    /// until it reopens its file).
    pub rotate_wait: Duration,
    /// The most files open at once.
    pub max_open: usize,
}

impl Default for TailConfig {
    fn default() -> Self {
        TailConfig {
            quiet_period: Duration::from_secs(2),
            // A backlog read 16 MiB a poll, one commit each, caught up at
            // 413 MB/s against 357–371 MB/s with 4 MiB (benches/README.md):
            // each commit writes the index pages it dirtied to the WAL.
            poll_read_bytes: 16 * 1024 * 1024,
            rotate_wait: Duration::from_secs(30),
            max_open: default_max_open(),
        }
    }
}

/// The least a file behind reads in a poll (unless the whole budget is
/// smaller): with many files behind, each still moves by whole lines.
pub const MIN_SHARE: usize = 64 * 1024;

impl TailConfig {
    /// What each of `behind` files behind may read in one poll: an equal
    /// part of [`TailConfig::poll_read_bytes`], at least [`MIN_SHARE`] (or
    /// the whole budget when it is smaller).
    pub fn share(&self, behind: usize) -> usize {
        let floor = MIN_SHARE.min(self.poll_read_bytes);
        (self.poll_read_bytes / behind.max(1)).max(floor)
    }
}

/// Half the process's soft limit on descriptors (the rest stays for the
/// listener, its connections, SQLite and the folder walks), at least 8 and
/// at most 4,096.
fn default_max_open() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) } == 0 {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    };
    (soft / 2).clamp(8, 4096)
}
