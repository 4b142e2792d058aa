//! The rows of a scratch load's events kept in a file beside the database
//! instead of in its `events` table (`kept.rs` says when): each event's
//! forty-two column values, as the insert statement would have bound them
//! (`writer::put_event` gives both), appended as one record, found by the
//! event's id through its offset held in memory (8 bytes an event).
//!
//! Inserting a Keycloak gigabyte's 1.56 million events into SQLite was a
//! third of the read's work, and reading them back by id most of the
//! diagnosis's (benches/README.md); appending a record costs a copy, and
//! reading it back at its offset, in place in a cached block, a decode.
//!
//! Invariants: a row read back is exactly what `SELECT … FROM events` gives
//! for the same event bound by `put_event` (the tests store the same events
//! both ways); record `i` is the event of id `first_id + i`; a record is
//! complete in the file before its offset is kept; a number a record gives
//! a text by is its file's (`Names`), which only grows while the file is
//! written and never changes once it is read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use grantwatch_parsers::{Event, EventKind, Format, GrantType, ServerKind};

use super::EventRow;
use super::block_cache::BlockCache;
use super::chunked::Chunked;
use super::insert::{Columns, put_event};
use super::spill::create_scratch_file;

/// Columns of a record: those of the insert statement.
pub(super) const COLUMNS: usize = 42;

/// A record is each column's value in column order, each after a tag:
/// NULL alone; an integer, zigzag-encoded, in LEB128; a text as its length
/// in LEB128 and its bytes; a text of a [`NAMED`] column as its number (one
/// byte) in the rows' [`Names`]; a run of `n` NULL columns (two or more) as
/// the one tag `NULLS + n`. With fixed eight-byte integers, four-byte
/// lengths, the kind, format, server and time basis spelled out and a tag
/// per NULL, a Keycloak gigabyte's rows file was 430 MB; it is 239 MB
/// (benches/README.md), written and read back a block at a time.
const NULL: u8 = 0;
const INT: u8 = 1;
const TEXT: u8 = 2;
const NAME: u8 = 3;
/// A tag of this value or above is a run of `tag - NULLS` NULL columns.
const NULLS: u8 = 0x80;

/// The columns whose texts are few and repeated, each written as its
/// number in the rows' [`Names`]: kind, format, server, time basis, grant
/// type, lifecycle.
const NAMED: [usize; 6] = [3, 4, 5, 7, 10, 38];

/// Per column (1-based), its place in [`NAMED`] plus one, 0 for a column
/// not named: looked up for every text of every event kept.
const NAMED_SLOT: [u8; COLUMNS + 1] = {
    let mut slots = [0; COLUMNS + 1];
    let mut i = 0;
    while i < NAMED.len() {
        slots[NAMED[i]] = i as u8 + 1;
        i += 1;
    }
    slots
};

/// Texts a rows file numbers instead of writing them: at most
/// [`Names::MAX`], each once, numbered in the order first met; a text met
/// when the table is full is written whole (a log may name any grant
/// type).
#[derive(Debug, Default)]
pub(super) struct Names {
    texts: Vec<Box<str>>,
    /// Hashed with foldhash: SipHash on every named text an event gives was
    /// half a percent of a Keycloak log's instructions (benches/README.md).
    numbers: HashMap<Box<str>, u8, foldhash::fast::RandomState>,
    /// Per [`NAMED`] column, the number of the text it last took: most
    /// events are of the same kind, format and server as the one before.
    last: [Option<u8>; NAMED.len()],
}

impl Names {
    /// Texts a table holds at most: one byte numbers them.
    const MAX: usize = 256;

    /// The number of `text` in [`NAMED`] column `slot`, given one now if
    /// the table has room; `None` when it has none.
    fn number(&mut self, slot: usize, text: &str) -> Option<u8> {
        if let Some(n) = self.last[slot].filter(|&n| *self.texts[usize::from(n)] == *text) {
            return Some(n);
        }
        let n = match self.numbers.get(text) {
            Some(&n) => n,
            None if self.texts.len() >= Names::MAX => return None,
            None => {
                // Below `MAX`: one byte holds it.
                let n = self.texts.len() as u8;
                self.texts.push(text.into());
                self.numbers.insert(text.into(), n);
                n
            }
        };
        self.last[slot] = Some(n);
        Some(n)
    }

