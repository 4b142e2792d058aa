//! The JSON of a scratch database's failures — candidates, evidence and
//! context — kept in a file beside it (`analyze.failures`) instead of in
//! the `failures` table, whose row holds the record's place instead of the
//! evidence.
//!
//! `analyze` without `--db` writes each failure once, reads it once for
//! the report, and nothing else reads its JSON. In the table, that JSON
//! (1.5 KB a Keycloak failure, 3 KB a Rails one, most of the row) went
//! through SQLite's pages, its write-ahead log and its checkpoint: on a
//! Rails gigabyte the commits were 37% of the diagnosis's writer thread,
//! which was then its busiest (benches/README.md). Appended here, it is a
//! copy into a buffer written [`BUFFER_BYTES`] at a time (a `pwrite` for
//! each failure was an eighth of the writer thread's work on a Keycloak
//! gigabyte).
//!
//! Invariants: the file is only appended to, so a place never changes what
//! it points at; the place is written in the row's `evidence` column,
//! inside the transaction that writes the row, so a row rolled back or
//! replaced points at its own JSON, never at another's (an upsert that
//! rolls back leaves an unreferenced record, nothing else). A row whose
//! `evidence` starts with `[` holds its JSON itself (a kept database's, or
//! a scratch connection without this file). A record still in the buffer
//! is written before any record is read, so a reader on another connection
//! that sees the row finds its JSON.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Mutex, PoisonError};

/// A failure's three JSON texts.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct FailureJson {
    pub(super) candidates: String,
    pub(super) evidence: String,
    pub(super) context: Option<String>,
}

/// The length a record writes for "no context".
const NO_CONTEXT: u32 = u32::MAX;

/// Bytes of a record's header: the three lengths.
const HEADER: usize = 12;

/// Records gathered before they are written to the file.
const BUFFER_BYTES: usize = 256 * 1024;

/// The append-only file of failures' JSON.
#[derive(Debug)]
pub(crate) struct FailureDetails {
    file: File,
    tail: Mutex<Tail>,
}

/// The records appended and not yet written.
#[derive(Debug, Default)]
struct Tail {
    /// Where the buffer's first byte goes: the file's bytes before it are
    /// written.
    written: u64,
    buf: Vec<u8>,
}

