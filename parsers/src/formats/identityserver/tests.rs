//! Tests of the IdentityServer parser against the sample logs.

use chrono::NaiveDate;

use super::*;
use crate::event::{EventKind, ServerKind};
use crate::format::Format;
use crate::grant::GrantType;
use crate::test_support::{
    assert_all_unknown, assert_detected, assert_no_secret, at_line, of_kind, parse_lines,
};

const SERILOG: &str = include_str!("../../../../sample_logs/identityserver/duende-serilog.log");
const MEL: &str = include_str!("../../../../sample_logs/identityserver/aspnet-console.log");
const NLOG: &str = include_str!("../../../../sample_logs/identityserver/nlog.log");

fn ctx() -> Context {
    Context {
        assumed_date: NaiveDate::from_ymd_opt(2025, 3, 11),
        ..Context::default()
    }
}

fn parse_all(text: &str) -> (Vec<Event<'_>>, Vec<Outcome>) {
    parse_lines::<IdentityServerParser>(text, &ctx())
}

#[test]
fn serilog_two_line_records() {
    let (events, outcomes) = parse_all(SERILOG);
    assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
    let expired = at_line(&events, 25);
    assert_eq!(expired.kind, EventKind::TokenResponse);
    assert_eq!(expired.server, Some(ServerKind::IdentityServer));
    assert_eq!(expired.error.as_deref(), Some("invalid_grant"));
    assert_eq!(expired.status, Some(400));
    assert_eq!(
        expired.provider_reason.as_deref(),
        Some("Authorization code expired")
    );
    assert_eq!(expired.client_id.as_deref(), Some("web"));
    assert_eq!(expired.grant_type, Some(GrantType::AuthorizationCode));
    assert_eq!(
        expired.redirect_uri.as_deref(),
        Some("https://portal.example.com/signin-oidc")
    );
    assert!(expired.code_fp.is_some());
    assert!(expired.verifier_s256.is_some());
    assert_eq!(
        expired.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T09:48:19+00:00")
    );
    assert_eq!(expired.evidence.len(), 2);
    assert_eq!(expired.evidence[1].line, 26);

    let mismatch = at_line(&events, 34);
    assert_eq!(
        mismatch.provider_reason.as_deref(),
        Some("Client is trying to use a code from a different client")
    );
    assert_eq!(mismatch.client_id.as_deref(), Some("reports"));
    assert!(
        mismatch
            .provider_debug
            .as_deref()
            .is_some_and(|d| d.contains("\"codeClient\": \"web\""))
    );
}

#[test]
fn refresh_reuse_reason_reaches_the_rejection() {
    let (events, _) = parse_all(SERILOG);
    let warning = at_line(&events, 49);
    assert_eq!(warning.kind, EventKind::ProviderEvent);
    assert_eq!(
        warning.provider_reason.as_deref(),
        Some("Rejecting refresh token because it has been consumed already.")
    );
    let rejected = at_line(&events, 52);
    assert_eq!(rejected.kind, EventKind::TokenResponse);
    assert_eq!(rejected.client_id.as_deref(), Some("mobile"));
    assert_eq!(rejected.grant_type, Some(GrantType::RefreshToken));
    assert_eq!(
        rejected.provider_reason.as_deref(),
        Some("Rejecting refresh token because it has been consumed already.")
    );
    assert_eq!(
        rejected.provider_debug.as_deref(),
        Some("Refresh token validation failed. aborting")
    );
    assert_eq!(of_kind(&events, EventKind::TokenResponse).len(), 3);
}

