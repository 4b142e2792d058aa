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
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use grantwatch_parsers::envelope::EnvelopeKind;
use grantwatch_parsers::{Context, Event, FileParser, Format};

use crate::source::is_documentation;
use crate::store::{BatchProgress, EvidenceSpill, InFile, LogFileId, SpillBatch, Store};
use crate::text::BinaryRuns;

mod ahead;
mod chunks;
mod line_prefix;
mod open;
mod owned_events;
mod ranges;
mod stats;
#[cfg(test)]
mod tests;
use crate::feed::utf8;
use crate::source::lines::ChunkReader;
pub use ahead::Ahead;
use chunks::{ChunkDelta, FileChunks, Lead, Parsing, Stopped};
pub use open::Plan;
use open::{Opened, open_log};
pub use ranges::Split;
pub use stats::{ChunkDone, FileReport, ReadStats, Unreadable};

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

/// Reads one file into the store. `on_chunk` hears about each committed
/// chunk (for a progress bar, and for a diagnosis that follows the reader).
#[cfg(test)]
pub fn read_file(
    store: &mut Store,
    input: &Path,
    ctx: &Context,
    forced: Option<Format>,
    split: &Split,
    stats: &mut ReadStats,
    on_chunk: &mut dyn FnMut(&mut Store, ChunkDone) -> crate::store::Result<()>,
) -> Result<()> {
    let plan = Plan { ctx, forced, split };
    read_file_ahead(
        store,
        input,
        None,
        &plan,
        &mut Ahead::default(),
        stats,
        on_chunk,
    )
}

