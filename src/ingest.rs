//! Reading files once (for `analyze`): folders walked recursively, gzip
//! files decompressed on the fly, files that are not logs (binary data, JSON
//! documents) skipped with a count, each log's format detected from its first
//! lines, and its lines parsed and stored chunk by chunk so memory stays flat
//! whatever the file size.
//!
//! Invariants: every chunk's events are committed with the offset and line
//! number read up to, in one transaction; a file already read into a
//! persistent database resumes at its committed offset (nothing twice).

use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use grantwatch_parsers::{Context, Event, FileParser, Format, LineCounts, detect};
use sha2::{Digest, Sha256};

use crate::store::{BatchProgress, Store};

/// Lines longer than this are cut (the rest of the line is dropped) and
/// counted.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Bytes read per chunk.
const CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// Bytes sniffed to tell a log from binary data or a JSON document.
const SNIFF_BYTES: usize = 64 * 1024;

/// Errors of reading inputs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path given on the command line cannot be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

/// Results of reading inputs.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Totals of one `analyze` read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Files read as logs.
    pub files: usize,
    /// Files skipped because they are not logs.
    pub skipped_files: Vec<(PathBuf, &'static str)>,
    /// Bytes read.
    pub bytes: u64,
    /// Line counts.
    pub lines: LineCounts,
    /// Lines cut at [`MAX_LINE_BYTES`].
    pub lines_cut: u64,
    /// Events stored.
    pub events: u64,
}

/// Expands the paths given by the user into files, folders recursively, in a
/// stable order. A path that does not exist or cannot be read is an error.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| Error::Unreadable {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = Vec::new();
            for entry in walkdir::WalkDir::new(path).follow_links(true) {
                let entry = entry.map_err(|e| Error::Unreadable {
                    path: e.path().map_or_else(|| path.clone(), Path::to_path_buf),
                    source: e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("walk failed")),
                })?;
                if entry.file_type().is_file() {
                    found.push(entry.into_path());
                }
            }
            found.sort();
            files.extend(found);
        } else {
            File::open(path).map_err(|source| Error::Unreadable {
                path: path.clone(),
                source,
            })?;
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Why a file is not a log, from its first bytes (`None`: it is one).
pub fn not_a_log(head: &[u8]) -> Option<&'static str> {
    if head.is_empty() {
        return None;
    }
    let nul = head.iter().filter(|&&b| b == 0).count();
    let control = head
        .iter()
        .filter(|&&b| b < 0x09 || (b > 0x0d && b < 0x20 && b != 0x1b))
        .count();
    if nul > 0 || control * 20 > head.len() {
        return Some("binary data");
    }
    // A JSON document (pretty-printed, or one big array) rather than JSON
    // lines: its first value does not end on its first line.
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    if matches!(head[start], b'{' | b'[') {
        let first_line_end =
            memchr::memchr(b'\n', &head[start..]).map_or(head.len(), |p| start + p);
        let mut values =
            serde_json::Deserializer::from_slice(&head[start..]).into_iter::<serde_json::Value>();
        let document = match values.next() {
            Some(Ok(_)) => start + values.byte_offset() > first_line_end,
            Some(Err(e)) => e.is_eof(),
            None => false,
        };
        if document {
            return Some("a JSON document, not JSON lines");
        }
    }
    None
}

fn is_gzip(path: &Path, head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b]) || path.extension().is_some_and(|e| e == "gz")
}