/// IdentityServer4 before 4.0 logs the refresh token's fault from
/// `TokenValidator` (github.com/DuendeArchive/IdentityServer4/issues/4705):
/// the reason reaches the validator's rejection after it.
#[test]
fn is4_token_validator_reason_reaches_the_rejection() {
    let text = "warn: IdentityServer4.Validation.TokenValidator[0]\n      Refresh token has expired. Removing from store.\nwarn: IdentityServer4.Validation.TokenRequestValidator[0]\n      Refresh token validation failed. aborting, {\n        \"ClientId\": \"deviceregistrations\",\n      }\n";
    let (events, _) = parse_all(text);
    let rejected = of_kind(&events, EventKind::TokenResponse);
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        rejected[0].provider_reason.as_deref(),
        Some("Refresh token has expired. Removing from store.")
    );
    // Its access-token messages are no refresh fault.
    let (events, _) =
        parse_all("fail: IdentityServer4.Validation.TokenValidator[0]\n      JWT too long\n");
    assert!(events.iter().all(|e| e.kind != EventKind::TokenResponse));
}

#[test]
fn aspnet_console_records_with_scopes() {
    let (events, outcomes) = parse_all(MEL);
    assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
    let redirect = at_line(&events, 8);
    assert_eq!(redirect.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        redirect.provider_reason.as_deref(),
        Some("Invalid redirect_uri")
    );
    assert_eq!(
        redirect.redirect_uri.as_deref(),
        Some("com.example.fieldapp:/callback")
    );
    assert_eq!(redirect.client_id.as_deref(), Some("fieldapp"));
    assert_eq!(
        redirect.request_id.as_deref(),
        Some("0HNB4K2Q9T1VA:00000003")
    );
    assert_eq!(redirect.path.as_deref(), Some("/connect/token"));
    assert_eq!(redirect.evidence.len(), 16);
    let pkce = at_line(&events, 27);
    assert_eq!(
        pkce.provider_reason.as_deref(),
        Some("Transformed code verifier does not match code challenge")
    );
    assert!(pkce.verifier_s256.is_some());
    assert_ne!(pkce.code_fp, redirect.code_fp);
    assert_eq!(events.len(), 2);
}

#[test]
fn nlog_password_grant() {
    let (events, outcomes) = parse_all(NLOG);
    assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
    let failed = at_line(&events, 3);
    assert_eq!(failed.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        failed.error_description.as_deref(),
        Some("invalid_username_or_password")
    );
    assert_eq!(failed.client_id.as_deref(), Some("legacy-cli"));
    assert_eq!(failed.grant_type, Some(GrantType::Password));
    assert_eq!(failed.user.as_deref(), Some("j.doe@example.com"));
    assert_eq!(
        failed.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T10:15:02.487300+00:00")
    );
    let ok = at_line(&events, 6);
    assert_eq!(ok.kind, EventKind::TokenRequest);
    assert_eq!(events.len(), 2);
}

#[test]
fn catalog_nlog_line_verbatim_shape() {
    let line = r#"2023-10-12 08:08:13.2505|0|INFO|Duende.IdentityServer.Validation.TokenRequestValidator|User authentication failed:  "phone_not_verified", details: {"ClientId":"IzmirimCardWebUserClient","GrantType":"password","Raw":{"client_id":"IzmirimCardWebUserClient","client_secret":"***REDACTED***","grant_type":"password"}}"#;
    let (events, _) = parse_all(line);
    assert_eq!(
        events[0].error_description.as_deref(),
        Some("phone_not_verified")
    );
    assert_eq!(
        events[0].client_id.as_deref(),
        Some("IzmirimCardWebUserClient")
    );
}

