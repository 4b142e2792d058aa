//! The `analyze` and `lookup` commands, as functions the CLI and the tests
//! call: they take parsed options and return what they found; printing is in
//! [`crate::report`].

use std::path::{Path, PathBuf};

use grantwatch_parsers::{Context, Format};

use crate::config::DiagnoseSettings;
use crate::diagnose;
pub use crate::ingest::Split;
use crate::ingest::{self, ReadStats};
use crate::scratch::ScratchDir;
use crate::store::Store;

/// Errors of the commands.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input or the database cannot be read or written.
    #[error(transparent)]
    Ingest(#[from] ingest::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// The scratch database folder cannot be created.
    #[error("cannot create a scratch database in the temporary folder: {0}")]
    Scratch(std::io::Error),
    /// The diagnosis thread panicked.
    #[error("the diagnosis thread stopped unexpectedly")]
    FollowerPanicked,
    /// The database file does not exist (for `lookup`).
    #[error(
        "no database at {0} (run `grantwatch analyze --db {0} PATH...` or `grantwatch watch` first)"
    )]
    NoDatabase(PathBuf),
}

/// Options of `analyze`.
#[derive(Clone, Debug, Default)]
pub struct AnalyzeOptions {
    /// Files and folders.
    pub paths: Vec<PathBuf>,
    /// A database to keep the results in (in memory when `None`).
    pub db: Option<PathBuf>,
    /// Force one format for every file.
    pub format: Option<Format>,
    /// Parser settings (zone, year, fingerprint key).
    pub context: Context,
    /// Diagnosis settings.
    pub settings: DiagnoseSettings,
    /// How a large file may be read on several cores (into a scratch
    /// database, or a kept one that holds no events yet: into one that
    /// does, every file is read on one core, so that a later `analyze` or
    /// `watch` resumes where it stopped).
    pub split: ingest::Split,
    /// How the diagnosis after the read may use several cores (the same
    /// databases as for the read).
    pub cores: diagnose::Cores,
    /// The events a bulk load into a scratch database stores before it
    /// keeps their keys in memory instead of four SQL indexes (`None`:
    /// the store's own threshold; tests make it small).
    pub index_from_events: Option<i64>,
}

/// What `analyze` found.
#[derive(Debug)]
pub struct Analysis {
    /// The database holding the failures (read them with
    /// `each_failure_in_time_order`, so memory stays flat).
    pub store: Store,
    /// The scratch folder of the database when no `--db` was given: removed
    /// when the analysis is dropped.
    pub scratch: Option<ScratchDir>,
    /// What was read.
    pub read: ReadStats,
    /// Time spent reading and parsing.
    pub read_time: std::time::Duration,
    /// Time spent correlating and diagnosing.
    pub diagnose_time: std::time::Duration,
}

/// How far (log time) the diagnosis that follows the reader stays behind
/// it: the context of a failure (a client's record of it, a server's warning)
/// arrives within seconds, so two minutes is safe.
const SETTLE_MS: i64 = 120_000;

