//! One followed file: its open descriptor, its identity and how far it has
//! been read, and the reading itself (whole lines out, the unfinished last
//! line held back).
//!
//! Invariants:
//! - The descriptor stays open while the file is active, so the file can
//!   still be read to its end after it is renamed or deleted, and its inode
//!   cannot be reused under us meanwhile. To bound descriptors, the tailer
//!   closes files that are read to their end and idle ([`Followed::close`]);
//!   such a file is reopened by identity ([`Followed::reopen`]): the same
//!   device and inode at its path, then the same head (`check`), else it is
//!   taken for truncated and read again. What a closed file gets appended
//!   and is then deleted before the next poll is lost (as for any tailer
//!   that closes idle files).
//! - `line_end` (what a checkpoint stores) is always just past a line handed
//!   out, and `read_pos - line_end` is the held partial line, so a restart
//!   from `line_end` re-reads exactly the lines not handed out.
//! - At most one partial line is held, and at most [`MAX_LINE_BYTES`] of it:
//!   a longer line is cut there and the rest of it skipped up to its newline
//!   (the splitting is `source/lines.rs`'s, the same as `analyze`'s).
//! - `head` holds the file's first bytes (up to [`HEAD_BYTES`], never past
//!   what was read): comparing them with the file tells a truncated and
//!   rewritten file from one that only grew.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::event::{Checkpoint, FileKey, Lines, TailEvent};
use crate::source::lines::LineBuffer;
pub use crate::source::{HEAD_BYTES, head_hash};

/// Bytes asked of one `read` call.
const READ_CHUNK: usize = 64 * 1024;

/// A checkpoint's identity fingerprint of the file's first `head.len()`
/// bytes, for a resume point at `offset`: the bare [`head_hash`] when it
/// covers `min(offset, HEAD_BYTES)` bytes (what a restart hashes by
/// default), else `hash:len`. The consumer's resume point can lag behind
/// what it read and stored (a record held back); its identity must cover
/// what was read, or a file rewritten while the daemon was down would pass
/// for the one read, and its first lines be taken for lines already stored.
pub fn fingerprint(head: &[u8], offset: u64) -> String {
    let hash = head_hash(head);
    let len = head.len().min(HEAD_BYTES);
    if len as u64 == offset.min(HEAD_BYTES as u64) {
        hash
    } else {
        format!("{hash}:{len}")
    }
}

/// The hash of a checkpoint's fingerprint and how many first bytes it
/// covers (see [`fingerprint`]).
fn covered(cp: &Checkpoint) -> (&str, usize) {
    let default = (cp.offset as usize).min(HEAD_BYTES);
    match cp.head_hash.split_once(':') {
        Some((hash, len)) => (
            hash,
            len.parse().map_or(default, |n: usize| n.min(HEAD_BYTES)),
        ),
        None => (cp.head_hash.as_str(), default),
    }
}

/// A file being followed.
pub(crate) struct Followed {
    pub key: FileKey,
    /// Where the file was last seen (its new name after a rotation).
    pub path: PathBuf,
    /// `None` while closed to save descriptors (idle and read to its end).
    file: Option<File>,
    /// Offset just past the last line handed out.
    pub line_end: u64,
    /// Number of the last line handed out.
    pub line_no: u64,
    /// Offset just past the last byte read.
    pub read_pos: u64,
    head: Vec<u8>,
    /// Read bytes not yet handed out: the partial last line.
    lines: LineBuffer,
    /// Size and mtime at the last look, to check the head only on change
    /// (and, while closed, to tell whether there is anything to read).
    pub last_stat: (u64, i64, i64),
    /// The file's size at the last look (what reading is behind of).
    pub size: u64,
    /// Since when reading has been behind the file's end, if it is.
    pub behind_since: Option<Instant>,
    /// The last time bytes were read (or the file was opened).
    pub last_growth: Instant,
    /// Whether a spec matches the file at `path`; an unmatched file (rotated
    /// out of the specs, or deleted) is drained and then closed.
    pub matched: bool,
    /// A file that used to be at this path and is read to its end first.
    pub blocked_by: Option<FileKey>,
    /// The last read reached the end of the file.
    pub at_eof: bool,
}

