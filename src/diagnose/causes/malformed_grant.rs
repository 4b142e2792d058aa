//! `malformed_grant`: the code or refresh token is garbled, truncated,
//! wrongly encoded, or unknown to the server (sent to another environment).
//!
//! Evidence: only the provider's words (no log shows a grant's bytes: the
//! parsers keep fingerprints, never the secrets themselves).

use super::{Grants, Rule};
use crate::diagnose::cause::Cause;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::MalformedGrant,
    meaning: "the grant is garbled, truncated, or unknown to the server",
    needs: "the provider saying the grant is unknown or garbled",
    fix: "Send the code or refresh token exactly as received (no truncation, double URL-encoding or whitespace), to the same environment and server that issued it.",
    grants: Grants::Any,
    infer: None,
};

#[cfg(test)]
mod tests {
    use crate::diagnose::cause::Cause;
    use crate::diagnose::causes::testing::assert_words_name;

    #[test]
    fn the_providers_words_name_it_even_from_an_unknown_server() {
        assert_words_name(
            Some("invalid_grant"),
            Some("Malformed auth code."),
            Cause::MalformedGrant,
        );
    }
}
