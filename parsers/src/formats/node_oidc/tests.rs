//! Tests of the node-oidc-provider parser against the sample logs.

use super::*;
use crate::format::CONCRETE_FORMATS;
use crate::grant::GrantType;
use crate::test_support::{
    assert_all_unknown, assert_detected, assert_no_secret, at_line, of_kind, parse_lines,
};

const PROVIDER: &str = include_str!("../../../../sample_logs/node-oidc-provider/provider.log");
const TTY: &str = include_str!("../../../../sample_logs/node-oidc-provider/provider-tty.log");
const RP: &str = include_str!("../../../../sample_logs/node-oidc-provider/relying-party.log");

fn parse_all(text: &str) -> (Vec<Event<'_>>, Vec<Outcome>) {
    parse_lines::<NodeOidcParser>(text, &Context::default())
}

#[test]
fn provider_failures_carry_the_detail() {
    let (events, _) = parse_all(PROVIDER);
    let expected = [
        (
            15,
            "invalid_grant",
            "authorization code already consumed",
            400,
        ),
        (
            24,
            "invalid_grant",
            "code_verifier does not match code_challenge",
            400,
        ),
        (
            29,
            "invalid_grant",
            "authorization code redirect_uri mismatch",
            400,
        ),
        (36, "invalid_grant", "refresh token already used", 400),
        (39, "invalid_client", "jwt not active yet", 401),
        (46, "invalid_grant", "authorization code is expired", 400),
        (53, "invalid_grant", "grant not found", 400),
    ];
    for (line, error, detail, status) in expected {
        let e = at_line(&events, line);
        assert_eq!(e.kind, EventKind::TokenResponse, "line {line}");
        assert_eq!(e.server, Some(ServerKind::NodeOidcProvider));
        assert_eq!(e.error.as_deref(), Some(error), "line {line}");
        assert_eq!(e.provider_reason.as_deref(), Some(detail), "line {line}");
        assert_eq!(e.status, Some(status), "line {line}");
        assert_eq!(e.path.as_deref(), Some("/token"));
        assert_eq!(e.method.as_deref(), Some("POST"));
    }
    let first = at_line(&events, 15);
    assert_eq!(
        first.error_description.as_deref(),
        Some("grant request is invalid")
    );
    assert_eq!(first.grant_type, Some(GrantType::AuthorizationCode));
    let ts = first.ts.expect("ts");
    assert_eq!(ts.utc.to_rfc3339(), "2025-06-03T11:20:44.512+00:00");
    assert_eq!(
        at_line(&events, 36).grant_type,
        Some(GrantType::RefreshToken)
    );
    assert_eq!(at_line(&events, 53).grant_type, None);
}

#[test]
fn authorize_requests_from_koa_logger() {
    let (events, outcomes) = parse_all(PROVIDER);
    let auth = at_line(&events, 4);
    assert_eq!(auth.kind, EventKind::AuthorizeRequest);
    assert_eq!(auth.client_id.as_deref(), Some("web-portal"));
    assert_eq!(
        auth.redirect_uri.as_deref(),
        Some("https://portal.example.com/callback")
    );
    assert_eq!(
        auth.code_challenge.as_deref(),
        Some("qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es")
    );
    assert_eq!(auth.code_challenge_method.as_deref(), Some("S256"));
    assert_eq!(auth.path.as_deref(), Some("/auth"));
    // Every line of the provider log belongs to the format.
    assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
    assert_eq!(of_kind(&events, EventKind::TokenResponse).len(), 7);
}

#[test]
fn tty_form_and_other_namespaces() {
    let (events, outcomes) = parse_all(TTY);
    assert!(outcomes.iter().all(|o| *o == Outcome::Parsed));
    let authn = at_line(&events, 1);
    assert_eq!(authn.kind, EventKind::ProviderEvent);
    assert_eq!(authn.error.as_deref(), Some("invalid_request"));
    assert_eq!(
        authn.error_description.as_deref(),
        Some("missing required parameter 'nonce'")
    );
    assert_eq!(authn.ts, None);
    let expired = at_line(&events, 2);
    assert_eq!(
        expired.provider_reason.as_deref(),
        Some("refresh token is expired")
    );
    let not_allowed = at_line(&events, 3);
    assert_eq!(not_allowed.provider_reason, None);
    assert_eq!(not_allowed.status, Some(400));
    assert_eq!(
        at_line(&events, 4).provider_reason.as_deref(),
        Some("grant is expired")
    );
}

