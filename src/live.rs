//! What the running daemon sees now and the database does not hold: files
//! it skips (not logs), binary runs it read past, how far reading is behind
//! each file, what happened to the files followed (rotations, truncations,
//! …, counted since start) and whether the database file is still the one
//! it opened.
//! `watch` writes it after every round; the web side (same process) reads
//! it for `/sources`, `/metrics` and `/healthz`.
//!
//! Invariants: the lock is held only to copy a value in or out, never
//! across I/O or an `.await`; a poisoned lock is taken over (the data is
//! plain values, valid whatever a panicking writer left).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::tail::Lag;
use crate::text::BinaryRuns;

/// The daemon's current view, shared between the ingest thread and the web.
#[derive(Debug, Default)]
pub struct Live {
    state: Mutex<LiveState>,
}

/// A copy of what [`Live`] holds.
#[derive(Clone, Debug, Default)]
pub struct LiveState {
    /// Files that are not read, with why (binary data).
    pub skipped: BTreeMap<PathBuf, String>,
    /// Logs that held binary runs, read past.
    pub binary: BTreeMap<PathBuf, BinaryRuns>,
    /// How far reading is behind each followed file.
    pub lag: Vec<Lag>,
    /// What happened to followed files since start, by kind (`rotated`,
    /// `truncated`, `replaced`, `removed`, `closed`, `unreadable`): only
    /// goes up.
    pub file_events: BTreeMap<&'static str, u64>,
}

impl Live {
    /// A new, empty view to share.
    pub fn shared() -> Arc<Live> {
        Arc::new(Live::default())
    }

    fn lock(&self) -> MutexGuard<'_, LiveState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the current view.
    pub fn snapshot(&self) -> LiveState {
        self.lock().clone()
    }

    /// Notes that `path` is skipped, and why; `None` when it is read.
    /// Returns whether that is news (to tell it once).
    pub fn set_skipped(&self, path: &Path, why: Option<&str>) -> bool {
        let mut s = self.lock();
        match why {
            Some(why) if s.skipped.get(path).is_some_and(|w| w == why) => false,
            Some(why) => {
                s.skipped.insert(path.to_path_buf(), why.to_owned());
                true
            }
            None => s.skipped.remove(path).is_some(),
        }
    }

    /// Notes the binary runs read past in `path` so far.
    pub fn set_binary(&self, path: &Path, runs: BinaryRuns) {
        self.lock().binary.insert(path.to_path_buf(), runs);
    }

    /// Counts one thing that happened to a followed file (see
    /// [`LiveState::file_events`]).
    pub fn count_file_event(&self, kind: &'static str) {
        *self.lock().file_events.entry(kind).or_default() += 1;
    }

    /// Replaces the lag of every followed file.
    pub fn set_lag(&self, lag: Vec<Lag>) {
        self.lock().lag = lag;
    }
}

/// The device and inode of the database file, to tell later that it was
/// deleted or replaced (`None` if it cannot be looked at).
pub fn database_identity(db: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(db).ok().map(|m| (m.dev(), m.ino()))
}

/// What is wrong with the database file under the daemon, if anything: it
/// was deleted (what is written now is lost when the process ends), replaced
/// by another file, or its header is no longer SQLite's (overwritten). A
/// stat and a 16-byte read: cheap enough for every health check.
pub fn database_problem(db: &Path, identity: Option<(u64, u64)>) -> Option<String> {
    let shown = db.display();
    let meta = match std::fs::metadata(db) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(format!(
                "the database {shown} was deleted while running: what is read now is lost when grantwatch stops"
            ));
        }
        Err(e) => return Some(format!("the database {shown} cannot be looked at: {e}")),
    };
    if identity.is_some_and(|id| id != (meta.dev(), meta.ino())) {
        return Some(format!(
            "the database {shown} was replaced by another file while running"
        ));
    }
    let mut header = [0u8; 16];
    let read = std::fs::File::open(db).and_then(|mut f| f.read_exact(&mut header));
    match read {
        Ok(()) if &header == b"SQLite format 3\0" => None,
        // A database not written yet (created, no page) is fine.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && meta.len() == 0 => None,
        Ok(()) | Err(_) => Some(format!(
            "the database {shown} is corrupted (its header is not SQLite's)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_replaced_or_overwritten_database_is_a_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("g.db");
        drop(crate::store::Store::open(&db).expect("create"));
        let id = database_identity(&db);
        assert_eq!(database_problem(&db, id), None);
        let mut bytes = std::fs::read(&db).expect("read");
        bytes[..16].copy_from_slice(b"garbage garbage!");
        std::fs::write(&db, &bytes).expect("overwrite in place");
        assert!(database_problem(&db, id).is_some_and(|p| p.contains("corrupted")));
        // Another file written first, then moved over it: another inode.
        let other = dir.path().join("other.db");
        std::fs::write(&other, b"SQLite format 3\0").expect("another file");
        let other_id = database_identity(&other);
        std::fs::remove_file(&db).expect("delete");
        assert!(database_problem(&db, id).is_some_and(|p| p.contains("deleted")));
        std::fs::rename(&other, &db).expect("replace");
        assert_ne!(other_id, id);
        assert!(database_problem(&db, id).is_some_and(|p| p.contains("replaced")));
    }
}
