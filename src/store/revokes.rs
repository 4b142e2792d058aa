//! A client's accepted revoke requests before a failed refresh
//! ([`Store::revokes_for_client`]), read from SQL or, once the events are
//! final, from a summary of the client's revokes kept by the connection.
//!
//! Each failed refresh looks at up to [`REVOKES_LOOKED_AT`] of its client's
//! newest revokes, and in a Keycloak log, where every sign-out is a
//! revoke, that was 200 rows read from the table per failure and a tenth
//! of the analysis (benches/README.md). When no connection will add or
//! remove events any more (the diagnosis after `analyze`'s read on several
//! cores, [`Store::set_events_final`]), the connection reads each client's
//! revokes once, as a few numbers each, and reads from the table only the
//! rows it returns.
//!
//! Invariant: both ways return the same rows in the same order. The
//! summary holds hashes of the address, user and token, so a match there
//! may be a collision; every row it selects is read and checked against
//! the exact conditions before it is returned, and a collision, like a
//! true match, counts as one of the revokes looked at.

use grantwatch_parsers::EventKind;
use rusqlite::{OptionalExtension, params};

use super::events::{EventRow, REVOKES_LOOKED_AT};
#[cfg(test)]
use super::revoke_summary::SUMMARY_BUDGET;
use super::revoke_summary::{Ask, Revoke, RevokeTexts};
use super::{Result, Store};

/// What a summary keeps of a revoke, as [`revoke`] reads it.
const REVOKE_COLUMNS: &str = "id, ts_ms, status, ip, user_name, refresh_token_fp";

/// A revoke of a summary from a row of [`REVOKE_COLUMNS`].
fn revoke(r: &rusqlite::Row<'_>) -> rusqlite::Result<Revoke> {
    let text = |i: usize| r.get_ref(i).and_then(|v| Ok(v.as_str_or_null()?));
    let texts = RevokeTexts {
        ip: text(3)?,
        user: text(4)?,
        token: text(5)?,
    };
    Ok(Revoke::of(r.get(0)?, r.get(1)?, r.get(2)?, texts))
}

