//! One followed file generation as `watch` keeps it: the parser its lines
//! go through, how far it was read ([`Followed::read`], the tailer's own
//! checkpoint) and the chunks a held record may pull the resume point back
//! to (`progress.rs` computes that point from them), its head as read.
//!
//! Invariant: `read` is always the end of a chunk the tailer handed out (a
//! line boundary); the resume point committed is `read` or the start of an
//! earlier chunk, never past it.

use std::collections::VecDeque;
use std::time::Instant;

use grantwatch_parsers::FileParser;

use crate::store::SourceInfo;
use crate::tail::Checkpoint;
use crate::text::BinaryRuns;

/// One followed file generation.
pub(super) struct Followed {
    /// The source spec (and its tailer) the file belongs to.
    pub(super) stream: usize,
    pub(super) source: SourceInfo,
    pub(super) parser: FileParser,
    /// (first line number, start offset) of the chunks read since the last
    /// checkpoint that had no record held.
    pub(super) chunks: VecDeque<(u64, u64)>,
    /// How far the file was read: the tailer's checkpoint of the last chunk
    /// ([`Lines::checkpoint`](crate::tail::Lines::checkpoint)), from which each commit's resume point is
    /// held back (`progress::checkpoint`).
    pub(super) read: Checkpoint,
    /// The highest line counted.
    pub(super) counted: u64,
    pub(super) last_data: Instant,
    /// The file's first bytes as read (up to [`HEAD_BYTES`](crate::tail::HEAD_BYTES)), to hash
    /// exactly the bytes a checkpoint covers; `None` once they cannot be
    /// rebuilt (a cut line).
    pub(super) head: Option<Vec<u8>>,
    /// Binary runs read past in this generation.
    pub(super) binary: BinaryRuns,
}
