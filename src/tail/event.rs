//! What the tailer hands out: [`TailEvent`]s, of which [`Lines`] carry
//! whole lines with the [`Checkpoint`] just past them, files known by their
//! [`FileKey`]. A leaf the tailer's parts (`mod.rs`, `file.rs`, `fds.rs`)
//! and its consumer (`watch`) share; see the module doc of `tail` for the
//! invariants these types carry.

use std::path::PathBuf;

/// The identity of an open file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub inode: u64,
}

/// How far a file was read and committed; what the store keeps per file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Where the file was when this was committed.
    pub path: PathBuf,
    /// Device.
    pub dev: u64,
    /// Inode.
    pub inode: u64,
    /// [`head_hash`](crate::source::head_hash) of the file's first `min(offset, HEAD_BYTES)` bytes,
    /// or the [`fingerprint`](super::fingerprint) of more of them (`hash:len`, when the
    /// consumer read past its resume point).
    pub head_hash: String,
    /// Offset just past the last line committed.
    pub offset: u64,
    /// Number of the last line committed.
    pub line_no: u64,
}

impl Checkpoint {
    /// The file this checkpoint is about.
    pub fn key(&self) -> FileKey {
        FileKey {
            dev: self.dev,
            inode: self.inode,
        }
    }
}

/// Whole lines read from one file in one poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lines {
    /// The file read.
    pub file: FileKey,
    /// Where it is now.
    pub path: PathBuf,
    /// [`head_hash`](crate::source::head_hash) of its first `min(end_offset, HEAD_BYTES)` bytes.
    pub head_hash: String,
    /// Number of the first line in `bytes` (1-based).
    pub first_line_no: u64,
    /// The lines, separated by `\n`, with no final newline; not decoded
    /// (the consumer does lossy UTF-8), NULs and `\r` left as they are.
    pub bytes: Vec<u8>,
    /// Offset just past the last line (its newline included).
    pub end_offset: u64,
    /// Number of the last line.
    pub end_line_no: u64,
    /// Lines cut at `MAX_LINE_BYTES` (their rest was dropped).
    pub cut_lines: u64,
}

impl Lines {
    /// The lines, one slice each.
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.bytes.split(|&b| b == b'\n')
    }

    /// The file's position past these lines (`watch/progress.rs` holds a
    /// resume point back from it while a record is open).
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            path: self.path.clone(),
            dev: self.file.dev,
            inode: self.file.inode,
            head_hash: self.head_hash.clone(),
            offset: self.end_offset,
            line_no: self.end_line_no,
        }
    }
}

/// What a poll found: lines, and notices for logs and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailEvent {
    /// Lines to commit with their checkpoint.
    Lines(Lines),
    /// The file left `from`; `to` is its new name if it is still in the same
    /// folder. It is read to its end (and followed there if matched).
    Rotated {
        /// The file.
        file: FileKey,
        /// Its old path.
        from: PathBuf,
        /// Its new path, if found.
        to: Option<PathBuf>,
    },
    /// The file got shorter than what was read, or its head changed
    /// (copytruncate, `> file`): read again from 0.
    Truncated {
        /// The file.
        file: FileKey,
        /// Its path.
        path: PathBuf,
    },
    /// `path` now holds another file (editor save, delete and recreate, a
    /// reused inode found at start); the new one is read from 0.
    Replaced {
        /// The path.
        path: PathBuf,
        /// The file found at start under a checkpoint's device and inode
        /// whose head is not the one checkpointed (a reused inode, or the
        /// file rewritten while the daemon was down): a new generation,
        /// though its key is the checkpoint's.
        file: Option<FileKey>,
    },
    /// The file was deleted; what is left of it is still read.
    Removed {
        /// The file.
        file: FileKey,
        /// Its last path.
        path: PathBuf,
    },
    /// The file is no longer followed (gone, or rotated out of the specs and
    /// quiet for `rotate_wait`): its checkpoint may be forgotten.
    Closed {
        /// The file.
        file: FileKey,
        /// Its last path.
        path: PathBuf,
    },
    /// A matched file could not be opened or read (reported once per path
    /// until it can be read again).
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

impl TailEvent {
    /// The notice's name on `/metrics` (`grantwatch_file_events_total`'s
    /// `event` label); `None` for lines.
    pub fn notice(&self) -> Option<&'static str> {
        Some(match self {
            TailEvent::Lines(_) => return None,
            TailEvent::Rotated { .. } => "rotated",
            TailEvent::Truncated { .. } => "truncated",
            TailEvent::Replaced { .. } => "replaced",
            TailEvent::Removed { .. } => "removed",
            TailEvent::Closed { .. } => "closed",
            TailEvent::Unreadable { .. } => "unreadable",
        })
    }
}
