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
    use crate::config::DiagnoseSettings;
    use crate::diagnose::cause::{Cause, Confidence};
    use crate::diagnose::causes::testing::{case, client_error};
    use crate::diagnose::decide;

    #[test]
    fn the_providers_words_name_it() {
        let e = client_error(Some("invalid_scope"), None);
        let v = decide(&case(e), &DiagnoseSettings::default());
        assert_eq!(
            (v.cause, v.confidence),
            (Cause::ScopeInvalid, Confidence::High),
            "{}",
            v.summary
        );
    }
}
