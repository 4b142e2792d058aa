//! Tests on `sample_logs/rails/lograge*.log` and on other formats' lines.

use super::*;
use crate::event::TimeBasis;
use crate::formats::rails::tests::{PRODUCTION, assert_no_planted_secret};
use crate::grant::GrantType;
use crate::test_support::{
    assert_all_unknown, assert_detected, by_request_id, feed_each, parse_file,
};

const KV: &str = include_str!("../../../../sample_logs/rails/lograge.log");
const JSON: &str = include_str!("../../../../sample_logs/rails/lograge.json.log");

/// The sample's events; every line of it must be lograge's.
fn parse(text: &str) -> Vec<Event<'static>> {
    let (events, outcomes) = parse_file(crate::Format::Lograge, text);
    for (line, outcome) in text.lines().zip(outcomes) {
        assert_ne!(outcome, Outcome::Unknown, "{line}");
    }
    events
}

#[test]
fn both_samples_are_detected_as_lograge() {
    for text in [KV, JSON] {
        assert_detected(text, crate::Format::Lograge);
    }
}

#[test]
fn key_value_lines() {
    let events = parse(KV);
    assert!(
        events
            .iter()
            .all(|e| e.server == Some(ServerKind::Doorkeeper))
    );
    let unauthorized = by_request_id(&events, "f34ed835-eb71-4139-8390-401d2e43dbd4");
    assert_eq!(unauthorized.kind, EventKind::TokenResponse);
    assert_eq!(unauthorized.status, Some(401));
    assert_eq!(unauthorized.error, None);
    assert_eq!(
        unauthorized.client_id.as_deref(),
        Some("8f14e45fceea167a5a36dedd4bea2543")
    );
    assert_eq!(unauthorized.grant_type, Some(GrantType::ClientCredentials));
    assert_eq!(unauthorized.ip.as_deref(), Some("192.0.2.200"));
    assert_eq!(unauthorized.path.as_deref(), Some("/oauth/token"));
    assert_eq!(unauthorized.method.as_deref(), Some("POST"));
    let race = by_request_id(&events, "4944ebfa-ff0a-455e-bf1f-14b8811950d4");
    assert_eq!(race.status, Some(400));
    let ts = race.ts.expect("ts");
    assert_eq!(ts.basis, TimeBasis::AssumedZone);
    assert_eq!(ts.utc.to_rfc3339(), "2025-03-14T11:21:05.139+00:00");
    let mismatch = by_request_id(&events, "2141aed5-1e6e-4433-84ec-fc32eb16e385");
    let issued = events
        .iter()
        .filter(|e| e.kind == EventKind::CodeIssued)
        .find(|e| e.ip == mismatch.ip)
        .expect("issued");
    assert!(issued.code_fp.is_some());
    assert_eq!(issued.status, Some(302));
    assert!(mismatch.verifier_s256.is_some());
    assert_ne!(
        issued.code_challenge.as_deref(),
        mismatch.verifier_s256.as_deref()
    );
    // A successful PKCE exchange: its verifier hashes to its challenge.
    let ok = events
        .iter()
        .find(|e| {
            e.kind == EventKind::TokenResponse && e.status == Some(200) && e.verifier_s256.is_some()
        })
        .expect("a code exchange");
    assert!(
        events
            .iter()
            .any(|e| e.code_challenge.as_deref() == ok.verifier_s256.as_deref())
    );
    assert_no_planted_secret(&events, KV);
}

#[test]
fn json_lines() {
    let events = parse(JSON);
    let expired = by_request_id(&events, "59c265f7-7142-4f96-a4ce-6beb6efd4550");
    assert_eq!(expired.kind, EventKind::TokenResponse);
    assert_eq!(expired.status, Some(400));
    assert_eq!(expired.grant_type, Some(GrantType::AuthorizationCode));
    assert_eq!(
        expired.redirect_uri.as_deref(),
        Some("com.example.app:/oauth2redirect")
    );
    let ts = expired.ts.expect("ts");
    assert_eq!(ts.basis, TimeBasis::Zoned);
    assert_eq!(ts.utc.to_rfc3339(), "2025-03-15T10:20:09+00:00");
    let missing = by_request_id(&events, "c5e0c8a9-ee38-491c-93f5-41e431334296");
    assert_eq!(missing.verifier_sent, Some(false));
    let reused = by_request_id(&events, "971a8783-3cd1-40b7-85f0-2dd18cc34a40");
    assert_eq!(reused.verifier_sent, Some(true));
    assert_eq!(reused.evidence.first().map(|l| l.line), Some(57));
    assert_no_planted_secret(&events, JSON);
}

