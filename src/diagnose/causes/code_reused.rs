//! `code_reused`: the authorization code was exchanged a second time (double
//! callback, a retry after a timeout, React StrictMode, two tabs).
//!
//! Evidence: an earlier exchange of the same code. The same code fingerprint
//! or PKCE verifier proves it (`high`); the same client and redirect URI
//! within the login only points at it (`medium`: the code itself is
//! filtered from most request logs).

use super::support::{earlier_by, outcome, ts};
use super::{Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::Case;
use crate::diagnose::cause::{Cause, Confidence};

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::CodeReused,
    meaning: "the authorization code was exchanged a second time",
    needs: "an earlier exchange of the same code (same code fingerprint or PKCE verifier) before this one",
    fix: "Exchange each authorization code exactly once: guard the callback handler against running twice (double callback, React StrictMode, a retry after a timeout, two tabs) and keep the tokens from the first exchange.",
    grants: Grants::Code,
    infer: Some(infer),
};

fn infer(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    if case.exchange.grant_type.as_deref() != Some("authorization_code") {
        return None;
    }
    let first = case.earlier.first()?;
    let gap = case.time_ms.zip(first.ts_ms).map(|(a, b)| a - b);
    let by_secret = case.exchange.code_fp.is_some() && first.code_fp == case.exchange.code_fp
        || case.exchange.verifier_s256.is_some()
            && first.verifier_s256 == case.exchange.verifier_s256;
    let confidence = if by_secret {
        Confidence::High
    } else {
        Confidence::Medium
    };
    Some(
        Finding::flow(
            confidence,
            format!(
                "This code was already exchanged at {} ({}){}: this is a second exchange of the same code{}.",
                ts(first.ts_ms),
                outcome(first),
                earlier_by(gap),
                if by_secret {
                    ""
                } else {
                    " (same client and redirect_uri; the code itself is filtered from the log)"
                }
            ),
        )
        .supported_by(vec![first.id])
        .missing((!by_secret).then(|| {
            "a log with the code or code_verifier of each exchange (e.g. the client's request log) would prove it is the same code".into()
        })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{T0, case, event, failed};

    fn second_exchange(same_code: bool) -> Case {
        let mut e = failed("authorization_code");
        e.code_fp = Some("fp-1".into());
        let mut c = case(e);
        let mut first = event(50, "token_response", T0 - 400);
        first.status = Some(200);
        first.code_fp = same_code.then(|| "fp-1".into());
        c.earlier.push(first);
        c
    }

    #[test]
    fn the_same_code_exchanged_twice_is_proven() {
        let f = infer(&second_exchange(true), &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::High);
        assert!(f.summary.contains("400 ms earlier"), "{}", f.summary);
        assert_eq!(f.supporting, vec![50]);
    }

    #[test]
    fn the_same_client_alone_is_medium_and_says_what_would_prove_it() {
        let f = infer(&second_exchange(false), &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::Medium);
        assert!(f.missing.is_some());
    }

    #[test]
    fn a_refresh_is_never_a_reused_code() {
        let mut c = second_exchange(true);
        c.exchange.grant_type = Some("refresh_token".into());
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
    }
}
