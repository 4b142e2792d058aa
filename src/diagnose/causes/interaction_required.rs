//! `interaction_required`: policy demands a fresh interactive login.
//!
//! Evidence: the provider demanding interactive login (MFA, reauthentication policy). No request log shows it otherwise, so the cause has no
//! inference of its own.

use super::{Grants, Rule};
use crate::diagnose::cause::Cause;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::InteractionRequired,
    meaning: "policy demands a fresh interactive login",
    needs: "the provider demanding interactive login (MFA, reauthentication policy)",
    fix: "Run an interactive login (with MFA) instead of a silent refresh.",
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
            Some(
                "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.",
            ),
            Cause::InteractionRequired,
        );
    }
}
