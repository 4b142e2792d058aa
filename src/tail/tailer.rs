//! What a [`Tailer`] holds: its specs and tuning, the files it follows,
//! the checkpoints not yet matched and what its last poll left. A leaf:
//! its methods are in `mod.rs` (finding, polling and reading files) and
//! `fds.rs` (the descriptors it keeps, how far it is behind), which then do
//! not import each other.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use super::config::TailConfig;
use super::event::{Checkpoint, FileKey};
use super::file::Followed;
use super::spec::PathSpec;

/// Follows the files of a set of path specs. See the module doc of
/// [`crate::tail`].
pub struct Tailer {
    pub(super) specs: Vec<PathSpec>,
    pub(super) config: TailConfig,
    /// In the order found: a rotated file comes before its successor.
    pub(super) files: Vec<Followed>,
    /// Checkpoints given at start, not yet matched with a file.
    pub(super) checkpoints: HashMap<FileKey, Checkpoint>,
    pub(super) first_poll: bool,
    /// Paths already reported as unreadable.
    pub(super) unreadable: HashSet<PathBuf>,
    /// Files that waited for a descriptor at the last poll.
    pub(super) deferred: usize,
}
