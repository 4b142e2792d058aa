//! Reading a byte stream in chunks of whole lines, without copying the
//! lines: what `analyze` parses, one chunk at a time, so memory stays flat
//! whatever the file's size. Invariant: every byte is handed out once, in
//! order, in whole lines (a line over [`MAX_LINE_BYTES`] cut and counted),
//! and the offset after a chunk is where the next read starts.

use std::io::Read;

use crate::source::MAX_LINE_BYTES;

/// Bytes read per chunk.
pub(super) const CHUNK_BYTES: usize = 1024 * 1024;

/// Fills `buf` from `r` as far as the stream goes (a short read is not
/// its end): how many bytes it holds.
pub(super) fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
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

/// One chunk of whole lines, borrowed from the reader's buffer.
pub(super) struct Chunk<'b> {
    /// The lines, without the chunk's last newline.
    pub(super) text: &'b [u8],
    /// Stream offset of the chunk's first byte.
    pub(super) start: u64,
    /// Stream offset just past the chunk (its last newline included).
    pub(super) end: u64,
    /// Lines the reader cut since the last chunk.
    pub(super) cut: u64,
}

/// Reads a byte stream in chunks of whole lines without copying them: a
/// chunk is the buffer up to its last newline; the partial line after it is
/// moved to the front for the next read. A line longer than the buffer is cut
/// at [`MAX_LINE_BYTES`] and the rest of it dropped.
pub(super) struct ChunkReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Bytes of `buf` holding data.
    filled: usize,
    /// Bytes of `buf` handed out by the last chunk (with their newline).
    consumed: usize,
    /// Offset in the stream just past the last chunk handed out.
    offset: u64,
    /// Lines cut by the reader not yet reported.
    cut: u64,
    /// Bytes a read fills `buf` up to while no line is longer (the whole
    /// buffer for `analyze`'s one-core reader).
    fill_to: usize,
    /// Dropping the rest of an over-long line.
    dropping: bool,
    eof: bool,
}

impl<R: Read> ChunkReader<R> {
    pub(super) fn new(mut inner: R, skip: u64) -> std::io::Result<Self> {
        let skipped = std::io::copy(&mut (&mut inner).take(skip), &mut std::io::sink())?;
        let mut reader = Self::with_chunk_bytes(inner, CHUNK_BYTES);
        reader.offset = skipped;
        reader.fill_to = reader.buf.len();
        Ok(reader)
    }

    /// A reader from the stream's current position (offset 0), handing out
    /// chunks of at most `chunk_bytes` (more when one line is longer).
    pub(super) fn with_chunk_bytes(inner: R, chunk_bytes: usize) -> Self {
        ChunkReader {
            inner,
            buf: vec![0; chunk_bytes.max(1) + MAX_LINE_BYTES],
            filled: 0,
            consumed: 0,
            offset: 0,
            cut: 0,
            fill_to: chunk_bytes.max(1),
            dropping: false,
            eof: false,
        }
    }

    /// The next chunk of whole lines; `None` at the end. A last line
    /// without newline is taken as a line.
    pub(super) fn next_chunk(&mut self) -> std::io::Result<Option<Chunk<'_>>> {
        self.buf.copy_within(self.consumed..self.filled, 0);
        self.filled -= self.consumed;
        self.consumed = 0;
        loop {
            if !self.eof && self.filled < self.buf.len() {
                // A line longer than `fill_to`: read on, up to the whole buffer.
                let target = if self.filled < self.fill_to {
                    self.fill_to
                } else {
                    self.buf.len()
                };
                let n = read_full(&mut self.inner, &mut self.buf[self.filled..target])?;
                self.eof = n == 0 || self.filled + n < target;
                self.filled += n;
            }
            if self.dropping {
                match memchr::memchr(b'\n', &self.buf[..self.filled]) {
                    Some(nl) => {
                        self.dropping = false;
                        self.offset += nl as u64 + 1;
                        self.buf.copy_within(nl + 1..self.filled, 0);
                        self.filled -= nl + 1;
                    }
                    None => {
                        self.offset += self.filled as u64;
                        self.filled = 0;
                        if self.eof {
                            return Ok(None);
                        }
                    }
                }
                continue;
            }
            if self.filled == 0 {
                return Ok(None);
            }
            let start = self.offset;
            let (len, cut) = if let Some(nl) = memchr::memrchr(b'\n', &self.buf[..self.filled]) {
                self.consumed = nl + 1;
                (nl, 0)
            } else if self.eof {
                self.consumed = self.filled;
                (self.filled, 0)
            } else if self.filled < self.buf.len() {
                continue;
            } else {
                // A line longer than the whole buffer: cut it, drop its rest.
                self.dropping = true;
                self.consumed = self.filled;
                (MAX_LINE_BYTES, 1)
            };
            self.offset += self.consumed as u64;
            return Ok(Some(Chunk {
                text: &self.buf[..len],
                start,
                end: self.offset,
                cut: std::mem::take(&mut self.cut) + cut,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(data: &[u8], skip: u64) -> (Vec<Vec<u8>>, u64, u64) {
        let mut r = ChunkReader::new(std::io::Cursor::new(data.to_vec()), skip).expect("reader");
        let mut lines = Vec::new();
        let mut cuts = 0;
        while let Some(chunk) = r.next_chunk().expect("chunk") {
            lines.extend(chunk.text.split(|&b| b == b'\n').map(<[u8]>::to_vec));
            cuts += chunk.cut;
        }
        (lines, r.offset, cuts)
    }

    #[test]
    fn whole_lines_a_last_line_without_newline_and_offsets() {
        let (lines, offset, cut) = lines_of(b"a\nbb\nccc", 0);
        assert_eq!(lines, vec![b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()]);
        assert_eq!((offset, cut), (8, 0));
        let (lines, _, _) = lines_of(b"a\nbb\nccc\n", 2);
        assert_eq!(lines, vec![b"bb".to_vec(), b"ccc".to_vec()]);
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_cut_and_the_next_line_survives() {
        let mut data = vec![b'x'; CHUNK_BYTES + MAX_LINE_BYTES + 10];
        data.extend_from_slice(b"\nnext\n");
        let (lines, offset, cut) = lines_of(&data, 0);
        assert_eq!(cut, 1);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE_BYTES);
        assert_eq!(lines[1], b"next");
        assert_eq!(offset, data.len() as u64);
    }
}
