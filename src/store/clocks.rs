//! The clock samples correlation estimates client clock offsets from, and
//! where the estimates are kept (`sources.clock_offset_ms`, `clock_note`).
//!
//! A sample is one paired observation of a client source: its time of a
//! response against the server's `Date` header (whole seconds: the server's
//! clock was somewhere in that second, so the middle is used), or its time
//! of a request against the server's time of the same request id. The
//! estimate itself (a median, a note) is correlation's
//! (`crate::correlate::estimate_clocks`); this module only reads and writes.

use grantwatch_parsers::Format;
use rusqlite::params;

use super::{Result, Store};

/// One paired observation: a client source and its time minus the server's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSample {
    /// The client's source id.
    pub source_id: i64,
    /// Client time minus server time, milliseconds.
    pub delta_ms: i64,
}

/// The clock samples' queries: a client's `Date` headers, and a client's
/// request matched by id to the server's. SQLite uses a partial index only
/// for a query whose terms imply its condition: the first's
/// `server_date_ms > 0` implies `events_by_format`'s `server_date_ms IS
/// NOT NULL`, the second names the mobile formats as the index does.
pub(super) const SAMPLE_QUERIES: [&str; 2] = [
    "SELECT source_id, ts_ms - server_date_ms - 500 FROM events
     WHERE format IN ('logcat', 'ios-console', 'json-lines')
       AND server_date_ms > 0 AND ts_ms IS NOT NULL",
    "SELECT c.source_id, c.ts_ms - s.ts_ms FROM events c
     JOIN events s ON s.request_id = c.request_id AND s.source_id != c.source_id
     WHERE c.format IN ('logcat', 'ios-console') AND s.format NOT IN ('logcat', 'ios-console', 'json-lines')
       AND c.ts_ms IS NOT NULL AND s.ts_ms IS NOT NULL AND c.server_date_ms IS NULL",
];

impl Store {
    /// Every clock sample the stored events give (see the module comment).
    pub fn clock_samples(&self) -> Result<Vec<ClockSample>> {
        let kept = self.with_kept(|kept| {
            let requests = kept.rows_of(kept.mobile_requests())?;
            Ok::<_, super::Error>((kept.date_samples().to_vec(), requests))
        });
        if let Some(kept) = kept {
            let (mut out, requests) = kept?;
            let requests = requests
                .into_iter()
                .filter_map(|e| Some((e.source_id, e.ts_ms?, e.request_id?)));
            out.extend(self.matched_requests(requests)?);
            return Ok(out);
        }
        let mut out = Vec::new();
        // With the events by request id in memory (`event_index.rs`) there
        // is no SQL index for the join: the client's requests are read
        // here and each is matched through memory.
        let in_memory = self.event_index().is_some();
        let queries = if in_memory {
            &SAMPLE_QUERIES[..1]
        } else {
            &SAMPLE_QUERIES[..]
        };
        for sql in queries {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map([], |r| {
                Ok(ClockSample {
                    source_id: r.get(0)?,
                    delta_ms: r.get(1)?,
                })
            })?;
            for row in rows {
                out.push(row?);
            }
        }
        if in_memory {
            out.extend(self.request_clock_samples()?);
        }
        Ok(out)
    }

    /// The second of [`SAMPLE_QUERIES`], its join by request id done
    /// through the in-memory index: the same samples (their order differs,
    /// which the estimate, a median, does not see).
    fn request_clock_samples(&self) -> Result<Vec<ClockSample>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.source_id, c.ts_ms, c.request_id FROM events c
             WHERE c.format IN ('logcat', 'ios-console') AND c.ts_ms IS NOT NULL
               AND c.server_date_ms IS NULL AND c.request_id IS NOT NULL",
        )?;
        let requests = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        self.matched_requests(requests)
    }

    /// The samples of client requests (source, time, request id), each
    /// matched by request id to the server's events of it.
    fn matched_requests(
        &self,
        requests: impl IntoIterator<Item = (i64, i64, String)>,
    ) -> Result<Vec<ClockSample>> {
        let mut out = Vec::new();
        for (source_id, ts_ms, request_id) in requests {
            for server in self.events_by_request(&request_id)? {
                let answered = server.source_id != source_id
                    && !matches!(
                        server.format,
                        Format::Logcat | Format::IosConsole | Format::JsonLines
                    );
                if let Some(server_ts) = server.ts_ms.filter(|_| answered) {
                    out.push(ClockSample {
                        source_id,
                        delta_ms: ts_ms - server_ts,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Records a source's estimated clock offset and what it looks like.
    pub fn set_clock_offset(&self, source_id: i64, offset_ms: i64, note: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE sources SET clock_offset_ms = ?2, clock_note = ?3 WHERE id = ?1",
            )?
            .execute(params![source_id, offset_ms, note])?;
        Ok(())
    }
}
