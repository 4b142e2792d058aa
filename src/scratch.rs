//! `analyze`'s temporary folders (its scratch database, standard input
//! copied to a file), removed when dropped and also when the process is
//! interrupted.
//!
//! A scratch database holds as much as a tenth of the log, two fifths of
//! it for a Keycloak log (benches/README.md): an engineer who stops an
//! `analyze` of a gigabyte with Ctrl-C must not find a gigabyte left in the
//! temporary folder each time. Drop does not run when a signal ends the
//! process, so every live folder is also in a process-wide list that the
//! signal watcher of [`remove_on_interrupt`] empties before it exits.
//!
//! Invariant: a folder is in the list exactly while its [`ScratchDir`]
//! lives.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The folders of the live [`ScratchDir`]s.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Exit status after an interruption: 128 + SIGINT, as a shell reports it.
pub const INTERRUPTED: i32 = 130;

/// A temporary folder, removed when dropped or when the process is
/// interrupted while it lives.
#[derive(Debug)]
pub struct ScratchDir {
    dir: tempfile::TempDir,
}

impl ScratchDir {
    /// Creates a folder in the system's temporary folder.
    pub fn new() -> std::io::Result<ScratchDir> {
        let dir = tempfile::tempdir()?;
        live().push(dir.path().to_path_buf());
        Ok(ScratchDir { dir })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        live().retain(|p| p != self.dir.path());
    }
}

/// The list, even if a thread panicked while holding it (a list of paths
/// cannot be left half-changed).
fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes every live scratch folder.
fn remove_live() {
    for dir in live().drain(..) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Watches for SIGINT, SIGTERM and SIGHUP on a thread of its own: on the
/// first, removes the live scratch folders and ends the process with
/// [`INTERRUPTED`]. For the one-shot commands, which have no runtime of
/// their own; the daemon handles its signals itself.
pub fn remove_on_interrupt() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    // Registered here, before the command starts: a signal that came
    // between starting the thread and registering would end the process
    // the default way, leaving the folders behind.
    let (mut int, mut term, mut hup) = runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        Ok::<_, std::io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        ))
    })?;
    std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
            });
            remove_live();
            std::process::exit(INTERRUPTED);
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_listed_while_it_lives() {
        let dir = ScratchDir::new().expect("scratch");
        let path = dir.path().to_path_buf();
        assert!(path.is_dir());
        assert!(live().contains(&path));
        drop(dir);
        assert!(!path.exists());
        assert!(!live().contains(&path));
    }
}
