//! How many lines of a file told something, were of no interest, or were
//! known to no parser ([`LineCounts`]): what the per-file driver
//! (`file_parser.rs`) counts and the range handover (`handover.rs`) adds
//! up. A leaf, so that those two do not import each other.

use serde::Serialize;

/// Line counts of one file, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LineCounts {
    /// Lines that told something about OAuth.
    pub parsed: u64,
    /// Lines recognised but of no interest.
    pub skipped: u64,
    /// Lines no parser recognised.
    pub unknown: u64,
}

impl std::ops::AddAssign for LineCounts {
    /// Adds the counts of other lines (a later batch, a later range).
    fn add_assign(&mut self, later: LineCounts) {
        self.parsed += later.parsed;
        self.skipped += later.skipped;
        self.unknown += later.unknown;
    }
}