/// Reads every path once, stores the events, diagnoses every failure.
/// `on_bytes` hears about progress (for a progress bar); `total` is called
/// first with the total input size.
///
/// The last file (in a single-file analysis, the only one) is read while a
/// second thread diagnoses behind the reader, on its own connection; what
/// is left is diagnosed once everything is read. Without `--db` the
/// database is a scratch file in a temporary folder, deleted afterwards.
pub fn analyze(
    opts: &AnalyzeOptions,
    total: &mut dyn FnMut(u64),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<Analysis, Error> {
    // With a second core, the parsers' matchers are built beside the
    // opening of the database and the first lines' reading, not by the
    // range reader that meets the first failure (benches/README.md).
    if opts.split.jobs > 1 {
        std::thread::spawn(grantwatch_parsers::warm_up);
    }
    // `-` is standard input, copied to a file the analysis reads.
    let stdin_dir = if opts.paths.iter().any(|p| p.as_os_str() == "-") {
        Some(ScratchDir::new().map_err(Error::Scratch)?)
    } else {
        None
    };
    let mut paths = Vec::with_capacity(opts.paths.len());
    for path in &opts.paths {
        match &stdin_dir {
            Some(dir) if path.as_os_str() == "-" => paths.push(ingest::copy_stdin(dir.path())?),
            _ => paths.push(path.clone()),
        }
    }
    let (files, unreadable) = ingest::collect_files(&paths)?;
    total(
        files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum(),
    );
    let (db_path, scratch) = match &opts.db {
        Some(path) => (path.clone(), None),
        None => {
            let dir = ScratchDir::new().map_err(Error::Scratch)?;
            (dir.path().join("analyze.db"), Some(dir))
        }
    };
    let mut store = match scratch {
        Some(_) => Store::open_scratch(&db_path)?,
        None => Store::open(&db_path)?,
    };
    if let Some(events) = opts.index_from_events {
        store.keep_index_in_memory_from(events);
    }
    // Where the diagnosis of this database stopped, not its newest event: a
    // run stopped between storing a chunk's events and diagnosing them
    // (killed, or a store error) left failures only the next one can find.
    let after = store.diagnosis_cursor()?;
    // A kept database that holds no events yet is loaded as a scratch one
    // (in ranges, on every core, in bulk, diagnosed afterwards on every
    // core): nothing in it to resume. One that holds events is read on one
    // core, the diagnosis following, so that a stopped run resumes where it
    // stopped.
    let alone = scratch.is_some() || store.load_in_bulk_while_empty()?;
    let split = if alone {
        opts.split
    } else {
        ingest::Split::default()
    };
    let mut read = ReadStats {
        unreadable,
        ..ReadStats::default()
    };
    let started = std::time::Instant::now();
    let Some((last, rest)) = files.split_last() else {
        return Ok(Analysis {
            store,
            scratch,
            read,
            read_time: started.elapsed(),
            diagnose_time: std::time::Duration::ZERO,
        });
    };
    let (watermark, batches, follower) =
        spawn_follower(&db_path, store.evidence_spill(), &opts.settings, after)?;
    let mut newest = i64::MIN;
    let plan = ingest::Plan {
        ctx: &opts.context,
        forced: opts.format,
        split: &split,
    };
    // Each file read beside the writer has the next one parsed meanwhile.
    let mut ahead = ingest::Ahead::default();
    let mut read_all = |store: &mut Store| -> Result<ingest::Result<()>, Error> {
        for (i, file) in rest.iter().enumerate() {
            let next = files.get(i + 1).map(PathBuf::as_path);
            let done = ingest::read_file_ahead(
                store,
                file,
                next,
                &plan,
                &mut ahead,
                &mut read,
                &mut |_, c| {
                    on_bytes(c.bytes);
                    Ok(())
                },
            );
            partial(done, &mut read)?;
        }
        Ok(ingest::read_file_ahead(
            store,
            last,
            None,
            &plan,
            &mut ahead,
            &mut read,
            &mut |store, c| {
                on_bytes(c.bytes);
                // The reader is the only writer: it stores the follower's
                // diagnoses between its own chunks, so neither waits for a lock.
                while let Ok(batch) = batches.try_recv() {
                    diagnose::write_batch(store, &batch)?;
                }
                if let Some(ts) = c.max_ts_ms.filter(|&ts| ts > newest) {
                    newest = ts;
                    // The follower may have stopped on an error: its join says why.
                    let _ = watermark.send(ts - SETTLE_MS);
                }
                Ok(())
            },
        ))
    };
    // Several files into a scratch database (or an empty kept one) are loaded in one bulk load, as
    // one large file is: read on one core each, a small file stored its
    // events into live indexes, a commit per chunk, and a folder of
    // rotated logs took twice as long as the same bytes in one file
    // (benches/README.md). No diagnosis follows the read then; it runs on
    // every core afterwards.
    let read_last = if alone && files.len() > 1 {
        store.bulk_load(split.jobs, read_all)?
    } else {
        read_all(&mut store)?
    };
    let read_time = started.elapsed();
    // Everything is read. On several cores the follower stops where it
    // stands and the rest is diagnosed on all of them; on one, the follower
    // diagnoses the rest while this thread writes what it hands over (a
    // file read in ranges gave it no watermark while it was read: its event
    // ids are not in the file's order).
    let cores = if alone {
        opts.cores
    } else {
        diagnose::Cores::default()
    };
    if cores.jobs < 2 {
        let _ = watermark.send(i64::MAX);
    }
    drop(watermark);
    for batch in &batches {
        diagnose::write_batch(&mut store, &batch)?;
    }
    let followed_to = follower.join().map_err(|_| Error::FollowerPanicked)??;
    partial(read_last, &mut read)?;
    // Nothing is read into this database any more: its evidence file is
    // read back through a cache from here on.
    if let Some(spill) = store.evidence_spill() {
        spill.seal();
    }
    diagnose::run_on_cores(&mut store, &db_path, &opts.settings, followed_to, cores)?;
    Ok(Analysis {
        store,
        scratch,
        read,
        read_time,
        diagnose_time: started.elapsed() - read_time,
    })
}

/// One file that cannot be read (an I/O error halfway, a device that
/// refuses reads) is noted and the others are analyzed; a store error
/// stops the analysis.
fn partial(done: ingest::Result<()>, read: &mut ReadStats) -> Result<(), Error> {
    match done {
        Err(ingest::Error::Unreadable { path, source }) => {
            read.unreadable.push((path, source.to_string()));
            Ok(())
        }
        other => Ok(other?),
    }
}

/// The follower's shortest interval between two batches: often enough to
/// keep up, rarely enough not to re-query for every chunk.
const FOLLOW_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);

