//! The errors of `watch`: of its reading loop and of its diagnosis thread
//! (`diagnose/background.rs`), one type for the one boundary the caller
//! (`daemon`) handles. A leaf: it imports neither side.

/// Errors of the watch loop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// The path specs are invalid (a bad glob).
    #[error("bad path or glob: {0}")]
    Specs(std::io::Error),
    /// The diagnosis thread could not start, or panicked.
    #[error("the diagnosis thread: {0}")]
    Thread(String),
}

/// Results of the watch loop.
pub type Result<T, E = Error> = std::result::Result<T, E>;
