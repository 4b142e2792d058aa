use super::*;
use crate::test_support::{assert_detected, assert_no_secret, at_line, parse_lines_owned};

const SAMPLE: &str = include_str!("../../../../sample_logs/json/app.jsonl");

const PLANTED: &[&str] = &[
    "1.AXkA9fQm7Lx2Rv8Tb4Yc0Wd6Ns3Hj5Kp1Gq-Zu7Ei2Oa9SxMc4Vn8Bl0Dt6Yw3Pr5_FAKE",
    "RmFrZVNpZ25hdHVyZS1ub3QtcmVhbC0wMTIzNDU2Nzg5",
];

fn run(text: &str) -> (Vec<Event<'static>>, Vec<Outcome>) {
    parse_lines_owned::<JsonLinesParser>(text, &Context::default())
}

#[test]
fn sample_is_detected_and_known() {
    assert_detected(SAMPLE, Format::JsonLines);
    let (_, outcomes) = run(SAMPLE);
    assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
    assert_eq!(outcomes[0], Outcome::Skipped);
}

#[test]
fn entra_code_reused_by_a_double_callback() {
    let (events, _) = run(SAMPLE);
    let (a, b) = (at_line(&events, 3), at_line(&events, 4));
    assert_eq!(
        (a.kind, b.kind),
        (EventKind::TokenRequest, EventKind::TokenRequest)
    );
    assert!(a.code_fp.is_some());
    assert_eq!(a.code_fp, b.code_fp);
    assert_eq!(a.server, Some(ServerKind::Azure));
    assert_eq!(
        a.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T09:21:27.114+00:00")
    );
    let fail = at_line(&events, 6);
    assert_eq!(fail.kind, EventKind::ClientError);
    assert_eq!(fail.request_id.as_deref(), Some("req-8c41d9"));
    assert_eq!(fail.error.as_deref(), Some("invalid_grant"));
    assert_eq!(fail.provider_code.as_deref(), Some("AADSTS54005"));
    assert_eq!(fail.status, Some(400));
    assert_eq!(fail.server, Some(ServerKind::Azure));
    assert_eq!(
        fail.client_id.as_deref(),
        Some("6f1c9a2e-3b47-4d85-9e0a-7c2b5d8f1e34")
    );
}

#[test]
fn google_jwt_bearer_clock_skew() {
    let (events, _) = run(SAMPLE);
    let req = at_line(&events, 8);
    assert_eq!(req.kind, EventKind::TokenRequest);
    assert!(req.assertion_fp.is_some());
    assert_eq!(req.jwt.as_ref().and_then(|j| j.iat), Some(1_741_690_842));
    let fail = at_line(&events, 9);
    assert_eq!(fail.request_id.as_deref(), Some("7d3e9b1c04a2f6e8"));
    assert!(
        fail.error_description
            .as_deref()
            .is_some_and(|d| d.starts_with("Invalid JWT: Token must be a short-lived token"))
    );
    assert_eq!(fail.server, Some(ServerKind::Google));
}

#[test]
fn auth0_tenant_events() {
    let (events, _) = run(SAMPLE);
    let ok = at_line(&events, 11);
    assert_eq!((ok.kind, ok.status), (EventKind::TokenResponse, Some(200)));
    for (line, ty, reason) in [
        (
            12,
            "ferrt",
            "Unsuccessful Refresh Token exchange, reused refresh token detected",
        ),
        (14, "fertft", "Unknown or invalid refresh token."),
        (16, "feacft", "Failed to verify code verifier"),
    ] {
        let e = at_line(&events, line);
        assert_eq!(e.kind, EventKind::TokenResponse);
        assert_eq!(e.server, Some(ServerKind::Auth0));
        assert_eq!(e.provider_code.as_deref(), Some(ty));
        assert_eq!(e.provider_reason.as_deref(), Some(reason));
        assert_eq!(e.error.as_deref(), Some("invalid_grant"));
        assert_eq!(
            e.client_id.as_deref(),
            Some("q3VbR8nT2kLw6YxZ0mPc4Hs9Jd1Fg5Ae")
        );
        assert!(e.ts.is_some());
    }
    assert_eq!(at_line(&events, 13).kind, EventKind::RevokeRequest);
    assert_eq!(
        at_line(&events, 14).user.as_deref(),
        Some("auth0|65f0c2a9e4b7d31a8c5f2e91")
    );
}

