//! The evidence lines of a scratch database (`analyze` without `--db`),
//! kept in a file beside it instead of in its `evidence` table. Evidence
//! is most of what a log's events carry — a Keycloak or Hydra event's
//! whole line — and storing it row by row was a quarter of the writer's
//! work on such a log, while the analysis reads back only the lines of the
//! events its failures cite (benches/README.md). Here each event's lines
//! are one record appended to the file, found by the event's id; a line
//! read unchanged from a log file is held in it as its place there and
//! read from the log again (`log_lines.rs`). The
//! readers of a file read in ranges append their events' records
//! themselves, before the events have ids ([`EvidenceSpill::append`]), and
//! the store's writer only publishes each under its event's id.
//!
//! Invariants: an event's record is written, and its place published,
//! before the transaction that stores the event commits, so a connection
//! that sees the event finds its lines; writing an event id again (SQLite
//! gives a deleted event's id to the next one) replaces what the id found,
//! also when the new event has no lines. The lines of a record are those
//! the `evidence` table would return: in line order, the first text of a
//! line number kept. A connection checks that an event exists before it
//! asks for its lines, in a separate statement: an id can be deleted and
//! given again only while no other connection reads (a read in ranges that
//! gives up forgets its events inside `Store::bulk_load`, which holds the
//! database alone).

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{OnceLock, PoisonError, RwLock};

use grantwatch_parsers::Event;

use super::block_cache::BlockCache;
use super::event_index::EventIndexSlot;
use super::failure_details::FailureDetails;
use super::log_lines::{InFile, LinePlace, LogFileId, LogFiles};
use super::scratch_failures::ScratchFailures;

/// Blocks of the sealed file kept (128 KB): the diagnosis reads the
/// records in about the order they were written, so a block is seldom
/// asked for again once passed, and a Rails analysis's peak memory has
/// little room to spare.
const EVIDENCE_SLOTS: u64 = 32;

/// An event's evidence line as the spill gives it back: line number, text.
pub type SpilledLine = (u64, String);

/// The file of evidence records and where each event's record is.
#[derive(Debug)]
pub struct EvidenceSpill {
    file: File,
    index: RwLock<SpillIndex>,
    /// The log files whose lines records name by their place.
    logs: LogFiles,
    /// The database's events by client, when a bulk load kept them in
    /// memory instead of in two indexes (`event_index.rs`): here because
    /// every connection of the analysis shares this file.
    pub(super) event_index: EventIndexSlot,
    /// The failures' JSON (`failure_details.rs`), beside this file for the
    /// same reason.
    pub(super) failure_details: FailureDetails,
    /// The failures themselves, in memory (`scratch_failures.rs`), for the
    /// same reason.
    pub(super) failures: ScratchFailures,
    /// The file's length once nothing is appended any more
    /// ([`EvidenceSpill::seal`]); from then on records are read through
    /// `cache`: the diagnosis reads them in about the order they were
    /// written, two a failure.
    sealed: OnceLock<u64>,
    cache: BlockCache,
}

/// Where each event's record is, by event id: packed places in pages of
/// [`PAGE`], allocated when an id in them is first written, so the index
/// never copies itself to grow and holds 8 bytes an event.
#[derive(Debug, Default)]
struct SpillIndex {
    /// The file's length, with the ranges handed to writes in progress:
    /// where the next records go.
    end: u64,
    pages: Vec<Option<Box<[u64]>>>,
}

/// Entries in one page of the index.
const PAGE: usize = 1 << 16;

/// A record's place is packed in 8 bytes: its offset in the low
/// `OFFSET_BITS` (a file of up to 1 TiB), its body's length in the high 24,
/// or [`LONG_BODY`] when the record's 4-byte header must say. 0: no record
/// (a record's body is never empty, so no record packs to 0).
const OFFSET_BITS: u32 = 40;
const LONG_BODY: u64 = (1 << (64 - OFFSET_BITS)) - 1;