#[test]
fn ansi_coloured_tty_line() {
    let line = "  \u{1b}[31;1moidc-provider:error \u{1b}[0mpath=/token method=POST error={ error: 'invalid_grant', error_description: 'grant request is invalid' } detail=refresh token already used \u{1b}[31m+0ms\u{1b}[0m";
    let (events, _) = parse_all(line);
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].provider_reason.as_deref(),
        Some("refresh token already used")
    );
    assert!(!events[0].evidence[0].text.contains('\u{1b}'));
}

#[test]
fn relying_party_operror_and_stack() {
    let (events, outcomes) = parse_all(RP);
    let op = at_line(&events, 4);
    assert_eq!(op.kind, EventKind::ClientError);
    assert_eq!(op.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        op.error_description.as_deref(),
        Some("grant request is invalid")
    );
    assert_eq!(op.server, Some(ServerKind::NodeOidcProvider));
    assert_eq!(
        op.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-06-03T11:20:44.530+00:00")
    );
    let client = at_line(&events, 12);
    assert_eq!(client.error.as_deref(), Some("invalid_client"));
    // Stack and inspected properties are skipped; app lines are not ours.
    for n in 5..=11 {
        assert_eq!(outcomes[n - 1], Outcome::Skipped, "line {n}");
    }
    assert_eq!(outcomes[0], Outcome::Unknown);
    assert_eq!(outcomes[14], Outcome::Unknown);
    assert_eq!(events.len(), 2);
}

#[test]
fn rperror_keeps_the_message() {
    let line = "RPError: id_token issued in the future, now 1748949309, iat 1748949401";
    let (events, _) = parse_all(line);
    assert_eq!(events[0].error, None);
    assert_eq!(
        events[0].provider_reason.as_deref(),
        Some("id_token issued in the future, now 1748949309, iat 1748949401")
    );
}

#[test]
fn detection_picks_this_format() {
    assert_detected(PROVIDER, Format::NodeOidcProvider);
    assert_detected(TTY, Format::NodeOidcProvider);
    assert!(CONCRETE_FORMATS.contains(&Format::NodeOidcProvider));
}

#[test]
fn other_formats_are_unknown() {
    let mut parser = NodeOidcParser::default();
    let lines = [
        r#"I, [2025-03-11T09:41:07.318220 #7]  INFO -- : [a5a054ed] Started POST "/oauth/token" for 198.51.100.7 at 2025-03-11 09:41:07 +0000"#,
        r#"2023-07-11 10:14:04,584 WARN  [org.keycloak.events] (executor-thread-62335) type=REFRESH_TOKEN_ERROR, realmId=x, clientId=y, error=invalid_token"#,
        "05-02 10:15:03.118  4321  4388 D AppAuth : Initiating code exchange request to https://auth.example.com/oauth/token",
        r#"{"level":"info","msg":"access denied","error":{"message":"invalid_grant"}}"#,
        "2025-03-11T09:41:07.334Z  WARN 1 --- [nio-9000-exec-3] o.s.s.o.s.a.a.OAuth2AuthorizationCodeAuthenticationProvider : Invalidated authorization token(s) previously issued to registered client 'mobile'",
        "[09:41:07 Error] Duende.IdentityServer.Validation.TokenRequestValidator",
    ];
    assert_all_unknown(&mut parser, &Context::default(), lines);
}

#[test]
fn no_secret_survives() {
    let line = "2025-06-03T11:20:44.530Z error portal: callback failed for code=Qm9ndXNDb2RlMTIzNDU2Nzg5 OPError: invalid_grant (grant request is invalid)";
    let (events, _) = parse_all(line);
    assert!(events[0].code_fp.is_some());
    assert_no_secret(&events, &["Qm9ndXNDb2RlMTIzNDU2Nzg5"]);
}

#[test]
fn hostile_input_does_not_panic() {
    for line in [
        "oidc-provider:",
        "oidc-provider:error",
        "oidc-provider:error path= method= error={ error: ' detail=",
        "  <-- ",
        "  <-- GET /auth?client_id",
        "OPError: ",
        "[2025-06-03T11:20:44Z OPError: invalid_grant (",
        "\u{1b}[",
        "\u{1b}[31",
        "oidc-provider:server_error path=/token method=POST error=TypeError: é€😀 at x",
    ] {
        let _ = parse_all(line);
    }
}
