//! `grant_type_not_allowed`: the client may not use this grant type.
//!
//! Evidence: the provider's unauthorized_client / unsupported_grant_type answer. No request log shows it otherwise, so the cause has no
//! inference of its own.

use super::{Grants, Rule};
use crate::diagnose::cause::Cause;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::GrantTypeNotAllowed,
    meaning: "the client may not use this grant type",
    needs: "the provider's unauthorized_client / unsupported_grant_type answer",
    fix: "Enable this grant type for the client on the server (or use the grant the client is registered for).",
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
            Some("unauthorized_client"),
            Some("Client not allowed for direct access grants"),
            Cause::GrantTypeNotAllowed,
        );
    }
}