#[test]
fn prefixes_and_leading_timestamps() {
    let ctx = Context::default();
    let mut p = LogrageParser::default();
    let mut out = Vec::new();
    for line in [
        "2025-03-11T09:41:07.318Z method=POST path=/oauth/token format=*/* controller=Doorkeeper::TokensController action=create status=400 duration=12.84 view=0.17 db=2.91",
        "[a5a054ed-3f1e-4c7e-9b51-6b0a2f7c9d11] method=POST path=/oauth/token format=*/* controller=Doorkeeper::TokensController action=create status=400 duration=12.84 view=0.17 db=2.91 error='Doorkeeper::Errors::InvalidGrantReuse: x'",
    ] {
        assert_eq!(p.feed(7, line, &ctx, &mut out), Outcome::Parsed);
    }
    assert_eq!(
        out[0].ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T09:41:07.318+00:00")
    );
    assert_eq!(
        out[1].request_id.as_deref(),
        Some("a5a054ed-3f1e-4c7e-9b51-6b0a2f7c9d11")
    );
    assert_eq!(
        out[1].provider_reason.as_deref(),
        Some("Doorkeeper::Errors::InvalidGrantReuse: x")
    );
    assert!(
        out.iter()
            .all(|e| e.status == Some(400) && e.evidence[0].line == 7)
    );
}

#[test]
fn other_formats_lines_are_unknown() {
    let rails = PRODUCTION.lines().take(40);
    let others = [
        "Started POST \"/oauth/token\" for 198.51.100.7 at 2025-03-11 09:41:07 +0000",
        "2025-03-11 09:41:07,584 WARN  [org.keycloak.events] (executor-thread-1) type=\"CODE_TO_TOKEN_ERROR\", error=\"invalid_code\"",
        r#"{"level":"error","msg":"invalid_grant","http_request":{"method":"POST","path":"/oauth2/token"},"status":400}"#,
        "03-11 09:41:07.118  4321  4321 E flutter : PlatformException(token_failed, invalid_grant)",
        "{not json method= path= status=",
    ];
    let lines = rails.chain(others);
    assert_all_unknown(&mut LogrageParser::default(), &Context::default(), lines);
}

#[test]
fn hostile_values_do_not_panic() {
    let lines = [
        "method=POST path=/oauth/token status=",
        "method=POST path=/oauth/token status=400 params={\"a\"=>\"",
        "method=POST path=/oauth/token status=400 error='",
        "method= path= status= params=[[[[",
        r#"{"method":1,"path":"/oauth/token","status":"x"}"#,
        r#"{"method":"GET","path":"/oauth/authorize","status":302,"location":"?code=é&"}"#,
    ];
    feed_each(&mut LogrageParser::default(), &Context::default(), lines);
}

const SEMANTIC: &str = include_str!("../../../../sample_logs/rails/semantic-logger.json.log");

/// rails_semantic_logger's JSON records: the `Completed` payload is the
/// request; `Started`, SQL and other records are skipped.
#[test]
fn semantic_logger_json_records() {
    let events = parse(SEMANTIC);
    assert_detected(SEMANTIC, crate::Format::Lograge);
    assert_eq!(events.len(), 2, "{events:#?}");
    let authorize = &events[0];
    assert_eq!(authorize.kind, EventKind::AuthorizeRequest);
    assert_eq!(
        authorize.code_challenge.as_deref(),
        Some("Hb0s5LQ2mX4nV8cR7tY1uI3oP6aS9dF2gJ5kL8zX0cV")
    );
    let token = &events[1];
    assert_eq!(token.kind, EventKind::TokenResponse);
    assert_eq!(token.status, Some(400));
    assert_eq!(token.grant_type, Some(GrantType::AuthorizationCode));
    assert_eq!(token.verifier_sent, Some(false));
    assert_eq!(
        token.request_id.as_deref(),
        Some("7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b")
    );
    assert_eq!(
        token.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-16T10:02:13.861204+00:00")
    );
    assert_eq!(token.line(), 7);
}

#[test]
fn a_quoted_value_ending_inside_a_character_does_not_panic() {
    // Found by `never_panics`' fragment files: the value opens a quote and
    // ends on a four-byte character.
    let line = "method=POST path=/oauth/token status=400 grant_type='ab\u{104F0}";
    let _ = parse(line);
}
