//! Splitting a byte stream into whole lines: the one implementation behind
//! the one-shot reader (`ingest/`: [`ChunkReader`], a file read once in
//! chunks) and the follower (`tail/file.rs`: a [`LineBuffer`] per followed
//! file, filled poll after poll).
//!
//! Invariants:
//! - Every byte is handed out once, in order, in chunks of whole lines. A
//!   chunk's `end` is just past a newline, or the stream's end when the
//!   caller says the stream ended: a checkpoint at it is a line boundary.
//! - The bytes after the last newline (the partial line) are held at the
//!   buffer's front until their newline comes or the caller says the stream
//!   ended (the one-shot reader at its end, the follower after a quiet
//!   period or before a truncation).
//! - No line longer than [`MAX_LINE_BYTES`] is handed out: a longer one is
//!   cut at the last character boundary at or before the limit
//!   ([`cut_point`]), the rest of it skipped up to its newline, and handed
//!   out as a chunk of its own (`text` shorter than `end - start`) with
//!   `cut == 1`; the lines before it go out first, so the long line is at
//!   the buffer's front when it is cut ([`first_long_line`]).
//! - Chunks borrow the buffer: no line is copied (`analyze` reads a 1 GB
//!   file through here); only the held partial line is moved to the front.

use std::io::Read;

use super::MAX_LINE_BYTES;

/// Bytes the one-shot reader reads per chunk.
pub(crate) const CHUNK_BYTES: usize = 1024 * 1024;

/// Bytes per chunk of a file read on one core from its start or a resume
/// point ([`ChunkReader::new`]): each chunk is one commit, and each commit
/// writes every page its events dirtied in a dozen indexes to the WAL
/// again. With 2 MiB chunks a Rails gigabyte wrote 277,000 WAL frames for
/// 44,000 events; with 8 MiB, one core read it in 2.8–2.9 s instead of
/// 3.3–3.4 s, in 39 MB instead of 31 (benches/README.md).
const ONE_CORE_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// Fills `buf` from `r` as far as the stream goes (a short read is not
/// its end): how many bytes it holds.
pub(crate) fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
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

/// Where a line longer than [`MAX_LINE_BYTES`] is cut: the last character
/// boundary at or before the limit (a byte that does not continue a UTF-8
/// sequence), so the kept text decodes as it would have whole.
pub(crate) fn cut_point(line: &[u8]) -> usize {
    if line.len() <= MAX_LINE_BYTES {
        return line.len();
    }
    let is_continuation = |b: u8| b & 0xC0 == 0x80;
    // A UTF-8 sequence is at most 4 bytes: look back at most 3.
    (MAX_LINE_BYTES.saturating_sub(3)..=MAX_LINE_BYTES)
        .rev()
        .find(|&at| !is_continuation(line[at]))
        .unwrap_or(MAX_LINE_BYTES)
}

/// Where the first line of `bytes` longer than [`MAX_LINE_BYTES`] starts
/// (the unfinished last line counts), if there is one. Such a line covers a
/// whole window `[k·H, (k+1)·H)` of `H = MAX_LINE_BYTES / 2` bytes without a
/// newline, so only a window without one is looked at closely: a chunk of
/// ordinary lines costs one short search per window, not one per line.
fn first_long_line(bytes: &[u8]) -> Option<usize> {
    let half = MAX_LINE_BYTES / 2;
    let mut at = 0;
    while at + half <= bytes.len() {
        if memchr::memchr(b'\n', &bytes[at..at + half]).is_some() {
            at += half;
            continue;
        }
        let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |nl| nl + 1);
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |nl| at + nl);
        if end - start > MAX_LINE_BYTES {
            return Some(start);
        }
        // Windows start again after this line: a longer line after it
        // still covers a whole one.
        at = end + 1;
    }
    None
}

/// One chunk of whole lines, borrowed from the buffer.
pub(crate) struct Chunk<'b> {
    /// The lines, without the chunk's last newline.
    pub(crate) text: &'b [u8],
    /// Stream offset of the chunk's first byte.
    pub(crate) start: u64,
    /// Stream offset just past the chunk (its last newline included).
    pub(crate) end: u64,
    /// Lines cut at [`MAX_LINE_BYTES`] (0, or 1 for a cut line's chunk).
    pub(crate) cut: u64,
}

/// A chunk's place: its text is the buffer's first `text` bytes.
#[derive(Clone, Copy, Debug)]
struct Span {
    text: usize,
    start: u64,
    end: u64,
    cut: u64,
}

/// A line over the limit being cut: its kept first bytes are at the
/// buffer's front, its rest is skipped up to its newline.
#[derive(Clone, Copy, Debug)]
struct Cut {
    kept: usize,
    skipped: u64,
}

