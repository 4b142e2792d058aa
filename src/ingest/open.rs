//! Opening one input of `analyze`: the file, its gzip layer, its first
//! bytes (the head) read to tell a log from other data and to detect its
//! envelope and format, and the context its year-less lines take from the
//! head and the file's time, and how a read reads its files ([`Plan`]).
//! No store is touched: a file may be opened ahead of its turn
//! (`ahead.rs`).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use grantwatch_parsers::envelope::EnvelopeKind;
use grantwatch_parsers::{Context, Format, sniff};

use super::ranges::Split;
use crate::source::lines::read_full;
use crate::source::{SNIFF_BYTES, head_hash, with_year};
use crate::text::text_of_line;

/// How the files of one read are read: the parsers' context, a format
/// forced on all, and how a file may be split across cores.
#[derive(Clone, Copy, Debug)]
pub struct Plan<'a> {
    /// The parsers' context (zone, year, fingerprint key).
    pub ctx: &'a Context,
    /// One format for every file, instead of each file's detected one.
    pub forced: Option<Format>,
    /// How a large file is read on several cores.
    pub split: &'a Split,
}

/// What a log's head told.
#[derive(Debug)]
pub(super) struct LogHead {
    pub(super) meta: std::fs::Metadata,
    /// Read through gzip.
    pub(super) gz: bool,
    /// Its first (decompressed) bytes.
    pub(super) head: Vec<u8>,
    /// The envelope its first lines came in.
    pub(super) envelope: Option<EnvelopeKind>,
    /// The format its lines are read as (detected, or forced).
    pub(super) format: Format,
    /// The parsers' context, with the year its head or time gives.
    pub(super) ctx: Context,
    /// The hash of its head (its identity with its device and inode).
    pub(super) hash: String,
}

impl LogHead {
    /// Whether a line read from this input can be read again at its
    /// offset: a regular file read as it is (not a gzip file, whose
    /// offsets are its inflated stream's, nor a pipe such as `<(zcat …)`,
    /// which cannot be read twice).
    pub(super) fn readable_again(&self) -> bool {
        !self.gz && self.meta.is_file()
    }
}

/// An input opened: a log (its head, and a reader of its bytes after the
/// head), or why it is not one.
pub(super) enum Opened {
    Log(Box<LogHead>, Box<dyn Read + Send>),
    NotALog(&'static str),
}

/// Opens `input` (named `path` in reports, which the gzip test also looks
/// at) and reads its head.
pub(super) fn open_log(
    input: &Path,
    path: &Path,
    ctx: &Context,
    forced: Option<Format>,
) -> std::io::Result<Opened> {
    let file = File::open(input)?;
    let meta = file.metadata()?;
    let mut raw = BufReader::with_capacity(256 * 1024, file);
    let mut probe = vec![0u8; SNIFF_BYTES];
    let n = read_full(&mut raw, &mut probe)?;
    probe.truncate(n);
    let gz = is_gzip(path, &probe);
    let mut reader: Box<dyn Read + Send> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(
            std::io::Cursor::new(probe).chain(raw),
        ))
    } else {
        Box::new(std::io::Cursor::new(probe).chain(raw))
    };
    // Sniff the (decompressed) head.
    let mut head = vec![0u8; SNIFF_BYTES];
    let hn = read_full(&mut reader, &mut head)?;
    head.truncate(hn);
    if let Some(why) = crate::text::not_a_log(&head) {
        return Ok(Opened::NotALog(why));
    }
    let text = String::from_utf8_lossy(&head);
    let first_lines: Vec<&str> = text
        .lines()
        .map(|l| text_of_line(l).1)
        .take(grantwatch_parsers::DETECT_LINES)
        .collect();
    let sniffed = sniff(&first_lines, ctx.envelope.forced());
    let ctx = with_year(ctx, &text, &meta);
    let hash = head_hash(&head);
    let log = LogHead {
        meta,
        gz,
        envelope: sniffed.envelope,
        format: forced.unwrap_or(sniffed.format),
        ctx,
        hash,
        head,
    };
    Ok(Opened::Log(Box::new(log), reader))
}

fn is_gzip(path: &Path, head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b]) || path.extension().is_some_and(|e| e == "gz")
}
