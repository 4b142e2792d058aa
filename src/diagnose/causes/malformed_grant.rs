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
    use crate::config::DiagnoseSettings;
    use crate::diagnose::cause::{Cause, Confidence};
    use crate::diagnose::causes::testing::{case, client_error};
    use crate::diagnose::decide;

    #[test]
    fn the_providers_words_name_it_even_from_an_unknown_server() {
        let e = client_error(Some("invalid_grant"), Some("Malformed auth code."));
        let v = decide(&case(e), &DiagnoseSettings::default());
        assert_eq!(
            (v.cause, v.confidence),
            (Cause::MalformedGrant, Confidence::High)
        );
    }
}
