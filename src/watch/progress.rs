//! What `watch` commits with each batch of a file: the checkpoint (where a
//! restart resumes, held back to the start of a record a parser still
//! holds) and the identity a restart checks it against (the fingerprint of
//! the first bytes read, up to [`HEAD_BYTES`]), and the file's head as read,
//! from which that fingerprint is computed.
//!
//! A followed file's position has one type, the tailer's [`Checkpoint`]:
//! what was read is [`Lines::checkpoint`], the resume point is derived from
//! it here, and [`batch_progress`] and [`resume_point`] are the one place it
//! is turned into the store's row and back.
//!
//! Invariant: the fingerprint covers every byte read (up to 1 KiB), not
//! only those before the resume point, so that lines stored past a held
//! resume point are skipped on a restart only if they are the same bytes.

use std::path::Path;

use grantwatch_parsers::envelope::EnvelopeKind;
use grantwatch_parsers::{Context, Event, LineCounts, Outcome};

use super::followed::Followed;
use crate::feed::LineHooks;
use crate::store::{BatchProgress, SourceInfo};
use crate::tail::{Checkpoint, HEAD_BYTES, Lines};

/// The checkpoint to commit after `f`'s latest chunk: its end, or, while a
/// record is held, the start of the chunk that record began in.
pub(super) fn checkpoint(f: &mut Followed, counts: LineCounts, cut: u64) -> BatchProgress {
    let (offset, line_no) = match f.parser.oldest_pending_line() {
        None => {
            f.chunks.clear();
            (f.read.offset, f.read.line_no)
        }
        Some(pending) => {
            // Keep only the chunk the held record starts in, and later ones.
            while f.chunks.len() > 1 && f.chunks.get(1).is_some_and(|(first, _)| *first <= pending)
            {
                f.chunks.pop_front();
            }
            f.chunks
                .front()
                .map_or((f.read.offset, f.read.line_no), |(first, start)| {
                    (*start, first - 1)
                })
        }
    };
    // The identity a restart checks covers every byte read, up to 1 KiB,
    // not only those before the resume point: lines past it were stored,
    // and a restart skips them as such (`counted`), so the file must be
    // the one they were read from. A held record can keep the resume point
    // at 0 while its lines are stored; a hash of 0 bytes would let any
    // rewritten file pass (the model test's seed 7680933859065218064).
    let read = (f.read.offset as usize).min(HEAD_BYTES);
    let head_hash = match &f.head {
        Some(head) if head.len() >= read => crate::tail::fingerprint(&head[..read], offset),
        // Else the tailer's hash of what was read (the same `read` bytes),
        // in the same form.
        _ if read as u64 == offset.min(HEAD_BYTES as u64) => f.read.head_hash.clone(),
        _ => format!("{}:{read}", f.read.head_hash),
    };
    let resume = Checkpoint {
        path: f.read.path.clone(),
        dev: f.read.dev,
        inode: f.read.inode,
        head_hash,
        offset,
        line_no,
    };
    batch_progress(resume, f.read.line_no, counts, cut, f.parser.envelope())
}

/// The store's progress row of a batch committed with `resume` as its
/// checkpoint, `read_line_no` the last line read.
fn batch_progress(
    resume: Checkpoint,
    read_line_no: u64,
    counts: LineCounts,
    lines_cut: u64,
    envelope: Option<EnvelopeKind>,
) -> BatchProgress {
    BatchProgress {
        dev: Some(resume.dev),
        inode: Some(resume.inode),
        head_hash: Some(resume.head_hash),
        byte_offset: resume.offset,
        line_no: resume.line_no,
        read_line_no,
        counts,
        lines_cut,
        envelope: envelope.map(|e| e.as_str()),
    }
}

/// Where the tailer resumes a file the store has a checkpoint of (none for a
/// row without the file's identity).
pub(super) fn resume_point(s: &SourceInfo) -> Option<Checkpoint> {
    Some(Checkpoint {
        path: s.path.clone().into(),
        dev: s.dev?,
        inode: s.inode?,
        head_hash: s.head_hash.clone()?,
        offset: s.byte_offset,
        line_no: s.line_no,
    })
}

/// Year and date of year- or date-less lines for a tailed file, as
/// `analyze` infers them.
pub(super) fn context_for(ctx: &Context, head: &str, path: &Path) -> Context {
    match std::fs::metadata(path) {
        Ok(meta) => crate::source::with_year(ctx, head, &meta),
        Err(_) => ctx.clone(),
    }
}

/// The first `min(offset, HEAD_BYTES)` bytes of a file resumed at `offset`
/// (the tailer has just checked they are the ones the checkpoint hashed);
/// `None` when they cannot be read.
pub(super) fn read_head(path: &Path, offset: u64) -> Option<Vec<u8>> {
    let head = read_prefix(path, (offset as usize).min(HEAD_BYTES))?;
    (head.len() as u64 == offset.min(HEAD_BYTES as u64)).then_some(head)
}

/// Up to `limit` first bytes of the file at `path`.
pub(super) fn read_prefix(path: &Path, limit: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(limit.min(64 * 1024));
    std::fs::File::open(path)
        .ok()?
        .take(limit as u64)
        .read_to_end(&mut head)
        .ok()?;
    Some(head)
}

/// Extends `f.head` with the bytes of `lines` that fall in the file's first
/// [`HEAD_BYTES`], rebuilt from the lines (each ended by a newline but a
/// last partial one); gives up on a chunk that does not add up (a cut line).
pub(super) fn note_head(f: &mut Followed, lines: &Lines) {
    let Some(head) = &mut f.head else {
        return;
    };
    if head.len() >= HEAD_BYTES || f.read.offset != head.len() as u64 {
        return;
    }
    let span = lines.end_offset.saturating_sub(f.read.offset);
    let mut raw = lines.bytes.clone();
    if span == raw.len() as u64 + 1 {
        raw.push(b'\n');
    } else if span != raw.len() as u64 {
        f.head = None;
        return;
    }
    let take = raw.len().min(HEAD_BYTES - head.len());
    head.extend_from_slice(&raw[..take]);
}

/// Counts the lines past `counted` by outcome, and drops what the lines up
/// to it completed: read again after a restart, those were stored by the
/// batch that first read them (that batch's commit is what moved `counted`
/// past them), and storing them again would double a record whose start
/// lies before the resume point, read now without its first lines.
pub(super) struct Counting {
    pub(super) counted: u64,
    pub(super) counts: LineCounts,
}

impl LineHooks for Counting {
    fn fed<'t>(
        &mut self,
        line_no: u64,
        outcome: Outcome,
        events: &mut Vec<Event<'t>>,
        mark: usize,
    ) {
        if line_no <= self.counted {
            events.truncate(mark);
            return;
        }
        match outcome {
            Outcome::Parsed => self.counts.parsed += 1,
            Outcome::Skipped => self.counts.skipped += 1,
            Outcome::Unknown => self.counts.unknown += 1,
        }
    }
}
