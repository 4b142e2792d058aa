//! `invalid_resource_owner_credentials`: a password-grant token request with
//! a wrong username or password (or a locked account).
//!
//! Evidence: the provider's words, or a password-grant request Doorkeeper
//! refused with 400 (it does not log its answer; a 400 is also what a bad
//! scope gets, so the status alone gives `medium`).

use super::{Basis, Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::Case;
use crate::diagnose::cause::{Cause, Confidence};
use grantwatch_parsers::{GrantType, ServerKind};

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::InvalidResourceOwnerCredentials,
    meaning: "the username or password was wrong",
    needs: "the provider refusing the resource owner's credentials, or a password-grant request refused with 400 (medium)",
    fix: "The user's username or password was wrong (or the account is locked); show a login error instead of retrying.",
    grants: Grants::Any,
    infer: Some(infer),
};

fn infer(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    (case.exchange.grant_type == Some(GrantType::Password)
        && case.exchange.status == Some(400)
        && case.server == Some(ServerKind::Doorkeeper))
    .then(|| Finding {
        basis: Basis::Status,
        ..Finding::flow(
            Confidence::Medium,
            "A password-grant token request was refused with 400: Doorkeeper's resource-owner check rejected the username or password (or the account is locked); Doorkeeper does not log its answer, and a refused scope gets the same status.".into(),
        )
        .missing(Some(
            "the response body of this request (the client's log of its error)".into(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{assert_words_name, case, failed};

    #[test]
    fn doorkeepers_400_on_a_password_grant_is_medium() {
        let mut e = failed(GrantType::Password);
        e.error = None;
        e.server = Some(ServerKind::Doorkeeper);
        let f = infer(&case(e), &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::Medium);
    }

    #[test]
    fn other_grants_say_nothing() {
        let mut e = failed(GrantType::RefreshToken);
        e.server = Some(ServerKind::Doorkeeper);
        assert!(infer(&case(e), &DiagnoseSettings::default()).is_none());
    }

    #[test]
    fn the_providers_words_are_high() {
        assert_words_name(
            Some("invalid_grant"),
            Some("Invalid user credentials"),
            Cause::InvalidResourceOwnerCredentials,
        );
    }
}