impl Tail {
    /// Where the next record goes.
    fn end(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    fn write_out(&mut self, file: &File) -> io::Result<()> {
        file.write_all_at(&self.buf, self.written)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

impl FailureDetails {
    /// Over `file`, empty, opened for reading and writing.
    pub(crate) fn new(file: File) -> FailureDetails {
        FailureDetails {
            file,
            tail: Mutex::new(Tail::default()),
        }
    }

    /// Appends one failure's JSON and returns its place, as the row's
    /// `evidence` column holds it; an error when the buffer it fills could
    /// not be written.
    pub(super) fn append(
        &self,
        candidates: &str,
        evidence: &str,
        context: Option<&str>,
    ) -> io::Result<String> {
        let lengths = [
            length(candidates)?,
            length(evidence)?,
            context.map_or(Ok(NO_CONTEXT), length)?,
        ];
        let mut tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        let at = tail.end();
        for len in lengths {
            tail.buf.extend_from_slice(&len.to_le_bytes());
        }
        tail.buf.extend_from_slice(candidates.as_bytes());
        tail.buf.extend_from_slice(evidence.as_bytes());
        tail.buf.extend_from_slice(context.unwrap_or("").as_bytes());
        let len = tail.end() - at;
        if tail.buf.len() >= BUFFER_BYTES {
            // On an error the buffer stays whole, this record in it: the
            // next append or read writes it again at the same place.
            tail.write_out(&self.file)?;
        }
        Ok(format!("{at}+{len}"))
    }

    /// The JSON at `place` (as [`FailureDetails::append`] gave it).
    pub(super) fn read(&self, place: &str) -> io::Result<FailureJson> {
        let (at, len) = place
            .split_once('+')
            .and_then(|(at, len)| Some((at.parse::<u64>().ok()?, len.parse::<usize>().ok()?)))
            .ok_or_else(|| bad(format!("a failure's place {place:?} is not offset+length")))?;
        if len < HEADER {
            return Err(bad(format!("a failure's record at {at} is {len} bytes")));
        }
        {
            let mut tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
            if !tail.buf.is_empty() {
                tail.write_out(&self.file)?;
            }
        }
        let mut record = vec![0; len];
        self.file.read_exact_at(&mut record, at)?;
        let lengths: Vec<u32> = record[..HEADER]
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let mut body = &record[HEADER..];
        let mut take = |len: u32| -> io::Result<String> {
            let len = usize::try_from(len).map_err(io::Error::other)?;
            if len > body.len() {
                return Err(bad(format!("a failure's record at {at} is torn")));
            }
            let (text, rest) = body.split_at(len);
            body = rest;
            String::from_utf8(text.to_vec()).map_err(io::Error::other)
        };
        let candidates = take(lengths[0])?;
        let evidence = take(lengths[1])?;
        let context = match lengths[2] {
            NO_CONTEXT => None,
            len => Some(take(len)?),
        };
        Ok(FailureJson {
            candidates,
            evidence,
            context,
        })
    }
}

fn length(text: &str) -> io::Result<u32> {
    u32::try_from(text.len())
        .ok()
        .filter(|&len| len != NO_CONTEXT)
        .ok_or_else(|| bad("a failure's JSON of 4 GiB or more".to_owned()))
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Whether an `evidence` column holds the JSON itself rather than a place.
pub(super) fn holds_json(evidence: &str) -> bool {
    evidence.starts_with('[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_record_comes_back_from_its_place() {
        let dir = tempfile::tempdir().expect("dir");
        let details = FailureDetails::new(tempfile::tempfile_in(dir.path()).expect("file"));
        let first = details
            .append("[]", r#"[{"line":1,"text":"é"}]"#, None)
            .expect("first");
        let second = details
            .append(r#"[{"cause":"x"}]"#, "[]", Some(r#"{"clock":1}"#))
            .expect("second");
        let replaced = details.append("[1]", "[2]", Some("")).expect("again");
        assert_eq!(
            details.read(&first).expect("read"),
            FailureJson {
                candidates: "[]".into(),
                evidence: r#"[{"line":1,"text":"é"}]"#.into(),
                context: None,
            }
        );
        assert_eq!(
            details.read(&second).expect("read").context.as_deref(),
            Some(r#"{"clock":1}"#)
        );
        let again = details.read(&replaced).expect("read");
        assert_eq!(
            (again.candidates.as_str(), again.evidence.as_str()),
            ("[1]", "[2]")
        );
        assert_eq!(again.context.as_deref(), Some(""));
        assert!(!holds_json(&first));
        assert!(holds_json("[]"));
    }

    /// Records gathered in the buffer are written when it fills, and all
    /// of them before a read: each comes back from its place, across the
    /// buffer's boundaries.
    #[test]
    fn records_in_the_buffer_are_written_before_a_read() {
        let dir = tempfile::tempdir().expect("dir");
        let file = tempfile::tempfile_in(dir.path()).expect("file");
        let on_disk = file.try_clone().expect("clone");
        let details = FailureDetails::new(file);
        let texts: Vec<String> = (0..800).map(|i| format!("[{}]", "7".repeat(i))).collect();
        let places: Vec<String> = texts
            .iter()
            .map(|t| details.append("[]", t, None).expect("append"))
            .collect();
        let appended: u64 = places
            .iter()
            .map(|p| {
                p.split_once('+')
                    .map_or(0, |(_, n)| n.parse::<u64>().unwrap_or(0))
            })
            .sum();
        let written = on_disk.metadata().expect("metadata").len();
        assert!(written > 0 && written < appended, "{written} of {appended}");
        for (place, text) in places.iter().zip(&texts).rev() {
            assert_eq!(&details.read(place).expect("read").evidence, text);
        }
        assert_eq!(on_disk.metadata().expect("metadata").len(), appended);
    }

    #[test]
    fn a_place_that_is_not_one_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let details = FailureDetails::new(tempfile::tempfile_in(dir.path()).expect("file"));
        let place = details.append("[]", "[]", None).expect("append");
        for wrong in ["", "12", "x+3", "0+4", "0+999", "999+12"] {
            assert!(details.read(wrong).is_err(), "{wrong:?}");
        }
        assert!(details.read(&place).is_ok());
    }
}