    fn text(&self, n: u8) -> io::Result<&str> {
        self.texts
            .get(usize::from(n))
            .map(|t| &**t)
            .ok_or_else(torn)
    }
}

/// One column's value in a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cell<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

impl<'a> Cell<'a> {
    pub(super) fn int(self) -> Option<i64> {
        match self {
            Cell::Int(v) => Some(v),
            _ => None,
        }
    }

    pub(super) fn text(self) -> Option<&'a str> {
        match self {
            Cell::Text(t) => Some(t),
            _ => None,
        }
    }

    fn string(self) -> Option<String> {
        self.text().map(str::to_owned)
    }
}

/// A record's cells, column `c` (1-based, as the statement numbers them)
/// at index `c - 1`.
pub(super) type Cells<'a> = [Cell<'a>; COLUMNS];

/// Encodes one event's columns into `buf`, NULL for each column
/// `put_event` gives no value.
struct Encoder<'b> {
    buf: &'b mut Vec<u8>,
    names: &'b mut Names,
    /// The next column to encode (1-based).
    next: usize,
}

impl Encoder<'_> {
    /// The NULLs of the columns before `column`, which comes next.
    fn nulls_until(&mut self, column: usize) {
        match column.saturating_sub(self.next) {
            0 => {}
            1 => self.buf.push(NULL),
            // At most [`COLUMNS`], below `0x80`.
            run => self.buf.push(NULLS + run as u8),
        }
        self.next = column + 1;
    }
}

impl Columns for Encoder<'_> {
    fn int(&mut self, column: usize, value: i64) -> rusqlite::Result<()> {
        self.nulls_until(column);
        self.buf.push(INT);
        put_varint(self.buf, zigzag(value));
        Ok(())
    }

    fn text(&mut self, column: usize, value: &str) -> rusqlite::Result<()> {
        self.nulls_until(column);
        let named = match NAMED_SLOT.get(column) {
            Some(&slot) if slot > 0 => self.names.number(usize::from(slot - 1), value),
            _ => None,
        };
        if let Some(n) = named {
            self.buf.extend_from_slice(&[NAME, n]);
            return Ok(());
        }
        self.buf.push(TEXT);
        put_varint(self.buf, value.len() as u64);
        self.buf.extend_from_slice(value.as_bytes());
        Ok(())
    }
}

/// Appends `value` in LEB128: seven bits a byte, the low ones first, the
/// high bit set on every byte but the last.
fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push(value as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// `value` zigzag-encoded: 0, -1, 1, -2, … as 0, 1, 2, 3, …, so that a
/// small negative integer takes few LEB128 bytes too.
fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// The integer a zigzag `value` stands for ([`zigzag`]'s inverse).
fn unzigzag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
}

/// The LEB128 value at the start of `bytes` and the bytes after it.
fn varint(bytes: &[u8]) -> io::Result<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok((value, &bytes[i + 1..]));
        }
    }
    Err(torn())
}

/// Appends the record of event `e` of `source_id` to `buf`, its named
/// texts numbered in `names`.
pub(super) fn encode(
    buf: &mut Vec<u8>,
    names: &mut Names,
    source_id: i64,
    e: &Event<'_>,
) -> rusqlite::Result<()> {
    let mut encoder = Encoder {
        buf,
        names,
        next: 1,
    };
    put_event(&mut encoder, source_id, e)?;
    encoder.nulls_until(COLUMNS + 1);
    Ok(())
}

/// The cells of the record `bytes`, its named texts those of `names`.
pub(super) fn decode<'b>(bytes: &'b [u8], names: &'b Names) -> io::Result<Cells<'b>> {
    decode_with(bytes, names, checked_text)
}