fn head_hash(head: &[u8]) -> String {
    let n = head.len().min(1024);
    Sha256::digest(&head[..n])
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads one file into the store. `on_bytes` is told about progress.
pub fn read_file(
    store: &mut Store,
    path: &Path,
    ctx: &Context,
    forced: Option<Format>,
    stats: &mut ReadStats,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<()> {
    let unreadable = |source| Error::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    let mut raw = BufReader::with_capacity(256 * 1024, file);
    let mut probe = vec![0u8; SNIFF_BYTES];
    let n = read_full(&mut raw, &mut probe).map_err(unreadable)?;
    probe.truncate(n);
    let gz = is_gzip(path, &probe);
    let mut reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(
            std::io::Cursor::new(probe.clone()).chain(raw),
        ))
    } else {
        Box::new(std::io::Cursor::new(probe.clone()).chain(raw))
    };
    // Sniff the (decompressed) head.
    let mut head = vec![0u8; SNIFF_BYTES];
    let hn = read_full(&mut reader, &mut head).map_err(unreadable)?;
    head.truncate(hn);
    if let Some(why) = not_a_log(&head) {
        stats.skipped_files.push((path.to_path_buf(), why));
        return Ok(());
    }
    let text = String::from_utf8_lossy(&head);
    let first_lines: Vec<&str> = text
        .lines()
        .take(grantwatch_parsers::DETECT_LINES)
        .collect();
    let format = forced.unwrap_or_else(|| detect(&first_lines));
    let hash = head_hash(&head);
    let source = store.source(&path.to_string_lossy(), format.as_str())?;
    let same_file =
        source.inode == Some(meta.ino()) && source.head_hash.as_deref() == Some(hash.as_str());
    let resume = if same_file { source.byte_offset } else { 0 };
    let mut progress = BatchProgress {
        dev: Some(meta.dev()),
        inode: Some(meta.ino()),
        head_hash: Some(hash),
        byte_offset: 0,
        line_no: 0,
        ..BatchProgress::default()
    };
    if resume > 0 {
        progress.line_no = source.line_no;
    }
    stats.files += 1;
    let mut parser = FileParser::new(format, ctx.clone());
    let mut lines = LineReader::new(std::io::Cursor::new(head).chain(reader), resume);
    let mut events: Vec<Event<'static>> = Vec::new();
    let mut buf = Vec::new();
    loop {
        let chunk = lines.next_chunk(&mut buf).map_err(unreadable)?;
        if chunk.is_empty() {
            break;
        }
        let before = parser.counts();
        let mut chunk_events: Vec<Event<'_>> = Vec::new();
        for line in chunk.split(|&b| b == b'\n') {
            progress.line_no += 1;
            let text = String::from_utf8_lossy(line);
            let mut out = Vec::new();
            parser.feed(progress.line_no, &text, &mut out);
            chunk_events.extend(out.into_iter().map(Event::into_owned));
        }
        events.extend(chunk_events);
        progress.byte_offset = lines.offset;
        progress.lines_cut = std::mem::take(&mut lines.cut);
        progress.counts = diff(parser.counts(), before);
        let bytes = chunk.len() as u64;
        stats.bytes += bytes;
        on_bytes(bytes);
        commit(store, source.id, &mut events, &progress, stats)?;
    }
    let before = parser.counts();
    let mut out = Vec::new();
    parser.flush(&mut out);
    events.extend(out.into_iter().map(Event::into_owned));
    progress.counts = diff(parser.counts(), before);
    progress.lines_cut = 0;
    commit(store, source.id, &mut events, &progress, stats)?;
    Ok(())
}

fn diff(after: LineCounts, before: LineCounts) -> LineCounts {
    LineCounts {
        parsed: after.parsed - before.parsed,
        skipped: after.skipped - before.skipped,
        unknown: after.unknown - before.unknown,
    }
}

