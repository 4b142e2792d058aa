//! `issuer_or_tenant_mismatch`: the grant was issued by another issuer, host or tenant.
//!
//! Evidence: the provider saying the token came from another issuer, host or tenant. No request log shows it otherwise, so the cause has no
//! inference of its own.

use super::{Grants, Rule};
use crate::diagnose::cause::Cause;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::IssuerOrTenantMismatch,
    meaning: "the grant was issued by another issuer, host or tenant",
    needs: "the provider saying the token came from another issuer, host or tenant",
    fix: "Use the same issuer URL (hostname, realm, tenant) for authorize, token and refresh; set the IdP's public hostname.",
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
            Some("Invalid token issuer. Expected 'https://sso.example.com/realms/a'"),
            Cause::IssuerOrTenantMismatch,
        );
    }
}
