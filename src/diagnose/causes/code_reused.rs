//! `code_reused`: the authorization code was exchanged a second time (double
//! callback, a retry after a timeout, React StrictMode, two tabs).
//!
//! Evidence: an earlier exchange of the same code. The same code fingerprint
//! or PKCE verifier proves it (`high`); the same client and redirect URI
//! within the login only points at it (`medium`: the code itself is
//! filtered from most request logs).
//!
//! Or, for an OmniAuth client: its log shows two callback phases of one
//! strategy with no request phase between them before the failure (`(github)
//! Callback phase initiated.` twice). Each callback phase exchanges the code
//! the redirect carried, and with no new login between them both carried the
//! same code: the second exchange is the one that fails. `medium`: the
//! callback lines do not show the code, and a request phase the log missed
//! would make them two logins.

use super::support::{earlier_by, omniauth_callbacks, outcome, ts};
use super::{Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::Case;
use crate::diagnose::cause::{Cause, Confidence};
use grantwatch_parsers::GrantType;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::CodeReused,
    meaning: "the authorization code was exchanged a second time",
    needs: "an earlier exchange of the same code (same code fingerprint or PKCE verifier) before this one, or two OmniAuth callback phases of one login",
    fix: "Exchange each authorization code exactly once: guard the callback handler against running twice (double callback, a provider configured both in OmniAuth::Builder and in Devise, React StrictMode, a retry after a timeout, two tabs) and keep the tokens from the first exchange.",
    grants: Grants::Code,
    infer: Some(infer),
};

fn infer(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    match case.exchange.grant_type {
        Some(GrantType::AuthorizationCode) => {}
        // An OmniAuth failure names no grant, but its callback phase only
        // ever exchanges a code.
        None if !case.phases.is_empty() => return double_callback(case, settings),
        _ => return None,
    }
    let Some(first) = case.earlier.first() else {
        return double_callback(case, settings);
    };
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

/// Two or more callback phases of the last strategy called back, since its
/// last request phase and within a code's lifetime of each other (see the
/// module's doc).
fn double_callback(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    let (name, since_login) = omniauth_callbacks(case)?;
    let (newest, oldest) = (since_login.first()?, since_login.last()?);
    if since_login.len() < 2 {
        return None;
    }
    let gap = newest.ts_ms.zip(oldest.ts_ms).map(|(a, b)| a - b);
    if gap.is_some_and(|g| g > settings.default_code_lifetime_s * 1000) {
        // Farther apart than a code lives: two logins whose request phase
        // the log does not show.
        return None;
    }
    let mut supporting: Vec<i64> = since_login.iter().map(|e| e.id).collect();
    supporting.reverse();
    Some(
        Finding::flow(
            Confidence::Medium,
            format!(
                "OmniAuth ran the {name} callback phase {} times{} with no new login between (lines {}): each run exchanges the code its redirect carried, so the same code was exchanged more than once and the later exchange failed.",
                since_login.len(),
                gap.map(|g| format!(" within {}", crate::time::human_duration(g)))
                    .unwrap_or_default(),
                since_login
                    .iter()
                    .rev()
                    .map(|e| e.line.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .supported_by(supporting)
        .missing(Some(
            "the callback requests with their code (the app's request log with parameters) would prove both carried the same code".into(),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{T0, case, event, failed};
    use crate::store::EventRow;
    use grantwatch_parsers::EventKind;

    fn second_exchange(same_code: bool) -> Case {
        let mut e = failed(GrantType::AuthorizationCode);
        e.code_fp = Some("fp-1".into());
        let mut c = case(e);
        let mut first = event(50, EventKind::TokenResponse, T0 - 400);
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
        c.exchange.grant_type = Some(GrantType::RefreshToken);
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
    }

    /// An OmniAuth phase event of `strategy` on `line`.
    fn phase(id: i64, line: u64, kind: EventKind, strategy: &str, ts: Option<i64>) -> EventRow {
        let mut e = event(id, kind, ts.unwrap_or(T0));
        e.ts_ms = ts;
        e.line = line;
        let what = if kind == EventKind::CodeIssued {
            "Callback"
        } else {
            "Request"
        };
        e.provider_reason = Some(format!("({strategy}) {what} phase initiated."));
        e
    }

    /// A client's OmniAuth failure after `phases`, no grant named.
    fn omniauth_failure(phases: Vec<EventRow>) -> Case {
        let mut e = crate::diagnose::causes::testing::client_error(None, None);
        e.provider_code = Some("invalid_credentials".into());
        let mut c = case(e);
        c.exchange.grant_type = None;
        c.phases = phases;
        c
    }

    #[test]
    fn two_callback_phases_of_one_login_are_a_reused_code() {
        let c = omniauth_failure(vec![
            phase(1, 3, EventKind::AuthorizeRequest, "stripe_connect", None),
            phase(2, 5, EventKind::CodeIssued, "stripe_connect", None),
            phase(3, 6, EventKind::CodeIssued, "stripe_connect", None),
        ]);
        let f = infer(&c, &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::Medium);
        assert_eq!(f.supporting, vec![2, 3]);
        assert!(f.summary.contains("2 times"), "{}", f.summary);
        assert!(f.missing.is_some());
    }

    #[test]
    fn one_callback_per_login_is_no_reuse() {
        // Request, callback, request, callback: two logins.
        let c = omniauth_failure(vec![
            phase(1, 1, EventKind::AuthorizeRequest, "github", None),
            phase(2, 2, EventKind::CodeIssued, "github", None),
            phase(3, 7, EventKind::AuthorizeRequest, "github", None),
            phase(4, 8, EventKind::CodeIssued, "github", None),
        ]);
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
        // A single callback.
        let c = omniauth_failure(vec![phase(2, 2, EventKind::CodeIssued, "github", None)]);
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
        // Callbacks of two strategies.
        let c = omniauth_failure(vec![
            phase(2, 2, EventKind::CodeIssued, "github", None),
            phase(3, 3, EventKind::CodeIssued, "gitlab", None),
        ]);
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
    }

    #[test]
    fn callbacks_farther_apart_than_a_code_lives_are_two_logins() {
        let s = DiagnoseSettings::default();
        let far = s.default_code_lifetime_s * 1000 + 1;
        let c = omniauth_failure(vec![
            phase(2, 2, EventKind::CodeIssued, "github", Some(T0 - far)),
            phase(3, 3, EventKind::CodeIssued, "github", Some(T0)),
        ]);
        assert!(infer(&c, &s).is_none());
        let c = omniauth_failure(vec![
            phase(2, 2, EventKind::CodeIssued, "github", Some(T0 - 150)),
            phase(3, 3, EventKind::CodeIssued, "github", Some(T0)),
        ]);
        let f = infer(&c, &s).expect("finding");
        assert!(f.summary.contains("within 150 ms"), "{}", f.summary);
    }

    #[test]
    fn a_refresh_after_callbacks_is_no_reused_code() {
        let mut c = omniauth_failure(vec![
            phase(2, 2, EventKind::CodeIssued, "github", None),
            phase(3, 3, EventKind::CodeIssued, "github", None),
        ]);
        c.exchange.grant_type = Some(GrantType::RefreshToken);
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
    }
}
