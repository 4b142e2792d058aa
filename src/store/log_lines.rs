//! Evidence lines of a scratch database kept as where they are in the log
//! file, not as a copy of their text: most of a Keycloak or Hydra event's
//! evidence is its whole line, passed through unchanged (nothing in it to
//! redact), and copying every such line to the evidence file made the
//! evidence file as large as the log; on a Keycloak gigabyte the kernel's
//! writing it back tripled the system time and made `analyze` 1.8 times
//! slower (benches/README.md). The analysis reads back only the lines its
//! failures cite, and those are read from the log again.
//!
//! A line is kept by its place only when its text is the very bytes the
//! reader read from the file ([`InFile::place_of`] compares addresses, so
//! a redacted, unwrapped-and-rebuilt or lossily decoded text, which lives
//! elsewhere, is never taken for one); its CRC-32 is kept beside it, and a
//! line read back that no longer matches (the file was rewritten in place
//! meanwhile) is never shown as evidence: it is replaced by a note saying
//! so ([`CHANGED`]).
//!
//! Invariant: the first [`HELD_FILES`] files named are held open from the
//! moment they are named, so that a log renamed by its rotation before the
//! report is still read (the rotated file, which holds the lines); a file
//! after those is opened again by its path when a line of it is read, and
//! at most [`OPEN_FILES`] of those are open at once, so that an `analyze`
//! of a folder of thousands of files holds no more descriptors than of a
//! few dozen.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// What an evidence line reads when the log no longer holds it as read.
pub const CHANGED: &str = "[this line of the log changed on disk after grantwatch read it]";

/// Files held open from the moment they are named.
const HELD_FILES: usize = 64;

/// Files past [`HELD_FILES`] open at once for reading lines back, at most.
const OPEN_FILES: usize = 16;

/// Shorter texts are copied: a place costs 16 bytes and a read.
const MIN_PLACED_BYTES: usize = 64;

/// A log file the evidence file may read lines back from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LogFileId(pub(crate) u32);

/// Where one evidence line is in its log file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LinePlace {
    pub(crate) file: LogFileId,
    pub(crate) offset: u64,
    pub(crate) len: u32,
    pub(crate) crc: u32,
}

/// The bytes a reader read from a log file, at `offset` of it: the texts
/// borrowed from them are lines of that file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InFile<'t> {
    pub(crate) file: LogFileId,
    pub(crate) bytes: &'t [u8],
    pub(crate) offset: u64,
}

impl InFile<'_> {
    /// Where `text` is in the file, if it is a slice of the bytes read
    /// (not a copy of them: a copy lives at another address) and long
    /// enough to be worth a place.
    pub(crate) fn place_of(&self, text: &str) -> Option<LinePlace> {
        if text.len() < MIN_PLACED_BYTES {
            return None;
        }
        let start = self.bytes.as_ptr() as usize;
        let at = (text.as_ptr() as usize).checked_sub(start)?;
        let end = at.checked_add(text.len())?;
        if end > self.bytes.len() {
            return None;
        }
        Some(LinePlace {
            file: self.file,
            offset: self.offset + at as u64,
            len: u32::try_from(text.len()).ok()?,
            crc: crc32fast::hash(text.as_bytes()),
        })
    }
}

/// The log files lines are read back from: their paths, the first few
/// held open, and the last few of the others opened.
#[derive(Debug, Default)]
pub(crate) struct LogFiles {
    named: RwLock<Vec<(PathBuf, Option<Arc<File>>)>>,
    open: Mutex<Vec<(LogFileId, Arc<File>)>>,
}

impl LogFiles {
    /// Names the file at `path` for [`LogFiles::read`] (and holds it open,
    /// while fewer than [`HELD_FILES`] are).
    pub(crate) fn add(&self, path: &Path) -> LogFileId {
        let mut named = self.named.write().unwrap_or_else(PoisonError::into_inner);
        // Not opened: read again by its path.
        let held = (named.len() < HELD_FILES)
            .then(|| File::open(path).ok().map(Arc::new))
            .flatten();
        named.push((path.to_path_buf(), held));
        LogFileId(u32::try_from(named.len() - 1).unwrap_or(u32::MAX))
    }

    /// The line at `place`; [`CHANGED`] when the file no longer holds it
    /// as it was read, and a note saying why when it cannot be read again
    /// (the failure it is evidence of is still reported).
    pub(crate) fn read(&self, place: &LinePlace) -> String {
        let mut bytes = vec![0; place.len as usize];
        let read = self
            .opened(place.file)
            .and_then(|file| file.read_exact_at(&mut bytes, place.offset));
        match read {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return CHANGED.into(),
            Err(e) => return format!("[this line of the log could not be read again: {e}]"),
        }
        if crc32fast::hash(&bytes) != place.crc {
            return CHANGED.into();
        }
        String::from_utf8(bytes).unwrap_or_else(|_| CHANGED.into())
    }