/// The buffer a stream is read into and split from: reads go into
/// [`spare`](Self::spare), whole lines come out of
/// [`next_chunk`](Self::next_chunk), the partial last line stays.
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    /// Bytes of `buf` holding data.
    filled: usize,
    /// Bytes of `buf` handed out by the last chunk (dropped at the next
    /// call, when the chunk's borrow has ended).
    consumed: usize,
    /// Stream offset just past the last chunk handed out.
    offset: u64,
    cut: Option<Cut>,
}

impl LineBuffer {
    /// An empty buffer for a stream read from `offset` on (a line start).
    pub(crate) fn new(offset: u64) -> Self {
        LineBuffer {
            offset,
            ..LineBuffer::default()
        }
    }

    /// Stream offset just past the last chunk handed out.
    #[cfg(test)]
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes held and not handed out (a partial line, after the kept part
    /// of a line being cut).
    pub(crate) fn held(&self) -> usize {
        self.filled - self.consumed
    }

    /// Forgets everything held and starts over at `offset`.
    pub(crate) fn reset(&mut self, offset: u64) {
        *self = LineBuffer {
            buf: std::mem::take(&mut self.buf),
            ..LineBuffer::new(offset)
        };
    }

    /// Gives back the memory beyond what is held (a follower keeps one
    /// buffer per file between polls).
    pub(crate) fn shrink(&mut self) {
        self.compact();
        self.buf.truncate(self.filled);
        self.buf.shrink_to_fit();
    }

    /// Room for the next `want` bytes of the stream (at least one); tell
    /// [`filled`](Self::filled) how many were read.
    pub(crate) fn spare(&mut self, want: usize) -> &mut [u8] {
        self.compact();
        let want = want.max(1);
        let end = self.filled + want;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        &mut self.buf[self.filled..end]
    }

    /// `n` bytes were read into [`spare`](Self::spare).
    pub(crate) fn filled(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    /// The whole lines held, as one chunk (a cut line alone); `None` while
    /// only a partial line is held. `ended`: the stream has no more bytes
    /// for now, the partial line is a line.
    pub(crate) fn next_chunk(&mut self, ended: bool) -> Option<Chunk<'_>> {
        let span = self.next_span(ended)?;
        Some(self.chunk(span))
    }

    /// [`next_chunk`](Self::next_chunk) as places in the buffer, so a
    /// caller can loop on it and borrow the text only when there is one.
    fn next_span(&mut self, ended: bool) -> Option<Span> {
        self.compact();
        if self.cut.is_none() && self.filled > MAX_LINE_BYTES {
            match first_long_line(&self.buf[..self.filled]) {
                Some(0) => {
                    let kept = cut_point(&self.buf[..self.filled]);
                    self.cut = Some(Cut { kept, skipped: 0 });
                }
                // The lines before the long one, up to its newline.
                Some(start) => return Some(self.hand_out(start - 1, start, start as u64, 0)),
                None => {}
            }
        }
        if let Some(mut cut) = self.cut {
            let rest = &self.buf[cut.kept..self.filled];
            let newline = match memchr::memchr(b'\n', rest) {
                Some(at) => {
                    cut.skipped += at as u64;
                    self.buf
                        .copy_within(cut.kept + at + 1..self.filled, cut.kept);
                    self.filled -= at + 1;
                    1
                }
                None => {
                    cut.skipped += rest.len() as u64;
                    self.filled = cut.kept;
                    if !ended {
                        self.cut = Some(cut);
                        return None;
                    }
                    0
                }
            };
            self.cut = None;
            let len = cut.kept as u64 + cut.skipped + newline;
            return Some(self.hand_out(cut.kept, cut.kept, len, 1));
        }
        let (text, consumed) = match memchr::memrchr(b'\n', &self.buf[..self.filled]) {
            Some(nl) => (nl, nl + 1),
            None if ended && self.filled > 0 => (self.filled, self.filled),
            None => return None,
        };
        Some(self.hand_out(text, consumed, consumed as u64, 0))
    }

    fn hand_out(&mut self, text: usize, consumed: usize, len: u64, cut: u64) -> Span {
        self.consumed = consumed;
        let start = self.offset;
        self.offset += len;
        Span {
            text,
            start,
            end: self.offset,
            cut,
        }
    }

    fn chunk(&self, span: Span) -> Chunk<'_> {
        Chunk {
            text: &self.buf[..span.text],
            start: span.start,
            end: span.end,
            cut: span.cut,
        }
    }

