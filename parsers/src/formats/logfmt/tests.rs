//! Tests of the logfmt / tracing parser on `sample_logs/logfmt/` and on
//! lines from public issue threads.

use super::*;
use crate::event::EventKind;
use crate::grant::GrantType;
use crate::test_support::{assert_all_unknown, assert_detected, feed_each, parse_lines_owned};

const AUTHELIA: &str = include_str!("../../../../sample_logs/logfmt/authelia.log");
const GRAFANA: &str = include_str!("../../../../sample_logs/logfmt/grafana.log");
const DEX: &str = include_str!("../../../../sample_logs/logfmt/dex.log");
const TRACING: &str = include_str!("../../../../sample_logs/logfmt/rust-tracing.log");

fn parse_all(text: &str) -> (Vec<Event<'static>>, Vec<Outcome>) {
    parse_lines_owned::<LogfmtParser>(text, &Context::default())
}

#[test]
fn every_sample_line_is_logfmt_and_detected() {
    for text in [AUTHELIA, GRAFANA, DEX, TRACING] {
        let (_, outcomes) = parse_all(text);
        assert!(
            outcomes.iter().all(|o| *o != Outcome::Unknown),
            "{outcomes:?}"
        );
        assert_detected(text, Format::Logfmt);
    }
}

#[test]
fn authelia_token_endpoint_refusals() {
    let (events, outcomes) = parse_all(AUTHELIA);
    assert_eq!(outcomes[0], Outcome::Skipped);
    assert_eq!(events.len(), 2, "{events:#?}");
    let refresh = &events[0];
    assert_eq!(refresh.kind, EventKind::TokenResponse);
    assert_eq!(refresh.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        refresh.provider_reason.as_deref(),
        Some("The refresh token has not been found: not_found")
    );
    assert_eq!(refresh.grant_type, Some(GrantType::RefreshToken));
    assert_eq!(refresh.path.as_deref(), Some("/api/oidc/token"));
    assert_eq!(refresh.method.as_deref(), Some("POST"));
    assert_eq!(refresh.ip.as_deref(), Some("10.40.2.97"));
    assert_eq!(
        refresh.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-04-02T11:47:37+00:00")
    );
    assert_eq!(refresh.line(), 5);
    assert_eq!(events[1].error.as_deref(), Some("invalid_client"));
}

#[test]
fn grafana_old_and_new_oauth2_errors() {
    let (events, _) = parse_all(GRAFANA);
    assert_eq!(events.len(), 2, "{events:#?}");
    let new = &events[0];
    assert_eq!(new.kind, EventKind::ClientError);
    assert_eq!(new.error.as_deref(), Some("invalid_grant"));
    assert_eq!(new.error_description.as_deref(), Some("Code not valid"));
    let old = &events[1];
    assert_eq!(old.error.as_deref(), Some("invalid_grant"));
    assert_eq!(old.status, Some(400));
    assert!(
        old.error_description
            .as_deref()
            .is_some_and(|d| d.starts_with("MSIS9612: The authorization code received in 'code'")),
        "{old:#?}"
    );
    // `-0400` is read as an offset.
    assert_eq!(
        old.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-04-02T09:20:10+00:00")
    );
}

#[test]
fn dex_refresh_refusals() {
    let (events, _) = parse_all(DEX);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[0].kind, EventKind::TokenResponse);
    assert_eq!(events[0].grant_type, Some(GrantType::RefreshToken));
    assert_eq!(events[0].error.as_deref(), Some("invalid_request"));
    assert!(
        events[0]
            .provider_reason
            .as_deref()
            .is_some_and(|r| r.ends_with("claimed twice"))
    );
    assert_eq!(events[1].error.as_deref(), Some("invalid_grant"));
}

#[test]
fn rust_tracing_default_output() {
    let (events, outcomes) = parse_all(TRACING);
    assert_eq!(outcomes[..2], [Outcome::Skipped, Outcome::Skipped]);
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        e.error_description.as_deref(),
        Some("Token has been expired or revoked.")
    );
    assert_eq!(e.provider_reason.as_deref(), Some("token refresh failed"));
    assert_eq!(
        e.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-04-03T10:12:45.902331+00:00")
    );
}

/// A `time LEVEL [tag] message` line (okta-auth-js through a console
/// logger) has the tracing shape: the error before the last `: ` is kept.
#[test]
fn error_named_before_the_description() {
    let line = "2025-03-11T09:58:31.207Z ERROR [okta] token exchange failed: invalid_grant: The 'redirect_uri' does not match the redirection URI used in the authorization request.";
    let (events, _) = parse_all(line);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        events[0].error_description.as_deref(),
        Some(
            "The 'redirect_uri' does not match the redirection URI used in the authorization request."
        )
    );
}

/// slog's text handler (Go 1.21+): unquoted time, upper-case level.
#[test]
fn slog_text_handler() {
    let line = r#"time=2025-04-03T09:02:41.118Z level=ERROR msg="token exchange failed" err="oauth2: \"invalid_grant\" \"PKCE verification failed\"" client_id=cli-tool"#;
    let (events, _) = parse_all(line);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].client_id.as_deref(), Some("cli-tool"));
    assert_eq!(
        events[0].error_description.as_deref(),
        Some("PKCE verification failed")
    );
}

#[test]
fn secrets_in_fields_are_redacted() {
    let line = r#"time="2025-04-03T09:02:41Z" level=error msg="refresh failed" refresh_token=wqhbnIw2OpRszwqkNdVIekqE700lTlXJcYc8ErcErLw error="oauth2: \"invalid_grant\" \"Token is not active\"""#;
    let (events, _) = parse_all(line);
    assert_eq!(events.len(), 1);
    for f in events[0].text_fields() {
        assert!(!f.contains("wqhbnIw2OpRs"), "{f}");
    }
}

#[test]
fn other_formats_are_unknown() {
    let lines = [
        "time=2025-03-13T08:00:01Z level=info msg=Setting up http server on :4444 audience=application service_name= service_version=",
        r#"Started POST "/oauth/token" for 10.0.0.1 at 2025-03-11 09:41:07 +0000"#,
        "method=POST path=/oauth/token format=*/* controller=Doorkeeper::TokensController action=create status=400",
        "2025-03-11 09:00:00,000 WARN  [org.keycloak.events] (t) type=CODE_TO_TOKEN_ERROR",
        "type=CODE_TO_TOKEN_ERROR, realmId=x, error=invalid_code",
        r#"{"level":"error","error":"invalid_grant"}"#,
        "2025-03-11T09:41:07.318Z nothing here",
        "",
    ];
    assert_all_unknown(&mut LogfmtParser::default(), &Context::default(), lines);
}

#[test]
fn hostile_lines_never_panic() {
    let long = format!("level=error msg=\"{}", "\\\"invalid_grant".repeat(20_000));
    let lines = [
        "level=error msg=\"oauth2: \\\"",
        "level=error msg= err=oauth2:",
        "level=error msg=x error=map[message:invalid_grant reason:",
        "lvl=eror msg=x error=\"StandardErrorResponse { error: \"",
        "2025-04-03T10:12:45.902331Z ERROR : : error=invalid_grant",
        "2025-04-03T10:12:45.902331Z ERROR",
        "2025-04-03T10:12:45.9é2331Z ERROR x",
        "level=error msg=\"Access Request failed with error: The provided authorization grant\"",
        long.as_str(),
    ];
    feed_each(&mut LogfmtParser::default(), &Context::default(), lines);
}