#[test]
fn serilog_one_line_shapes() {
    let dated = r#"[2025-03-11 09:41:07.334 +01:00 ERR] Duende.IdentityServer.Validation.TokenRequestValidator: Missing code_verifier, {"ClientId": "spa", "GrantType": "authorization_code"}"#;
    let (events, _) = parse_all(dated);
    assert_eq!(
        events[0].provider_reason.as_deref(),
        Some("Missing code_verifier")
    );
    assert_eq!(events[0].client_id.as_deref(), Some("spa"));
    assert_eq!(
        events[0].ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T08:41:07.334+00:00")
    );
    let bare = "[09:41:07 WRN] Refresh token has expired.";
    let (events, _) = parse_all(bare);
    assert_eq!(events[0].kind, EventKind::ProviderEvent);
    assert_eq!(
        events[0].provider_reason.as_deref(),
        Some("Refresh token has expired.")
    );
    let old = "[09:41:07 ERR] Invalid authorization code{ code = CB80CCC6E59F43613F896EA2056A8C9B69B05597AED085826662EAED67910EE6-1 }";
    let (events, _) = parse_all(old);
    assert_eq!(
        events[0].provider_reason.as_deref(),
        Some("Invalid authorization code")
    );
    assert!(events[0].code_fp.is_some());
    let belonging = "[09:41:07 ERR] Duende.IdentityServer.Services.DefaultRefreshTokenService: mobile tries to refresh token belonging to web";
    let (events, _) = parse_all(belonging);
    assert_eq!(events[0].client_id.as_deref(), Some("mobile"));
    let other =
        "[09:41:07 INF] Microsoft.AspNetCore.Hosting.Diagnostics: Request starting HTTP/1.1 GET /";
    let (events, outcomes) = parse_all(other);
    assert!(events.is_empty());
    assert_eq!(outcomes[0], Outcome::Skipped);
}

#[test]
fn same_code_same_fingerprint_across_values_and_raw() {
    let ctx = ctx();
    let code = "3F9A62C1D0B84E7FA1C25D93E07B6A41F8C2D5E9A0B3C6D1E4F7A2B5C8D0E3F6-1";
    let (events, _) = parse_all(SERILOG);
    assert_eq!(
        at_line(&events, 25).code_fp,
        Some(ctx.redactor.fingerprint(code))
    );
}

#[test]
fn no_planted_secret_survives() {
    let secrets = [
        "3F9A62C1D0B84E7FA1C25D93E07B6A41F8C2D5E9A0B3C6D1E4F7A2B5C8D0E3F6-1",
        "Zb8wQ1rT5uV7xA9sD2fG4hJ6kL8zX0cV2bNpYl3mN0c",
        "8C1E4B7A2D5F0936E8B1C4A7D0E3F6B9C2A5D8E1F4B7C0A3D6E9F2B5C8A1A7D2",
        "D4A7E0B3C6F9A2D5E8B1C4F7A0D3E6B9C2F5A8D1E4B7C0F3A6D9E2B5C8F19B3E",
        "kL8zX0cV2bNpYl3mN0cZb8wQ1rT5uV7xA9sD2fG4hJ6",
        "B2E5A8D1F4C7B0E3A6D9C2F5B8E1A4D7C0F3B6E9A2D5C8F1B4E7A0D3C6F90C7A",
        "Qw3eR5tY7uI9oP1aS3dF5gH7jK9lZ1xC3vB5nM7qW9e",
    ];
    for text in [SERILOG, MEL, NLOG] {
        let (events, _) = parse_all(text);
        assert_no_secret(&events, &secrets);
    }
}

#[test]
fn detection_picks_this_format() {
    for text in [SERILOG, MEL, NLOG] {
        assert_detected(text, Format::IdentityServer);
    }
}

#[test]
fn other_formats_are_unknown() {
    let mut parser = IdentityServerParser::default();
    let lines = [
        r#"I, [2025-03-11T09:41:07.318220 #7]  INFO -- : [a5a054ed] Started POST "/oauth/token" for 198.51.100.7 at 2025-03-11 09:41:07 +0000"#,
        r#"Started POST "/oauth/token" for 198.51.100.7 at 2025-03-11 09:41:07 +0000"#,
        r#"2023-07-11 10:14:04,584 WARN  [org.keycloak.events] (executor-thread-62335) type=REFRESH_TOKEN_ERROR, realmId=x, error=invalid_token"#,
        "05-02 10:15:03.118  4321  4388 D AppAuth : Initiating code exchange request to https://auth.example.com/oauth/token",
        r#"{"level":"info","msg":"access denied","error":{"message":"invalid_grant"}}"#,
        "2025-06-03T11:20:44.512Z oidc-provider:error path=/token method=POST error={ error: 'invalid_grant' } detail=x",
        "2025-03-11T09:41:07.334Z  WARN 1 --- [nio-9000-exec-3] o.s.s.o.s.a.a.OAuth2AuthorizationCodeAuthenticationProvider : Invalidated authorization token(s) previously issued to registered client 'mobile'",
        "[main] INFO something",
    ];
    assert_all_unknown(&mut parser, &ctx(), lines);
}