    /// File `id`: held, or opened again unless it is among the last opened.
    fn opened(&self, id: LogFileId) -> io::Result<Arc<File>> {
        let path = match self
            .named
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id.0 as usize)
        {
            Some((_, Some(held))) => return Ok(Arc::clone(held)),
            Some((path, None)) => path.clone(),
            None => {
                return Err(io::Error::other(
                    "an evidence line names a log file never read",
                ));
            }
        };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = open.iter().position(|(held, _)| *held == id) {
            let entry = open.remove(i);
            let file = Arc::clone(&entry.1);
            open.push(entry);
            return Ok(file);
        }
        let file = Arc::new(File::open(path)?);
        if open.len() == OPEN_FILES {
            open.remove(0);
        }
        open.push((id, Arc::clone(&file)));
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str =
        "2025-03-11 00:00:20,037 INFO  [org.keycloak.events] (executor-thread-18) type=\"LOGIN\"";

    fn log(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("kc.log");
        std::fs::write(&path, text).expect("write log");
        path
    }

    #[test]
    fn a_slice_of_the_bytes_read_has_a_place_and_a_copy_has_none() {
        let bytes = format!("first\n{LINE}\n");
        let in_file = InFile {
            file: LogFileId(3),
            bytes: bytes.as_bytes(),
            offset: 1000,
        };
        let line = &bytes[6..6 + LINE.len()];
        let place = in_file.place_of(line).expect("a slice");
        assert_eq!((place.file, place.offset), (LogFileId(3), 1006));
        assert_eq!(place.len as usize, LINE.len());
        let copy = String::from(line);
        assert_eq!(in_file.place_of(copy.as_str()), None, "a copy");
        assert_eq!(in_file.place_of(&bytes[0..5]), None, "too short to place");
        let other = format!("{LINE}{LINE}");
        assert_eq!(in_file.place_of(&other[..LINE.len()]), None);
    }

    #[test]
    fn a_line_comes_back_as_read_and_a_rewritten_one_says_it_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!("head\n{LINE}\n");
        let path = log(dir.path(), &text);
        let files = LogFiles::default();
        let id = files.add(&path);
        let in_file = InFile {
            file: id,
            bytes: text.as_bytes(),
            offset: 0,
        };
        let place = in_file.place_of(&text[5..5 + LINE.len()]).expect("place");
        assert_eq!(files.read(&place), LINE);
        // Rewritten in place (copytruncate, then other lines), then cut short.
        log(
            dir.path(),
            &format!("head\n{}\n", LINE.replace("LOGIN", "LOGOUT")),
        );
        assert_eq!(files.read(&place), CHANGED);
        log(dir.path(), "head\n");
        assert_eq!(files.read(&place), CHANGED);
    }

    #[test]
    fn a_line_of_a_log_gone_reads_as_a_note_not_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = LogFiles::default();
        let in_file = InFile {
            file: files.add(&dir.path().join("never-there.log")),
            bytes: LINE.as_bytes(),
            offset: 0,
        };
        let place = in_file.place_of(LINE).expect("place");
        let text = files.read(&place);
        assert!(
            text.starts_with("[this line of the log could not be read again: "),
            "{text}"
        );
    }

    #[test]
    fn a_log_renamed_by_its_rotation_is_still_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!("{LINE}\n");
        let path = log(dir.path(), &text);
        let files = LogFiles::default();
        let in_file = InFile {
            file: files.add(&path),
            bytes: text.as_bytes(),
            offset: 0,
        };
        let place = in_file.place_of(&text[..LINE.len()]).expect("place");
        std::fs::rename(&path, dir.path().join("kc.log.1")).expect("rotate");
        log(dir.path(), "a new log\n");
        assert_eq!(files.read(&place), LINE);
    }

    #[test]
    fn no_more_than_a_few_dozen_files_are_held_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = LogFiles::default();
        let mut places = Vec::new();
        for i in 0..HELD_FILES + OPEN_FILES + 4 {
            let path = dir.path().join(format!("{i}.log"));
            std::fs::write(&path, LINE).expect("write");
            let in_file = InFile {
                file: files.add(&path),
                bytes: LINE.as_bytes(),
                offset: 0,
            };
            places.push(in_file.place_of(LINE).expect("place"));
        }
        for place in places.iter().chain(&places) {
            assert_eq!(files.read(place), LINE);
        }
        let named = files.named.read().expect("named");
        let held = named.iter().filter(|(_, file)| file.is_some()).count();
        assert_eq!(held, HELD_FILES);
        assert_eq!(files.open.lock().expect("open").len(), OPEN_FILES);
    }
}
