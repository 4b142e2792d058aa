//! The `analyze` and `lookup` commands, as functions the CLI and the tests
//! call: they take parsed options and return what they found; printing is in
//! [`crate::report`].

use std::path::{Path, PathBuf};

use grantwatch_parsers::{Context, Format};

use crate::config::DiagnoseSettings;
use crate::diagnose;
use crate::ingest::{self, ReadStats};
use crate::store::failures::FailureRecord;
use crate::store::{EventRow, Store};

/// Errors of the commands.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input or the database cannot be read or written.
    #[error(transparent)]
    Ingest(#[from] ingest::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
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
}

/// What `analyze` found.
#[derive(Debug)]
pub struct Analysis {
    /// Failures, in time order.
    pub failures: Vec<FailureRecord>,
    /// What was read.
    pub read: ReadStats,
    /// Time spent reading and parsing.
    pub read_time: std::time::Duration,
    /// Time spent correlating and diagnosing.
    pub diagnose_time: std::time::Duration,
}

/// Reads every path once, stores the events, diagnoses every failure.
/// `on_bytes` hears about progress (for a progress bar); `total` is called
/// first with the total input size.
pub fn analyze(
    opts: &AnalyzeOptions,
    total: &mut dyn FnMut(u64),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<Analysis, Error> {
    let files = ingest::collect_files(&opts.paths)?;
    total(
        files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum(),
    );
    let mut store = match &opts.db {
        Some(path) => Store::open(path)?,
        None => Store::open_in_memory()?,
    };
    let after = store.max_event_id()?;
    let mut read = ReadStats::default();
    let started = std::time::Instant::now();
    for file in &files {
        ingest::read_file(
            &mut store,
            file,
            &opts.context,
            opts.format,
            &mut read,
            on_bytes,
        )?;
    }
    let read_time = started.elapsed();
    diagnose::run(&mut store, &opts.settings, after)?;
    let failures = store.failures_in_time_order()?;
    Ok(Analysis {
        failures,
        read,
        read_time,
        diagnose_time: started.elapsed() - read_time,
    })
}

/// The whole story of one request id.
#[derive(Debug, serde::Serialize)]
pub struct RequestStory {
    /// The request id.
    pub request_id: String,
    /// Failures of this request.
    pub failures: Vec<FailureRecord>,
    /// Every event of this request id, in time order, with its evidence.
    pub events: Vec<StoryEvent>,
}

/// An event with its evidence lines.
#[derive(Debug, serde::Serialize)]
pub struct StoryEvent {
    /// The event.
    #[serde(flatten)]
    pub event: EventRow,
    /// Its redacted lines.
    pub lines: Vec<crate::store::events::EvidenceRow>,
}

/// Looks up one request id in the store.
pub fn request_story(store: &Store, request_id: &str) -> Result<RequestStory, Error> {
    let failures = store.failures_for_request(request_id)?;
    let mut events = Vec::new();
    for event in store.events_by_request(request_id)? {
        let lines = store.evidence(event.id)?;
        events.push(StoryEvent { event, lines });
    }
    Ok(RequestStory {
        request_id: request_id.to_owned(),
        failures,
        events,
    })
}

/// Opens an existing database for reading.
pub fn open_existing(path: &Path) -> Result<Store, Error> {
    if !path.exists() {
        return Err(Error::NoDatabase(path.to_path_buf()));
    }
    Ok(Store::open_read_only(path)?)
}