/// `text` as a `&str` when it is UTF-8. Nearly every text a record holds
/// is ASCII (ids, fingerprints, paths, times), which a word at a time
/// tells; `str::from_utf8`, asked of each of a row's dozen short texts,
/// was a twenty-fifth of a Keycloak gigabyte's diagnosis (benches/README.md).
fn checked_text(text: &[u8]) -> io::Result<&str> {
    if text.is_ascii() {
        // SAFETY: every ASCII byte sequence is UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(text) });
    }
    std::str::from_utf8(text).map_err(|_| torn())
}

/// The source id of the record `bytes`, its first column (which
/// `put_event` always gives), the rest of it not decoded.
pub(super) fn source_of(bytes: &[u8]) -> io::Result<i64> {
    match bytes.split_first() {
        Some((&INT, rest)) => Ok(unzigzag(varint(rest)?.0)),
        _ => Err(torn()),
    }
}

/// The cells of the record [`encode`] has just written into `bytes`, its
/// texts not checked again: each was copied from a `&str`. Checking them
/// took as long as the rest of the decoding, for each event a load keeps
/// (benches/README.md).
pub(super) fn decode_encoded<'b>(bytes: &'b [u8], names: &'b Names) -> io::Result<Cells<'b>> {
    // SAFETY: `bytes` is a record `encode` wrote (the caller's buffer,
    // cleared before it), whose every text is the bytes of a `&str`, at
    // the offset and of the length its tag gives; `decode_with` slices
    // exactly those.
    decode_with(bytes, names, |text| {
        Ok(unsafe { std::str::from_utf8_unchecked(text) })
    })
}

/// The cells of the record `bytes`, each text made a `&str` by `text`.
fn decode_with<'b>(
    mut bytes: &'b [u8],
    names: &'b Names,
    text: impl Fn(&'b [u8]) -> io::Result<&'b str>,
) -> io::Result<Cells<'b>> {
    let mut cells = [Cell::Null; COLUMNS];
    let mut column = 0;
    while column < COLUMNS {
        let (&tag, rest) = bytes.split_first().ok_or_else(torn)?;
        bytes = rest;
        let cell = match tag {
            NULL => Cell::Null,
            INT => {
                let (value, rest) = varint(bytes)?;
                bytes = rest;
                Cell::Int(unzigzag(value))
            }
            TEXT => {
                let (len, rest) = varint(bytes)?;
                let len = usize::try_from(len).map_err(|_| torn())?;
                let value = rest.get(..len).ok_or_else(torn)?;
                bytes = &rest[len..];
                Cell::Text(text(value)?)
            }
            NAME => {
                let (&n, rest) = bytes.split_first().ok_or_else(torn)?;
                bytes = rest;
                Cell::Text(names.text(n)?)
            }
            run if run >= NULLS + 2 && column + usize::from(run - NULLS) <= COLUMNS => {
                column += usize::from(run - NULLS);
                continue;
            }
            _ => return Err(torn()),
        };
        cells[column] = cell;
        column += 1;
    }
    match bytes {
        [] => Ok(cells),
        _ => Err(torn()),
    }
}

fn torn() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "a torn event record")
}

fn unknown(what: &str, name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unknown {what} {name:?} in an event record"),
    )
}

/// The event of `cells`, stored under `id`, read from `file`: what
/// `from_row` makes of the same event's row (an unknown name is an error).
pub(super) fn event_row(id: i64, file: &str, c: &Cells<'_>) -> io::Result<EventRow> {
    let name = |i: usize| c[i - 1].text().unwrap_or("");
    let kind = EventKind::from_name(name(3)).ok_or_else(|| unknown("kind", name(3)))?;
    let format = Format::from_name(name(4)).ok_or_else(|| unknown("format", name(4)))?;
    let server = match c[4].text() {
        Some(s) => Some(ServerKind::from_name(s).ok_or_else(|| unknown("server kind", s))?),
        None => None,
    };
    let s = |i: usize| c[i - 1].string();
    let n = |i: usize| c[i - 1].int();
    Ok(EventRow {
        id,
        source_id: n(1).unwrap_or(0),
        file: file.to_owned(),
        line: n(2).unwrap_or(0) as u64,
        part: n(42).unwrap_or(0) as u32,
        kind,
        format,
        server,
        ts_ms: n(6),
        ts_basis: s(7),
        request_id: s(8),
        client_id: s(9),
        grant_type: c[9].text().map(GrantType::from_name),
        method: s(11),
        path: s(12),
        status: n(13).map(|v| v as u16),
        error: s(14),
        error_description: s(15),
        provider_reason: s(16),
        provider_debug: s(17),
        provider_code: s(18),
        redirect_uri: s(19),
        code_challenge: s(20),
        code_challenge_method: s(21),
        code_fp: s(22),
        refresh_token_fp: s(23),
        assertion_fp: s(24),
        verifier_s256: s(25),
        verifier_sent: n(26).map(|v| v != 0),
        jwt_iat: n(27),
        jwt_exp: n(28),
        jwt_nbf: n(29),
        jwt_iss: s(30),
        server_date_ms: n(33),
        ip: s(34),
        user_agent: s(35),
        session_id: s(36),
        user_name: s(37),
        lifecycle: s(38),
    })
}