#[test]
fn hostile_input_does_not_panic() {
    for text in [
        "[",
        "[]",
        "[09:41:07 Error]",
        "[09:41:07 Error] A.B\n",
        "fail: A.B[",
        "fail: A.B[0]\n      Invalid redirect_uri {",
        "2025-03-11 10:15:02.4873|",
        "2025-03-11 10:15:02.4873|0|",
        "2025-03-11 10:15:02.4873|0|INFO|Duende.IdentityServer.Validation.TokenRequestValidator|User authentication failed: \"",
        "[09:41:07 ERR] Client secret validation failed for client: ",
        "[09:41:07 ERR] No client with id '",
        "[é€ ERR] x",
    ] {
        let _ = parse_all(text);
    }
    let huge = format!(
        "[09:41:07 Error] Duende.IdentityServer.Validation.TokenRequestValidator\nInvalid redirect_uri {}\n",
        "x\n".repeat(10_000)
    );
    let (events, _) = parse_all(&huge);
    assert!(events[0].evidence.len() <= MAX_RECORD_LINES);
}

const CLEF: &str = include_str!("../../../../sample_logs/identityserver/serilog-clef.json.log");
const LOG4NET: &str = include_str!("../../../../sample_logs/identityserver/log4net.log");

/// Serilog CLEF (`CompactJsonFormatter`): templates rendered, the request
/// properties read, other categories skipped before parsing.
#[test]
fn serilog_clef_records() {
    let (events, outcomes) = parse_all(CLEF);
    assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
    assert_eq!(outcomes[0], Outcome::Skipped);
    assert_detected(CLEF, Format::IdentityServer);
    let refresh = at_line(&events, 4);
    assert_eq!(refresh.kind, EventKind::TokenResponse);
    assert_eq!(refresh.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        refresh.provider_reason.as_deref(),
        Some("Rejecting refresh token because it has been consumed already.")
    );
    assert_eq!(refresh.client_id.as_deref(), Some("mobile"));
    assert_eq!(
        refresh.request_id.as_deref(),
        Some("0HNB7Q1M2K3AB:00000002")
    );
    assert_eq!(refresh.path.as_deref(), Some("/connect/token"));
    assert_eq!(
        refresh.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T11:02:44.184117200+00:00")
    );
    let redirect = at_line(&events, 5);
    assert_eq!(
        redirect.provider_reason.as_deref(),
        Some("Invalid redirect_uri")
    );
    assert_eq!(
        redirect.redirect_uri.as_deref(),
        Some("https://portal.example.com/signin-oidc/")
    );
    assert!(redirect.code_fp.is_some(), "the Raw code is fingerprinted");
    assert_no_secret(
        &events,
        &["5B2E8D1A4C7F0A3D6E9B2C5F8A1D4E7B0C3F6A9D2E5B8C1F4A7D0E3B6C99C41"],
    );
}

#[test]
fn log4net_pattern_layout() {
    let (events, outcomes) = parse_all(LOG4NET);
    assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
    assert_detected(LOG4NET, Format::IdentityServer);
    let expired = at_line(&events, 3);
    assert_eq!(
        expired.provider_reason.as_deref(),
        Some("Authorization code expired")
    );
    assert_eq!(expired.client_id.as_deref(), Some("web"));
    assert_eq!(
        expired.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T12:04:31.955+00:00")
    );
    // Other tools' `date LEVEL name - message` lines are not claimed.
    assert_all_unknown(
        &mut IdentityServerParser::default(),
        &ctx(),
        [
            "2025-03-11 12:04:31,955 ERROR [main] app - x",
            "2025-03-11 12:04:31,955 [1] NOTICE a.b - x",
        ],
    );
}
