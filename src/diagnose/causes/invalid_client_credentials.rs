//! `invalid_client_credentials`: client authentication failed (unknown
//! client, wrong or missing secret, wrong authentication method).
//!
//! Evidence: the provider's client-authentication words, or a 401 from the
//! token endpoint. A 401 alone is a status code, not the provider naming the
//! cause, so it gives at most `medium`: Doorkeeper (which does not log its
//! answer) also answers some grant errors with 401 in old versions. Google's
//! bare `invalid_grant` to a service account's JWT can be a deleted key:
//! that reading stays `low`, a candidate beside the clock.

use super::support::google_jwt_bearer_silence;
use super::{Basis, Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::Case;
use crate::diagnose::cause::{Cause, Confidence};
use grantwatch_parsers::EventKind;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::InvalidClientCredentials,
    meaning: "client authentication failed",
    needs: "the provider's client-authentication error (a 401 from the token endpoint alone gives at most medium)",
    fix: "Check the client_id and client_secret the client sends (and how: Basic header or form body, never both) against the client registered on the server; rotate and redeploy the secret if it was changed or expired.",
    grants: Grants::Any,
    infer: Some(infer),
};

/// Errors more specific than a bare 401: when the failure's own records name
/// one of them (the client saw the body), the 401 is not about credentials.
const SPECIFIC_ERRORS: [&str; 4] = [
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_grant",
];

fn infer(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    if google_jwt_bearer_silence(case) {
        return Some(Finding::flow(
            Confidence::Low,
            "Google answers a service account's JWT signed with a deleted or disabled key with the same bare invalid_grant.".into(),
        ));
    }
    let more_specific = case.own_events().any(|e| {
        e.provider_reason.is_some()
            || e.error
                .as_deref()
                .is_some_and(|err| SPECIFIC_ERRORS.contains(&err))
    });
    if more_specific {
        return None;
    }
    let server_401 = case.own_events().any(|e| {
        !e.is_client_side() && e.status == Some(401) && e.kind == EventKind::TokenResponse
    });
    if !server_401 || case.exchange.error.as_deref() == Some("token_inactive") {
        return None;
    }
    Some(Finding {
        basis: Basis::Status,
        ..Finding::flow(
            Confidence::Medium,
            format!(
                "The token endpoint answered 401 Unauthorized to client {}: that is how a server refuses client authentication (unknown client, wrong secret or wrong authentication method), though the status alone does not say so.",
                case.exchange.client_id.as_deref().unwrap_or("(not logged)")
            ),
        )
        .missing(Some(
            "the response body of this request (its error and error_description), from the client's log or the server's debug log".into(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{case, client_error, failed};
    use crate::diagnose::decide;
    use grantwatch_parsers::GrantType;
    use grantwatch_parsers::ServerKind;

    fn unauthorized() -> crate::store::EventRow {
        let mut e = failed(GrantType::AuthorizationCode);
        e.status = Some(401);
        e.error = None;
        e.server = Some(ServerKind::Doorkeeper);
        e
    }

    #[test]
    fn a_bare_401_is_medium_with_candidates_and_what_would_settle_it() {
        let v = decide(&case(unauthorized()), &DiagnoseSettings::default());
        assert_eq!(v.cause, Cause::InvalidClientCredentials);
        assert_eq!(v.confidence, Confidence::Medium);
        assert!(v.missing.is_some_and(|m| m.contains("response body")));
        assert!(v.candidates.iter().any(|c| c.cause == Cause::CodeReused));
    }

    #[test]
    fn a_401_with_a_specific_error_is_not_about_credentials() {
        let mut c = case(unauthorized());
        c.merged
            .push(client_error(Some("invalid_grant"), Some("Code not valid")));
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
    }

    #[test]
    fn the_providers_words_are_high() {
        let mut e = failed(GrantType::AuthorizationCode);
        e.error = Some("invalid_client".into());
        e.provider_code = Some("invalid_client_credentials".into());
        let v = decide(&case(e), &DiagnoseSettings::default());
        assert_eq!(
            (v.cause, v.confidence),
            (Cause::InvalidClientCredentials, Confidence::High)
        );
    }
}