/// Bytes gathered before they are written to the file.
const BUFFER_BYTES: usize = 256 * 1024;

/// The rows file while a load appends to it.
#[derive(Debug)]
pub(super) struct RowsWriter {
    file: File,
    buf: Vec<u8>,
    /// Where each record starts, and the length written or buffered.
    offsets: Chunked<u64>,
    len: u64,
    /// The named texts of the records appended.
    names: Names,
}

impl RowsWriter {
    /// Creates (or empties) the rows file at `path`.
    pub(super) fn create(path: &Path) -> io::Result<RowsWriter> {
        Ok(RowsWriter {
            file: create_scratch_file(path)?,
            buf: Vec::with_capacity(BUFFER_BYTES),
            offsets: Chunked::default(),
            len: 0,
            names: Names::default(),
        })
    }

    /// Where [`encode`] numbers the texts of this file's records.
    pub(super) fn names_mut(&mut self) -> &mut Names {
        &mut self.names
    }

    /// The texts [`encode`] numbered, to decode this file's records.
    pub(super) fn names(&self) -> &Names {
        &self.names
    }

    /// Appends one record (made by [`encode`]); the records are numbered
    /// in the order appended, from 0.
    pub(super) fn append(&mut self, record: &[u8]) -> io::Result<()> {
        self.offsets.push(self.len);
        self.len += record.len() as u64;
        self.buf.extend_from_slice(record);
        if self.buf.len() >= BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// The records appended.
    pub(super) fn count(&self) -> usize {
        self.offsets.len()
    }

    /// The file, every record written, for reading.
    pub(super) fn finish(mut self) -> io::Result<Rows> {
        self.flush()?;
        let mut offsets = self.offsets.into_vec();
        offsets.push(self.len);
        Ok(Rows {
            file: self.file,
            offsets,
            cache: BlockCache::default(),
            names: self.names,
        })
    }
}

/// The rows file once written: record `i` is `offsets[i]..offsets[i + 1]`.
#[derive(Debug)]
pub(super) struct Rows {
    file: File,
    offsets: Vec<u64>,
    /// The blocks last read, for the diagnosis that reads their records
    /// again and those beside them.
    cache: BlockCache,
    /// The texts the records name by number.
    names: Names,
}

impl Rows {
    /// Records in the file.
    pub(super) fn count(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The texts the records name by number, to [`decode`] them.
    pub(super) fn names(&self) -> &Names {
        &self.names
    }

    /// `read(bytes)` of record `i`'s bytes, read in place from the cache
    /// when one block holds them ([`BlockCache::read_in_place`]: `read`
    /// must not read these rows again); `None` when there is no record `i`.
    pub(super) fn read_in_place<T>(
        &self,
        i: usize,
        read: impl FnOnce(&[u8]) -> T,
    ) -> io::Result<Option<T>> {
        let (Some(&start), Some(&end)) = (self.offsets.get(i), self.offsets.get(i + 1)) else {
            return Ok(None);
        };
        let len = usize::try_from(end - start).map_err(io::Error::other)?;
        let file_len = self.offsets.last().copied().unwrap_or(0);
        self.cache
            .read_in_place(&self.file, file_len, (start, len), read)
            .map(Some)
    }
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;
