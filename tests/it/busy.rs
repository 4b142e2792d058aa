//! A busy server writes two failures' lines milliseconds apart: each
//! server warning joins the failed response nearest to it, so two failures
//! stay two (a warning joined to both made one failure of them, and a
//! generated Keycloak log at one failure a second lost two thirds of its
//! failures that way; benches/README.md). The lines are Keycloak 26's, as
//! `sample_logs/keycloak/keycloak-26.log` shows them. The same holds for a
//! client whose other devices sign out all day: a device's own revoke is
//! found among theirs. And a client retrying a refused grant hundreds of
//! times a second (the lines `benches/watch_bench.py ingest` writes) is
//! diagnosed failure by failure, however many share one join window; so is
//! a Keycloak burst, each failure with its warning, from one back end. A
//! device retrying a code exchange, whose errors carry no request id, loses
//! none of the server's failures.

use crate::helpers::{analyze_json, analyze_json_with, evidence_lines};

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
        let lines = evidence_lines(f);
        assert!(lines.contains(&line), "its own warning: {lines:?}");
        assert!(!lines.contains(&(4 - line)), "not the other's: {lines:?}");
    }
}

/// Sixty other devices of the same client sign out (revoke) between this
/// device's sign-out and its background refresh: the refresh still fails
/// because of its own revoke. The newest fifty revokes of the client were
/// read and then filtered to this device, so the sixty hid it and the
/// failure came out `unknown`; the conditions are now part of the query.
#[test]
fn a_devices_own_revoke_is_found_behind_sixty_of_other_devices() {
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample_logs/scenarios/refresh_token_revoked/production.log");
    let original = std::fs::read_to_string(&scenario).expect("read the scenario");
    let refresh = original
        .lines()
        .position(|l| l.contains("[4c61e718") && l.contains("Started POST"))
        .expect("the failing refresh");
    let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
    let others = (0..60).flat_map(|k| {
        let (s, ms) = (30 + k / 3, (k % 3) * 300);
        let ts = format!("2025-04-14T18:05:{s:02}.{ms:03}000 #9]  INFO -- : [aaaaaaaa-0000-4000-8000-{k:012}]");
        [
            format!("I, [{ts} Started POST \"/oauth/revoke\" for 203.0.113.{} at 2025-04-14 18:05:{s:02} +0000", k + 1),
            format!("I, [{ts} Processing by Doorkeeper::TokensController#revoke as JSON"),
            format!("I, [{ts}   Parameters: {{\"token\"=>\"[FILTERED]\", \"token_type_hint\"=>\"refresh_token\", \"client_id\"=>\"Fq2mW8xT0vK3pZ7nB5cR9yH1dL4sJ6gE2aU8oI0tXbN\"}}"),
            format!("I, [{ts} Completed 200 OK in 9ms (Views: 0.2ms | ActiveRecord: 1.2ms | Allocations: 2845)"),
        ]
    });
    lines.splice(refresh..refresh, others);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("production.log");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write log");
    let found = analyze_json(&[&path]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0]["cause"], "refresh_token_revoked",
        "{:#?}",
        found[0]
    );
    // The device's own sign-out, not one of the others'.
    assert!(
        found[0]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("2025-04-14T18:05:22.248Z")),
        "{:#?}",
        found[0]
    );
}

/// 3,000 refused password grants of one client from one address, 3 ms
/// apart: more failures in one join window than the window kept, before
/// (each failure read all of them again: 17 s for such a log in a release
/// build, benches/README.md). Each is its own failure, with the cause
/// Doorkeeper's bare 400 on a password grant gives.
#[test]
fn three_thousand_refused_grants_of_one_client_within_ten_seconds_are_each_diagnosed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("production.log");
    let mut text = String::new();
    for i in 0..3_000u64 {
        let ms = i * 3;
        let p = format!(
            "I, [2026-12-04T11:00:{:02}.{:03}000 #7]  INFO -- : [00000000-0000-4000-8000-{i:012}] ",
            ms / 1000,
            ms % 1000
        );
        text.push_str(&format!(
            "{p}Started POST \"/oauth/token\" for 10.1.2.3 at 2026-12-04 11:00:{:02} +0000\n\
             {p}Processing by Doorkeeper::TokensController#create as */*\n\
             {p}  Parameters: {{\"grant_type\"=>\"password\", \"username\"=>\"u@example.com\", \
             \"password\"=>\"[FILTERED]\", \"client_id\"=>\"bench\"}}\n\
             {p}Completed 400 Bad Request in 12ms (Views: 0.1ms | ActiveRecord: 2.0ms)\n",
            ms / 1000
        ));
    }
    std::fs::write(&log, text).expect("write");
    let failures = analyze_json(&[&log]);
    assert_eq!(failures.len(), 3_000);
    let ids: std::collections::HashSet<&str> = failures
        .iter()
        .filter_map(|f| f["request_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3_000);
    for f in &failures {
        assert_eq!(f["cause"], "invalid_resource_owner_credentials", "{f}");
    }
}

/// 2,000 failed exchanges of one back end (one address), 5 ms apart, each
/// a Keycloak 26 `PKCE verification failed` warning and its
/// `CODE_TO_TOKEN_ERROR` a millisecond later: every failure asked every
/// warning of its window which failure it explains, and each answer read
/// the window again (cubic: 400 such failures took 18 s in a release
/// build), and every failure walked all of the back end's events of the
/// hour for an issued code it never logs (benches/README.md). Each is its
/// own failure, with its own warning.
#[test]
fn two_thousand_pkce_failures_of_one_back_end_within_ten_seconds_each_keep_their_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("keycloak.log");
    let mut text = String::new();
    for i in 0..2_000u64 {
        let at = |ms: u64| format!("2025-03-11 11:20:{:02},{:03}", ms / 1000, ms % 1000);
        text.push_str(&format!(
            "{} WARN  [org.keycloak.protocol.oidc.utils.PkceUtils] (executor-thread-62) \
             PKCE verification failed: Code mismatch. authUserId = \
             c6c2db80-6c0b-47b4-9daf-{i:012}, authUsername = judy.{i}@example.com\n\
             {} WARN  [org.keycloak.events] (executor-thread-62) type=\"CODE_TO_TOKEN_ERROR\", \
             realmId=\"7c1f3a52-9d4e-4b8a-a6c1-2e5f8b9d0a13\", realmName=\"shop\", \
             clientId=\"shop-mobile\", userId=\"null\", ipAddress=\"192.0.2.120\", \
             error=\"pkce_verification_failed\", grant_type=\"authorization_code\", \
             code_id=\"9776afef-fa26-4fbd-8eb7-{i:012}\", client_auth_method=\"none\"\n",
            at(i * 5),
            at(i * 5 + 1),
        ));
    }
    std::fs::write(&log, text).expect("write");
    let failures = analyze_json(&[&log]);
    assert_eq!(failures.len(), 2_000);
    for f in &failures {
        assert_eq!(f["cause"], "pkce_verifier_mismatch", "{f:#?}");
        let lines = evidence_lines(f);
        // The warning on the line before the failure's own event.
        assert!(
            lines.len() == 2 && lines[0] % 2 == 1 && lines[1] == lines[0] + 1,
            "its own warning: {lines:?}"
        );
    }
}

