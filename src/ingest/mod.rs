//! Reading files once (for `analyze`): folders walked recursively, gzip
//! files decompressed on the fly, files that are not logs (binary data)
//! skipped with a count, each log's envelope and format detected from its
//! first lines (a pretty-printed JSON document is read too: reassembly makes
//! its records), and its lines parsed and stored chunk by chunk so memory stays flat
//! whatever the file size.
//!
//! Invariants: every chunk's events are committed with the offset and line
//! number read up to, in one transaction; a file already read into a
//! persistent database resumes at its committed offset (nothing twice).

use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use grantwatch_parsers::envelope::EnvelopeKind;
use grantwatch_parsers::{Context, Event, FileParser, Format, LineCounts, sniff};

use crate::source::{head_hash, is_documentation, with_year};
use crate::store::{BatchProgress, EvidenceSpill, Store};
use crate::text::{BinaryRuns, text_of_line};

mod chunks;
mod ranges;
#[cfg(test)]
mod tests;
use crate::feed::utf8;
use crate::source::lines::{ChunkReader, read_full};
use chunks::{ChunkDelta, FileChunks, Stopped};
pub use ranges::Split;

use crate::source::SNIFF_BYTES;

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

/// A path that could not be read, and why.
pub type Unreadable = (PathBuf, String);

/// Totals of one `analyze` read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Files read as logs.
    pub files: usize,
    /// Files skipped because they are not logs.
    pub skipped_files: Vec<(PathBuf, &'static str)>,
    /// Files inside the folders given that could not be read (a symlink
    /// loop, a dangling link, an I/O error), with why; the rest was read.
    pub unreadable: Vec<Unreadable>,
    /// Logs that held binary runs (skipped, the text around them read).
    pub binary: Vec<(PathBuf, BinaryRuns)>,
    /// Bytes read.
    pub bytes: u64,
    /// Line counts.
    pub lines: LineCounts,
    /// Lines cut at [`MAX_LINE_BYTES`].
    pub lines_cut: u64,
    /// Events stored.
    pub events: u64,
    /// What each file read turned out to be.
    pub per_file: Vec<FileReport>,
}

/// What one file turned out to be: its envelope and format, and how much of
/// it was understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// The envelope most of its lines came in.
    pub envelope: Option<EnvelopeKind>,
    /// The format of its lines (inside the envelope).
    pub format: Format,
    /// File lines read.
    pub lines: u64,
    /// Records by outcome.
    pub counts: LineCounts,
}

impl FileReport {
    /// Whether most of the file was not understood (more than half of its
    /// records unknown, and at least one).
    pub fn mostly_unknown(&self) -> bool {
        let c = self.counts;
        c.unknown > 0 && c.unknown * 2 > c.parsed + c.skipped + c.unknown
    }

    /// One line for a person: what the file looks like, and how much of it
    /// was read ("looks like docker json-file around an unknown format:
    /// 4812 of 4812 lines unknown").
    pub fn describe(&self) -> String {
        let c = self.counts;
        let records = c.parsed + c.skipped + c.unknown;
        format!(
            "{}: {}: {} lines, {} of {records} records unknown, {} about OAuth",
            self.path.display(),
            self.read_as(),
            self.lines,
            c.unknown,
            c.parsed
        )
    }

    /// What the file was read as ("read as Kubernetes CRI around rails"), or
    /// what it looks like when mostly unknown ("looks like docker
    /// json-file around an unknown format").
    pub fn read_as(&self) -> String {
        let format = if self.mostly_unknown() {
            "an unknown format".to_string()
        } else {
            self.format.as_str().to_string()
        };
        let what = match self.envelope {
            Some(e) => format!("{} around {format}", e.describe()),
            None => format,
        };
        let verb = if self.mostly_unknown() {
            "looks like"
        } else {
            "read as"
        };
        format!("{verb} {what}")
    }
}

/// The name of standard input's copy (see [`copy_stdin`]).
const STDIN_COPY: &str = "grantwatch-standard-input";

/// Copies standard input (`analyze -`: a support person pastes a ticket)
/// into a file in `dir`, so it is read like any file: sniffed, then read in
/// chunks. Reports name it `-`.
pub fn copy_stdin(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(STDIN_COPY);
    let unreadable = |source| Error::Unreadable {
        path: PathBuf::from("-"),
        source,
    };
    let mut file = File::create(&path).map_err(unreadable)?;
    std::io::copy(&mut std::io::stdin().lock(), &mut file).map_err(unreadable)?;
    Ok(path)
}

