//! `pkce_verifier_mismatch`: the code_verifier does not hash to the
//! code_challenge (most often: the app was restarted between authorize and
//! token and regenerated its verifier).
//!
//! Evidence: the provider's words, or the S256 of the logged verifier
//! against the authorize request's challenge. Proven when the flow is tied
//! by the code or an app restart in between explains it; otherwise medium.

use super::support::ts;
use super::{Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::{Case, FlowLink};
use crate::diagnose::cause::{Cause, Confidence};

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::PkceVerifierMismatch,
    meaning: "the code_verifier does not hash to the code_challenge",
    needs: "the S256 of the logged code_verifier differing from the authorize request's code_challenge",
    fix: "Keep the code_verifier generated for this login until the token exchange (persist it across app restarts and process death) and never regenerate it between authorize and token.",
    grants: Grants::Code,
    infer: Some(infer),
};

fn infer(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    let flow = case.flow.as_ref()?;
    let sent = case.exchange.verifier_s256.as_ref()?;
    if flow.link == FlowLink::Pkce {
        return None;
    }
    let restart = case.lifecycle.iter().find(|l| {
        matches!(
            l.lifecycle.as_deref(),
            Some("cold_start") | Some("terminated")
        )
    });
    let Some((challenge, by)) = flow.challenge() else {
        return Some(
            Finding::flow(
                Confidence::Medium,
                format!(
                    "The token request sent a code_verifier but the authorize request at {} sent no code_challenge: PKCE is configured differently in the client's two steps.",
                    ts(flow.authorize.ts_ms)
                ),
            )
            .supported_by(vec![flow.authorize.id])
            .missing(Some("the authorize request that issued this exact code".into())),
        );
    };
    if challenge == sent {
        return None;
    }
    let mut supporting = vec![flow.authorize.id, by.id];
    supporting.extend(restart.map(|r| r.id));
    let proven = flow.link == FlowLink::Code || restart.is_some();
    Some(
        Finding::flow(
            if proven { Confidence::High } else { Confidence::Medium },
            format!(
                "The code_verifier sent hashes (S256) to {}… but the authorize request at {} sent code_challenge {}…{}",
                sent.chars().take(10).collect::<String>(),
                ts(by.ts_ms),
                challenge.chars().take(10).collect::<String>(),
                match restart {
                    Some(r) => format!(
                        ": the app was restarted at {} between authorize and token, and regenerated its verifier.",
                        ts(r.ts_ms)
                    ),
                    None => ": the app sent a different verifier than the one it started this login with."
                        .into(),
                }
            ),
        )
        .supported_by(supporting)
        .missing((flow.link == FlowLink::ClientAndTime && restart.is_none()).then(|| {
            "the client's log around the login (to rule out two overlapping logins of the same client)".into()
        })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{T0, case, event, failed, flow};
    use grantwatch_parsers::EventKind;
    use grantwatch_parsers::GrantType;

    fn mismatch(link: FlowLink) -> Case {
        let mut e = failed(GrantType::AuthorizationCode);
        e.verifier_s256 = Some("AAAAAAAAAAAAAAAAAAAA".into());
        let mut c = case(e);
        let mut f = flow(20_000, link);
        f.authorize.code_challenge = Some("BBBBBBBBBBBBBBBBBBBB".into());
        c.flow = Some(f);
        c
    }

    #[test]
    fn a_restart_between_authorize_and_token_proves_it() {
        let mut c = mismatch(FlowLink::ClientAndTime);
        let mut life = event(60, EventKind::Lifecycle, T0 - 10_000);
        life.lifecycle = Some("cold_start".into());
        c.lifecycle.push(life);
        let f = infer(&c, &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::High);
        assert!(f.summary.contains("restarted"), "{}", f.summary);
        assert!(f.supporting.contains(&60));
    }

    #[test]
    fn without_a_restart_a_weak_link_is_medium() {
        let f = infer(
            &mismatch(FlowLink::ClientAndTime),
            &DiagnoseSettings::default(),
        )
        .expect("finding");
        assert_eq!(f.confidence, Confidence::Medium);
        assert!(f.missing.is_some());
    }

    #[test]
    fn a_verifier_that_hashes_to_the_challenge_says_nothing() {
        let mut c = mismatch(FlowLink::Code);
        c.exchange.verifier_s256 = Some("BBBBBBBBBBBBBBBBBBBB".into());
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
    }
}