fn pack_place(offset: u64, body: u32) -> io::Result<u64> {
    if offset >= 1 << OFFSET_BITS {
        return Err(io::Error::other("the evidence file passed 1 TiB"));
    }
    Ok(offset | u64::from(body).min(LONG_BODY) << OFFSET_BITS)
}

/// The packed place of a record at `record` (offset in its batch, body
/// length) of a batch written at `base`; 0 for an event without lines.
fn place_in_file(base: u64, record: Option<(u64, u32)>) -> io::Result<u64> {
    match record {
        Some((offset, body)) => pack_place(base + offset, body),
        None => Ok(0),
    }
}

/// Offset and body length (`None`: read from the header).
fn unpack_place(packed: u64) -> (u64, Option<usize>) {
    let body = packed >> OFFSET_BITS;
    let offset = packed & ((1 << OFFSET_BITS) - 1);
    (offset, (body != LONG_BODY).then_some(body as usize))
}

impl SpillIndex {
    fn get(&self, id: i64) -> u64 {
        let Ok(slot) = usize::try_from(id) else {
            return 0;
        };
        match self.pages.get(slot / PAGE) {
            Some(Some(page)) => page[slot % PAGE],
            _ => 0,
        }
    }

    fn set(&mut self, id: i64, packed: u64) {
        let Ok(slot) = usize::try_from(id) else {
            return;
        };
        if self.pages.len() <= slot / PAGE {
            self.pages.resize_with(slot / PAGE + 1, || None);
        }
        let page = self.pages[slot / PAGE].get_or_insert_with(|| vec![0; PAGE].into_boxed_slice());
        page[slot % PAGE] = packed;
    }
}

/// Records not yet written: one batch's events, appended with one write.
#[derive(Debug, Default)]
pub(crate) struct SpillBatch {
    bytes: Vec<u8>,
    /// Event id, and its record's offset in `bytes` and body length, or
    /// `None` for an event without lines.
    entries: Vec<(i64, Option<(u64, u32)>)>,
}

/// Bytes a [`SpillBatch`] holds at most before it is written: a batch
/// copies the evidence it is given, and a read on several cores hands the
/// writer batches of megabytes.
pub(crate) const SPILL_BATCH_BYTES: usize = 256 * 1024;

impl SpillBatch {
    /// An empty batch with room for a full one: grown by doubling, each
    /// batch's bytes were copied about twice over.
    pub(crate) fn new() -> SpillBatch {
        SpillBatch {
            bytes: Vec::with_capacity(SPILL_BATCH_BYTES + SPILL_BATCH_BYTES / 4),
            entries: Vec::new(),
        }
    }

    /// Empties the batch, keeping its room.
    fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
    }

    /// Whether the batch holds [`SPILL_BATCH_BYTES`] or more: time to write it.
    pub(crate) fn is_full(&self) -> bool {
        self.bytes.len() >= SPILL_BATCH_BYTES
    }

    /// Adds event `id`'s lines (line number, text, in any order); a line
    /// of 2 GiB or a record of 4 GiB or more is refused.
    pub(crate) fn add<'l>(
        &mut self,
        id: i64,
        lines: impl Iterator<Item = (u64, &'l str)>,
    ) -> io::Result<()> {
        self.add_read_from(id, lines, None)
    }

    /// As [`SpillBatch::add`]; a line whose text `in_file` holds is
    /// written as its place in that file rather than as its text.
    pub(crate) fn add_read_from<'l>(
        &mut self,
        id: i64,
        lines: impl Iterator<Item = (u64, &'l str)>,
        in_file: Option<&InFile<'_>>,
    ) -> io::Result<()> {
        let mut lines: Vec<(u64, &str)> = lines.collect();
        if lines.is_empty() {
            self.entries.push((id, None));
            return Ok(());
        }
        // As `INSERT OR IGNORE` on (event, line) then `ORDER BY line`.
        lines.sort_by_key(|(line, _)| *line);
        lines.dedup_by_key(|(line, _)| *line);
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 4]);
        for (line, text) in lines {
            self.bytes.extend_from_slice(&line.to_le_bytes());
            let len = line_len(text.len())?;
            match in_file.and_then(|f| f.place_of(text)) {
                Some(place) => {
                    self.bytes.extend_from_slice(&(len | PLACED).to_le_bytes());
                    self.bytes.extend_from_slice(&place.file.0.to_le_bytes());
                    self.bytes.extend_from_slice(&place.offset.to_le_bytes());
                    self.bytes.extend_from_slice(&place.crc.to_le_bytes());
                }
                None => {
                    self.bytes.extend_from_slice(&len.to_le_bytes());
                    self.bytes.extend_from_slice(text.as_bytes());
                }
            }
        }
        let body = too_long(self.bytes.len() - start - 4)?;
        self.bytes[start..start + 4].copy_from_slice(&body.to_le_bytes());
        self.entries.push((id, Some((start as u64, body))));
        Ok(())
    }
}

