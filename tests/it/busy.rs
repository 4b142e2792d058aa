//! A busy server writes two failures' lines milliseconds apart: each
//! server warning joins the failed response nearest to it, so two failures
//! stay two (a warning joined to both made one failure of them, and a
//! generated Keycloak log at one failure a second lost two thirds of its
//! failures that way; benches/README.md). The lines are Keycloak 26's, as
//! `sample_logs/keycloak/keycloak-26.log` shows them.

use crate::helpers::analyze_json;

const TWO_PKCE_FAILURES: &str = "\
2025-03-11 00:00:31,218 WARN  [org.keycloak.protocol.oidc.utils.PkceUtils] (executor-thread-62) PKCE verification failed: Code mismatch. authUserId = c6c2db80-6c0b-47b4-9daf-6b6248716154, authUsername = judy.2932@example.com
2025-03-11 00:00:31,219 WARN  [org.keycloak.events] (executor-thread-62) type=\"CODE_TO_TOKEN_ERROR\", realmId=\"7c1f3a52-9d4e-4b8a-a6c1-2e5f8b9d0a13\", realmName=\"shop\", clientId=\"shop-mobile\", userId=\"null\", ipAddress=\"192.0.2.120\", error=\"pkce_verification_failed\", grant_type=\"authorization_code\", code_id=\"9776afef-fa26-4fbd-8eb7-ffa6f3b8822b\", client_auth_method=\"none\"
2025-03-11 00:00:31,285 WARN  [org.keycloak.protocol.oidc.utils.PkceUtils] (executor-thread-18) PKCE verification failed: Code mismatch. authUserId = 39ada54f-1956-4f17-b10f-0efdc9695bcd, authUsername = ivan.1646@example.com
2025-03-11 00:00:31,286 WARN  [org.keycloak.events] (executor-thread-18) type=\"CODE_TO_TOKEN_ERROR\", realmId=\"7c1f3a52-9d4e-4b8a-a6c1-2e5f8b9d0a13\", realmName=\"shop\", clientId=\"shop-mobile\", userId=\"null\", ipAddress=\"198.51.100.74\", error=\"pkce_verification_failed\", grant_type=\"authorization_code\", code_id=\"590be79d-19ee-4a07-864d-01e155a66626\", client_auth_method=\"none\"
";

#[test]
fn two_failures_67_ms_apart_with_a_warning_each_stay_two() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keycloak.log");
    std::fs::write(&path, TWO_PKCE_FAILURES).expect("write log");
    let found = analyze_json(&[&path]);
    assert_eq!(found.len(), 2, "{found:#?}");
    for (f, line) in found.iter().zip([1, 3]) {
        assert_eq!(f["cause"], "pkce_verifier_mismatch", "{f:#?}");
        let lines: Vec<u64> = f["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["line"].as_u64())
            .collect();
        assert!(lines.contains(&line), "its own warning: {lines:?}");
        assert!(!lines.contains(&(4 - line)), "not the other's: {lines:?}");
    }
}
