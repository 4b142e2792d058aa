//! Incidents: failures grouped the way Sentry groups events into issues, so
//! that an on-call engineer sees "what broke, since when, for whom" instead
//! of a list of failures.
//!
//! An incident is keyed by cause, server and client plus a discriminator
//! that tells two problems of one cause apart ([`discriminator`]): the pair
//! of redirect URIs of a `redirect_uri_mismatch`, else the provider's own
//! error code. The app release is *not* part of the key: one outage that
//! spans releases stays one incident, and its per-release breakdown is
//! what says a cause started with a release.
//!
//! Grouping happens as failures are stored (`Store::upsert_failure`, in
//! `analyze` and `watch` alike, re-diagnoses included: a failure whose
//! cause changes moves to its new incident in the same transaction). The
//! state is derived when read, against a "now" ([`state`]), so nothing has
//! to run when time passes: quiet for [`QUIET_MS`] is resolved, a failure
//! after such a quiet spell marks the incident regressed.

pub mod agent;

use crate::cause::Cause;
use crate::store::failures::FailureRecord;
use crate::store::labels::server_label;

/// Quiet time after which an incident is resolved (30 minutes).
pub const QUIET_MS: i64 = 30 * 60_000;
/// How long an open incident counts as new after it was first seen.
pub const NEW_MS: i64 = 60 * 60_000;

/// The state of an incident at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// First seen within the last hour, never quiet since.
    New,
    /// Open for longer than an hour.
    Ongoing,
    /// Quiet for 30 minutes.
    Resolved,
    /// Back after having been quiet for 30 minutes, and open.
    Regressed,
}

impl State {
    /// Every state, in the order the filters list them.
    pub const ALL: [State; 4] = [
        State::New,
        State::Ongoing,
        State::Regressed,
        State::Resolved,
    ];

    /// The id the API and the filters use.
    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Ongoing => "ongoing",
            State::Resolved => "resolved",
            State::Regressed => "regressed",
        }
    }

    /// The state named `text`, if any.
    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The state at `now` of an incident first and last seen at these times,
/// which regressed (came back after a quiet spell) at `regressed_ms`.
pub fn state(first_ms: i64, last_ms: i64, regressed_ms: Option<i64>, now: i64) -> State {
    if last_ms < now - QUIET_MS {
        State::Resolved
    } else if regressed_ms.is_some() {
        State::Regressed
    } else if first_ms >= now - NEW_MS {
        State::New
    } else {
        State::Ongoing
    }
}

/// What tells two problems of the same cause, server and client apart: the
/// pair of redirect URIs of a mismatch, or the provider's error code (an
/// Entra `AADSTS…`, a Keycloak event error); empty when neither is known.
pub fn discriminator(rec: &FailureRecord, provider_code: Option<&str>) -> String {
    if rec.cause == Cause::RedirectUriMismatch
        && let Some(pair) = &rec.context.redirect_uris
    {
        return format!("{} → {}", pair.authorize, pair.token);
    }
    provider_code.map(str::to_owned).unwrap_or_default()
}

/// The unique key of the incident of `rec`: its labels and discriminator,
/// separated by a byte no label holds.
pub fn key(rec: &FailureRecord, discriminator: &str) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        rec.cause,
        server_label(rec.server),
        rec.client_id.as_deref().unwrap_or(""),
        discriminator
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_the_quiet_spell_and_the_regression() {
        let now = 10 * 3_600_000;
        assert_eq!(state(now - 60_000, now, None, now), State::New);
        assert_eq!(state(now - 2 * NEW_MS, now, None, now), State::Ongoing);
        assert_eq!(
            state(now - 2 * NEW_MS, now - QUIET_MS - 1, None, now),
            State::Resolved
        );
        assert_eq!(
            state(now - 2 * NEW_MS, now, Some(now - 1000), now),
            State::Regressed
        );
        // A regressed incident quiet again is resolved.
        assert_eq!(
            state(0, now - QUIET_MS - 1, Some(now - QUIET_MS - 1), now),
            State::Resolved
        );
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }
}
