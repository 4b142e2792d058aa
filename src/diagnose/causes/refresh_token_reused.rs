//! `refresh_token_reused`: an already rotated refresh token was used again
//! (two refreshes racing, a response lost after the server rotated).
//!
//! Evidence: the provider's words, or another refresh by the same client
//! (or with the same refresh token) just before this one, with no revoke in
//! between.

use super::support::outcome;
use super::{Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::Case;
use crate::diagnose::cause::{Cause, Confidence};
use crate::time::human_duration;
use grantwatch_parsers::GrantType;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::RefreshTokenReused,
    meaning: "an already rotated refresh token was used again",
    needs: "another refresh by the same client (or with the same refresh token) just before this one",
    fix: "Serialise refreshes in the client (one in-flight refresh shared by every caller), store the rotated refresh token before using it, or enable a rotation grace period on the server.",
    grants: Grants::Refresh,
    infer: Some(infer),
};

fn infer(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    if case.exchange.grant_type != Some(GrantType::RefreshToken) {
        return None;
    }
    // Compare the times the two requests were sent, when the client logged
    // them; the server's time otherwise.
    let t = case.sent_ms.or(case.time_ms)?;
    let prior = case.earlier.iter().rev().find(|e| {
        let failed = e.status.is_some_and(|s| s >= 400) || e.error.is_some();
        !failed
            && ((e.refresh_token_fp.is_some()
                && e.refresh_token_fp == case.exchange.refresh_token_fp)
                || (e.ts_ms.is_some_and(|p| t - p <= settings.refresh_race_ms)
                    && (e.ip.is_none() || case.exchange.ip.is_none() || e.ip == case.exchange.ip)))
    })?;
    // A revocation after that refresh explains the failure better.
    if case.revokes.iter().any(|r| r.ts_ms > prior.ts_ms) {
        return None;
    }
    let same_token = prior.refresh_token_fp.is_some()
        && prior.refresh_token_fp == case.exchange.refresh_token_fp;
    let gap = prior.ts_ms.map(|p| t - p).unwrap_or(0);
    Some(
        Finding::flow(
            if same_token || gap <= settings.refresh_race_ms {
                Confidence::High
            } else {
                Confidence::Medium
            },
            format!(
                "Client {} refreshed {} earlier ({}){}: this refresh presented a refresh token that rotation had already replaced.",
                case.exchange.client_id.as_deref().unwrap_or("(unknown)"),
                human_duration(gap),
                outcome(prior),
                if same_token {
                    " with the same refresh token"
                } else {
                    ""
                }
            ),
        )
        .supported_by(vec![prior.id]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{T0, case, event, failed};
    use grantwatch_parsers::EventKind;

    fn after_refresh(gap_ms: i64) -> Case {
        let mut c = case(failed(GrantType::RefreshToken));
        let mut prior = event(40, EventKind::TokenResponse, T0 - gap_ms);
        prior.status = Some(200);
        prior.grant_type = Some(GrantType::RefreshToken);
        c.earlier.push(prior);
        c
    }

    #[test]
    fn two_refreshes_racing_are_proven() {
        let f = infer(&after_refresh(300), &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::High);
        assert!(f.summary.contains("300 ms earlier"), "{}", f.summary);
    }

    #[test]
    fn a_refresh_long_before_is_not_a_race() {
        assert!(infer(&after_refresh(60_000), &DiagnoseSettings::default()).is_none());
    }

    #[test]
    fn a_revoke_after_the_earlier_refresh_explains_it_better() {
        let mut c = after_refresh(300);
        c.revokes
            .push(event(41, EventKind::RevokeRequest, T0 - 100));
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
    }
}