type Follower = std::thread::JoinHandle<Result<i64, crate::store::Error>>;

/// The follower's next watermark: the newest the reader sent by `until`
/// (or, when it sent none by then, the next it sends), or at once, when the
/// reader has closed the channel, the newest it sent before (`None`: none,
/// the follower is done). The follower used to sleep out its interval
/// instead, and the analysis, whose end waits for it, waited with it: up to
/// [`FOLLOW_INTERVAL`] more for every analysis read on one core (with the
/// `fsync`s a new scratch database made, half of a 100-line log's 48 ms;
/// benches/README.md).
fn next_watermark(rx: &std::sync::mpsc::Receiver<i64>, until: std::time::Instant) -> Option<i64> {
    use std::sync::mpsc::RecvTimeoutError;
    let mut newest = None;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(left) {
            Ok(horizon) => newest = Some(horizon),
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => return newest,
        }
    }
    newest.or_else(|| rx.recv().ok())
}

/// A thread that diagnoses behind the reader on its own connection (with
/// the scratch database's evidence file, `spill`): each
/// watermark it receives (log time) lets it diagnose the failures older than
/// it; it hands each batch back to the reader, which writes it. Returns the
/// last event id it looked at.
fn spawn_follower(
    db_path: &Path,
    spill: Option<std::sync::Arc<crate::store::EvidenceSpill>>,
    settings: &DiagnoseSettings,
    after: i64,
) -> Result<
    (
        std::sync::mpsc::Sender<i64>,
        std::sync::mpsc::Receiver<diagnose::Batch>,
        Follower,
    ),
    Error,
> {
    let (tx, rx) = std::sync::mpsc::channel::<i64>();
    // Bounded: memory stays flat when the writer falls behind.
    let (batch_tx, batch_rx) = std::sync::mpsc::sync_channel::<diagnose::Batch>(2);
    let db_path = db_path.to_path_buf();
    let settings = settings.clone();
    let handle = std::thread::spawn(move || {
        let mut after = after;
        let mut assigned = std::collections::HashMap::new();
        // Opened at the first watermark, not before: a file read in ranges
        // sends none while its writer holds the database alone
        // (`Store::bulk_load`).
        let mut opened = None;
        let mut next = rx.recv().ok();
        while let Some(mut horizon) = next.take() {
            let store = match &mut opened {
                Some(store) => &*store,
                None => &*opened.insert(Store::open_beside(&db_path, spill.clone())?),
            };
            let started = std::time::Instant::now();
            loop {
                // Catch up to the newest watermark at once.
                while let Ok(h) = rx.try_recv() {
                    horizon = h;
                }
                // One snapshot a slice: its page cache checked once, not at
                // every query the writer's commits make it read again.
                let batch = store.reading(|| {
                    diagnose::diagnose_slice(store, &settings, after, Some(horizon), &mut assigned)
                })?;
                after = batch.last_event_id;
                let full = batch.pending.len() == diagnose::SLICE;
                if !batch.pending.is_empty() && batch_tx.send(batch).is_err() {
                    return Ok(after);
                }
                if !full {
                    break;
                }
            }
            next = next_watermark(&rx, started + FOLLOW_INTERVAL);
        }
        Ok(after)
    });
    Ok((tx, batch_rx, handle))
}

/// Opens an existing database for reading. A database of an older
/// grantwatch is upgraded first (once, in one transaction, as `watch` would
/// on start): the queries of this binary need its tables.
pub fn open_existing(path: &Path) -> Result<Store, Error> {
    if !path.exists() {
        return Err(Error::NoDatabase(path.to_path_buf()));
    }
    Ok(Store::open_upgraded_read_only(path)?)
}

#[cfg(test)]
mod tests;
