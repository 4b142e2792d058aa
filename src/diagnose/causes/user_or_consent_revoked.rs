//! `user_or_consent_revoked`: the user was disabled or deleted, or withdrew consent.
//!
//! Evidence: the provider saying the user is disabled or deleted or consent was withdrawn. No request log shows it otherwise, so the cause has no
//! inference of its own.

use super::{Grants, Rule};
use crate::diagnose::cause::Cause;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::UserOrConsentRevoked,
    meaning: "the user was disabled or deleted, or withdrew consent",
    needs: "the provider saying the user is disabled or deleted or consent was withdrawn",
    fix: "The user must log in (and consent) again; if the account was disabled on purpose, stop retrying.",
    grants: Grants::Any,
    infer: None,
};

#[cfg(test)]
mod tests {
    use crate::diagnose::cause::Cause;
    use crate::diagnose::causes::testing::assert_words_name;

    #[test]
    fn the_providers_words_name_it() {
        assert_words_name(
            Some("invalid_grant"),
            Some("User disabled"),
            Cause::UserOrConsentRevoked,
        );
    }
}