impl Followed {
    /// Opens `path` and places the read position: at `checkpoint` if it is
    /// this very file (same dev/inode, same head, not shorter), else at 0.
    /// The key comes from the open descriptor, not from an earlier `stat`,
    /// so a file swapped in between is taken for what it is.
    pub(crate) fn open(
        path: &Path,
        checkpoint: Option<&Checkpoint>,
        now: Instant,
        notices: &mut Vec<TailEvent>,
    ) -> io::Result<Followed> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let key = FileKey {
            dev: meta.dev(),
            inode: meta.ino(),
        };
        let mut f = Followed {
            key,
            path: path.to_path_buf(),
            file: Some(file),
            line_end: 0,
            line_no: 0,
            read_pos: 0,
            head: Vec::new(),
            lines: LineBuffer::new(0),
            last_stat: stat_of(&meta),
            size: meta.len(),
            behind_since: None,
            last_growth: now,
            matched: true,
            blocked_by: None,
            at_eof: false,
        };
        let Some(cp) = checkpoint.filter(|cp| cp.key() == key) else {
            return Ok(f);
        };
        let (hash, len) = covered(cp);
        if meta.len() < cp.offset.max(len as u64) {
            // Truncated (copytruncate) while we were not running.
            notices.push(TailEvent::Truncated {
                file: key,
                path: f.path.clone(),
            });
            return Ok(f);
        }
        let mut head = vec![0; len];
        let n = read_full_at(f.fd()?, &mut head, 0)?;
        head.truncate(n);
        if n == len && head_hash(&head) == hash {
            // The head is kept as far as the resume point: reading goes on
            // from there and extends it.
            head.truncate((cp.offset as usize).min(HEAD_BYTES));
            f.head = head;
            f.line_end = cp.offset;
            f.read_pos = cp.offset;
            f.lines = LineBuffer::new(cp.offset);
            f.line_no = cp.line_no;
        } else {
            // Same inode, other content: the inode was reused by a new file
            // (or the file was rewritten while we were down). From 0.
            notices.push(TailEvent::Replaced {
                path: f.path.clone(),
                file: Some(key),
            });
        }
        Ok(f)
    }

    /// Looks at the file through its descriptor: a file shorter than what
    /// was read, or whose head changed, was truncated (and maybe rewritten):
    /// the held partial line is handed out (those bytes were real) and
    /// reading starts again from 0.
    pub(crate) fn check(&mut self, out: &mut Vec<TailEvent>) -> io::Result<()> {
        let meta = self.fd()?.metadata()?;
        let stat = stat_of(&meta);
        self.size = meta.len();
        if stat != self.last_stat {
            self.last_stat = stat;
            if meta.len() < self.read_pos || !self.head_unchanged()? {
                if let Some(lines) = self.flush_partial() {
                    out.push(TailEvent::Lines(lines));
                }
                out.push(TailEvent::Truncated {
                    file: self.key,
                    path: self.path.clone(),
                });
                self.line_end = 0;
                self.line_no = 0;
                self.read_pos = 0;
                self.lines.reset(0);
                self.head.clear();
                self.at_eof = false;
            }
        }
        Ok(())
    }

    /// The file's link count (0: deleted, only our descriptor keeps it).
    pub(crate) fn nlink(&self) -> io::Result<u64> {
        Ok(self.fd()?.metadata()?.nlink())
    }

    fn fd(&self) -> io::Result<&File> {
        self.file
            .as_ref()
            .ok_or_else(|| io::Error::other("file closed to save descriptors"))
    }

    /// Whether the descriptor is open.
    pub(crate) fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Closes the descriptor of a file read to its end, noting its size and
    /// mtime, which tell later whether it changed. The held partial line
    /// and the head stay in memory.
    pub(crate) fn close(&mut self) {
        if let Some(meta) = self.file.as_ref().and_then(|f| f.metadata().ok()) {
            self.last_stat = stat_of(&meta);
        }
        self.file = None;
    }

    /// Opens the file at its path again if it is still this file (same
    /// device and inode); `false` if the path holds another file now. The
    /// next [`check`](Self::check) compares the head.
    pub(crate) fn reopen(&mut self) -> io::Result<bool> {
        let file = File::open(&self.path)?;
        let meta = file.metadata()?;
        if (meta.dev(), meta.ino()) != (self.key.dev, self.key.inode) {
            return Ok(false);
        }
        self.file = Some(file);
        Ok(true)
    }

    fn head_unchanged(&self) -> io::Result<bool> {
        let mut now = vec![0; self.head.len()];
        let n = read_full_at(self.fd()?, &mut now, 0)?;
        Ok(n == self.head.len() && now == self.head)
    }

    /// Reads up to `budget` bytes and returns the whole lines among them.
    pub(crate) fn read(&mut self, budget: usize, now: Instant) -> io::Result<Option<Lines>> {
        // A file that has not grown is not read: room for a read is a
        // zeroed buffer, given back after every poll, and asking for it for
        // each idle file at each poll was most of an idle daemon's work
        // (benches/README.md). A file cut shorter reads nothing either way.
        let len = self.fd()?.metadata()?.len();
        let grown = len > self.read_pos;
        self.at_eof = !grown;
        let mut left = if grown { budget.max(1) } else { 0 };
        // Room for what this poll can hand out, taken at once: grown by
        // doubling, a backlog's buffer of 4 MiB was copied and faulted in
        // again at every poll (benches/README.md). The partial line counts
        // as the bytes kept of it (a line being cut keeps at most its
        // limit), and a file that has not grown takes none.
        let capacity = if grown {
            let expected = usize::try_from(len - self.read_pos).unwrap_or(usize::MAX);
            self.lines.held() + expected.min(left)
        } else {
            0
        };
        let mut out = LinesOut::new(self.line_no, capacity);
        while left > 0 {
            // Not `fd()`: `spare` borrows the line buffer meanwhile.
            let file = self
                .file
                .as_ref()
                .ok_or_else(|| io::Error::other("file closed to save descriptors"))?;
            let spare = self.lines.spare(READ_CHUNK.min(left));
            let n = match file.read_at(spare, self.read_pos) {
                Ok(0) => {
                    self.at_eof = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            note_head(&mut self.head, self.read_pos, &spare[..n]);
            self.lines.filled(n);
            left -= n;
            self.last_growth = now;
            self.read_pos += n as u64;
            while let Some(chunk) = self.lines.next_chunk(false) {
                out.push(chunk.text, chunk.cut);
                self.line_end = chunk.end;
            }
        }
        // Between polls only the partial line stays in memory.
        self.lines.shrink();
        self.line_no = out.line_no;
        Ok(out.finish(self))
    }

    /// Whether bytes of an unfinished line are held.
    pub(crate) fn holds_partial(&self) -> bool {
        self.read_pos > self.line_end
    }

    /// Hands out the held partial line as a line (after a quiet period, or
    /// before a truncation): a writer that never ends its last line must
    /// not keep it from the store forever.
    pub(crate) fn flush_partial(&mut self) -> Option<Lines> {
        if !self.holds_partial() {
            return None;
        }
        let mut out = LinesOut::new(self.line_no, self.lines.held());
        if let Some(chunk) = self.lines.next_chunk(true) {
            out.push(chunk.text, chunk.cut);
        }
        self.line_end = self.read_pos;
        self.line_no = out.line_no;
        out.finish(self)
    }

    fn hash_to(&self, offset: u64) -> String {
        head_hash(&self.head[..self.head.len().min(offset as usize)])
    }
}

/// Lines being gathered for one [`Lines`] event.
struct LinesOut {
    bytes: Vec<u8>,
    first_line_no: u64,
    line_no: u64,
    cut: u64,
}

impl LinesOut {
    fn new(line_no: u64, capacity: usize) -> Self {
        LinesOut {
            bytes: Vec::with_capacity(capacity),
            first_line_no: line_no + 1,
            line_no,
            cut: 0,
        }
    }

    /// Appends a chunk of whole lines (`cut` of them were cut).
    fn push(&mut self, lines: &[u8], cut: u64) {
        if self.line_no >= self.first_line_no {
            self.bytes.push(b'\n');
        }
        self.bytes.extend_from_slice(lines);
        self.line_no += 1 + memchr::memchr_iter(b'\n', lines).count() as u64;
        self.cut += cut;
    }

    fn finish(self, f: &Followed) -> Option<Lines> {
        (self.line_no >= self.first_line_no).then(|| Lines {
            file: f.key,
            path: f.path.clone(),
            head_hash: f.hash_to(f.line_end),
            first_line_no: self.first_line_no,
            bytes: self.bytes,
            end_offset: f.line_end,
            end_line_no: self.line_no,
            cut_lines: self.cut,
        })
    }
}

/// Extends `head` (the file's first bytes, read up to `pos`) with `data`,
/// the bytes read at `pos`, up to [`HEAD_BYTES`].
fn note_head(head: &mut Vec<u8>, pos: u64, data: &[u8]) {
    let pos = pos as usize;
    if pos < HEAD_BYTES && head.len() == pos {
        head.extend_from_slice(&data[..data.len().min(HEAD_BYTES - pos)]);
    }
}

/// Size and modification time: what tells that a file changed.
pub(crate) fn stat_of(meta: &std::fs::Metadata) -> (u64, i64, i64) {
    (meta.len(), meta.mtime(), meta.mtime_nsec())
}

fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_of(l: &Lines) -> Vec<&[u8]> {
        l.lines().collect()
    }

    #[test]
    fn whole_lines_out_the_partial_one_held_until_its_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"one\ntwo\nthr").expect("write");
        let now = Instant::now();
        let mut f = Followed::open(&path, None, now, &mut Vec::new()).expect("open");
        let l = f.read(1 << 20, now).expect("read").expect("lines");
        assert_eq!(lines_of(&l), [b"one".as_slice(), b"two"]);
        assert_eq!((l.first_line_no, l.end_line_no, l.end_offset), (1, 2, 8));
        assert!(f.holds_partial());
        let mut w = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        w.write_all(b"ee\n").expect("write");
        let l = f.read(1 << 20, now).expect("read").expect("lines");
        assert_eq!(lines_of(&l), [b"three".as_slice()]);
        assert_eq!((l.first_line_no, l.end_line_no, l.end_offset), (3, 3, 14));
        assert_eq!(l.head_hash, head_hash(b"one\ntwo\nthree\n"));
    }

    #[test]
    fn a_tiny_budget_still_makes_progress_and_keeps_offsets_on_line_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.log");
        std::fs::write(&path, b"alpha\nbeta\ngamma\n").expect("write");
        let now = Instant::now();
        let mut f = Followed::open(&path, None, now, &mut Vec::new()).expect("open");
        let mut got = Vec::new();
        for _ in 0..20 {
            if let Some(l) = f.read(4, now).expect("read") {
                assert!(l.end_offset <= f.read_pos);
                got.extend(l.lines().map(<[u8]>::to_vec));
            }
        }
        assert_eq!(
            got,
            [b"alpha".to_vec(), b"beta".to_vec(), b"gamma".to_vec()]
        );
        assert_eq!(f.line_no, 3);
    }
}
