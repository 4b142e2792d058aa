//! The providers' own words, as data: each phrase a server or client writes
//! (an error description, a hint, a reason, a debug text, an error code), the
//! cause it names and how sure it makes us. Copied from the catalog
//! (`shared/reference/invalid-grant-catalog.md`, sections 2 to 10); a phrase
//! that several causes share appears once per cause with a lower confidence.
//!
//! Matching is by substring on the error, description, reason, debug text and
//! code of the failure's events; a phrase that starts with `=` must equal the
//! field exactly (for short words such as Keycloak's `error=` constants).

use super::cause::{Cause, Confidence};

/// One phrase and what it says.
#[derive(Clone, Copy, Debug)]
pub struct Phrase {
    /// The text (substring), or `=text` for an exact field match.
    pub text: &'static str,
    /// The cause it names.
    pub cause: Cause,
    /// How sure it makes us.
    pub confidence: Confidence,
    /// Who writes it (for the explanation).
    pub source: &'static str,
}

const fn p(
    text: &'static str,
    cause: Cause,
    confidence: Confidence,
    source: &'static str,
) -> Phrase {
    Phrase {
        text,
        cause,
        confidence,
        source,
    }
}

use Cause::*;
use Confidence::{High, Low, Medium};

/// Every phrase, grouped by cause.
#[rustfmt::skip]
pub const PHRASES: &[Phrase] = &[
    // clock_skew
    p("Token used before issued", ClockSkew, High, "Hydra (client assertion)"),
    p("Token is not valid yet", ClockSkew, High, "Hydra (client assertion)"),
    p("contains an \"nbf\" (not before) claim", ClockSkew, High, "Hydra jwt-bearer"),
    p("contains an 'nbf' (not before) claim", ClockSkew, High, "Hydra jwt-bearer"),
    p("jwt not active yet", ClockSkew, High, "node-oidc-provider"),
    p("jwt issued in the future", ClockSkew, High, "node-oidc-provider"),
    p("Token must be a short-lived token", ClockSkew, High, "Google"),
    p("AADSTS700024", ClockSkew, High, "Entra ID"),
    p("AADSTS500133", ClockSkew, Medium, "Entra ID"),
    p("AADSTS50012", ClockSkew, Medium, "Entra ID"),
    p("Issued at time is more than", ClockSkew, High, "AppAuth (ID token check)"),
    p("Invalid ID Token", ClockSkew, Medium, "flutter_appauth (ID token check)"),
    p("ID Token expired", ClockSkew, Medium, "AppAuth (ID token check)"),
    p("=Token is expired", ClockSkew, Medium, "Hydra (client assertion)"),
    p("=jwt expired", ClockSkew, Medium, "node-oidc-provider"),
    p("request parameter expired", ClockSkew, Medium, "Hydra jwt-bearer"),
    // code_expired
    p("Code is expired", CodeExpired, High, "Keycloak"),
    p("=expired_code", CodeExpired, High, "Keycloak"),
    p("authorization code is expired", CodeExpired, High, "node-oidc-provider"),
    p("Authorization code expired", CodeExpired, High, "IdentityServer"),
    p("Authorization code is expired", CodeExpired, High, "IdentityServer"),
    p("Authorize code expired", CodeExpired, High, "Hydra"),
    p("AADSTS70008", CodeExpired, Medium, "Entra ID"),
    p("The interaction code is invalid or has expired", CodeExpired, Medium, "Okta"),
    p("The authorization code is invalid or has expired", CodeExpired, Low, "Okta"),
    p("Code not valid", CodeExpired, Low, "Keycloak"),
    // code_reused
    p("The authorization code has already been used", CodeReused, High, "Hydra"),
    p("authorization code already consumed", CodeReused, High, "node-oidc-provider"),
    p("AADSTS54005", CodeReused, High, "Entra ID"),
    p("Code was already redeemed", CodeReused, High, "Google"),
    p("Invalidated authorization token(s) previously issued", CodeReused, High, "Spring"),
    p("already used for userSession", CodeReused, Medium, "Keycloak"),
    p("Code not valid", CodeReused, Medium, "Keycloak"),
    p("=invalid_code", CodeReused, Medium, "Keycloak"),
    p("The authorization code is invalid or has expired", CodeReused, Low, "Okta"),
    p("Doorkeeper::Errors::InvalidGrantReuse", CodeReused, High, "Doorkeeper (Rails 8.1)"),
    p("Doorkeeper::Errors::InvalidGrantReuse", RefreshTokenReused, High, "Doorkeeper (Rails 8.1)"),
    // redirect_uri_mismatch
    p("redirect_uri' from this request does not match", RedirectUriMismatch, High, "Hydra"),
    p("redirect_uri\" from this request does not match", RedirectUriMismatch, High, "Hydra"),
    p("authorization code redirect_uri mismatch", RedirectUriMismatch, High, "node-oidc-provider"),
    p("Incorrect redirect_uri", RedirectUriMismatch, High, "Keycloak"),
    p("=invalid_redirect_uri", RedirectUriMismatch, High, "Keycloak"),
    p("did not match originally saved redirect URI", RedirectUriMismatch, High, "Keycloak"),
    p("Invalid redirect_uri", RedirectUriMismatch, High, "IdentityServer"),
    p("redirect_uri does not match", RedirectUriMismatch, High, "Spring"),
    p("The 'redirect_uri' does not match the redirection URI used in the authorization request", RedirectUriMismatch, High, "Okta"),
    p("AADSTS50011", RedirectUriMismatch, High, "Entra ID"),
    p("AADSTS500112", RedirectUriMismatch, Medium, "Entra ID"),
    p("=redirect_uri_mismatch", RedirectUriMismatch, High, "Google"),
    p("Missing required parameter: redirect_uri", RedirectUriMismatch, High, "Doorkeeper"),
    // pkce_verifier_mismatch
    p("The PKCE code challenge did not match the code verifier", PkceVerifierMismatch, High, "Hydra"),
    p("code verifier was provided but the code challenge was absent", PkceVerifierMismatch, High, "Hydra"),
    p("Unable to find initial PKCE data", PkceVerifierMismatch, Medium, "Hydra"),
    p("code_verifier does not match code_challenge", PkceVerifierMismatch, High, "node-oidc-provider"),
    p("=PKCE verification failed", PkceVerifierMismatch, Medium, "node-oidc-provider (< 9.11.2)"),
    p("PKCE verification failed: Code mismatch", PkceVerifierMismatch, High, "Keycloak"),
    p("PKCE verification failed. authUserId", PkceVerifierMismatch, High, "Keycloak"),
    p("=pkce_verification_failed", PkceVerifierMismatch, High, "Keycloak"),
    p("PKCE code verifier specified but challenge not present", PkceVerifierMismatch, High, "Keycloak"),
    p("Transformed code verifier does not match code challenge", PkceVerifierMismatch, High, "IdentityServer"),
    p("Unexpected code_verifier", PkceVerifierMismatch, High, "IdentityServer"),
    p("AADSTS50148", PkceVerifierMismatch, High, "Entra ID"),
    p("AADSTS501481", PkceVerifierMismatch, High, "Entra ID"),
    p("Invalid code verifier", PkceVerifierMismatch, High, "Google"),
    p("Failed to verify code verifier", PkceVerifierMismatch, High, "Auth0"),
    p("PKCE verification failed.", PkceVerifierMismatch, High, "Okta"),
    p("does not match code_challenge", PkceVerifierMismatch, High, "client library"),
    p("Client authentication failed: code_verifier", PkceVerifierMismatch, Medium, "Spring"),
    p("Client authentication failed: code_verifier", PkceMissing, Low, "Spring"),
    // pkce_missing
    p("PKCE code verifier not specified", PkceMissing, High, "Keycloak"),
    p("=code_verifier_missing", PkceMissing, High, "Keycloak"),
    p("code_verifier must be provided", PkceMissing, High, "node-oidc-provider"),
    p("Missing code_verifier", PkceMissing, High, "IdentityServer"),
    p("Missing code verifier", PkceMissing, High, "Google"),
    p("Missing required parameter: code_verifier", PkceMissing, High, "Doorkeeper"),
    p("must include a code_challenge when performing the authorize code flow", PkceMissing, High, "Hydra"),
    p("AADSTS50147", PkceMissing, High, "Entra ID"),
    p("Client authentication failed: code_challenge", PkceMissing, High, "Spring"),
    // client_mismatch
    p("Client ID from this request does not match", ClientMismatch, High, "Hydra"),
    p("=client mismatch", ClientMismatch, High, "node-oidc-provider"),
    p("Found different client_id in clientSession", ClientMismatch, High, "Keycloak"),
    p("Token client and authorized client don't match", ClientMismatch, High, "Keycloak"),
    p("Unmatching clients", ClientMismatch, High, "Keycloak"),
    p("trying to use a code from a different client", ClientMismatch, High, "IdentityServer"),
    p("tries to refresh token belonging to", ClientMismatch, High, "IdentityServer"),
    p("Invalidated authorization code used by registered client", ClientMismatch, High, "Spring"),
    // invalid_client_credentials
    p("=invalid_client", InvalidClientCredentials, Medium, "OAuth error"),
    p("=invalid_client_credentials", InvalidClientCredentials, High, "Keycloak"),
    p("=client_not_found", InvalidClientCredentials, High, "Keycloak"),
    p("=client_disabled", InvalidClientCredentials, High, "Keycloak"),
    p("Invalid client or Invalid client credentials", InvalidClientCredentials, High, "Keycloak"),
    p("Invalid client credentials", InvalidClientCredentials, High, "Keycloak"),
    p("Failed client authentication", InvalidClientCredentials, High, "Keycloak"),
    p("Client authentication failed", InvalidClientCredentials, Low, "server"),
    p("client authentication failed", InvalidClientCredentials, Medium, "node-oidc-provider"),
    p("invalid secret provided", InvalidClientCredentials, High, "node-oidc-provider"),
    p("AADSTS7000215", InvalidClientCredentials, High, "Entra ID"),
    p("AADSTS7000222", InvalidClientCredentials, High, "Entra ID"),
    p("AADSTS700025", InvalidClientCredentials, High, "Entra ID"),
    p("Invalid JWT Signature", InvalidClientCredentials, High, "Google"),
    p("The OAuth client was not found", InvalidClientCredentials, High, "Google"),
    p("client secret supplied for a confidential client is invalid", InvalidClientCredentials, High, "Okta"),
    p("hashedPassword is not the hash of the given password", InvalidClientCredentials, High, "Hydra"),
    p("more than one mechanism for authenticating the client", InvalidClientCredentials, High, "Doorkeeper"),
    // refresh_token_expired
    p("The refresh token expired", RefreshTokenExpired, High, "Hydra"),
    p("refresh token is expired", RefreshTokenExpired, High, "node-oidc-provider"),
    p("Refresh token has expired", RefreshTokenExpired, High, "IdentityServer"),
    p("Token is not active", RefreshTokenExpired, High, "Keycloak"),
    p("AADSTS700082", RefreshTokenExpired, High, "Entra ID"),
    p("AADSTS700084", RefreshTokenExpired, High, "Entra ID"),
    p("AADSTS70043", RefreshTokenExpired, Medium, "Entra ID"),
    p("refresh_token is not active", RefreshTokenExpired, Medium, "Spring"),
    p("The refresh token is invalid or expired", RefreshTokenExpired, Medium, "Okta"),
    p("Token has been expired or revoked", RefreshTokenExpired, Low, "Google"),
    p("Unknown or invalid refresh token", RefreshTokenExpired, Low, "Auth0"),
    // refresh_token_revoked
    p("Stale token", RefreshTokenRevoked, Medium, "Keycloak"),
    p("=refresh token not found", RefreshTokenRevoked, Medium, "node-oidc-provider"),
    p("AADSTS50173", RefreshTokenRevoked, High, "Entra ID"),
    p("Token has been expired or revoked", RefreshTokenRevoked, Medium, "Google"),
    p("Unknown or invalid refresh token", RefreshTokenRevoked, Medium, "Auth0"),
    p("=fertft", RefreshTokenRevoked, Low, "Auth0"),
    p("The refresh token is invalid or expired", RefreshTokenRevoked, Low, "Okta"),
    p("The refresh token is malformed or not valid", RefreshTokenRevoked, Low, "Hydra"),
    p("=Invalid refresh token", RefreshTokenRevoked, Low, "IdentityServer"),
    // refresh_token_reused
    p("The refresh token was already used", RefreshTokenReused, High, "Hydra"),
    p("Refresh token re-use was detected", RefreshTokenReused, High, "Hydra"),
    p("=token_inactive", RefreshTokenReused, Medium, "Hydra (<= 2.2)"),
    p("multiple concurrent requests using the same token", RefreshTokenReused, High, "Hydra"),
    p("Failed to refresh token. Please retry the request", RefreshTokenReused, Medium, "Hydra"),
    p("refresh token already used", RefreshTokenReused, High, "node-oidc-provider"),
    p("Maximum allowed refresh token reuse exceeded", RefreshTokenReused, High, "Keycloak"),
    p("Stale token", RefreshTokenReused, Low, "Keycloak"),
    p("consumed already", RefreshTokenReused, High, "IdentityServer"),
    p("=ferrt", RefreshTokenReused, High, "Auth0"),
    p("Unknown or invalid refresh token", RefreshTokenReused, Low, "Auth0"),
    // session_terminated
    p("Session not active", SessionTerminated, High, "Keycloak"),
    p("Offline user session not found", SessionTerminated, High, "Keycloak"),
    p("Offline session not active", SessionTerminated, High, "Keycloak"),
    p("Session doesn't have required client", SessionTerminated, High, "Keycloak"),
    p("Refresh toked issued before the", SessionTerminated, High, "Keycloak"),
    p("User session not found", SessionTerminated, High, "Keycloak"),
    p("=user_session_not_found", SessionTerminated, High, "Keycloak"),
    p("=session_expired", SessionTerminated, High, "Keycloak"),
    p("=grant not found", SessionTerminated, Medium, "node-oidc-provider"),
    p("=grant is expired", SessionTerminated, High, "node-oidc-provider"),
    p("=fsa", SessionTerminated, Medium, "Auth0"),
    // grant_type_not_allowed
    p("=unauthorized_client", GrantTypeNotAllowed, Medium, "OAuth error"),
    p("=unsupported_grant_type", GrantTypeNotAllowed, High, "OAuth error"),
    p("is not allowed to use authorization grant", GrantTypeNotAllowed, High, "Hydra"),
    p("not allowed to use authorization grant", GrantTypeNotAllowed, High, "Hydra"),
    p("Client not allowed for direct access grants", GrantTypeNotAllowed, High, "Keycloak"),
    p("Client not allowed to exchange code", GrantTypeNotAllowed, High, "Keycloak"),
    p("requested grant type is not allowed for this client", GrantTypeNotAllowed, High, "node-oidc-provider"),
    p("not authorized for code flow", GrantTypeNotAllowed, High, "IdentityServer"),
    p("not authorized for resource owner flow", GrantTypeNotAllowed, High, "IdentityServer"),
    p("requested grant_type is not allowed", GrantTypeNotAllowed, High, "Spring"),
    p("not allowed for the client", GrantTypeNotAllowed, High, "Auth0"),
    p("AADSTS70003", GrantTypeNotAllowed, High, "Entra ID"),
    p("The client is not authorized to perform this request using this method", GrantTypeNotAllowed, High, "Doorkeeper"),
    p("Client is unauthorized to retrieve access tokens using this method", GrantTypeNotAllowed, High, "Google"),
    // invalid_resource_owner_credentials
    p("Unable to authenticate the provided username and password", InvalidResourceOwnerCredentials, High, "Hydra"),
    p("Invalid user credentials", InvalidResourceOwnerCredentials, High, "Keycloak"),
    p("=invalid_user_credentials", InvalidResourceOwnerCredentials, High, "Keycloak"),
    p("invalid_username_or_password", InvalidResourceOwnerCredentials, High, "IdentityServer"),
    p("User authentication failed", InvalidResourceOwnerCredentials, Medium, "IdentityServer"),
    p("AADSTS50126", InvalidResourceOwnerCredentials, High, "Entra ID"),
    p("Wrong email or password", InvalidResourceOwnerCredentials, High, "Auth0"),
    p("=fepft", InvalidResourceOwnerCredentials, High, "Auth0"),
    p("resource owner credentials are not valid", InvalidResourceOwnerCredentials, High, "Doorkeeper (old)"),
    // user_or_consent_revoked
    p("User disabled", UserOrConsentRevoked, High, "Keycloak"),
    p("=user_disabled", UserOrConsentRevoked, High, "Keycloak"),
    p("User not found", UserOrConsentRevoked, High, "Keycloak"),
    p("Client no longer has requested consent from user", UserOrConsentRevoked, High, "Keycloak"),
    p("referenced account not found", UserOrConsentRevoked, High, "node-oidc-provider"),
    p("User has been disabled", UserOrConsentRevoked, High, "IdentityServer"),
    p("has been disabled", UserOrConsentRevoked, Medium, "IdentityServer"),
    p("AADSTS65001", UserOrConsentRevoked, High, "Entra ID"),
    p("AADSTS50057", UserOrConsentRevoked, High, "Entra ID"),
    p("Invalid grant: account not found", UserOrConsentRevoked, High, "Google"),
    p("The account has been deleted", UserOrConsentRevoked, High, "Google"),
    p("Invalid email or User ID", UserOrConsentRevoked, High, "Google"),
    p("Token has been expired or revoked", UserOrConsentRevoked, Low, "Google"),
    // interaction_required
    p("invalid_rapt", InteractionRequired, High, "Google"),
    p("rapt_required", InteractionRequired, High, "Google"),
    p("Account is not fully set up", InteractionRequired, High, "Keycloak"),
    p("=resolve_required_actions", InteractionRequired, High, "Keycloak"),
    p("AADSTS50076", InteractionRequired, High, "Entra ID"),
    p("AADSTS50079", InteractionRequired, High, "Entra ID"),
    p("AADSTS70043", InteractionRequired, Low, "Entra ID"),
    p("=interaction_required", InteractionRequired, High, "OAuth error"),
    p("=login_required", InteractionRequired, High, "OAuth error"),
    p("=consent_required", InteractionRequired, Medium, "OAuth error"),
    // scope_invalid
    p("=invalid_scope", ScopeInvalid, High, "OAuth error"),
    p("=scope_not_granted", ScopeInvalid, High, "Hydra"),
    p("=invalid_target", ScopeInvalid, High, "Doorkeeper"),
    p("Offline tokens not allowed", ScopeInvalid, High, "Keycloak"),
    p("refresh token missing requested scope", ScopeInvalid, High, "node-oidc-provider"),
    p("does not have access to offline_access scope", ScopeInvalid, High, "IdentityServer"),
    p("was not granted scope", ScopeInvalid, High, "Hydra"),
    // binding_mismatch
    p("DPoP", BindingMismatch, High, "node-oidc-provider"),
    p("x5t#S256", BindingMismatch, High, "node-oidc-provider"),
    p("failed jkt verification", BindingMismatch, High, "node-oidc-provider"),
    p("mutual TLS client certificate not provided", BindingMismatch, High, "node-oidc-provider"),
    p("=invalid_dpop_proof", BindingMismatch, High, "OAuth error"),
    // issuer_or_tenant_mismatch
    p("Invalid token issuer", IssuerOrTenantMismatch, High, "Keycloak"),
    p("AADSTS700005", IssuerOrTenantMismatch, High, "Entra ID"),
    p("AADSTS700016", IssuerOrTenantMismatch, Medium, "Entra ID"),
    // malformed_grant
    p("Malformed auth code", MalformedGrant, High, "Google"),
    p("AADSTS9002313", MalformedGrant, High, "Entra ID"),
    p("AADSTS900144", MalformedGrant, High, "Entra ID"),
    p("Invalid format of the code", MalformedGrant, High, "Keycloak"),
    p("is bound to a different session", MalformedGrant, Medium, "Keycloak"),
    p("=Invalid refresh token", MalformedGrant, Medium, "Keycloak"),
    p("No refresh token", MalformedGrant, High, "Keycloak"),
    p("=authorization code not found", MalformedGrant, Medium, "node-oidc-provider"),
    p("The PKCE code verifier must", MalformedGrant, High, "Hydra"),
    p("The PKCE code verifier can not be longer", MalformedGrant, High, "Hydra"),
    p("code_verifier must be a string", MalformedGrant, High, "node-oidc-provider"),
    p("code_verifier contains invalid characters", MalformedGrant, High, "node-oidc-provider"),
    p("code_verifier is too short or too long", MalformedGrant, High, "IdentityServer"),
    p("Invalid code verifier", MalformedGrant, Low, "Keycloak"),
    p("=Invalid authorization code", MalformedGrant, Medium, "IdentityServer"),
    p("The refresh token can not be found", MalformedGrant, Medium, "Hydra"),
    p("The refresh token has not been found", MalformedGrant, Medium, "Hydra"),
    p("=not_found", MalformedGrant, Medium, "Hydra"),
    p("Missing required parameter: code.", MalformedGrant, High, "Doorkeeper"),
    p("Missing required parameter: refresh_token", MalformedGrant, High, "Doorkeeper"),
    p("Missing required parameter: grant_type", MalformedGrant, High, "Doorkeeper"),
    p("Request parameter 'grant_type' is missing", MalformedGrant, High, "Hydra"),
    p("Bad Request", MalformedGrant, Low, "Google"),
];

