//! `binding_mismatch`: a DPoP or mTLS binding check failed.
//!
//! Evidence: a DPoP or mTLS binding error from the provider. No request log shows it otherwise, so the cause has no
//! inference of its own.

use super::{Grants, Rule};
use crate::diagnose::cause::Cause;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::BindingMismatch,
    meaning: "a DPoP or mTLS binding check failed",
    needs: "a DPoP or mTLS binding error from the provider",
    fix: "Send the DPoP proof (or client certificate) made with the same key the token was bound to; keep the key as long as the tokens (a reinstalled app or a new key store needs a new login).",
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
            Some("DPoP confirmation doesn't match DPoP proof"),
            Cause::BindingMismatch,
        );
    }
}
