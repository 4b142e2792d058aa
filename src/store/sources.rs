//! What the store knows of each source (a file generation or a received
//! stream): line counts, the offset reading resumes at, the envelope and
//! clock estimate, the last commit. Read by `/metrics` and the sources page.

use grantwatch_parsers::envelope::EnvelopeKind;

use super::stats::count;
use super::{Result, Store};

/// What the store knows of one source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceStats {
    /// The path of the file.
    pub path: String,
    /// Its format.
    pub format: String,
    /// Lines read (parsed, skipped or unknown).
    pub lines_read: u64,
    /// Lines no parser knew.
    pub lines_unknown: u64,
    /// When its last batch was committed (ms since the epoch), if ever.
    pub updated_ms: Option<i64>,
}

/// One source (one generation of a file) as the dashboard's sources page
/// shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceDetail {
    /// The path of the file.
    pub path: String,
    /// Its format.
    pub format: String,
    /// Lines read (parsed, skipped or unknown).
    pub lines_read: u64,
    /// Lines no parser knew.
    pub lines_unknown: u64,
    /// Lines read as records about OAuth.
    pub lines_parsed: u64,
    /// Lines of the format, of no interest.
    pub lines_skipped: u64,
    /// The envelope most lines came in, if any.
    pub envelope: Option<EnvelopeKind>,
    /// The byte offset committed (where reading resumes).
    pub byte_offset: u64,
    /// The estimated clock offset of the source (ms), if any.
    pub clock_offset_ms: Option<i64>,
    /// How the clock offset was obtained, if noted.
    pub clock_note: Option<String>,
    /// When its last batch was committed (ms since the epoch), if ever.
    pub updated_ms: Option<i64>,
}

impl Store {
    /// Every source with its line counts and last commit, by path.
    pub fn source_stats(&self) -> Result<Vec<SourceStats>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, format, lines_parsed + lines_skipped + lines_unknown, lines_unknown,
                    updated_ms
             FROM sources ORDER BY path",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceStats {
                path: r.get(0)?,
                format: r.get(1)?,
                lines_read: count(r.get(2)?),
                lines_unknown: count(r.get(3)?),
                updated_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every source generation with its offsets and clock note, by path.
    pub fn source_details(&self) -> Result<Vec<SourceDetail>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, format, lines_parsed + lines_skipped + lines_unknown, lines_unknown,
                    byte_offset, clock_offset_ms, clock_note, updated_ms, lines_parsed,
                    lines_skipped, envelope
             FROM sources ORDER BY path, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceDetail {
                path: r.get(0)?,
                format: r.get(1)?,
                lines_read: count(r.get(2)?),
                lines_unknown: count(r.get(3)?),
                byte_offset: count(r.get(4)?),
                clock_offset_ms: r.get(5)?,
                clock_note: r.get(6)?,
                updated_ms: r.get(7)?,
                lines_parsed: count(r.get(8)?),
                lines_skipped: count(r.get(9)?),
                envelope: r
                    .get::<_, Option<String>>(10)?
                    .as_deref()
                    .and_then(EnvelopeKind::from_name),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_store_has_no_sources() {
        let store = Store::open_in_memory().expect("open");
        assert!(store.source_stats().expect("sources").is_empty());
        assert!(store.source_details().expect("sources").is_empty());
    }
}