/// Expands the paths given by the user into files, folders recursively, in a
/// stable order. A path given that does not exist or cannot be read is an
/// error; an entry inside a folder that cannot be walked (a symlink loop, a
/// dangling link, a folder without permission) is returned with why, and
/// the walk goes on.
pub fn collect_files(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<Unreadable>)> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| Error::Unreadable {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = Vec::new();
            for entry in walkdir::WalkDir::new(path).follow_links(true) {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(e) => {
                        let at = e.path().map_or_else(|| path.clone(), Path::to_path_buf);
                        problems.push((at, walk_error(&e)));
                        continue;
                    }
                };
                if entry.file_type().is_file() && !is_documentation(entry.path()) {
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
    problems.sort();
    Ok((files, problems))
}

/// Why a folder entry could not be walked, in words.
fn walk_error(e: &walkdir::Error) -> String {
    if let Some(ancestor) = e.loop_ancestor() {
        return format!("a symlink loop back to {}", ancestor.display());
    }
    e.io_error()
        .map_or_else(|| e.to_string(), std::string::ToString::to_string)
}

pub use crate::text::not_a_log;

fn is_gzip(path: &Path, head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b]) || path.extension().is_some_and(|e| e == "gz")
}

/// What one committed chunk of a file brought.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkDone {
    /// Bytes read.
    pub bytes: u64,
    /// The latest event time in the chunk (ms), if any event had one.
    pub max_ts_ms: Option<i64>,
}

/// Reads one file into the store. `on_chunk` hears about each committed
/// chunk (for a progress bar, and for a diagnosis that follows the reader).
pub fn read_file(
    store: &mut Store,
    input: &Path,
    ctx: &Context,
    forced: Option<Format>,
    split: &Split,
    stats: &mut ReadStats,
    on_chunk: &mut dyn FnMut(&mut Store, ChunkDone) -> crate::store::Result<()>,
) -> Result<()> {
    // Standard input was copied to a file; it is named `-` in reports.
    let path = if input.file_name() == Some(std::ffi::OsStr::new(STDIN_COPY)) {
        Path::new("-")
    } else {
        input
    };
    let unreadable = |source| Error::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(input).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    let mut raw = BufReader::with_capacity(256 * 1024, file);
    let mut probe = vec![0u8; SNIFF_BYTES];
    let n = read_full(&mut raw, &mut probe).map_err(unreadable)?;
    probe.truncate(n);
    let gz = is_gzip(path, &probe);
    let mut reader: Box<dyn Read + Send> = if gz {
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
        .map(|l| text_of_line(l).1)
        .take(grantwatch_parsers::DETECT_LINES)
        .collect();
    let sniffed = sniff(&first_lines, ctx.envelope.forced());
    let format = forced.unwrap_or(sniffed.format);
    let hash = head_hash(&head);
    let source = store.source_for_file(
        &path.to_string_lossy(),
        format.as_str(),
        (meta.dev(), meta.ino()),
        &hash,
    )?;
    // The same file read before into this database: go on where it stopped.
    let resume = source.byte_offset;
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
        progress.read_line_no = source.read_line_no;
    }
    stats.files += 1;
    let ctx = with_year(ctx, &text, &meta);
    let starts = if resume == 0 && !gz {
        split.starts(input, meta.len()).map_err(unreadable)?
    } else {
        vec![0]
    };
    if starts.len() > 1 {
        let job = ranges::Job {
            path: input,
            len: meta.len(),
            starts,
            format,
            ctx: &ctx,
            chunk_bytes: split.chunk_bytes,
            source_id: source.id,
            progress: progress.clone(),
            spill: store.evidence_spill(),
        };
        let read = store.bulk_load(split.jobs, |store| {
            ranges::read(store, &job, &mut |store, bytes| {
                on_chunk(
                    store,
                    ChunkDone {
                        bytes,
                        max_ts_ms: None,
                    },
                )
            })
        });
        match read {
            Ok(read) => return finish_ranges(store, path, &job, read, sniffed.envelope, stats),
            // Nothing of the attempt is left: read on one core below.
            Err(ranges::ReadError::GaveUp) => {}
            Err(ranges::ReadError::Io(source)) => return Err(unreadable(source)),
            Err(ranges::ReadError::Store(e)) => return Err(e.into()),
        }
    }
    // A file that two cores would have read in ranges into a scratch
    // database is loaded in bulk on one as well (one range; a kept
    // database only while it held no events): the events' indexes built once afterwards,
    // no diagnosis following the read meanwhile (it would open a second
    // connection), a tenth of the writes of one commit per chunk into live
    // indexes (benches/README.md). So is every file of an `analyze` of
    // several, which loads them all in one bulk load (`commands::analyze`).
    let in_bulk = store.in_bulk_load()
        || (store.may_load_in_bulk()
            && (split.jobs == 1 || gz)
            && resume == 0
            && meta.len() >= 2 * split.min_range_bytes);
    let one_core = OneCore {
        path,
        source_id: source.id,
        format,
        ctx,
        resume,
        follow: !in_bulk,
    };
    let input = std::io::Cursor::new(head).chain(reader);
    let (parser, runs) = if one_core.follow {
        one_core.read(store, input, &mut progress, stats, on_chunk)?
    } else {
        if *ranges::TRACE {
            eprintln!("ranges: one range, loaded in bulk");
        }
        // Parsed beside the writer on a second core, unless one was asked
        // for (`-j 1`).
        let beside = store.evidence_spill().filter(|_| split.jobs > 1);
        store.bulk_load(1, |store| match beside {
            Some(spill) => {
                one_core.read_beside(store, &spill, input, &mut progress, stats, on_chunk)
            }
            None => one_core.read(store, input, &mut progress, stats, on_chunk),
        })?
    };
    stats.per_file.push(FileReport {
        path: path.to_path_buf(),
        envelope: parser.envelope().or(sniffed.envelope),
        format,
        lines: parser.lines(),
        counts: parser.counts(),
    });
    if runs.lines > 0 {
        stats.binary.push((path.to_path_buf(), runs));
    }
    Ok(())
}