    /// Drops the bytes handed out by the last chunk.
    fn compact(&mut self) {
        if self.consumed > 0 {
            self.buf.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
    }
}

/// Reads a stream to its end in chunks of whole lines (`analyze`): fills
/// the buffer to its chunk size before splitting, so a chunk is large and parsing runs over long borrowed runs.
pub(crate) struct ChunkReader<R> {
    inner: R,
    lines: LineBuffer,
    /// Bytes a read fills the buffer up to (more, a chunk at a time, while
    /// one line is longer).
    fill_to: usize,
    eof: bool,
}

impl<R: Read> ChunkReader<R> {
    /// A reader that skips the stream's first `skip` bytes (a resume point:
    /// a line start).
    pub(crate) fn new(mut inner: R, skip: u64) -> std::io::Result<Self> {
        let skipped = std::io::copy(&mut (&mut inner).take(skip), &mut std::io::sink())?;
        let mut reader = Self::with_chunk_bytes(inner, ONE_CORE_CHUNK_BYTES);
        reader.lines = LineBuffer::new(skipped);
        Ok(reader)
    }

    /// A reader from the stream's current position (offset 0), handing out
    /// chunks of at most `chunk_bytes` (more when one line is longer).
    pub(crate) fn with_chunk_bytes(inner: R, chunk_bytes: usize) -> Self {
        ChunkReader {
            inner,
            lines: LineBuffer::new(0),
            fill_to: chunk_bytes.max(1),
            eof: false,
        }
    }

    /// Stream offset just past the last chunk handed out.
    #[cfg(test)]
    pub(crate) fn offset(&self) -> u64 {
        self.lines.offset()
    }

