//! The evidence lines of a scratch database (`analyze` without `--db`),
//! kept in a file beside it instead of in its `evidence` table. Evidence
//! is most of what a log's events carry — a Keycloak or Hydra event's
//! whole line — and storing it row by row was a quarter of the writer's
//! work on such a log, while the analysis reads back only the lines of the
//! events its failures cite (benches/README.md). Here each event's lines
//! are one record appended to the file, found by the event's id.
//!
//! Invariants: an event's record is written, and its place published,
//! before the transaction that stores the event commits, so a connection
//! that sees the event finds its lines; writing an event id again (SQLite
//! gives a deleted event's id to the next one) replaces what the id found,
//! also when the new event has no lines. The lines of a record are those
//! the `evidence` table would return: in line order, the first text of a
//! line number kept.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{PoisonError, RwLock};

/// An event's evidence line as the spill gives it back: line number, text.
pub type SpilledLine = (u64, String);

/// The file of evidence records and where each event's record starts.
#[derive(Debug)]
pub struct EvidenceSpill {
    file: File,
    index: RwLock<SpillIndex>,
}

#[derive(Debug, Default)]
struct SpillIndex {
    /// The file's length: where the next records go.
    end: u64,
    /// By event id: the record's offset plus one, 0 for an event without
    /// lines (or an id never written).
    at: Vec<u64>,
}

/// Records not yet written: one batch's events, appended with one write.
#[derive(Debug, Default)]
pub struct SpillBatch {
    bytes: Vec<u8>,
    /// Event id and its record's offset in `bytes`, or `None` for an
    /// event without lines.
    entries: Vec<(i64, Option<u64>)>,
}

/// Bytes a [`SpillBatch`] holds at most before it is written: a batch
/// copies the evidence it is given, and a read on several cores hands the
/// writer batches of megabytes.
pub const SPILL_BATCH_BYTES: usize = 256 * 1024;

impl SpillBatch {
    /// Whether the batch holds [`SPILL_BATCH_BYTES`] or more: time to write it.
    pub fn is_full(&self) -> bool {
        self.bytes.len() >= SPILL_BATCH_BYTES
    }

    /// Adds event `id`'s lines (line number, text, in any order).
    pub fn add<'l>(&mut self, id: i64, lines: impl Iterator<Item = (u64, &'l str)>) {
        let mut lines: Vec<(u64, &str)> = lines.collect();
        if lines.is_empty() {
            self.entries.push((id, None));
            return;
        }
        // As `INSERT OR IGNORE` on (event, line) then `ORDER BY line`.
        lines.sort_by_key(|(line, _)| *line);
        lines.dedup_by_key(|(line, _)| *line);
        let start = self.bytes.len();
        self.entries.push((id, Some(start as u64)));
        self.bytes.extend_from_slice(&[0; 4]);
        for (line, text) in lines {
            self.bytes.extend_from_slice(&line.to_le_bytes());
            self.bytes
                .extend_from_slice(&(text.len() as u32).to_le_bytes());
            self.bytes.extend_from_slice(text.as_bytes());
        }
        let body = (self.bytes.len() - start - 4) as u32;
        self.bytes[start..start + 4].copy_from_slice(&body.to_le_bytes());
    }
}