impl Store {
    /// Accepted revoke requests of `client_id` between two times (inclusive),
    /// newest first, at most `limit`, among the client's newest
    /// [`REVOKES_LOOKED_AT`] revokes of the window: when `device` names an
    /// address, only those from it or by `user`; when `refresh_token_fp` is
    /// known, only those of that token or of no logged token. The
    /// conditions are in SQL (or, once the events are final, on the
    /// client's summary): reading every revoke of the client into events
    /// before filtering them cost a failure as many rows as the client's
    /// other devices signed out (a production mix spent a twentieth of its
    /// instructions there), while filtering every revoke of the window in
    /// SQL made a Keycloak log, where each sign-out is a revoke, cost each
    /// failed refresh all of its client's sign-outs of a day
    /// (benches/README.md).
    pub fn revokes_for_client(
        &self,
        client_id: &str,
        (device, user): (Option<&str>, Option<&str>),
        refresh_token_fp: Option<&str>,
        (from_ms, to_ms): (i64, i64),
        limit: u32,
    ) -> Result<Vec<EventRow>> {
        let ask = Ask::new(device, user, refresh_token_fp);
        if self.events_final
            && let Some(found) =
                self.revokes_from_summary(client_id, &ask, (from_ms, to_ms), limit)?
        {
            return Ok(found);
        }
        if let Some(index) = self.event_index() {
            let newest = index.newest(
                client_id,
                &[EventKind::RevokeRequest],
                None,
                (from_ms, to_ms),
                REVOKES_LOOKED_AT as usize,
            );
            return self.admitted_revokes(&newest, &ask, limit);
        }
        // The newest revokes are chosen by id alone: copying their whole
        // rows into the subquery cost more than reading the few kept.
        self.query_events(
            &format!(
                "e.id IN (SELECT id FROM events INDEXED BY events_by_client_kind
                  WHERE client_id = ?1 AND kind = 'revoke_request' AND ts_ms BETWEEN ?2 AND ?3
                  ORDER BY ts_ms DESC, id DESC LIMIT {REVOKES_LOOKED_AT})
                 AND (e.status IS NULL OR e.status < 400)
                 AND (?4 IS NULL OR e.ip = ?4 OR e.user_name = ?5)
                 AND (?6 IS NULL OR e.refresh_token_fp IS NULL OR e.refresh_token_fp = ?6)
                 ORDER BY e.ts_ms DESC, e.id DESC LIMIT {limit}"
            ),
            params![client_id, from_ms, to_ms, device, user, refresh_token_fp],
        )
    }

    /// The first `limit` revokes of `ids` (newest first) that `ask`
    /// admits: each one's few columns read and checked as a summary's
    /// are, and only those that pass read whole and checked exactly.
    fn admitted_revokes(&self, ids: &[i64], ask: &Ask<'_>, limit: u32) -> Result<Vec<EventRow>> {
        let mut found = Vec::new();
        for &id in ids {
            if found.len() >= limit as usize {
                break;
            }
            let Some(summary) = self.revoke_by_id(id)? else {
                continue;
            };
            if ask.may_admit(&summary)
                && let Some(row) = self.event(id)?.filter(|row| ask.admits(row))
            {
                found.push(row);
            }
        }
        Ok(found)
    }

    /// The summary of the revoke stored as `id`: its row's
    /// [`REVOKE_COLUMNS`], or the same read from the kept row.
    fn revoke_by_id(&self, id: i64) -> Result<Option<Revoke>> {
        // The index answers with revokes that have a time, which are
        // the ones kept summarized.
        if let Some(revoke) = self.with_kept(|kept| kept.revoke(id)) {
            return Ok(revoke);
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {REVOKE_COLUMNS} FROM events WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([id], revoke).optional()?)
    }

    /// [`Store::revokes_for_client`] from the client's summary, read once;
    /// `None` when the client has too many revokes for one.
    fn revokes_from_summary(
        &self,
        client_id: &str,
        ask: &Ask<'_>,
        (from_ms, to_ms): (i64, i64),
        limit: u32,
    ) -> Result<Option<Vec<EventRow>>> {
        if !self.revokes.has(client_id) {
            let summary = self.summarize_revokes(client_id)?;
            self.revokes.insert(client_id, summary);
        }
        let Some(chosen) =
            self.revokes
                .choose(client_id, ask, (from_ms, to_ms), REVOKES_LOOKED_AT as usize)
        else {
            return Ok(None);
        };
        let mut found = Vec::new();
        for id in chosen {
            if found.len() >= limit as usize {
                break;
            }
            if let Some(row) = self.event(id)?.filter(|row| ask.admits(row)) {
                found.push(row);
            }
        }
        Ok(Some(found))
    }

    /// Every revoke of `client_id` with a time, in time then id order;
    /// `None` when they are more than the connection has room for.
    fn summarize_revokes(&self, client_id: &str) -> Result<Option<Vec<Revoke>>> {
        let room = self.revokes.room();
        if let Some(index) = self.event_index() {
            let ids = index.all_of(client_id, EventKind::RevokeRequest);
            if ids.len() > room {
                return Ok(None);
            }
            let mut revokes = Vec::with_capacity(ids.len());
            for id in ids {
                revokes.extend(self.revoke_by_id(id)?);
            }
            return Ok(Some(revokes));
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {REVOKE_COLUMNS}
             FROM events INDEXED BY events_by_client_kind
             WHERE client_id = ?1 AND kind = 'revoke_request' AND ts_ms IS NOT NULL
             ORDER BY ts_ms, id"
        ))?;
        let mut rows = stmt.query([client_id])?;
        let mut revokes = Vec::new();
        while let Some(r) = rows.next()? {
            if revokes.len() == room {
                return Ok(None);
            }
            revokes.push(revoke(r)?);
        }
        Ok(Some(revokes))
    }

    /// Whether the events of the database are final: no connection will
    /// add or remove any while this one reads (the diagnosis after
    /// `analyze`'s read). While they are, queries may keep what they read
    /// of the events for the next one; setting it back forgets that.
    pub fn set_events_final(&mut self, is_final: bool) {
        self.events_final = is_final;
        if !is_final {
            self.revokes.clear();
            self.failure_window.clear();
            self.last_request.clear();
            self.near.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Revokes of two clients with every mix of status, address, user and
    /// token (some missing), times that tie, and a few other events.
    fn revokes_store(dir: &std::path::Path) -> Store {
        let store = Store::open(&dir.join("r.db")).expect("open");
        store
            .conn
            .execute(
                "INSERT INTO sources (id, path, format) VALUES (1, 'k.log', 'keycloak')",
                [],
            )
            .expect("source");
        let pick = |i: i64, of: &[Option<&'static str>]| of[(i as usize * 7 + 3) % of.len()];
        for i in 0..600_i64 {
            let client = if i % 5 == 0 { "other" } else { "app" };
            let kind = if i % 11 == 0 {
                "token_response"
            } else {
                "revoke_request"
            };
            let status = [None, Some(200), Some(400), Some(302)][(i % 4) as usize];
            let ts = (i % 17 != 0).then_some(1_000 * (i / 3));
            store
                .conn
                .execute(
                    "INSERT INTO events (source_id, line, kind, format, client_id, ts_ms, status,
                        ip, user_name, refresh_token_fp)
                     VALUES (1, ?1, ?2, 'keycloak', ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        i + 1,
                        kind,
                        client,
                        ts,
                        status,
                        pick(i, &[Some("10.0.0.1"), Some("10.0.0.2"), None]),
                        pick(i / 2, &[Some("ann"), Some("bob"), None, Some("cy")]),
                        pick(i / 3, &[Some("f1"), None, Some("f2")]),
                    ],
                )
                .expect("event");
        }
        store
    }

    /// Every ask, window and limit gives the same rows, in the same order,
    /// from the summary as from SQL; the summary is read once per client
    /// and forgotten when the events are no longer final.
    #[test]
    fn the_summary_gives_what_sql_gives() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = revokes_store(dir.path());
        let devices = [None, Some("10.0.0.1"), Some("10.0.0.9")];
        let users = [None, Some("ann"), Some("cy")];
        let tokens = [None, Some("f1"), Some("f2")];
        let windows = [(0, 200_000), (10_000, 90_000), (50_000, 50_000), (9, 8)];
        let mut asked = Vec::new();
        for client in ["app", "other", "none"] {
            for device in devices {
                for user in users {
                    for token in tokens {
                        for window in windows {
                            for limit in [1, 5, 50] {
                                asked.push((client, (device, user), token, window, limit));
                            }
                        }
                    }
                }
            }
        }
        let run = |store: &Store| -> Vec<Vec<i64>> {
            asked
                .iter()
                .map(|&(client, who, token, window, limit)| {
                    let rows = store
                        .revokes_for_client(client, who, token, window, limit)
                        .expect("revokes");
                    rows.iter().map(|r| r.id).collect()
                })
                .collect()
        };
        let from_sql = run(&store);
        assert!(from_sql.iter().filter(|ids| ids.len() > 1).count() > 100);
        store.set_events_final(true);
        assert_eq!(run(&store), from_sql);
        assert_eq!(store.revokes.len(), 3);
        store.set_events_final(false);
        assert_eq!(store.revokes.len(), 0);
    }

    /// More than 200 revokes in the window: only the newest 200 are looked
    /// at, whichever way, so an older one that matches is not returned.
    #[test]
    fn only_the_newest_revokes_are_looked_at() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = revokes_store(dir.path());
        for line in 1_000..1_300_i64 {
            store
                .conn
                .execute(
                    "INSERT INTO events (source_id, line, kind, format, client_id, ts_ms, ip)
                     VALUES (1, ?1, 'revoke_request', 'keycloak', 'app', 500000, '10.9.9.9')",
                    [line],
                )
                .expect("event");
        }
        let ask = |store: &Store| {
            store
                .revokes_for_client("app", (Some("10.0.0.1"), None), None, (0, 600_000), 50)
                .expect("revokes")
        };
        assert!(ask(&store).is_empty());
        store.set_events_final(true);
        assert!(ask(&store).is_empty());
    }

    /// A client whose revokes would pass the connection's budget gets no
    /// summary and is read from SQL, with the same answer.
    #[test]
    fn a_client_past_the_budget_is_read_from_sql() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = revokes_store(dir.path());
        let ask = |store: &Store| {
            store
                .revokes_for_client("app", (None, None), None, (0, 300_000), 50)
                .expect("revokes")
        };
        let from_sql = ask(&store);
        assert!(from_sql.len() > 10);
        store.set_events_final(true);
        let filler = Revoke {
            ts_ms: 0,
            id: 0,
            ip: 0,
            user: 0,
            token: 0,
            accepted: true,
        };
        store
            .revokes
            .insert("filler", Some(vec![filler; SUMMARY_BUDGET - 10]));
        assert_eq!(ask(&store), from_sql);
        assert!(store.revokes.has("app"));
        assert_eq!(store.revokes.len(), 2);
        assert_eq!(store.revokes.room(), 10, "no summary kept for app");
    }
}