    /// The next chunk of whole lines; `None` at the end. A last line
    /// without newline is taken as a line.
    pub(crate) fn next_chunk(&mut self) -> std::io::Result<Option<Chunk<'_>>> {
        loop {
            if !self.eof {
                let held = self.lines.held();
                let want = if held < self.fill_to {
                    self.fill_to - held
                } else {
                    self.fill_to
                };
                let spare = self.lines.spare(want);
                let n = read_full(&mut self.inner, spare)?;
                self.eof = n < spare.len();
                self.lines.filled(n);
            }
            if let Some(span) = self.lines.next_span(self.eof) {
                return Ok(Some(self.lines.chunk(span)));
            }
            if self.eof {
                return Ok(None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], skip: u64) -> (Vec<Vec<u8>>, u64, u64) {
        let mut r = ChunkReader::new(std::io::Cursor::new(data.to_vec()), skip).expect("reader");
        let mut lines = Vec::new();
        let mut cuts = 0;
        while let Some(chunk) = r.next_chunk().expect("chunk") {
            lines.extend(chunk.text.split(|&b| b == b'\n').map(<[u8]>::to_vec));
            cuts += chunk.cut;
        }
        (lines, r.offset(), cuts)
    }

    /// Feeds `data` to a buffer `step` bytes at a time, as a follower
    /// polling a growing file: the lines out, their end offsets, cuts.
    fn follow(data: &[u8], step: usize, ended: bool) -> (Vec<Vec<u8>>, Vec<u64>, u64) {
        let mut b = LineBuffer::new(0);
        let (mut lines, mut ends, mut cuts) = (Vec::new(), Vec::new(), 0);
        for piece in data.chunks(step) {
            let spare = b.spare(piece.len());
            spare[..piece.len()].copy_from_slice(piece);
            b.filled(piece.len());
            while let Some(c) = b.next_chunk(false) {
                lines.extend(c.text.split(|&x| x == b'\n').map(<[u8]>::to_vec));
                ends.push(c.end);
                cuts += c.cut;
            }
            b.shrink();
        }
        if ended && let Some(c) = b.next_chunk(true) {
            lines.extend(c.text.split(|&x| x == b'\n').map(<[u8]>::to_vec));
            ends.push(c.end);
            cuts += c.cut;
        }
        (lines, ends, cuts)
    }

    #[test]
    fn whole_lines_a_last_line_without_newline_and_offsets() {
        let (lines, offset, cut) = read_all(b"a\nbb\nccc", 0);
        assert_eq!(lines, vec![b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()]);
        assert_eq!((offset, cut), (8, 0));
        let (lines, _, _) = read_all(b"a\nbb\nccc\n", 2);
        assert_eq!(lines, vec![b"bb".to_vec(), b"ccc".to_vec()]);
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_cut_and_the_next_line_survives() {
        let mut data = vec![b'x'; CHUNK_BYTES + MAX_LINE_BYTES + 10];
        data.extend_from_slice(b"\nnext\n");
        let (lines, offset, cut) = read_all(&data, 0);
        assert_eq!(cut, 1);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE_BYTES);
        assert_eq!(lines[1], b"next");
        assert_eq!(offset, data.len() as u64);
    }

    #[test]
    fn a_line_just_over_the_limit_is_cut_once_among_whole_lines() {
        let mut data = b"first\n".to_vec();
        data.extend(vec![b'y'; MAX_LINE_BYTES + 1]);
        data.extend_from_slice(b"\nlast");
        let (lines, offset, cut) = read_all(&data, 0);
        assert_eq!(cut, 1);
        let lens: Vec<usize> = lines.iter().map(Vec::len).collect();
        assert_eq!(lens, [5, MAX_LINE_BYTES, 4]);
        assert_eq!(offset, data.len() as u64);
    }

    #[test]
    fn the_first_long_line_is_found_wherever_it_sits() {
        let line = |n: usize| {
            let mut l = vec![b'z'; n];
            l.push(b'\n');
            l
        };
        let exactly = [line(10), line(MAX_LINE_BYTES), line(MAX_LINE_BYTES / 2 + 3)].concat();
        assert_eq!(first_long_line(&exactly), None);
        for before in [0, 1, 7, MAX_LINE_BYTES / 2 - 1, MAX_LINE_BYTES / 2 + 1] {
            let mut data = if before == 0 {
                Vec::new()
            } else {
                line(before - 1)
            };
            data.extend(line(MAX_LINE_BYTES + 1));
            data.extend(line(3));
            assert_eq!(first_long_line(&data), Some(before), "after {before} bytes");
        }
        // The unfinished last line counts.
        let partial = [line(5), vec![b'p'; MAX_LINE_BYTES + 1]].concat();
        assert_eq!(first_long_line(&partial), Some(6));
    }

    #[test]
    fn a_long_line_amid_a_chunk_goes_out_cut_between_its_neighbours() {
        let mut data = b"one\ntwo\n".to_vec();
        data.extend(vec![b'w'; MAX_LINE_BYTES + 5]);
        data.extend_from_slice(b"\nthree\nfour\n");
        // One read holds it all: the long line is inside the chunk.
        let mut r =
            ChunkReader::with_chunk_bytes(std::io::Cursor::new(data.clone()), 4 * MAX_LINE_BYTES);
        let mut got = Vec::new();
        while let Some(c) = r.next_chunk().expect("chunk") {
            got.push((c.text.len(), c.start, c.end, c.cut));
        }
        let long_end = 8 + MAX_LINE_BYTES as u64 + 5 + 1;
        assert_eq!(
            got,
            [
                (7, 0, 8, 0),
                (MAX_LINE_BYTES, 8, long_end, 1),
                (10, long_end, data.len() as u64, 0),
            ]
        );
    }

    #[test]
    fn a_cut_falls_on_a_character_boundary() {
        // "é" is two bytes; put one across the limit.
        let mut line = vec![b'a'; MAX_LINE_BYTES - 1];
        line.extend_from_slice("éé".as_bytes());
        assert_eq!(cut_point(&line), MAX_LINE_BYTES - 1);
        let mut data = line.clone();
        data.push(b'\n');
        let (lines, _, cut) = read_all(&data, 0);
        assert_eq!((lines[0].len(), cut), (MAX_LINE_BYTES - 1, 1));
        assert!(std::str::from_utf8(&lines[0]).is_ok());
    }

    #[test]
    fn the_partial_line_is_held_across_fills_and_ends_are_line_ends() {
        let data = b"one\ntwo\nthree\nfo";
        for step in [1, 2, 3, 5, 64] {
            let (lines, ends, cut) = follow(data, step, false);
            assert_eq!(lines, [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
            assert_eq!(*ends.last().expect("an end"), 14, "step {step}");
            assert!(ends.iter().all(|&e| data[e as usize - 1] == b'\n'));
            assert_eq!(cut, 0);
            let (lines, ends, _) = follow(data, step, true);
            assert_eq!(lines.last().map(Vec::as_slice), Some(b"fo".as_slice()));
            assert_eq!(ends.last(), Some(&(data.len() as u64)));
        }
    }

    #[test]
    fn a_followed_long_line_is_cut_held_to_its_newline_and_counted() {
        let mut data = vec![b'x'; MAX_LINE_BYTES + 100];
        data.extend_from_slice(b"\nnext\nhalf");
        for step in [4096, 64 * 1024, MAX_LINE_BYTES] {
            let (lines, ends, cut) = follow(&data, step, false);
            let lens: Vec<usize> = lines.iter().map(Vec::len).collect();
            assert_eq!(lens, [MAX_LINE_BYTES, 4], "step {step}");
            assert_eq!(cut, 1);
            // The cut line's end is past its newline, never inside it.
            assert!(ends.contains(&(MAX_LINE_BYTES as u64 + 101)));
            assert_eq!(ends.last(), Some(&(MAX_LINE_BYTES as u64 + 106)));
        }
    }
}
