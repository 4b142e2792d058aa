//! Tests of the Spring parser against the sample logs.

use super::*;
use crate::grant::GrantType;
use crate::test_support::{
    assert_all_unknown, assert_detected, assert_no_secret, at_line, of_kind, parse_lines,
};

const BOOT3: &str = include_str!("../../../../sample_logs/spring/auth-server.log");
const BOOT2: &str = include_str!("../../../../sample_logs/spring/auth-server-boot2.log");

fn parse_all(text: &str) -> (Vec<Event<'_>>, Vec<Outcome>) {
    parse_lines::<SpringParser>(text, &Context::default())
}

#[test]
fn grant_messages_become_provider_events() {
    let (events, outcomes) = parse_all(BOOT3);
    assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
    let cases = [
        (
            8,
            "8f3e2a71-5c4b-4d2e-9a1f-0b6c7d8e9f10",
            "authorization_code",
            "Invalidated authorization token(s) previously issued",
        ),
        (
            11,
            "2b7c9d4e-8a1f-4e3b-b6c5-d0e9f8a7b6c1",
            "authorization_code",
            "Invalidated authorization code used by",
        ),
        (
            14,
            "8f3e2a71-5c4b-4d2e-9a1f-0b6c7d8e9f10",
            "authorization_code",
            "Invalid request: redirect_uri does not match",
        ),
        (
            19,
            "2b7c9d4e-8a1f-4e3b-b6c5-d0e9f8a7b6c1",
            "refresh_token",
            "Invalid request: refresh_token is not active",
        ),
    ];
    for (line, client, grant, reason) in cases {
        let e = at_line(&events, line);
        assert_eq!(e.kind, EventKind::ProviderEvent, "line {line}");
        assert_eq!(e.server, Some(ServerKind::Spring));
        assert_eq!(e.client_id.as_deref(), Some(client), "line {line}");
        assert_eq!(
            e.grant_type.as_ref().map(GrantType::as_str),
            Some(grant),
            "line {line}"
        );
        assert!(
            e.provider_reason
                .as_deref()
                .is_some_and(|r| r.starts_with(reason)),
            "line {line}"
        );
    }
    let reuse = at_line(&events, 8);
    assert_eq!(
        reuse.request_id.as_deref(),
        Some("67d0030b1a2b3c4d5e6f708192a3b4c5")
    );
    assert_eq!(
        reuse.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T09:41:07.334+00:00")
    );
}

#[test]
fn logged_response_bodies_become_token_responses() {
    let (events, _) = parse_all(BOOT3);
    let reuse = at_line(&events, 9);
    assert_eq!(reuse.kind, EventKind::TokenResponse);
    assert_eq!(reuse.error.as_deref(), Some("invalid_grant"));
    assert_eq!(reuse.status, Some(400));
    assert_eq!(reuse.method.as_deref(), Some("POST"));
    assert_eq!(reuse.path.as_deref(), Some("/oauth2/token"));
    assert_eq!(reuse.request_id, at_line(&events, 8).request_id);
    let pkce = at_line(&events, 17);
    assert_eq!(
        pkce.error_description.as_deref(),
        Some("Client authentication failed: code_verifier")
    );
    assert_eq!(of_kind(&events, EventKind::TokenResponse).len(), 5);
}

#[test]
fn other_lines_skipped_and_stack_traces_claimed() {
    let (events, outcomes) = parse_all(BOOT3);
    assert_eq!(outcomes[0], Outcome::Skipped);
    assert_eq!(outcomes[3], Outcome::Skipped);
    for n in 22..=25 {
        assert_eq!(outcomes[n - 1], Outcome::Skipped, "line {n}");
    }
    assert_eq!(events.len(), 9);
}

#[test]
fn boot2_and_full_logger_names() {
    let (events, outcomes) = parse_all(BOOT2);
    assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
    let reuse = at_line(&events, 2);
    assert_eq!(reuse.client_id.as_deref(), Some("mobile"));
    assert_eq!(reuse.request_id, None);
    assert_eq!(
        reuse.ts.map(|t| (t.utc.to_rfc3339(), t.basis)),
        Some((
            "2025-03-11T11:15:44.902+00:00".to_owned(),
            crate::event::TimeBasis::AssumedZone
        ))
    );
    let not_allowed = at_line(&events, 3);
    assert_eq!(not_allowed.grant_type, Some(GrantType::RefreshToken));
    assert!(
        not_allowed
            .provider_reason
            .as_deref()
            .is_some_and(|r| r.contains("requested grant_type is not allowed"))
    );
}

#[test]
fn boot3_with_offset_and_no_app_name() {
    let line = "2025-03-11T10:41:07.334+01:00  WARN 1 --- [nio-9000-exec-3] o.s.s.o.s.a.a.OAuth2AuthorizationCodeAuthenticationProvider : Invalidated authorization token(s) previously issued to registered client 'mobile'";
    let (events, _) = parse_all(line);
    assert_eq!(
        events[0].ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T09:41:07.334+00:00")
    );
    assert_eq!(events[0].client_id.as_deref(), Some("mobile"));
}

#[test]
fn detection_picks_this_format() {
    for text in [BOOT3, BOOT2] {
        assert_detected(text, Format::Spring);
    }
}

#[test]
fn other_formats_are_unknown() {
    let mut parser = SpringParser::default();
    let lines = [
        r#"Started POST "/oauth/token" for 198.51.100.7 at 2025-03-11 09:41:07 +0000"#,
        r#"2023-07-11 10:14:04,584 WARN  [org.keycloak.events] (executor-thread-62335) type=REFRESH_TOKEN_ERROR, realmId=x, error=invalid_token"#,
        "05-02 10:15:03.118  4321  4388 D AppAuth : Initiating code exchange request to https://auth.example.com/oauth/token",
        r#"{"level":"info","msg":"access denied","error":{"message":"invalid_grant"}}"#,
        "2025-06-03T11:20:44.512Z oidc-provider:error path=/token method=POST error={ error: 'invalid_grant' } detail=x",
        "[09:41:07 Error] Duende.IdentityServer.Validation.TokenRequestValidator",
        "2025-03-11 10:15:02.4873|0|INFO|Duende.IdentityServer.Validation.TokenRequestValidator|x --- [y] z : w",
    ];
    assert_all_unknown(&mut parser, &Context::default(), lines);
}

#[test]
fn no_secret_survives() {
    let line = r#"2025-03-11T09:55:40.019Z  INFO 1 --- [auth-server] [nio-9000-exec-9] c.e.auth.web.TokenErrorLoggingFilter     : POST /oauth2/token?code=SplxlOBeZQQYbYS6WxSbIA -> 400 {"error":"invalid_grant","refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA"}"#;
    let (events, _) = parse_all(line);
    assert!(events[0].code_fp.is_some());
    assert_no_secret(
        &events[..1],
        &["SplxlOBeZQQYbYS6WxSbIA", "tGzv3JOkF0XG5Qx2TlKWIA"],
    );
}

#[test]
fn hostile_input_does_not_panic() {
    for line in [
        " --- [",
        "2025-03-11T09:41:07Z --- [",
        "2025-03-11T09:41:07Z  WARN 1 --- [",
        "2025-03-11T09:41:07Z  WARN 1 --- [a] [b",
        "2025-03-11T09:41:07Z  WARN 1 --- [a] x : Invalidated authorization code used by registered client '",
        "2025-03-11T09:41:07Z  WARN 1 --- [a] x : Invalid request: é€ registered client 'é",
        "2025-03-11T09:41:07Z  INFO 1 --- [a] x : \"error\" POST",
    ] {
        let _ = parse_all(line);
    }
}