/// A file read on one core: where its events go and whether a diagnosis
/// follows the read (`follow`: each chunk's newest time is told to
/// `on_chunk`; otherwise none is, and the file may be loaded in bulk).
struct OneCore<'c> {
    /// The file's name in reports.
    path: &'c Path,
    source_id: i64,
    format: Format,
    ctx: Context,
    resume: u64,
    follow: bool,
}

impl OneCore<'_> {
    /// Reads `input` (the whole file, head first) from `self.resume` on,
    /// committing each chunk with `progress`; returns the parser (its
    /// counts and envelope) and the binary runs it met.
    fn read(
        self,
        store: &mut Store,
        input: impl Read,
        progress: &mut BatchProgress,
        stats: &mut ReadStats,
        on_chunk: &mut dyn FnMut(&mut Store, ChunkDone) -> crate::store::Result<()>,
    ) -> Result<(FileParser, BinaryRuns)> {
        let OneCore {
            path,
            source_id,
            format,
            ctx,
            resume,
            follow,
        } = self;
        let unreadable = |source| Error::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let mut file = FileChunks::new(FileParser::new(format, ctx), progress.line_no);
        let mut chunks = ChunkReader::new(input, resume).map_err(unreadable)?;
        while let Some(chunk) = chunks.next_chunk().map_err(unreadable)? {
            // Valid UTF-8 is the rule: borrow the whole chunk, and let events
            // borrow from it until the chunk is committed.
            let text = utf8(chunk.text);
            let mut events: Vec<Event<'_>> = Vec::new();
            let delta = file.parse(&text, &chunk, &mut events);
            store_chunk(store, source_id, &events, None, &delta, progress, stats)?;
            let max_ts_ms = follow
                .then(|| {
                    events
                        .iter()
                        .filter_map(|e| e.ts)
                        .map(|t| t.utc.timestamp_millis())
                        .max()
                })
                .flatten();
            on_chunk(
                store,
                ChunkDone {
                    bytes: delta.bytes,
                    max_ts_ms,
                },
            )?;
        }
        let mut events = Vec::new();
        let delta = file.flush(&mut events);
        store_chunk(store, source_id, &events, None, &delta, progress, stats)?;
        Ok(file.finish())
    }

    /// [`OneCore::read`] in a bulk load, with the file parsed on a thread
    /// of its own beside this one, which stores (`chunks::parse_beside`):
    /// the same events, counts and progress.
    fn read_beside(
        self,
        store: &mut Store,
        spill: &EvidenceSpill,
        input: impl Read + Send,
        progress: &mut BatchProgress,
        stats: &mut ReadStats,
        on_chunk: &mut dyn FnMut(&mut Store, ChunkDone) -> crate::store::Result<()>,
    ) -> Result<(FileParser, BinaryRuns)> {
        let unreadable = |source| Error::Unreadable {
            path: self.path.to_path_buf(),
            source,
        };
        let file = FileChunks::new(FileParser::new(self.format, self.ctx), progress.line_no);
        let chunks = ChunkReader::new(input, self.resume).map_err(unreadable)?;
        let source_id = self.source_id;
        let stored = chunks::parse_beside(file, chunks, spill, &mut |parsed| {
            let (events, places, delta) = (parsed.events, parsed.places, parsed.delta);
            store_chunk(
                store,
                source_id,
                &events,
                Some(&places),
                &delta,
                progress,
                stats,
            )?;
            // The flush covers no bytes, and `read` tells no chunk for it.
            if delta.bytes > 0 {
                let done = ChunkDone {
                    bytes: delta.bytes,
                    max_ts_ms: None,
                };
                on_chunk(store, done)?;
            }
            Ok::<_, Error>(())
        });
        stored.map_err(|stopped| match stopped {
            Stopped::Read(e) => unreadable(e),
            Stopped::Spill(e) => Error::Store(e.into()),
            Stopped::Store(e) => e,
        })
    }
}