/// A device (AppAuth, which logs no request id) retries a code exchange
/// 60 times, 20 ms apart, and Doorkeeper refuses each: every client error
/// fits every server failure within the join window. Each server failure
/// took every client error near it, and the next one's group replaced the
/// last's, so 59 of the server's 60 failures were not reported. Now each
/// server failure is reported once, with its request, and each client
/// error once: which error is which request cannot be told.
#[test]
fn a_device_retrying_a_code_exchange_sixty_times_loses_none_of_the_servers_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut device, mut server) = (String::from("--------- beginning of main\n"), String::new());
    for i in 0..60u64 {
        let ms = 10_000 + i * 20;
        let (s, m) = (ms / 1000, ms % 1000);
        device.push_str(&format!(
            "03-11 11:32:{s:02}.{m:03}  4388  4388 D AppAuth : Initiating code exchange request to \
             https://auth.acme-field.com/oauth/token\n\
             03-11 11:32:{s:02}.{m:03}  4388  4388 E FieldAuth: code exchange failed: \
             AuthorizationException: {{\"type\":2,\"code\":2002,\"error\":\"invalid_grant\",\
             \"errorDescription\":\"The provided authorization grant is invalid, expired, revoked, \
             does not match the redirection URI used in the authorization request, or was issued \
             to another client.\"}}\n"
        ));
        let p = format!(
            "I, [2025-03-11T11:32:{s:02}.{m:03}000 #7]  INFO -- : [00000000-0000-4000-8000-{i:012}] "
        );
        server.push_str(&format!(
            "{p}Started POST \"/oauth/token\" for 10.1.2.3 at 2025-03-11 11:32:{s:02} +0000\n\
             {p}Processing by Doorkeeper::TokensController#create as */*\n\
             {p}  Parameters: {{\"grant_type\"=>\"authorization_code\", \"code\"=>\"[FILTERED]\", \
             \"redirect_uri\"=>\"com.acme.fieldapp:/oauth2redirect\", \
             \"client_id\"=>\"Z_7hs3QNNUSyXcSzxspDgdnpI1ahwsF1XGyeEZ6LeRR\"}}\n\
             {p}Completed 400 Bad Request in 12ms (Views: 0.1ms | ActiveRecord: 2.0ms)\n"
        ));
    }
    std::fs::write(dir.path().join("device.logcat.txt"), device).expect("write");
    std::fs::write(dir.path().join("production.log"), server).expect("write");
    // Logcat writes no year: the server's.
    let failures = analyze_json_with(&["--year", "2025"], &[dir.path()]);
    let mut requests: Vec<&str> = failures
        .iter()
        .filter_map(|f| f["request_id"].as_str())
        .collect();
    requests.sort_unstable();
    requests.dedup();
    assert_eq!(requests.len(), 60, "every server failure, once");
    // Each client error (the even logcat lines) in exactly one failure.
    let mut errors: Vec<u64> = failures
        .iter()
        .flat_map(|f| f["evidence"].as_array().into_iter().flatten())
        .filter(|e| {
            e["file"]
                .as_str()
                .is_some_and(|p| p.ends_with("device.logcat.txt"))
        })
        .filter_map(|e| e["line"].as_u64())
        .filter(|line| line % 2 == 1)
        .collect();
    let found = errors.len();
    errors.sort_unstable();
    errors.dedup();
    assert_eq!((found, errors.len()), (60, 60), "each client error once");
}
