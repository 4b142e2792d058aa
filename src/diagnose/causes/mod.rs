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
mod scope_invalid;
mod session_terminated;
mod support;
mod user_or_consent_revoked;

#[cfg(test)]
pub(crate) mod testing;

pub use redirect_uri_mismatch::uri_difference;

use grantwatch_parsers::GrantType;

use super::case::Case;
use super::cause::{Cause, Confidence};
use crate::config::DiagnoseSettings;

/// What the evidence behind a finding is, from the most to the least
/// telling: at equal confidence the better founded finding decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Basis {
    /// A status code alone (a 401 with no body).
    Status,
    /// A generic OAuth error code alone (`invalid_client`, `unauthorized_client`).
    Code,
    /// The logs around the request: the flow, earlier exchanges, clocks.
    Flow,
    /// The provider's own specific words: a description, sub-code, reason
    /// or debug text.
    Words,
}

impl Basis {
    /// Whether this basis alone can never settle a cause: a status code or a
    /// generic code gives at most `medium`.
    pub fn is_weak(self) -> bool {
        matches!(self, Basis::Status | Basis::Code)
    }
}

/// What a rule found.
#[derive(Clone, Debug)]
pub struct Finding {
    /// How sure.
    pub confidence: Confidence,
    /// What it rests on.
    pub basis: Basis,
    /// One sentence with the actual values.
    pub summary: String,
    /// Events (ids) beyond the failure's own that support it.
    pub supporting: Vec<i64>,
    /// Which log would settle it, when not sure.
    pub missing: Option<String>,
    /// Causes a provider's phrase names that this finding reads more
    /// precisely in this flow (Hydra's "verifier must be at least 43
    /// characters" with no verifier sent is a missing verifier, not a
    /// malformed one): they are kept as low candidates.
    pub supersedes: Vec<Cause>,
}

impl Finding {
    /// A finding from the logs around the request.
    pub fn flow(confidence: Confidence, summary: String) -> Finding {
        Finding {
            confidence,
            basis: Basis::Flow,
            summary,
            supporting: Vec::new(),
            missing: None,
            supersedes: Vec::new(),
        }
    }

    /// With the events that support it.
    pub fn supported_by(mut self, ids: Vec<i64>) -> Finding {
        self.supporting = ids;
        self
    }

    /// With the log that would settle it.
    pub fn missing(mut self, what: Option<String>) -> Finding {
        self.missing = what;
        self
    }
}

/// Which grant types a cause can happen to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grants {
    /// Every grant.
    Any,
    /// Only an authorization-code exchange (a refresh has no code).
    Code,
    /// Only a refresh (a code exchange has no refresh token).
    Refresh,
}

/// An inference from the request logs.
pub type Infer = fn(&Case, &DiagnoseSettings) -> Option<Finding>;

/// One cause: what it means, what it needs, its fix, the grants it fits and
/// its inference.
pub struct Rule {
    /// The cause.
    pub cause: Cause,
    /// What it means, in a few words (docs/DESIGN.md's table).
    pub meaning: &'static str,
    /// The evidence the inference needs (for the README and reviewers).
    pub needs: &'static str,
    /// What to change.
    pub fix: &'static str,
    /// The grants it can happen to.
    pub grants: Grants,
    /// The inference from the request logs, if the cause has one.
    pub infer: Option<Infer>,
}

impl Rule {
    /// Whether this cause can happen to a request of `grant` (an unknown
    /// grant fits every cause).
    pub fn fits(&self, grant: Option<&GrantType>) -> bool {
        match (self.grants, grant) {
            (Grants::Any, _) | (_, None) => true,
            (Grants::Code, Some(g)) => *g == GrantType::AuthorizationCode,
            (Grants::Refresh, Some(g)) => *g == GrantType::RefreshToken,
        }
    }
}

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