fn commit(
    store: &mut Store,
    source_id: i64,
    events: &mut Vec<Event<'static>>,
    progress: &BatchProgress,
    stats: &mut ReadStats,
) -> Result<()> {
    store.commit_batch(source_id, events, progress)?;
    stats.events += events.len() as u64;
    stats.lines.parsed += progress.counts.parsed;
    stats.lines.skipped += progress.counts.skipped;
    stats.lines.unknown += progress.counts.unknown;
    stats.lines_cut += progress.lines_cut;
    events.clear();
    Ok(())
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Splits a byte stream into chunks of whole lines, skipping the first
/// `skip` bytes, cutting lines over [`MAX_LINE_BYTES`].
struct LineReader<R> {
    inner: R,
    pending: Vec<u8>,
    skip: u64,
    /// Offset (in the stream) just past the last whole line handed out.
    offset: u64,
    /// Lines cut since the last chunk.
    cut: u64,
    /// Whether the current over-long line's rest is being dropped.
    dropping: bool,
    eof: bool,
}

impl<R: Read> LineReader<R> {
    fn new(inner: R, skip: u64) -> Self {
        LineReader {
            inner,
            pending: Vec::new(),
            skip,
            offset: skip,
            cut: 0,
            dropping: false,
            eof: false,
        }
    }

    /// The next chunk of whole lines (without the final newline), or an empty
    /// slice at the end. A last line without newline is taken as a line.
    fn next_chunk<'b>(&mut self, buf: &'b mut Vec<u8>) -> std::io::Result<&'b [u8]> {
        buf.clear();
        while buf.is_empty() && !(self.eof && self.pending.is_empty()) {
            let mut block = vec![0u8; CHUNK_BYTES];
            let n = if self.eof {
                0
            } else {
                read_full(&mut self.inner, &mut block)?
            };
            if n == 0 {
                self.eof = true;
            }
            block.truncate(n);
            let mut data = &block[..];
            if self.skip > 0 {
                let s = (self.skip as usize).min(data.len());
                data = &data[s..];
                self.skip -= s as u64;
            }
            self.take_lines(data, buf);
            if self.eof && !self.pending.is_empty() {
                // The last line has no newline: take it as a line.
                self.offset += self.pending.len() as u64;
                buf.append(&mut self.pending);
            }
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        Ok(&buf[..])
    }

    fn take_lines(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        while !data.is_empty() {
            match memchr::memchr(b'\n', data) {
                Some(nl) => {
                    let line = &data[..nl];
                    if self.dropping {
                        // The cut line was handed out already; drop its rest.
                        self.dropping = false;
                        self.offset += line.len() as u64 + 1;
                    } else {
                        let room = MAX_LINE_BYTES.saturating_sub(self.pending.len());
                        if line.len() > room {
                            self.cut += 1;
                        }
                        out.extend_from_slice(&self.pending);
                        out.extend_from_slice(&line[..line.len().min(room)]);
                        out.push(b'\n');
                        self.offset += (self.pending.len() + line.len() + 1) as u64;
                        self.pending.clear();
                    }
                    data = &data[nl + 1..];
                }
                None => {
                    if self.dropping {
                        self.offset += data.len() as u64;
                    } else if self.pending.len() + data.len() > MAX_LINE_BYTES {
                        let room = MAX_LINE_BYTES - self.pending.len();
                        self.pending.extend_from_slice(&data[..room]);
                        self.offset += (self.pending.len() + (data.len() - room)) as u64;
                        out.extend_from_slice(&self.pending);
                        out.push(b'\n');
                        self.pending.clear();
                        self.cut += 1;
                        self.dropping = true;
                    } else {
                        self.pending.extend_from_slice(data);
                    }
                    data = &[];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_json_lines_documents_and_binary_are_told_apart() {
        assert_eq!(
            not_a_log(b"[0e1d7c2a-77b0] Started POST \"/oauth/token\"\n"),
            None
        );
        assert_eq!(not_a_log(b"{\"a\":1}\n{\"a\":2}\n"), None);
        assert!(not_a_log(b"{\n  \"a\": 1\n}\n").is_some());
        assert!(not_a_log(b"[\n {\"a\": 1},\n {\"a\": 2}\n]").is_some());
        assert!(not_a_log(b"[{\"a\": 1},\n{\"a\": 2}").is_some());
        assert!(not_a_log(b"\x7fELF\x02\x01\x01\x00\x00\x00").is_some());
    }
}