/// The bit of a line's length that says the record holds its place in a
/// log file (file, offset, CRC-32), not its text.
const PLACED: u32 = 1 << 31;

/// A line's length as the record writes it, or an error from 2 GiB on
/// (the top bit is [`PLACED`]).
fn line_len(len: usize) -> io::Result<u32> {
    u32::try_from(len)
        .ok()
        .filter(|len| len & PLACED == 0)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "an evidence line of 2 GiB or more",
            )
        })
}

/// Creates (or empties) a file of a scratch database's, for reading and
/// writing.
pub(super) fn create_scratch_file(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// A length as the record writes it, or an error past `u32`.
fn too_long(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "an event's evidence of 4 GiB or more",
        )
    })
}

impl EvidenceSpill {
    /// Creates (or empties) the spill file at `path`.
    pub(crate) fn create(path: &Path) -> io::Result<EvidenceSpill> {
        EvidenceSpill::over(create_scratch_file(path)?, path)
    }

    /// A spill over `file`, empty, with its failures' JSON beside `path`.
    fn over(file: File, path: &Path) -> io::Result<EvidenceSpill> {
        Ok(EvidenceSpill {
            file,
            index: RwLock::new(SpillIndex::default()),
            logs: LogFiles::default(),
            event_index: EventIndexSlot::default(),
            failure_details: FailureDetails::new(create_scratch_file(
                &path.with_extension("failures"),
            )?),
            failures: ScratchFailures::default(),
            sealed: OnceLock::new(),
            cache: BlockCache::with_slots(EVIDENCE_SLOTS),
        })
    }

    /// Says that no record will be appended any more (the reading is
    /// over): records are read through a cache of the file's blocks from
    /// now on, and an append fails.
    pub(crate) fn seal(&self) {
        let end = self
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .end;
        let _ = self.sealed.set(end);
    }

