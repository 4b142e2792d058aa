//! `session_terminated`: the IdP session behind the grant ended.
//!
//! Evidence: the provider saying the session behind the grant ended. No request log shows it otherwise, so the cause has no
//! inference of its own.

use super::{Grants, Rule};
use crate::diagnose::cause::Cause;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::SessionTerminated,
    meaning: "the IdP session behind the grant ended",
    needs: "the provider saying the session behind the grant ended",
    fix: "Treat it as a logout: start a new login. If sessions end too soon, check the IdP's SSO session idle/max settings and that sessions survive restarts.",
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
            Some("Session not active"),
            Cause::SessionTerminated,
        );
    }
}
