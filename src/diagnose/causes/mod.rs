//! The root causes, one file per cause (the way clippy keeps one lint per
//! file): each holds a doc block, the cause's meaning, the evidence it needs,
//! its fix, the grants it fits, the inference that works where the server
//! says nothing specific, and unit tests on hand-built cases. The providers'
//! own words are in [`super::phrases`].
//!
//! [`PRIORITY`] is the one list that orders them: when two causes are equally
//! sure and equally well founded, the one a server checks first wins (client
//! authentication, then the grant's existence and use, then client, redirect
//! URI and PKCE, then expiry) and the other becomes a candidate.

mod binding_mismatch;
mod client_mismatch;
mod clock_skew;
mod code_expired;
mod code_reused;
mod grant_type_not_allowed;
mod interaction_required;
mod invalid_client_credentials;
mod invalid_resource_owner_credentials;
mod issuer_or_tenant_mismatch;
mod malformed_grant;
mod pkce_missing;
mod pkce_verifier_mismatch;
mod redirect_uri_mismatch;
mod refresh_token_expired;
mod refresh_token_reused;
mod refresh_token_revoked;
mod rule;
mod scope_invalid;
mod session_terminated;
mod support;
mod user_or_consent_revoked;

#[cfg(test)]
pub(crate) mod testing;

pub use redirect_uri_mismatch::uri_difference;
pub use rule::{Basis, Finding, Grants, Infer, Rule};

use grantwatch_parsers::GrantType;

use super::cause::Cause;

/// Every cause's rule, in priority order.
pub const PRIORITY: &[&Rule] = &[
    &invalid_client_credentials::RULE,
    &malformed_grant::RULE,
    &code_reused::RULE,
    &client_mismatch::RULE,
    &redirect_uri_mismatch::RULE,
    &pkce_missing::RULE,
    &pkce_verifier_mismatch::RULE,
    &clock_skew::RULE,
    &code_expired::RULE,
    &refresh_token_reused::RULE,
    &refresh_token_revoked::RULE,
    &refresh_token_expired::RULE,
    &session_terminated::RULE,
    &grant_type_not_allowed::RULE,
    &invalid_resource_owner_credentials::RULE,
    &user_or_consent_revoked::RULE,
    &interaction_required::RULE,
    &scope_invalid::RULE,
    &binding_mismatch::RULE,
    &issuer_or_tenant_mismatch::RULE,
];

/// The rule of `cause` (`unknown` has none).
pub fn rule(cause: Cause) -> Option<&'static Rule> {
    PRIORITY.iter().copied().find(|r| r.cause == cause)
}

/// Where `cause` stands in [`PRIORITY`] (`unknown` last).
pub fn priority(cause: Cause) -> usize {
    PRIORITY
        .iter()
        .position(|r| r.cause == cause)
        .unwrap_or(usize::MAX)
}

/// What a cause means, in a few words.
pub fn meaning(cause: Cause) -> &'static str {
    rule(cause).map_or("nothing in the logs points to a cause", |r| r.meaning)
}

/// Whether `cause` can happen to a request of `grant`.
pub fn fits_grant(cause: Cause, grant: Option<&GrantType>) -> bool {
    rule(cause).is_none_or(|r| r.fits(grant))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::cause::ALL_CAUSES;

    #[test]
    fn every_cause_but_unknown_has_one_rule_in_the_priority_list() {
        for cause in ALL_CAUSES {
            let n = PRIORITY.iter().filter(|r| r.cause == cause).count();
            let want = usize::from(cause != Cause::Unknown);
            assert_eq!(n, want, "{cause} appears {n} times");
        }
    }

    #[test]
    fn every_rule_says_what_it_means_needs_and_fixes() {
        for r in PRIORITY {
            assert!(!r.meaning.is_empty(), "{}", r.cause);
            assert!(!r.needs.is_empty(), "{}", r.cause);
            assert!(r.fix.ends_with('.'), "{}: {}", r.cause, r.fix);
        }
    }

    #[test]
    fn grants_exclude_what_cannot_happen() {
        assert!(!fits_grant(
            Cause::CodeReused,
            Some(&GrantType::RefreshToken)
        ));
        assert!(!fits_grant(
            Cause::RefreshTokenReused,
            Some(&GrantType::AuthorizationCode)
        ));
        assert!(!fits_grant(Cause::PkceMissing, Some(&GrantType::Password)));
        assert!(fits_grant(Cause::CodeReused, None));
        assert!(fits_grant(
            Cause::ClockSkew,
            Some(&GrantType::ClientCredentials)
        ));
        assert!(fits_grant(Cause::Unknown, Some(&GrantType::Password)));
        // A grant logged in another spelling is not a code exchange.
        let odd = GrantType::from_name("Authorization_Code");
        assert!(!fits_grant(Cause::CodeReused, Some(&odd)));
    }
}
