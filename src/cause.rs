//! The root causes of docs/DESIGN.md, with their stable snake_case ids, and the
//! confidence levels a diagnosis can have: the vocabulary the diagnosis
//! decides in, the store keeps (by id) and the API, metrics and pages show.
//! It imports nothing of the crate, so every stage can name a cause.

use serde::{Deserialize, Serialize};

/// One root cause. The ids are stable: the API, metrics and tests use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// A clock is off: a JWT's iat/exp/nbf is outside the window.
    ClockSkew,
    /// The code was exchanged after its lifetime.
    CodeExpired,
    /// The code was exchanged a second time.
    CodeReused,
    /// The token request's redirect_uri differs from the authorize request's.
    RedirectUriMismatch,
    /// The code_verifier does not hash to the code_challenge.
    PkceVerifierMismatch,
    /// A code_verifier was required but not sent.
    PkceMissing,
    /// The code or refresh token was issued to another client.
    ClientMismatch,
    /// Client authentication failed.
    InvalidClientCredentials,
    /// The refresh token's lifetime or idle time passed.
    RefreshTokenExpired,
    /// The refresh token was revoked.
    RefreshTokenRevoked,
    /// An already rotated refresh token was used again.
    RefreshTokenReused,
    /// The IdP session behind the grant ended.
    SessionTerminated,
    /// The client may not use this grant type.
    GrantTypeNotAllowed,
    /// Password grant with wrong username or password.
    InvalidResourceOwnerCredentials,
    /// The user was disabled or deleted, or withdrew consent.
    UserOrConsentRevoked,
    /// Policy demands a fresh interactive login.
    InteractionRequired,
    /// The requested scope is not granted or not allowed.
    ScopeInvalid,
    /// A DPoP or mTLS binding check failed.
    BindingMismatch,
    /// The grant was issued by another issuer, host or tenant.
    IssuerOrTenantMismatch,
    /// The grant is garbled, truncated, wrongly encoded, or unknown.
    MalformedGrant,
    /// Nothing in the logs points anywhere.
    Unknown,
}

/// Every cause, in docs/DESIGN.md's order.
pub const ALL_CAUSES: [Cause; 21] = [
    Cause::ClockSkew,
    Cause::CodeExpired,
    Cause::CodeReused,
    Cause::RedirectUriMismatch,
    Cause::PkceVerifierMismatch,
    Cause::PkceMissing,
    Cause::ClientMismatch,
    Cause::InvalidClientCredentials,
    Cause::RefreshTokenExpired,
    Cause::RefreshTokenRevoked,
    Cause::RefreshTokenReused,
    Cause::SessionTerminated,
    Cause::GrantTypeNotAllowed,
    Cause::InvalidResourceOwnerCredentials,
    Cause::UserOrConsentRevoked,
    Cause::InteractionRequired,
    Cause::ScopeInvalid,
    Cause::BindingMismatch,
    Cause::IssuerOrTenantMismatch,
    Cause::MalformedGrant,
    Cause::Unknown,
];

impl Cause {
    /// The stable id (`code_reused`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::ClockSkew => "clock_skew",
            Cause::CodeExpired => "code_expired",
            Cause::CodeReused => "code_reused",
            Cause::RedirectUriMismatch => "redirect_uri_mismatch",
            Cause::PkceVerifierMismatch => "pkce_verifier_mismatch",
            Cause::PkceMissing => "pkce_missing",
            Cause::ClientMismatch => "client_mismatch",
            Cause::InvalidClientCredentials => "invalid_client_credentials",
            Cause::RefreshTokenExpired => "refresh_token_expired",
            Cause::RefreshTokenRevoked => "refresh_token_revoked",
            Cause::RefreshTokenReused => "refresh_token_reused",
            Cause::SessionTerminated => "session_terminated",
            Cause::GrantTypeNotAllowed => "grant_type_not_allowed",
            Cause::InvalidResourceOwnerCredentials => "invalid_resource_owner_credentials",
            Cause::UserOrConsentRevoked => "user_or_consent_revoked",
            Cause::InteractionRequired => "interaction_required",
            Cause::ScopeInvalid => "scope_invalid",
            Cause::BindingMismatch => "binding_mismatch",
            Cause::IssuerOrTenantMismatch => "issuer_or_tenant_mismatch",
            Cause::MalformedGrant => "malformed_grant",
            Cause::Unknown => "unknown",
        }
    }

    /// Parses a cause id.
    pub fn from_id(id: &str) -> Option<Cause> {
        ALL_CAUSES.iter().copied().find(|c| c.as_str() == id)
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure a diagnosis is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Several causes fit; this one is the likeliest.
    Low,
    /// The evidence points here, but another cause is not ruled out.
    Medium,
    /// The evidence settles it.
    High,
}

impl Confidence {
    /// `high`, `medium` or `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    /// Parses `high`, `medium` or `low`.
    pub fn from_name(name: &str) -> Option<Confidence> {
        [Confidence::Low, Confidence::Medium, Confidence::High]
            .into_iter()
            .find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