/// [`read_file`], and the next file of a folder (`next`) parsed beside
/// this one while its chunks are stored (`ahead.rs`); a file `ahead`
/// already parses is taken from it.
pub fn read_file_ahead(
    store: &mut Store,
    input: &Path,
    next: Option<&Path>,
    plan: &Plan<'_>,
    ahead: &mut Ahead,
    stats: &mut ReadStats,
    on_chunk: &mut dyn FnMut(&mut Store, ChunkDone) -> crate::store::Result<()>,
) -> Result<()> {
    let split = plan.split;
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
    let (log, bytes) = match ahead.take(input) {
        Some((log, parsing)) => (log, Bytes::Parsed(parsing)),
        None => match open_log(input, path, plan.ctx, plan.forced).map_err(unreadable)? {
            Opened::Log(log, reader) => (log, Bytes::Reader(reader)),
            Opened::NotALog(why) => {
                stats.skipped_files.push((path.to_path_buf(), why));
                return Ok(());
            }
        },
    };
    let source = store.source_for_file(
        &path.to_string_lossy(),
        log.format.as_str(),
        (log.meta.dev(), log.meta.ino()),
        &log.hash,
    )?;
    // The same file read before into this database: go on where it stopped.
    let resume = source.byte_offset;
    let mut progress = BatchProgress {
        dev: Some(log.meta.dev()),
        inode: Some(log.meta.ino()),
        head_hash: Some(log.hash.clone()),
        byte_offset: 0,
        line_no: 0,
        ..BatchProgress::default()
    };
    if resume > 0 {
        progress.line_no = source.line_no;
        progress.read_line_no = source.read_line_no;
    }
    stats.files += 1;
    let parsed_ahead = matches!(bytes, Bytes::Parsed(_));
    let starts = if resume == 0 && !log.gz && !parsed_ahead {
        split.starts(input, log.meta.len()).map_err(unreadable)?
    } else {
        vec![0]
    };
    let tried_ranges = starts.len() > 1;
    if tried_ranges {
        let job = ranges::Job {
            path: input,
            len: log.meta.len(),
            starts,
            format: log.format,
            ctx: &log.ctx,
            chunk_bytes: split.chunk_bytes,
            source_id: source.id,
            progress: progress.clone(),
            spill: store.evidence_spill(),
            log_file: store
                .evidence_spill()
                .filter(|_| log.readable_again())
                .map(|spill| spill.log_file(input)),
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
            Ok(read) => return finish_ranges(store, path, &job, read, log.envelope, stats),
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
    // A file whose ranges found no handover point is loaded as one core
    // loads it: read with the diagnosis following, a file whose requests
    // an origin's parser split (two hosts taking turns) was diagnosed
    // otherwise than by `-j 1`, and more slowly.
    let in_bulk = store.in_bulk_load()
        || (store.may_load_in_bulk()
            && (split.jobs == 1 || log.gz || tried_ranges)
            && resume == 0
            && log.meta.len() >= 2 * split.min_range_bytes);
    // Parsed beside the writer on a second core, unless one was asked for
    // (`-j 1`).
    let beside = store.evidence_spill().filter(|_| in_bulk && split.jobs > 1);
    let bytes = match bytes {
        Bytes::Parsed(parsing) if beside.is_some() && resume == 0 => Bytes::Parsed(parsing),
        // Parsed ahead for a read this one is not (the same file read
        // before, to its end or part of it): opened again.
        Bytes::Parsed(_) => {
            match open_log(input, path, plan.ctx, plan.forced).map_err(unreadable)? {
                Opened::Log(_, reader) => Bytes::Reader(reader),
                Opened::NotALog(why) => return Err(unreadable(std::io::Error::other(why))),
            }
        }
        reader => reader,
    };
    let one_core = OneCore {
        path,
        source_id: source.id,
        format: log.format,
        ctx: log.ctx.clone(),
        resume,
        follow: !in_bulk,
        log_file: store
            .evidence_spill()
            .filter(|_| log.readable_again())
            .map(|spill| spill.log_file(input)),
    };
    let (parser, runs) = match (bytes, beside) {
        (Bytes::Reader(reader), None) => {
            let input = std::io::Cursor::new(log.head.clone()).chain(reader);
            if one_core.follow {
                one_core.read(store, input, &mut progress, stats, on_chunk)?
            } else {
                if *ranges::TRACE {
                    eprintln!("ranges: one range, loaded in bulk");
                }
                store.bulk_load(1, |store| {
                    one_core.read(store, input, &mut progress, stats, on_chunk)
                })?
            }
        }
        (bytes, Some(spill)) => {
            if *ranges::TRACE {
                eprintln!("ranges: one range, loaded in bulk");
            }
            let parsing = match bytes {
                Bytes::Parsed(parsing) => parsing,
                Bytes::Reader(reader) => {
                    let stream = std::io::Cursor::new(log.head.clone()).chain(reader);
                    let file = FileChunks::new(
                        FileParser::new(log.format, log.ctx.clone()),
                        progress.line_no,
                    );
                    let chunks = ChunkReader::new(stream, resume).map_err(unreadable)?;
                    let log_file = log.readable_again().then(|| spill.log_file(input));
                    Parsing::start(file, chunks, (Arc::clone(&spill), log_file), BESIDE)
                        .map_err(unreadable)?
                }
            };
            if let Some(next) = next {
                ahead.start(next, &log, plan, Arc::clone(&spill));
            }
            store.bulk_load(1, |store| {
                one_core.store_parsed(store, parsing, &mut progress, stats, on_chunk)
            })?
        }
        (Bytes::Parsed(_), None) => unreachable!("a file parsed ahead is read beside the writer"),
    };
    stats.per_file.push(FileReport {
        path: path.to_path_buf(),
        envelope: parser.envelope().or(log.envelope),
        format: log.format,
        lines: parser.lines(),
        counts: parser.counts(),
    });
    if runs.lines > 0 {
        stats.binary.push((path.to_path_buf(), runs));
    }
    Ok(())
}

/// How far the file being read is parsed ahead of the writer: two chunks
/// (memory stays flat when the writer is the slower).
const BESIDE: Lead = Lead {
    chunks: 2,
    events: usize::MAX,
};

/// The bytes of a file after its head: still to be read, or parsed ahead.
enum Bytes {
    Reader(Box<dyn Read + Send>),
    Parsed(Parsing),
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
    /// The file as the scratch database's evidence file names it, when
    /// it can be read again at the offsets read (`LogHead::readable_again`):
    /// an evidence line read from it unchanged is written as its place
    /// there.
    log_file: Option<LogFileId>,
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
            log_file,
        } = self;
        let unreadable = |source| Error::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let mut file = FileChunks::new(FileParser::new(format, ctx), progress.line_no);
        let mut chunks = ChunkReader::new(input, resume).map_err(unreadable)?;
        let mut spilled = store
            .evidence_spill()
            .map(|spill| (spill, SpillBatch::new()));
        while let Some(chunk) = chunks.next_chunk().map_err(unreadable)? {
            // Valid UTF-8 is the rule: borrow the whole chunk, and let events
            // borrow from it until the chunk is committed.
            let text = utf8(chunk.text);
            let mut events: Vec<Event<'_>> = Vec::new();
            let delta = file.parse(&text, &chunk, &mut events);
            let in_file = chunks::in_file(log_file, &chunk, 0);
            let places = spill_lines(spilled.as_mut(), &mut events, in_file)?;
            store_chunk(
                store,
                source_id,
                &events,
                places.as_deref(),
                &delta,
                progress,
                stats,
            )?;
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
        let places = spill_lines(spilled.as_mut(), &mut events, None)?;
        store_chunk(
            store,
            source_id,
            &events,
            places.as_deref(),
            &delta,
            progress,
            stats,
        )?;
        Ok(file.finish())
    }

    /// [`OneCore::read`] in a bulk load, with the file parsed on a thread
    /// of its own beside this one (`parsing`), which stores: the same
    /// events, counts and progress.
    fn store_parsed(
        self,
        store: &mut Store,
        parsing: Parsing,
        progress: &mut BatchProgress,
        stats: &mut ReadStats,
        on_chunk: &mut dyn FnMut(&mut Store, ChunkDone) -> crate::store::Result<()>,
    ) -> Result<(FileParser, BinaryRuns)> {
        let unreadable = |source| Error::Unreadable {
            path: self.path.to_path_buf(),
            source,
        };
        let source_id = self.source_id;
        let stored = parsing.store_each(&mut |parsed| {
            let (events, places, delta) = (parsed.events, parsed.places, parsed.delta);
            store_chunk(
                store,
                source_id,
                events.events(),
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

/// Writes the evidence lines of `events` to the scratch database's
/// evidence file, when there is one (with its batch), as a range's reader
/// does: returns where each event's lines are.
fn spill_lines(
    spilled: Option<&mut (Arc<EvidenceSpill>, SpillBatch)>,
    events: &mut [Event<'_>],
    in_file: Option<InFile<'_>>,
) -> Result<Option<Vec<u64>>> {
    let Some((spill, batch)) = spilled else {
        return Ok(None);
    };
    let places = spill
        .append_events(events, batch, in_file)
        .map_err(crate::store::Error::from)?;
    Ok(Some(places))
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
