//! What reading files tells (`analyze`'s report): the totals of a read,
//! what each file turned out to be, and what each committed chunk brought
//! (for a progress bar, and for a diagnosis that follows the reader).

use std::path::PathBuf;

use grantwatch_parsers::envelope::EnvelopeKind;
use grantwatch_parsers::{Format, LineCounts};

use crate::text::BinaryRuns;

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
    /// Lines cut at [`crate::source::MAX_LINE_BYTES`].
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

/// What one committed chunk of a file brought.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkDone {
    /// Bytes read.
    pub bytes: u64,
    /// The latest event time in the chunk (ms), if any event had one.
    pub max_ts_ms: Option<i64>,
}
