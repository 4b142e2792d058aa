//! The JSON of a scratch database's failures — each failure's line as
//! `analyze --json` prints it but its id, and its context — kept in a file
//! beside it (`analyze.failures`); the analysis holds each failure's place
//! in it (`scratch_failures.rs`).
//!
//! `analyze` without `--db` writes each failure once, reads it once for
//! the report, and nothing else reads its JSON. In the `failures` table,
//! that JSON (1.5 KB a Keycloak failure, 3 KB a Rails one, most of the
//! row) went through SQLite's pages, its write-ahead log and its
//! checkpoint: on a Rails gigabyte the commits were 37% of the diagnosis's
//! writer thread, which was then its busiest (benches/README.md). Appended
//! here, it is a copy into a buffer written [`BUFFER_BYTES`] at a time (a
//! `pwrite` for each failure was an eighth of the writer thread's work on
//! a Keycloak gigabyte). The report copies each line from here as it was
//! rendered ([`LineReader`]); one failure read by id is parsed from its
//! line ([`FailureDetails::read_line`]).
//!
//! Invariants: the file is only appended to, so a place never changes what
//! it points at, and a failure written again under its id points at its
//! new record, never at another failure's. A record still in the buffer is
//! written before any record is read, so a reader on another connection
//! that was given its place finds its JSON.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Mutex, PoisonError};

use super::failure_record::RenderedJson;

/// The length a record writes for "no context".
const NO_CONTEXT: u32 = u32::MAX;

/// Bytes of a record's header: the line's length, the context's length.
const HEADER: usize = 8;

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

    /// Appends one failure's JSON and returns its place (`offset+length`);
    /// an error when the buffer it fills could not be written.
    pub(super) fn append(&self, json: &RenderedJson) -> io::Result<String> {
        let header = [
            length(&json.rest)?,
            json.context.as_deref().map_or(Ok(NO_CONTEXT), length)?,
        ];
        let mut tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        let at = tail.end();
        for n in header {
            tail.buf.extend_from_slice(&n.to_le_bytes());
        }
        tail.buf.extend_from_slice(json.rest.as_bytes());
        tail.buf
            .extend_from_slice(json.context.as_deref().unwrap_or("").as_bytes());
        let len = tail.end() - at;
        if tail.buf.len() >= BUFFER_BYTES {
            // On an error the buffer stays whole, this record in it: the
            // next append or read writes it again at the same place.
            tail.write_out(&self.file)?;
        }
        Ok(format!("{at}+{len}"))
    }

    /// Writes out the records still in the buffer, so that reads find them;
    /// returns the file's length then.
    fn write_buffered(&self) -> io::Result<u64> {
        let mut tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        if !tail.buf.is_empty() {
            tail.write_out(&self.file)?;
        }
        Ok(tail.written)
    }

    /// The line (after its id) and the context of the record at `place`
    /// (as [`FailureDetails::append`] gave it).
    pub(super) fn read_line(&self, place: &str) -> io::Result<(String, Option<String>)> {
        let (at, len) = parse_place(place)?;
        self.write_buffered()?;
        let mut bytes = vec![0; len];
        self.file.read_exact_at(&mut bytes, at)?;
        let record = Record::of(&bytes, at)?;
        let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).map_err(io::Error::other);
        Ok((text(record.line)?, record.context.map(text).transpose()?))
    }

    /// A reader of the records' lines a block at a time, for records read
    /// in about the order they were appended (the report's time order is
    /// nearly the diagnosis's).
    pub(super) fn line_reader(&self) -> io::Result<LineReader<'_>> {
        Ok(LineReader {
            file: &self.file,
            len: self.write_buffered()?,
            block: Vec::new(),
            block_at: 0,
        })
    }
}

/// Reads records' lines through one block of the file (a `pread` a
/// failure was the report's largest cost after the rendering it saves).
pub(super) struct LineReader<'f> {
    file: &'f File,
    /// The file's length when the reader was made: every record appended
    /// before then is within it.
    len: u64,
    block: Vec<u8>,
    /// Where `block` starts in the file.
    block_at: u64,
}

/// Bytes a [`LineReader`] reads at once, at least (but for the file's end).
const READ_BLOCK: usize = 256 * 1024;

impl LineReader<'_> {
    /// The line (after its id) of the record at `place`: UTF-8, as
    /// [`RenderedJson::rest`] was.
    pub(super) fn line(&mut self, place: &str) -> io::Result<&[u8]> {
        let (at, len) = parse_place(place)?;
        let end = at
            .checked_add(len as u64)
            .filter(|&end| end <= self.len)
            .ok_or_else(|| bad(format!("a failure's record at {at} is torn")))?;
        if at < self.block_at || end > self.block_at + self.block.len() as u64 {
            let size =
                usize::try_from(self.len - at).map_or(READ_BLOCK, |rest| rest.min(READ_BLOCK));
            self.block.resize(size.max(len), 0);
            self.block_at = at;
            if let Err(e) = self.file.read_exact_at(&mut self.block, at) {
                self.block.clear();
                return Err(e);
            }
        }
        let from = usize::try_from(at - self.block_at).map_err(io::Error::other)?;
        Ok(Record::of(&self.block[from..from + len], at)?.line)
    }
}

/// One record's parts, checked against its length.
struct Record<'b> {
    line: &'b [u8],
    context: Option<&'b [u8]>,
}

