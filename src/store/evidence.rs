//! The evidence lines of events: from the `evidence` table of a kept
//! database, or from the file beside a scratch one (`spill.rs`), the same
//! rows either way.

use rusqlite::OptionalExtension;

use super::events::EvidenceRow;
use super::{Result, Store};

impl Store {
    /// The evidence lines of several events, by event id, each in line order.
    pub fn evidence_of(&self, event_ids: &[i64]) -> Result<Vec<(i64, EvidenceRow)>> {
        // One cached statement per event rather than one `IN (...)` list:
        // a list's statement differs with every failure, and preparing it
        // anew cost more than the rows it read (benches/README.md).
        let mut ids = event_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.evidence(id)?.into_iter().map(|row| (id, row)));
        }
        Ok(out)
    }

    /// The evidence lines of an event, in line order.
    pub fn evidence(&self, event_id: i64) -> Result<Vec<EvidenceRow>> {
        if let Some(spill) = &self.spill {
            let Some(file) = self.file_of_event(event_id)? else {
                return Ok(Vec::new());
            };
            let lines = spill.lines(event_id)?.into_iter();
            return Ok(lines
                .map(|(line, text)| EvidenceRow {
                    file: file.clone(),
                    line,
                    text,
                })
                .collect());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.path, v.line, v.text FROM evidence v
             JOIN events e ON e.id = v.event_id JOIN sources s ON s.id = e.source_id
             WHERE v.event_id = ?1 ORDER BY v.line",
        )?;
        let rows = stmt.query_map([event_id], |r| {
            Ok(EvidenceRow {
                file: r.get(0)?,
                line: r.get::<_, i64>(1)? as u64,
                text: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The path of the file event `event_id` was read from, if it exists.
    fn file_of_event(&self, event_id: i64) -> Result<Option<String>> {
        if let Some(file) = self.with_kept(|kept| kept.file_of(event_id)) {
            return file.map_err(super::Error::Rows);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.path FROM events e JOIN sources s ON s.id = e.source_id
             WHERE e.id = ?1",
        )?;
        Ok(stmt
            .query_row([event_id], |r| r.get::<_, String>(0))
            .optional()?)
    }
}
