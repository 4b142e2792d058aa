//! `scope_invalid`: the requested scope is not granted or not allowed.
//!
//! Evidence: the provider's invalid_scope answer. No request log shows it otherwise, so the cause has no
//! inference of its own.

use super::{Grants, Rule};
use crate::diagnose::cause::Cause;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::ScopeInvalid,
    meaning: "the requested scope is not granted or not allowed",
    needs: "the provider's invalid_scope answer",
    fix: "Request only scopes the client is allowed and that were granted originally (e.g. offline_access for refresh tokens).",
    grants: Grants::Any,
    infer: None,
};

#[cfg(test)]
mod tests {
    use crate::diagnose::cause::Cause;
    use crate::diagnose::causes::testing::assert_words_name;

    #[test]
    fn the_providers_words_name_it() {
        assert_words_name(Some("invalid_scope"), None, Cause::ScopeInvalid);
    }
}
