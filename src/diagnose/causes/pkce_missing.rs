//! `pkce_missing`: a code_verifier was required but not sent (an app that
//! keeps the verifier in memory and loses it across the redirect, or a
//! library that does not send it).
//!
//! Evidence: the provider's words, or an authorize request with a challenge
//! and a token request whose logged parameters have no verifier. Hydra
//! answers "The PKCE code verifier must be at least 43 characters." when no
//! verifier was sent at all (fosite checks the length of the empty form
//! value): that text is a missing verifier unless a logged token request
//! shows one, and it is read so over the catalog's "malformed" reading.

use super::support::{own_texts, ts};
use super::{Basis, Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::Case;
use crate::diagnose::cause::{Cause, Confidence};

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::PkceMissing,
    meaning: "a code_verifier was required but not sent",
    needs: "an authorize request with a code_challenge and a token request whose logged parameters have no code_verifier, or Hydra's length check on an empty verifier",
    fix: "Send the code_verifier of this login with the token request; if the app keeps it in memory, persist it across the redirect.",
    grants: Grants::Code,
    infer: Some(infer),
};

/// fosite's length check, which an empty verifier fails.
const HYDRA_TOO_SHORT: &str = "The PKCE code verifier must be at least 43 characters";

fn infer(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    from_challenge(case).or_else(|| hydra_empty_verifier(case, settings))
}

fn from_challenge(case: &Case) -> Option<Finding> {
    let flow = case.flow.as_ref()?;
    let (challenge, by) = flow.challenge()?;
    (case.exchange.verifier_sent == Some(false)).then(|| {
        Finding::flow(
            Confidence::High,
            format!(
                "The authorize request at {} sent a code_challenge ({}…, {}) but the token request sent no code_verifier.",
                ts(by.ts_ms),
                challenge.chars().take(10).collect::<String>(),
                by.code_challenge_method.as_deref().unwrap_or("plain")
            ),
        )
        .supported_by(vec![by.id])
    })
}

fn hydra_empty_verifier(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    if !own_texts(case).any(|t| t.contains(HYDRA_TOO_SHORT)) {
        return None;
    }
    let x = &case.exchange;
    if x.verifier_sent == Some(true) || x.verifier_s256.is_some() {
        // The request shows a verifier: it really was too short.
        return None;
    }
    let seen_without = x.verifier_sent == Some(false);
    let confidence = if seen_without {
        Confidence::High
    } else {
        Confidence::Medium
    };
    Some(Finding {
        basis: Basis::Words,
        supersedes: vec![Cause::MalformedGrant],
        missing: (!seen_without).then(|| {
            "the client's token request with its parameters (a verifier in it would make the text mean a verifier too short)".into()
        }),
        ..Finding::flow(
            confidence,
            format!(
                "Hydra answered \"{HYDRA_TOO_SHORT}.\", which is what it says when no code_verifier was sent at all (it checks the length of the empty value){}.",
                if seen_without {
                    ", and the logged token request has none"
                } else {
                    "; no logged token request shows a verifier"
                }
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::case::FlowLink;
    use crate::diagnose::causes::testing::{case, failed, flow};
    use crate::diagnose::decide;
    use grantwatch_parsers::GrantType;
    use grantwatch_parsers::ServerKind;

    #[test]
    fn a_challenge_and_no_verifier_prove_it() {
        let mut e = failed(GrantType::AuthorizationCode);
        e.verifier_sent = Some(false);
        let mut c = case(e);
        let mut f = flow(2_000, FlowLink::ClientAndTime);
        f.authorize.code_challenge = Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into());
        f.authorize.code_challenge_method = Some("S256".into());
        c.flow = Some(f);
        let found = infer(&c, &DiagnoseSettings::default()).expect("finding");
        assert_eq!(found.confidence, Confidence::High);
        assert!(found.summary.contains("S256"));
    }

    fn hydra_too_short(verifier: Option<bool>) -> Case {
        let mut e = failed(GrantType::AuthorizationCode);
        e.server = Some(ServerKind::Hydra);
        e.error = Some("invalid_grant".into());
        e.provider_reason = Some("The PKCE code verifier must be at least 43 characters.".into());
        e.verifier_sent = verifier;
        case(e)
    }

    #[test]
    fn hydras_length_check_with_no_verifier_is_a_missing_verifier() {
        let v = decide(&hydra_too_short(None), &DiagnoseSettings::default());
        assert_eq!(
            (v.cause, v.confidence),
            (Cause::PkceMissing, Confidence::Medium)
        );
        assert!(
            v.candidates
                .iter()
                .any(|c| c.cause == Cause::MalformedGrant)
        );
        assert!(v.missing.is_some());
        let v = decide(&hydra_too_short(Some(false)), &DiagnoseSettings::default());
        assert_eq!(
            (v.cause, v.confidence),
            (Cause::PkceMissing, Confidence::High)
        );
    }

    #[test]
    fn a_logged_verifier_makes_it_a_short_one() {
        let v = decide(&hydra_too_short(Some(true)), &DiagnoseSettings::default());
        assert_eq!(v.cause, Cause::MalformedGrant);
    }
}
