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
//! which was then its busiest (benches/README.md). Appended here, it is one
//! write to the page cache.
//!
//! Invariants: the file is only appended to, so a place never changes what
//! it points at; the place is written in the row's `evidence` column,
//! inside the transaction that writes the row, so a row rolled back or
//! replaced points at its own JSON, never at another's (an upsert that
//! rolls back leaves an unreferenced record, nothing else). A row whose
//! `evidence` starts with `[` holds its JSON itself (a kept database's, or
//! a scratch connection without this file).

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

/// The append-only file of failures' JSON.
#[derive(Debug)]
pub(crate) struct FailureDetails {
    file: File,
    /// Where the next record goes.
    end: Mutex<u64>,
}

impl FailureDetails {
    /// Over `file`, empty, opened for reading and writing.
    pub(crate) fn new(file: File) -> FailureDetails {
        FailureDetails {
            file,
            end: Mutex::new(0),
        }
    }

    /// Appends one failure's JSON and returns its place, as the row's
    /// `evidence` column holds it.
    pub(super) fn append(
        &self,
        candidates: &str,
        evidence: &str,
        context: Option<&str>,
    ) -> io::Result<String> {
        let mut record = Vec::with_capacity(
            HEADER + candidates.len() + evidence.len() + context.map_or(0, str::len),
        );
        record.extend_from_slice(&length(candidates)?.to_le_bytes());
        record.extend_from_slice(&length(evidence)?.to_le_bytes());
        record.extend_from_slice(&context.map_or(Ok(NO_CONTEXT), length)?.to_le_bytes());
        record.extend_from_slice(candidates.as_bytes());
        record.extend_from_slice(evidence.as_bytes());
        record.extend_from_slice(context.unwrap_or("").as_bytes());
        let at = {
            let mut end = self.end.lock().unwrap_or_else(PoisonError::into_inner);
            let at = *end;
            *end += record.len() as u64;
            at
        };
        self.file.write_all_at(&record, at)?;
        Ok(format!("{at}+{}", record.len()))
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
