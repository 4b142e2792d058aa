//! `refresh_token_revoked`: the refresh token was revoked (logout, a revoke
//! call, a password change, an admin).
//!
//! Evidence: the provider's words, or a revoke call by the same client (the
//! same device when the token is filtered) before the refresh: proven when
//! it carried the same refresh token.

use super::support::ts;
use super::{Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::Case;
use crate::diagnose::cause::{Cause, Confidence};
use crate::time::human_duration;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::RefreshTokenRevoked,
    meaning: "the refresh token was revoked",
    needs: "a revoke call (or logout) by the same client before the refresh",
    fix: "After logout or revocation, drop the stored tokens and start a new login instead of refreshing.",
    grants: Grants::Refresh,
    infer: Some(infer),
};

fn infer(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    let revoke = case.revokes.last()?;
    let same_token = revoke.refresh_token_fp.is_some()
        && revoke.refresh_token_fp == case.exchange.refresh_token_fp;
    let gap = case
        .time_ms
        .zip(revoke.ts_ms)
        .map(|(a, b)| a - b)
        .unwrap_or(0);
    Some(
        Finding::flow(
            if same_token {
                Confidence::High
            } else {
                Confidence::Medium
            },
            format!(
                "Client {} revoked a token at {} ({} {}, {} before this refresh){}.",
                case.exchange.client_id.as_deref().unwrap_or("(unknown)"),
                ts(revoke.ts_ms),
                revoke.method.as_deref().unwrap_or("POST"),
                revoke.path.as_deref().unwrap_or("revoke"),
                human_duration(gap),
                if same_token {
                    ": the same refresh token"
                } else {
                    "; the refresh token is filtered, so it is likely but not proven to be the same one"
                }
            ),
        )
        .supported_by(vec![revoke.id])
        .missing((!same_token).then(|| {
            "a log with the revoked token's fingerprint (unfiltered revoke parameters)".into()
        })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{T0, case, event, failed};
    use grantwatch_parsers::EventKind;
    use grantwatch_parsers::GrantType;

    fn after_revoke(same_token: bool) -> Case {
        let mut e = failed(GrantType::RefreshToken);
        e.refresh_token_fp = Some("rt-1".into());
        let mut c = case(e);
        let mut r = event(30, EventKind::RevokeRequest, T0 - 90_000);
        r.path = Some("/oauth/revoke".into());
        r.refresh_token_fp = same_token.then(|| "rt-1".into());
        c.revokes.push(r);
        c
    }

    #[test]
    fn a_revoke_of_the_same_token_is_proven() {
        let f = infer(&after_revoke(true), &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::High);
        assert!(f.summary.contains("1 min 30 s before"), "{}", f.summary);
    }

    #[test]
    fn a_revoke_of_a_filtered_token_is_medium() {
        let f = infer(&after_revoke(false), &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::Medium);
        assert!(f.missing.is_some());
    }

    #[test]
    fn no_revoke_says_nothing() {
        assert!(
            infer(
                &case(failed(GrantType::RefreshToken)),
                &DiagnoseSettings::default()
            )
            .is_none()
        );
    }
}