impl EvidenceSpill {
    /// Creates (or empties) the spill file at `path`.
    pub fn create(path: &Path) -> io::Result<EvidenceSpill> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(EvidenceSpill {
            file,
            index: RwLock::new(SpillIndex::default()),
        })
    }

    /// Appends a batch's records and publishes where each event's is.
    pub fn write(&self, batch: SpillBatch) -> io::Result<()> {
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        let base = index.end;
        self.file.write_all_at(&batch.bytes, base)?;
        index.end += batch.bytes.len() as u64;
        for (id, offset) in batch.entries {
            let Ok(slot) = usize::try_from(id) else {
                continue;
            };
            if index.at.len() <= slot {
                index.at.resize(slot + 1, 0);
            }
            index.at[slot] = offset.map_or(0, |o| base + o + 1);
        }
        Ok(())
    }

    /// Event `id`'s lines in line order (none for an event without any).
    pub fn lines(&self, id: i64) -> io::Result<Vec<SpilledLine>> {
        let at = {
            let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
            usize::try_from(id)
                .ok()
                .and_then(|slot| index.at.get(slot).copied())
                .unwrap_or(0)
        };
        let Some(offset) = at.checked_sub(1) else {
            return Ok(Vec::new());
        };
        // Most records are a few lines: one read takes the length and them.
        let mut record = vec![0; FIRST_READ];
        let got = read_at_most(&self.file, &mut record, offset)?;
        let (len, _) = record[..got].split_first_chunk::<4>().ok_or_else(torn)?;
        let whole = 4 + u32::from_le_bytes(*len) as usize;
        if whole > got {
            record.resize(whole, 0);
            self.file
                .read_exact_at(&mut record[got..], offset + got as u64)?;
        }
        decode(&record[4..whole])
    }
}

/// Bytes read at once for a record: its length and, for most, all of it.
const FIRST_READ: usize = 2048;

/// Reads into `buf` from `offset` until it is full or the file ends;
/// returns how much was read.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The lines of one record's body.
fn decode(mut body: &[u8]) -> io::Result<Vec<SpilledLine>> {
    let mut lines = Vec::new();
    while !body.is_empty() {
        let line = u64::from_le_bytes(take(&mut body)?);
        let len = u32::from_le_bytes(take(&mut body)?) as usize;
        let text = body.get(..len).ok_or_else(torn)?;
        let text = String::from_utf8(text.to_vec()).map_err(|_| torn())?;
        body = &body[len..];
        lines.push((line, text));
    }
    Ok(lines)
}

fn take<const N: usize>(body: &mut &[u8]) -> io::Result<[u8; N]> {
    let (head, rest) = body.split_first_chunk::<N>().ok_or_else(torn)?;
    *body = rest;
    Ok(*head)
}

fn torn() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "evidence spill record is torn")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spill() -> (tempfile::TempDir, EvidenceSpill) {
        let dir = tempfile::tempdir().expect("tempdir");
        let spill = EvidenceSpill::create(&dir.path().join("e")).expect("spill");
        (dir, spill)
    }

    #[test]
    fn lines_come_back_in_line_order_with_the_first_text_of_a_line() {
        let (_dir, spill) = spill();
        let mut batch = SpillBatch::default();
        batch.add(
            3,
            [(12, "b"), (10, "a"), (12, "b again"), (11, "é")].into_iter(),
        );
        batch.add(4, std::iter::empty());
        batch.add(5, [(1, "")].into_iter());
        spill.write(batch).expect("write");
        assert_eq!(
            spill.lines(3).expect("3"),
            vec![(10, "a".into()), (11, "é".into()), (12, "b".into())]
        );
        assert!(spill.lines(4).expect("4").is_empty());
        assert_eq!(spill.lines(5).expect("5"), vec![(1, String::new())]);
        // Never written, and out of any range.
        assert!(spill.lines(2).expect("2").is_empty());
        assert!(spill.lines(99).expect("99").is_empty());
        assert!(spill.lines(-1).expect("-1").is_empty());
    }

    #[test]
    fn an_id_written_again_finds_only_its_new_lines() {
        let (_dir, spill) = spill();
        let mut first = SpillBatch::default();
        first.add(1, [(1, "old one")].into_iter());
        first.add(2, [(2, "old two")].into_iter());
        spill.write(first).expect("first");
        let mut again = SpillBatch::default();
        again.add(1, [(7, "new one")].into_iter());
        again.add(2, std::iter::empty());
        spill.write(again).expect("again");
        assert_eq!(spill.lines(1).expect("1"), vec![(7, "new one".into())]);
        assert!(spill.lines(2).expect("2").is_empty());
    }
}
