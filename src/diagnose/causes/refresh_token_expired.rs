//! `refresh_token_expired`: the refresh token's lifetime or idle time passed.
//!
//! Evidence: the provider's words; or old Keycloak's bare `invalid_token`
//! with the client's last successful refresh older than the SSO session
//! idle timeout; or Hydra's bare `invalid_token` debug text on a refresh
//! (both medium: the server's words do not name it).

use super::support::{hydra_bare_invalid_token, ts};
use super::{Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::Case;
use crate::diagnose::cause::{Cause, Confidence};
use crate::time::human_duration;
use grantwatch_parsers::GrantType;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::RefreshTokenExpired,
    meaning: "the refresh token's lifetime or idle time passed",
    needs: "the provider saying the refresh token expired or idled out",
    fix: "Start a new interactive login when the refresh token has expired; raise the refresh-token (or session idle) lifetime if users are logged out too soon.",
    grants: Grants::Refresh,
    infer: Some(infer),
};

fn infer(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    if let Some(f) = keycloak_idle(case, settings) {
        return Some(f);
    }
    (case.exchange.grant_type == Some(GrantType::RefreshToken) && hydra_bare_invalid_token(case)).then(|| {
        Finding::flow(
            Confidence::Medium,
            "Hydra logged invalid_grant on a refresh with no hint and debug \"invalid_token\": that is how fosite up to 0.47 reports a refresh token past its lifetime (ttl.refresh_token).".into(),
        )
        .missing(Some(
            "the refresh token's issue time (the token response that issued it)".into(),
        ))
    })
}

/// Old Keycloak logs every refresh failure as `error=invalid_token` with no
/// reason; when the client's last successful refresh is older than the SSO
/// session idle timeout, the refresh token (whose lifetime follows it) had
/// expired.
fn keycloak_idle(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    if !case.is_keycloak_bare_refresh_error() {
        return None;
    }
    let last = case.earlier_successes.last()?;
    let idle = case.time_ms? - last.ts_ms?;
    (idle > settings.keycloak_session_idle_s * 1000).then(|| {
        Finding::flow(
            Confidence::Medium,
            format!(
                "Keycloak refused the refresh with a bare invalid_token; the client's last successful refresh was {} earlier ({}), longer than Keycloak's SSO Session Idle ({}), which bounds the refresh token's lifetime.",
                human_duration(idle),
                ts(last.ts_ms),
                human_duration(settings.keycloak_session_idle_s * 1000)
            ),
        )
        .supported_by(vec![last.id])
        .missing(Some(
            "a Keycloak 23+ event log, whose reason= names the check that failed".into(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{T0, case, event, failed};
    use crate::diagnose::decide;
    use grantwatch_parsers::{EventKind, ServerKind};

    fn keycloak_bare(last_refresh_ago_ms: i64) -> Case {
        let mut e = failed(GrantType::RefreshToken);
        e.server = Some(ServerKind::Keycloak);
        e.provider_code = Some("invalid_token".into());
        let mut c = case(e);
        let mut ok = event(20, EventKind::TokenResponse, T0 - last_refresh_ago_ms);
        ok.status = Some(200);
        c.earlier_successes.push(ok);
        c
    }

    #[test]
    fn keycloaks_bare_error_after_the_idle_timeout_is_medium() {
        let f =
            infer(&keycloak_bare(2 * 3_600_000), &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::Medium);
        assert!(f.summary.contains("2 h 0 min earlier"), "{}", f.summary);
    }

    #[test]
    fn keycloaks_bare_error_within_the_idle_timeout_says_nothing() {
        assert!(infer(&keycloak_bare(600_000), &DiagnoseSettings::default()).is_none());
    }

    #[test]
    fn the_providers_words_are_high() {
        let mut e = failed(GrantType::RefreshToken);
        e.error_description = Some("The refresh token expired.".into());
        let v = decide(&case(e), &DiagnoseSettings::default());
        assert_eq!(
            (v.cause, v.confidence),
            (Cause::RefreshTokenExpired, Confidence::High)
        );
    }
}