#[test]
fn no_planted_secret_survives() {
    let (events, _) = run(SAMPLE);
    assert_no_secret(&events, PLANTED);
}

#[test]
fn nesting_keys_and_times() {
    let line = r#"{"level":"error","ts":1741686067.5,"msg":"token refresh failed","requestId":"r-1","clientId":"app-1","error":{"error":"invalid_grant","error_description":"Token has been expired or revoked."}}"#;
    let (events, _) = run(line);
    let e = &events[0];
    assert_eq!(e.kind, EventKind::ClientError);
    assert_eq!(
        e.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T09:41:07.500+00:00")
    );
    assert_eq!(
        (e.request_id.as_deref(), e.client_id.as_deref()),
        (Some("r-1"), Some("app-1"))
    );
    assert_eq!(e.server, Some(ServerKind::Google));
    let top =
        r#"{"@timestamp":"2025-03-11T09:41:07Z","error":"invalid_client","x_request_id":"abc"}"#;
    let (events, _) = run(top);
    assert_eq!(events[0].error.as_deref(), Some("invalid_client"));
    let opclient = r#"{"time":"2025-03-11T09:41:07Z","err":{"message":"invalid_grant (grant request is invalid)"}}"#;
    let (events, _) = run(opclient);
    assert_eq!(
        events[0].error_description.as_deref(),
        Some("grant request is invalid")
    );
}

#[test]
fn skipped_and_unknown() {
    for (line, want) in [
        (
            r#"{"level":"error","error":"ECONNRESET","msg":"socket hang up"}"#,
            Outcome::Skipped,
        ),
        (
            r#"{"level":"info","msg":"GET /healthz 200"}"#,
            Outcome::Skipped,
        ),
        // Auth0's failed-silent-auth event type is a provider error code
        // (catalog 8.1): a record with an error is never dropped.
        (
            r#"{"type":"fsa","date":"2025-03-11T09:41:07Z","client_id":"x"}"#,
            Outcome::Parsed,
        ),
        (
            r#"{"audience":"application","service_name":"Ory Hydra","error":{"message":"invalid_grant"}}"#,
            Outcome::Unknown,
        ),
        (
            r#"{"timestamp":"2025-03-11T09:41:07Z","loggerName":"org.keycloak.events","message":"type=REFRESH_TOKEN_ERROR, error=invalid_token"}"#,
            Outcome::Unknown,
        ),
        (
            r#"{"method":"POST","path":"/oauth/token","format":"json","controller":"Doorkeeper::TokensController","action":"create","status":400}"#,
            Outcome::Unknown,
        ),
        (r#"{"error":"invalid_grant" "#, Outcome::Unknown),
        ("I/flutter ( 9705): invalid_grant", Outcome::Unknown),
        (
            r#"Started POST "/oauth/token" for 10.0.0.7 at 2025-03-11 09:41:07 +0000"#,
            Outcome::Unknown,
        ),
    ] {
        assert_eq!(run(line).1[0], want, "{line}");
    }
}

proptest::proptest! {
    #[test]
    fn never_panics(lines in proptest::collection::vec("\\{.{0,200}\\}", 0..20)) {
        let _ = run(&lines.join("\n"));
    }
}

#[test]
fn a_grant_type_no_variant_names_is_kept_as_logged() {
    for logged in ["http://auth0.com/oauth/grant-type/mfa-otp", "Refresh_Token"] {
        let line = format!(
            r#"{{"ts":"2025-03-11T09:41:07Z","msg":"token request failed","grant_type":"{logged}","error":"invalid_grant"}}"#
        );
        let (events, _) = run(&line);
        let grant = events[0].grant_type.as_ref().expect("a grant type");
        assert!(matches!(grant, GrantType::Other(_)), "{grant:?}");
        assert_eq!(grant.as_str(), logged);
    }
    let known = r#"{"ts":"2025-03-11T09:41:07Z","msg":"token request failed","grant_type":"refresh_token","error":"invalid_grant"}"#;
    let (events, _) = run(known);
    assert_eq!(events[0].grant_type, Some(GrantType::RefreshToken));
}