impl<'b> Record<'b> {
    /// The record `bytes` (read at `at`, which errors name).
    fn of(bytes: &'b [u8], at: u64) -> io::Result<Record<'b>> {
        let torn = || bad(format!("a failure's record at {at} is torn"));
        let header = bytes.get(..HEADER).ok_or_else(|| {
            bad(format!(
                "a failure's record at {at} is {} bytes",
                bytes.len()
            ))
        })?;
        let word =
            |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let (line_len, context_len) = (word(0) as usize, word(4));
        let body = &bytes[HEADER..];
        let line = body.get(..line_len).ok_or_else(torn)?;
        let context = match context_len {
            NO_CONTEXT => None,
            len => Some(
                body.get(line_len..line_len + len as usize)
                    .ok_or_else(torn)?,
            ),
        };
        Ok(Record { line, context })
    }
}

/// A place's offset and length.
fn parse_place(place: &str) -> io::Result<(u64, usize)> {
    place
        .split_once('+')
        .and_then(|(at, len)| Some((at.parse::<u64>().ok()?, len.parse::<usize>().ok()?)))
        .ok_or_else(|| bad(format!("a failure's place {place:?} is not offset+length")))
}

/// A text's length as a header writes it (`NO_CONTEXT` is none).
fn length(text: &str) -> io::Result<u32> {
    u32::try_from(text.len())
        .ok()
        .filter(|&n| n != NO_CONTEXT)
        .ok_or_else(|| bad("a failure's JSON of 4 GiB or more".to_owned()))
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line holding `candidates` and `evidence` as a failure's does.
    fn rendered(candidates: &str, evidence: &str, context: Option<&str>) -> RenderedJson {
        let rest = format!(
            r#","ts":null,"candidates":{candidates},"summary":"s","evidence":{evidence}}}"#
        );
        let c = rest.find(candidates).expect("candidates");
        let e = rest.rfind(evidence).expect("evidence");
        RenderedJson {
            candidates: c..c + candidates.len(),
            evidence: e..e + evidence.len(),
            context: context.map(str::to_owned),
            rest,
        }
    }

    fn temp_details(dir: &tempfile::TempDir) -> FailureDetails {
        FailureDetails::new(tempfile::tempfile_in(dir.path()).expect("file"))
    }

    #[test]
    fn each_record_comes_back_from_its_place() {
        let dir = tempfile::tempdir().expect("dir");
        let details = temp_details(&dir);
        let first_json = rendered("[]", r#"[{"line":1,"text":"é"}]"#, None);
        let first = details.append(&first_json).expect("first");
        let second = details
            .append(&rendered(
                r#"[{"cause":"x"}]"#,
                "[]",
                Some(r#"{"clock":1}"#),
            ))
            .expect("second");
        let replaced = details
            .append(&rendered("[1]", "[2]", Some("")))
            .expect("again");
        assert_eq!(
            details.read_line(&first).expect("read"),
            (first_json.rest.clone(), None)
        );
        let (_, second_context) = details.read_line(&second).expect("read");
        assert_eq!(second_context.as_deref(), Some(r#"{"clock":1}"#));
        let (again, again_context) = details.read_line(&replaced).expect("read");
        assert!(again.contains(r#""candidates":[1],"#), "{again}");
        assert_eq!(again_context.as_deref(), Some(""));
        let mut lines = details.line_reader().expect("reader");
        assert_eq!(
            lines.line(&first).expect("line"),
            first_json.rest.as_bytes()
        );
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
            .map(|t| details.append(&rendered("[]", t, None)).expect("append"))
            .collect();
        let appended: u64 = places
            .iter()
            .map(|p| parse_place(p).map_or(0, |(_, n)| n as u64))
            .sum();
        let written = on_disk.metadata().expect("metadata").len();
        assert!(written > 0 && written < appended, "{written} of {appended}");
        for (place, text) in places.iter().zip(&texts).rev() {
            let (line, _) = details.read_line(place).expect("read");
            assert!(
                line.ends_with(&format!(r#""evidence":{text}}}"#)),
                "{place}"
            );
        }
        assert_eq!(on_disk.metadata().expect("metadata").len(), appended);
    }

    /// The line reader gives each record's line whatever the order asked,
    /// records larger than its block and records cut by a block's end
    /// included, and the records still in the buffer when it was made.
    #[test]
    fn the_line_reader_reads_any_record_in_any_order() {
        let dir = tempfile::tempdir().expect("dir");
        let details = temp_details(&dir);
        // Lengths around the block's: a record larger than it, and many
        // records that end past one block's end.
        let texts: Vec<String> = [10, READ_BLOCK + 5, 3, READ_BLOCK / 3, 70_001, 1]
            .iter()
            .cycle()
            .take(40)
            .enumerate()
            .map(|(i, &n)| format!("[{}{i}]", "8".repeat(n)))
            .collect();
        let records: Vec<(String, RenderedJson)> = texts
            .iter()
            .map(|t| {
                let json = rendered("[]", t, Some("{}"));
                (details.append(&json).expect("append"), json)
            })
            .collect();
        let mut lines = details.line_reader().expect("reader");
        let backwards = records.iter().rev();
        let every_third = records.iter().step_by(3);
        for (place, json) in records.iter().chain(backwards).chain(every_third) {
            assert_eq!(
                lines.line(place).expect("line"),
                json.rest.as_bytes(),
                "{place}"
            );
        }
    }

    #[test]
    fn a_place_that_is_not_one_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let details = temp_details(&dir);
        let place = details.append(&rendered("[]", "[]", None)).expect("append");
        let mut lines = details.line_reader().expect("reader");
        let (_, len) = parse_place(&place).expect("place");
        let longer = format!("0+{}", len + 1);
        let shorter = format!("0+{}", len - 1);
        for wrong in ["", "12", "x+3", "0+4", "0+999", "999+12", &longer, &shorter] {
            assert!(details.read_line(wrong).is_err(), "{wrong:?}");
            assert!(lines.line(wrong).is_err(), "{wrong:?}");
        }
        assert!(details.read_line(&place).is_ok());
        assert!(lines.line(&place).is_ok());
    }
}
