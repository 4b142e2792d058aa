//! What `watch` follows and how: the path specs with the way each is read
//! (from the command line or the config file's `[[source]]` tables), the
//! database, the diagnosis settings, polling and retention. Plain settings;
//! [`super::Watcher`] acts on them.

use std::path::PathBuf;
use std::time::Duration;

use grantwatch_parsers::{Context, Format};

use crate::config::DiagnoseSettings;

/// A group of paths read the same way (a `[[source]]` of the config file,
/// or the paths on the command line).
#[derive(Clone, Debug)]
pub struct SourceSpec {
    /// Files, folders and globs.
    pub paths: Vec<PathBuf>,
    /// Force this format instead of detecting it.
    pub format: Option<Format>,
    /// Parser settings: zone, year and date of times that lack them, and
    /// the fingerprint key.
    pub context: Context,
}

/// What `watch` follows and how.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// The sources, in order: a file matched by two is read by the first.
    pub sources: Vec<SourceSpec>,
    /// The database.
    pub db: PathBuf,
    /// Diagnosis settings.
    pub settings: DiagnoseSettings,
    /// The longest wait between two polls (notify wakes the loop earlier).
    pub poll_interval: Duration,
    /// Use notify wake-ups (off: polling only, for network file systems).
    pub notify: bool,
    /// Prune events (and their failures) older than this, by log time.
    pub retain: Option<Duration>,
    /// The backlog left after the first round from which a first start on
    /// an empty database stores it in bulk (`watch/catch_up.rs`).
    pub bulk_catch_up_bytes: u64,
    /// Bytes read per poll, all files together
    /// ([`crate::tail::TailConfig::poll_read_bytes`]).
    pub poll_read_bytes: usize,
}
