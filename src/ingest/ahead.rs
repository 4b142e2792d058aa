//! The next file of a folder parsed while the one before it is stored
//! (`analyze` into a database loaded in bulk): files read on one core each
//! (under 16 MiB, or gzip) were parsed one after the other on one thread
//! beside the writer, one core idle for most of a folder of rotated logs.
//!
//! Invariants: a file parsed ahead is read from its start, as its turn
//! would read it (same head, format, context and chunks); it is used only
//! when its turn reads it that way (in a bulk load, beside the writer,
//! from offset 0), else dropped, its thread stopping at its next chunk and
//! the evidence lines it wrote to the spill file never published. A file
//! that would be read in ranges is not parsed ahead (its readers take both
//! cores), nor one of the same device and inode as the file being read (its
//! turn may resume where that one ends).

use std::io::Read as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use grantwatch_parsers::FileParser;

use super::chunks::{FileChunks, Lead, Parsing};
use super::open::{LogHead, Opened, Plan, open_log};
use crate::source::lines::ChunkReader;
use crate::store::EvidenceSpill;

/// How far a file parsed ahead may run while the file before it is
/// stored: the whole of a gzip file of 100 MB of a Rails log (a folder of
/// ten: 1.52 → 0.97–1.03 s; 32 chunks ahead gave 1.23 s), but no more than
/// 8,192 events, a few chunks of a log whose every line is an event (an
/// owned Keycloak event is about 1.4 KB: with 32,768, a folder of two gzip
/// Keycloak logs peaked 45 MB higher, with 8,192 17 MB; benches/README.md).
const AHEAD: Lead = Lead {
    chunks: 128,
    events: 8_192,
};

/// Bytes of a chunk of a file parsed ahead: its parser's buffer beside
/// the one of the file being read (8 MiB).
const AHEAD_CHUNK_BYTES: usize = 1 << 20;

/// The file parsed ahead, if any.
#[derive(Debug, Default)]
pub struct Ahead {
    parsing: Option<(PathBuf, Box<LogHead>, Parsing)>,
}

impl Ahead {
    /// Starts parsing `next` on a thread of its own, unless it is not a
    /// log, cannot be opened (its turn says why), would be read in ranges,
    /// or is the file `now` being read.
    pub(super) fn start(
        &mut self,
        next: &Path,
        now: &LogHead,
        plan: &Plan<'_>,
        spill: Arc<EvidenceSpill>,
    ) {
        self.parsing = None;
        let Ok(Opened::Log(log, reader)) = open_log(next, next, plan.ctx, plan.forced) else {
            return;
        };
        let same_file = (log.meta.dev(), log.meta.ino()) == (now.meta.dev(), now.meta.ino());
        if same_file || (!log.gz && plan.split.ranges(log.meta.len()) >= 2) {
            return;
        }
        let file = FileChunks::new(FileParser::new(log.format, log.ctx.clone()), 0);
        let input = std::io::Cursor::new(log.head.clone()).chain(reader);
        let chunks = ChunkReader::with_chunk_bytes(input, AHEAD_CHUNK_BYTES);
        let log_file = log.readable_again().then(|| spill.log_file(next));
        if let Ok(parsing) = Parsing::start(file, chunks, (spill, log_file), AHEAD) {
            self.parsing = Some((next.to_path_buf(), log, parsing));
        }
    }

    /// The file `input` parsed ahead: its head and its chunks.
    pub(super) fn take(&mut self, input: &Path) -> Option<(Box<LogHead>, Parsing)> {
        match self.parsing.take() {
            Some((path, log, parsing)) if path == input => Some((log, parsing)),
            _ => None,
        }
    }
}
