//! Whether an event records a failed token request, judged from the few
//! fields that say so, and the pages of such events the diagnosis reads.
//!
//! The one definition of a failure event: `correlate::is_failure_event`
//! asks it of a row, and a kept load (`kept.rs`) asks it of each event's
//! columns as it keeps them, so that the diagnosis reads the rows of its
//! failures only. A Keycloak log's failure candidates (every event with an
//! error) are three quarters browser `LOGIN_ERROR`s, which record no token
//! request: each was read back as a whole row (42 columns decoded, a dozen
//! strings allocated) only to be dropped (benches/README.md).
//!
//! Invariant: [`Store::failure_events_page`] gives exactly the events of
//! [`Store::failure_candidates_page`] that [`FailureSigns::is_failure`]
//! accepts, in id order, whether the events are kept or in the table (the
//! kept-store tests compare the two).

use grantwatch_parsers::EventKind;

use super::{EventRow, Result, Store};

/// The fields of an event that tell whether it records a failed token
/// request.
#[derive(Clone, Copy, Debug)]
pub struct FailureSigns<'a> {
    /// The event's kind.
    pub kind: EventKind,
    /// Its HTTP status.
    pub status: Option<u16>,
    /// Whether it names an OAuth error.
    pub has_error: bool,
    /// Whether it names a provider's error code.
    pub has_provider_code: bool,
    /// Whether it gives a provider's reason.
    pub has_provider_reason: bool,
    /// Its HTTP path.
    pub path: Option<&'a str>,
}

impl<'a> FailureSigns<'a> {
    /// The signs of a row.
    pub fn of(e: &'a EventRow) -> FailureSigns<'a> {
        FailureSigns {
            kind: e.kind,
            status: e.status,
            has_error: e.error.is_some(),
            has_provider_code: e.provider_code.is_some(),
            has_provider_reason: e.provider_reason.is_some(),
            path: e.path.as_deref(),
        }
    }

    /// Whether the event records a failed token request (or a server's
    /// warning about one).
    pub fn is_failure(&self) -> bool {
        let failed = self.status.is_some_and(|s| s >= 400) || self.has_error;
        match self.kind {
            EventKind::TokenResponse => {
                failed || self.has_provider_code && self.status.is_none_or(|s| s >= 400)
            }
            EventKind::ClientError => true,
            // A server's warning about a grant (it names a reason), or an
            // error on the token endpoint; an error of another endpoint is
            // not a failed token request.
            EventKind::ProviderEvent => {
                self.has_provider_reason
                    || (self.has_error || self.has_provider_code)
                        && self.path.is_some_and(|p| p.contains("token"))
            }
            _ => false,
        }
    }

    /// Whether the join window (`Store::failure_events_where`) holds the
    /// event: every failing response and client error, and of the provider
    /// events only those that record a failure. The window's readers take
    /// failure events alone, or failed responses (`Store::failed_responses_near`):
    /// a browser's `LOGIN_ERROR`, three quarters of a Keycloak log's
    /// failing events, was read back as a whole row for every window it
    /// fell in, only to be dropped (benches/README.md).
    pub fn fills_join_window(&self) -> bool {
        self.kind != EventKind::ProviderEvent || self.is_failure()
    }
}

impl Store {
    /// The first `limit` failure events ([`FailureSigns::is_failure`])
    /// with ids in `after + 1..=until`, in id order: of the failure
    /// candidates, those the diagnosis diagnoses.
    pub fn failure_events_page(
        &self,
        (after, until): (i64, i64),
        limit: u32,
    ) -> Result<Vec<EventRow>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        if let Some(rows) =
            self.with_kept(|kept| kept.rows_of(kept.failure_events((after, until), limit as usize)))
        {
            return rows;
        }
        let mut out = Vec::new();
        let mut cursor = after;
        loop {
            let page = self.failure_candidates_page((cursor, until), limit)?;
            let full = page.len() == limit as usize;
            for event in page {
                cursor = event.id;
                if FailureSigns::of(&event).is_failure() {
                    out.push(event);
                    if out.len() == limit as usize {
                        return Ok(out);
                    }
                }
            }
            if !full {
                return Ok(out);
            }
        }
    }
}
