//! The store's one error type, in a file of its own so that every part of
//! the store (and the schema's migrations) can name it while `mod.rs`
//! imports them: the imports between the store's files point one way.

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column could not be read back.
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The database has a version this binary cannot upgrade from.
    #[error("database schema version {0} cannot be upgraded")]
    IncompatibleVersion(u32),
    /// The database was written by a newer grantwatch.
    #[error(
        "database schema version {found} is newer than this grantwatch (version {supported}); upgrade grantwatch"
    )]
    NewerThanBinary {
        /// The database's version.
        found: u32,
        /// The newest version this binary knows.
        supported: u32,
    },
    /// A scratch database's evidence file could not be written or read.
    #[error("evidence file: {0}")]
    Spill(#[from] std::io::Error),
    /// The file of the events a scratch load keeps out of its table
    /// (`rows.rs`) could not be written or read.
    #[error("events file: {0}")]
    Rows(std::io::Error),
    /// The file of a scratch database's failures' JSON
    /// (`failure_details.rs`) could not be written or read.
    #[error("failures file: {0}")]
    FailureDetails(std::io::Error),
    /// A re-diagnosis's query of stored failures asked of a scratch
    /// analysis, which holds its failures beside its tables and is never
    /// re-diagnosed (`revisit.rs`).
    #[error("a scratch analysis's failures are not revisited")]
    ScratchRevisited,
    /// SQLite kept another journal mode than the one asked for (a
    /// scratch database's bulk load switches between two).
    #[error("database: journal mode {kept} kept, {wanted} asked for")]
    JournalMode {
        /// The mode asked for.
        wanted: String,
        /// The mode SQLite reported.
        kept: String,
    },
}

/// Results of the store.
pub type Result<T, E = Error> = std::result::Result<T, E>;