/// Takes one chunk's `delta` into `progress` and commits the chunk's
/// events with it.
fn store_chunk(
    store: &mut Store,
    source_id: i64,
    events: &[Event<'_>],
    places: Option<&[u64]>,
    delta: &ChunkDelta,
    progress: &mut BatchProgress,
    stats: &mut ReadStats,
) -> Result<()> {
    progress.byte_offset = delta.byte_offset;
    progress.line_no = delta.line_no;
    progress.lines_cut = delta.lines_cut;
    progress.counts = delta.counts;
    progress.envelope = delta.envelope;
    stats.bytes += delta.bytes;
    commit(store, source_id, events, places, progress, stats)
}

/// Stores and reports what reading `job` in ranges counted, as the end of
/// a one-core read would.
fn finish_ranges(
    store: &mut Store,
    path: &Path,
    job: &ranges::Job<'_>,
    read: ranges::RangesRead,
    sniffed: Option<EnvelopeKind>,
    stats: &mut ReadStats,
) -> Result<()> {
    let envelope = read.tally.main_envelope();
    let progress = BatchProgress {
        byte_offset: job.len,
        line_no: read.tally.lines,
        read_line_no: read.tally.lines,
        counts: read.tally.counts,
        lines_cut: read.lines_cut,
        envelope: envelope.map(|e| e.as_str()),
        ..job.progress.clone()
    };
    stats.bytes += job.len;
    stats.events += read.events;
    commit(store, job.source_id, &[], None, &progress, stats)?;
    stats.per_file.push(FileReport {
        path: path.to_path_buf(),
        envelope: envelope.or(sniffed),
        format: job.format,
        lines: read.tally.lines,
        counts: read.tally.counts,
    });
    Ok(())
}

/// Commits `events` of `source_id` with `progress` (their lines at
/// `places` in the spill file when a reader wrote them there) and counts
/// them.
fn commit(
    store: &mut Store,
    source_id: i64,
    events: &[Event<'_>],
    places: Option<&[u64]>,
    progress: &BatchProgress,
    stats: &mut ReadStats,
) -> Result<()> {
    match places {
        Some(places) => store.commit_spilled_batch(source_id, events, places, progress)?,
        None => store.commit_batch(source_id, events, progress)?,
    };
    stats.events += events.len() as u64;
    stats.lines.parsed += progress.counts.parsed;
    stats.lines.skipped += progress.counts.skipped;
    stats.lines.unknown += progress.counts.unknown;
    stats.lines_cut += progress.lines_cut;
    Ok(())
}
