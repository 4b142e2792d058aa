//! `code_expired`: the authorization code was exchanged after its lifetime
//! (a slow user, an app suspended between redirect and exchange).
//!
//! Evidence: the provider's words, or the code's issue time against the
//! exchange and the server's code lifetime (proven when the flow is tied by
//! code or verifier). Hydra's bare `invalid_token` debug text on a code
//! exchange is how fosite logs an expired code (medium).

use super::support::{hydra_bare_invalid_token, ts};
use super::{Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::{Case, FlowLink};
use crate::diagnose::cause::{Cause, Confidence};
use crate::time::human_duration;
use grantwatch_parsers::{GrantType, ServerKind};

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::CodeExpired,
    meaning: "the authorization code was exchanged after its lifetime",
    needs: "the time the code was issued and the time it was exchanged, against the server's code lifetime",
    fix: "Exchange the code right after the redirect; if users are slow (or the app is suspended), start a new authorization instead of exchanging an old code, or raise the code lifetime.",
    grants: Grants::Code,
    infer: Some(infer),
};

fn infer(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    if case.exchange.grant_type != Some(GrantType::RefreshToken) && hydra_bare_invalid_token(case) {
        return Some(
            Finding::flow(
                Confidence::Medium,
                "Hydra logged invalid_grant with no hint and debug \"invalid_token\": that is how fosite reports an authorization code past its lifetime (the \"Authorize code expired at\" text is dropped from the log).".into(),
            )
            .missing(Some(
                "the authorize request that issued the code (Hydra's /oauth2/auth access log), to compare its time with the exchange".into(),
            )),
        );
    }
    let flow = case.flow.as_ref()?;
    let age = case.time_ms? - flow.authorize.ts_ms?;
    let lifetime = settings.code_lifetime_ms(case.server.map(ServerKind::as_str));
    let weak = flow.link == FlowLink::ClientAndTime;
    (age > lifetime).then(|| {
        Finding::flow(
            if weak { Confidence::Medium } else { Confidence::High },
            format!(
                "The code issued at {} was exchanged {} later; {} codes live {}.",
                ts(flow.authorize.ts_ms),
                human_duration(age),
                case.server.map(ServerKind::as_str).unwrap_or("this server's"),
                human_duration(lifetime)
            ),
        )
        .supported_by(vec![flow.authorize.id])
        .missing(weak.then(|| {
            "the code or PKCE verifier of the exchange, to tie it to this authorize request for sure".into()
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{case, failed, flow};

    fn exchanged_after(age_ms: i64, link: FlowLink) -> Case {
        let mut e = failed(GrantType::AuthorizationCode);
        e.server = Some(ServerKind::Keycloak);
        let mut c = case(e);
        c.flow = Some(flow(age_ms, link));
        c
    }

    #[test]
    fn a_code_older_than_its_lifetime_is_proven() {
        // Keycloak codes live 60 s.
        let f = infer(
            &exchanged_after(95_000, FlowLink::Code),
            &DiagnoseSettings::default(),
        )
        .expect("finding");
        assert_eq!(f.confidence, Confidence::High);
        assert!(f.summary.contains("1 min 35 s later"), "{}", f.summary);
    }

    #[test]
    fn a_fresh_code_says_nothing_and_a_weak_link_is_medium() {
        let s = DiagnoseSettings::default();
        assert!(infer(&exchanged_after(20_000, FlowLink::Code), &s).is_none());
        let f = infer(&exchanged_after(95_000, FlowLink::ClientAndTime), &s).expect("finding");
        assert_eq!(f.confidence, Confidence::Medium);
    }

    #[test]
    fn hydras_bare_invalid_token_on_a_code_is_medium() {
        let mut e = failed(GrantType::AuthorizationCode);
        e.server = Some(ServerKind::Hydra);
        e.provider_debug = Some("invalid_token".into());
        let f = infer(&case(e), &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::Medium);
    }
}
