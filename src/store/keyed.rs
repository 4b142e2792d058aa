//! The events that share a key with a failure: its request id, its code's
//! fingerprint, its PKCE challenge or verifier, its refresh token's
//! fingerprint. Each lookup gives every event with that key, in time order
//! (an event without a time first), then id: what correlation joins and a
//! diagnosis's history look back through.
//!
//! Invariant: each answers what its SQL answers over the stored events,
//! also when the request ids are held in memory instead of in
//! `events_by_request` (`request_order.rs`).

use super::events::EventRow;
use super::kept::KeyColumn;
use super::{Result, Store};

impl Store {
    /// Every event with this request id, in time order.
    pub fn events_by_request(&self, request_id: &str) -> Result<Vec<EventRow>> {
        if self.events_final
            && let Some(rows) = self.last_request.get(request_id)
        {
            return Ok(rows);
        }
        let rows = match self.event_index() {
            Some(index) => self.events_with_request(&index, request_id)?,
            None => self.query_events(
                "e.request_id = ?1 ORDER BY coalesce(e.ts_ms, 0), e.id",
                [request_id],
            )?,
        };
        if self.events_final {
            self.last_request.keep(request_id, &rows);
        }
        Ok(rows)
    }

    /// Every event carrying this code fingerprint, in time order.
    pub fn events_by_code(&self, code_fp: &str) -> Result<Vec<EventRow>> {
        if let Some(rows) = self.with_kept(|kept| kept.rows_with(KeyColumn::CodeFp, code_fp)) {
            return rows;
        }
        self.query_events(
            "e.code_fp = ?1 ORDER BY coalesce(e.ts_ms, 0), e.id",
            [code_fp],
        )
    }

    /// Authorize events whose PKCE challenge is `challenge`.
    pub fn events_by_challenge(&self, challenge: &str) -> Result<Vec<EventRow>> {
        if let Some(rows) =
            self.with_kept(|kept| kept.rows_with(KeyColumn::CodeChallenge, challenge))
        {
            return rows;
        }
        self.query_events(
            "e.code_challenge = ?1 ORDER BY coalesce(e.ts_ms, 0), e.id",
            [challenge],
        )
    }

    /// Token requests that sent a verifier hashing to `s256`.
    pub fn events_by_verifier(&self, s256: &str) -> Result<Vec<EventRow>> {
        if let Some(rows) = self.with_kept(|kept| kept.rows_with(KeyColumn::VerifierS256, s256)) {
            return rows;
        }
        self.query_events(
            "e.verifier_s256 = ?1 ORDER BY coalesce(e.ts_ms, 0), e.id",
            [s256],
        )
    }

    /// Every event carrying this refresh-token fingerprint.
    pub fn events_by_refresh(&self, fp: &str) -> Result<Vec<EventRow>> {
        if let Some(rows) = self.with_kept(|kept| kept.rows_with(KeyColumn::RefreshTokenFp, fp)) {
            return rows;
        }
        self.query_events(
            "e.refresh_token_fp = ?1 ORDER BY coalesce(e.ts_ms, 0), e.id",
            [fp],
        )
    }
}