/// Descriptions a server gives for every cause alike: they name none.
pub fn is_generic_description(value: &str) -> bool {
    const GENERIC: [&str; 2] = [
        // Hydra/fosite's base invalid_grant description.
        "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client",
        // node-oidc-provider's answer to every invalid_grant.
        "grant request is invalid",
    ];
    grantwatch_parsers::providers::is_doorkeeper_description(value)
        || GENERIC.iter().any(|g| value.starts_with(g))
}

/// Whether `phrase` matches the field `value`.
pub fn matches(phrase: &Phrase, value: &str) -> bool {
    match phrase.text.strip_prefix('=') {
        Some(exact) => value.eq_ignore_ascii_case(exact),
        None => value.contains(phrase.text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::cause::ALL_CAUSES;

    #[test]
    fn exact_phrases_do_not_match_longer_text() {
        let ph = p("=invalid_client", InvalidClientCredentials, High, "x");
        assert!(matches(&ph, "invalid_client"));
        assert!(!matches(&ph, "invalid_client_credentials"));
    }

    #[test]
    fn every_cause_but_unknown_has_provider_words() {
        for cause in ALL_CAUSES {
            if cause == Unknown {
                continue;
            }
            assert!(
                PHRASES.iter().any(|ph| ph.cause == cause),
                "{cause} has no phrase"
            );
        }
    }
}