    /// `buf.len()` bytes at `offset`, through the cache once sealed.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        match self.sealed.get() {
            Some(&len) => self.cache.read_exact_at(&self.file, len, buf, offset),
            None => self.file.read_exact_at(buf, offset),
        }
    }

    /// Names the log file at `path`, whose lines records may hold by
    /// their place in it ([`InFile`]).
    pub(crate) fn log_file(&self, path: &Path) -> LogFileId {
        self.logs.add(path)
    }

    /// A spill over a file opened for reading only, whose every write
    /// fails: for the tests of what a failed evidence write does.
    #[cfg(test)]
    pub(crate) fn unwritable(path: &Path) -> io::Result<EvidenceSpill> {
        std::fs::write(path, b"")?;
        EvidenceSpill::over(File::open(path)?, path)
    }

    /// Appends a batch's records and publishes where each event's is. The
    /// file's range is taken under the lock, written without it (readers
    /// do not wait on the disk), and the records published after; the
    /// batch is emptied, keeping its room for the next.
    pub(crate) fn write(&self, batch: &mut SpillBatch) -> io::Result<()> {
        let base = self.append_bytes(&batch.bytes)?;
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        for &(id, record) in &batch.entries {
            index.set(id, place_in_file(base, record)?);
        }
        drop(index);
        batch.clear();
        Ok(())
    }

    /// Appends a batch's records before their events have ids (a reader of
    /// a file in ranges, on its own thread, so that the store's one writer
    /// does not copy and write every line) and returns each record's place,
    /// in the order they were added, for [`EvidenceSpill::publish`] under
    /// the id its event gets. The ids given to [`SpillBatch::add`] are not
    /// used. Nothing is found by id until published; a record never
    /// published (an event dropped at a handover) only takes room.
    pub(crate) fn append(&self, batch: &mut SpillBatch) -> io::Result<Vec<u64>> {
        let base = self.append_bytes(&batch.bytes)?;
        let places = batch
            .entries
            .iter()
            .map(|&(_, record)| place_in_file(base, record))
            .collect::<io::Result<_>>()?;
        batch.clear();
        Ok(places)
    }

    /// Appends the evidence lines of `events` as [`EvidenceSpill::append`]
    /// does (with `batch`, the caller's room for them) and leaves their
    /// texts out of the events, keeping the line numbers, so that handing
    /// the events on copies no line: returns where each event's lines are.
    /// A line that is a slice of `in_file`, the bytes the events were read
    /// from, is written as its place there.
    pub(crate) fn append_events(
        &self,
        events: &mut [Event<'_>],
        batch: &mut SpillBatch,
        in_file: Option<InFile<'_>>,
    ) -> io::Result<Vec<u64>> {
        let mut places = Vec::with_capacity(events.len());
        for e in events.iter_mut() {
            let lines = e.evidence.iter().map(|l| (l.line, l.text.as_ref()));
            batch.add_read_from(0, lines, in_file.as_ref())?;
            if batch.is_full() {
                places.extend(self.append(batch)?);
            }
            for line in &mut e.evidence {
                line.text = Cow::Borrowed("");
            }
        }
        places.extend(self.append(batch)?);
        Ok(places)
    }

    /// Publishes records [`EvidenceSpill::append`] wrote: each event id
    /// with its record's place (0: no lines), replacing what the id found.
    pub(crate) fn publish(&self, placed: &[(i64, u64)]) {
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        for &(id, packed) in placed {
            index.set(id, packed);
        }
    }

    /// Writes `bytes` at the end of the file and returns where they start.
    fn append_bytes(&self, bytes: &[u8]) -> io::Result<u64> {
        if self.sealed.get().is_some() {
            // Reads trust the sealed length: a record past it would be
            // read around the cache, and a block holding its start would
            // be stale.
            return Err(io::Error::other("the evidence file is sealed"));
        }
        let base = {
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            let base = index.end;
            index.end += bytes.len() as u64;
            base
        };
        self.file.write_all_at(bytes, base)?;
        Ok(base)
    }

    /// Event `id`'s lines in line order (none for an event without any).
    pub(crate) fn lines(&self, id: i64) -> io::Result<Vec<SpilledLine>> {
        let packed = self
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id);
        if packed == 0 {
            return Ok(Vec::new());
        }
        let (offset, body) = unpack_place(packed);
        let body = match body {
            Some(len) => len,
            None => {
                let mut header = [0; 4];
                self.read_exact_at(&mut header, offset)?;
                u32::from_le_bytes(header) as usize
            }
        };
        let mut record = vec![0; body];
        self.read_exact_at(&mut record, offset + 4)?;
        decode(&record, &self.logs)
    }
}

/// The lines of one record's body, those held by their place read from
/// their log file.
fn decode(mut body: &[u8], logs: &LogFiles) -> io::Result<Vec<SpilledLine>> {
    let mut lines = Vec::new();
    while !body.is_empty() {
        let line = u64::from_le_bytes(take(&mut body)?);
        let len = u32::from_le_bytes(take(&mut body)?);
        if len & PLACED != 0 {
            let place = LinePlace {
                file: LogFileId(u32::from_le_bytes(take(&mut body)?)),
                offset: u64::from_le_bytes(take(&mut body)?),
                crc: u32::from_le_bytes(take(&mut body)?),
                len: len & !PLACED,
            };
            lines.push((line, logs.read(&place)));
            continue;
        }
        let len = len as usize;
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
#[path = "spill_tests.rs"]
mod tests;
