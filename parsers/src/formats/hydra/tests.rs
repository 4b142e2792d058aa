//! Tests of the Hydra parser on the sample logs (`sample_logs/hydra/`).

use super::*;
use crate::event::TimeBasis;
use crate::grant::GrantType;
use crate::test_support::{
    assert_all_unknown, assert_detected, assert_no_secret, feed_each, parse_lines,
};

const V23: &str = include_str!("../../../../sample_logs/hydra/hydra-v2.3.json.log");
const V26: &str = include_str!("../../../../sample_logs/hydra/hydra-v26.json.log");
const V1: &str = include_str!("../../../../sample_logs/hydra/hydra-v1.text.log");
const V22: &str = include_str!("../../../../sample_logs/hydra/hydra-v2.2.text.log");

fn parse_all(text: &str) -> (Vec<Event<'_>>, Vec<Outcome>) {
    parse_lines::<HydraParser>(text, &Context::default())
}

fn failures<'e, 'a>(events: &'e [Event<'a>]) -> Vec<&'e Event<'a>> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::TokenResponse && e.error.is_some())
        .collect()
}

#[test]
fn every_sample_line_is_hydra() {
    for text in [V23, V26, V1, V22] {
        let (_, outcomes) = parse_all(text);
        assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
        assert_detected(text, Format::Hydra);
    }
}

#[test]
fn v23_json_code_reuse_line() {
    let (events, _) = parse_all(V23);
    let reuse = events
        .iter()
        .find(|e| e.request_id.as_deref() == Some("c2e91b4a-0d5f-47a8-8e61-9f7d3a20b5c4"))
        .expect("reuse event");
    assert_eq!(reuse.kind, EventKind::TokenResponse);
    assert_eq!(reuse.server, Some(ServerKind::Hydra));
    assert_eq!(reuse.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        reuse.provider_reason.as_deref(),
        Some("The authorization code has already been used.")
    );
    assert_eq!(reuse.provider_debug, None);
    assert_eq!(reuse.status, Some(400));
    assert_eq!(reuse.grant_type, Some(GrantType::AuthorizationCode));
    assert_eq!(reuse.method.as_deref(), Some("POST"));
    assert_eq!(reuse.path.as_deref(), Some("/oauth2/token"));
    assert_eq!(reuse.ip.as_deref(), Some("10.0.4.17"));
    assert_eq!(reuse.user_agent.as_deref(), Some("okhttp/4.12.0"));
    let ts = reuse.ts.expect("ts");
    assert_eq!(ts.basis, TimeBasis::Zoned);
    assert_eq!(ts.utc.to_rfc3339(), "2025-03-11T09:14:02.131907+00:00");
    assert_eq!(reuse.line(), 10);
}

#[test]
fn v23_json_successes_authorize_revoke_and_skips() {
    let (events, outcomes) = parse_all(V23);
    let first = events
        .iter()
        .find(|e| e.request_id.as_deref() == Some("a5a054ed-7c1e-4f0b-9d3e-2b8c61f4d901"))
        .expect("first exchange");
    assert_eq!(first.kind, EventKind::TokenResponse);
    assert_eq!((first.status, first.error.as_deref()), (Some(200), None));
    let auth: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::AuthorizeRequest)
        .collect();
    assert_eq!(auth.len(), 4);
    assert_eq!(auth[0].status, Some(302));
    // Hydra hides the query unless leak_sensitive_values is on.
    assert_eq!(auth[0].client_id, None);
    assert!(events.iter().any(|e| e.kind == EventKind::RevokeRequest));
    // Startup, health, well-known, userinfo, "started handling" and the
    // access lines of failed token requests are skipped.
    assert_eq!(outcomes[0], Outcome::Skipped);
    assert_eq!(outcomes[3], Outcome::Skipped);
    assert_eq!(outcomes[10], Outcome::Skipped);
    assert_eq!(failures(&events).len(), 6);
}

#[test]
fn v23_json_hints_and_debug() {
    let (events, _) = parse_all(V23);
    let f = failures(&events);
    let reasons: Vec<_> = f.iter().map(|e| e.provider_reason.as_deref()).collect();
    assert_eq!(
        reasons[2],
        Some(
            r#"The "redirect_uri" from this request does not match the one from the authorize request."#
        )
    );
    let reuse = f[3];
    assert_eq!(reuse.grant_type, Some(GrantType::RefreshToken));
    assert_eq!(
        reuse.provider_debug.as_deref(),
        Some("Refresh token re-use was detected. All related tokens have been revoked.")
    );
    let client = f[5];
    assert_eq!(client.error.as_deref(), Some("invalid_client"));
    assert_eq!(client.status, Some(401));
    assert_eq!(client.provider_reason, None);
    assert!(
        client
            .provider_debug
            .as_deref()
            .is_some_and(|d| d.contains("bcrypt"))
    );
}

#[test]
fn v26_json_trace_ids_expired_code_and_clock_error() {
    let (events, _) = parse_all(V26);
    let f = failures(&events);
    assert_eq!(f.len(), 3);
    let expired = f[0];
    assert_eq!(
        expired.request_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e0004")
    );
    assert_eq!(expired.provider_reason, None);
    assert_eq!(expired.provider_debug.as_deref(), Some("invalid_token"));
    let clock = f[1];
    assert_eq!(clock.error.as_deref(), Some("Token used before issued"));
    assert_eq!(
        clock.provider_debug.as_deref(),
        Some("Token used before issued")
    );
    assert_eq!(clock.status, Some(500));
    assert_eq!(f[2].status, Some(401));
    assert!(
        f[2].provider_reason
            .as_deref()
            .is_some_and(|r| r.contains("client_secret_post"))
    );
}

#[test]
fn v1_text_clock_skew_and_audit_lines() {
    let (events, _) = parse_all(V1);
    let f = failures(&events);
    assert_eq!(f.len(), 2);
    let clock = f[0];
    assert_eq!(clock.error.as_deref(), Some("Token used before issued"));
    assert_eq!(clock.status, Some(500));
    assert_eq!(clock.ip.as_deref(), Some("fd00:10:0:5::21"));
    assert_eq!(
        clock.request_id.as_deref(),
        Some("2d8f3e0b-5c4a-4f7b-8e2d-8a9b0c1d2e3f")
    );
    assert_eq!(clock.user_agent.as_deref(), Some("Go-http-client/2.0"));
    assert_eq!(
        clock.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-13T08:06:37+00:00")
    );
    let missing = f[1];
    assert_eq!(missing.error.as_deref(), Some("invalid_request"));
    assert_eq!(
        missing.provider_reason.as_deref(),
        Some("Request parameter 'grant_type' is missing")
    );
    assert_eq!(missing.provider_debug, None);
    assert_eq!(missing.status, Some(400));
}

#[test]
fn v22_text_token_inactive_and_code_reuse() {
    let (events, _) = parse_all(V22);
    let f = failures(&events);
    assert_eq!(f.len(), 2);
    let inactive = f[0];
    assert_eq!(inactive.error.as_deref(), Some("token_inactive"));
    assert_eq!(inactive.status, Some(401));
    assert_eq!(inactive.grant_type, Some(GrantType::RefreshToken));
    assert_eq!(
        inactive.provider_reason.as_deref(),
        Some("Token validation failed.")
    );
    assert_eq!(
        inactive.request_id.as_deref(),
        Some("53d4e5f6-a7b8-4c92-9dae-2f3a4b5c6d7e")
    );
    assert_eq!(
        inactive.user_agent.as_deref(),
        Some("MyShop/5.2.0 CFNetwork/1494.0.7 Darwin/23.4.0")
    );
    assert_eq!(
        f[1].provider_reason.as_deref(),
        Some("The authorization code has already been used.")
    );
    let ok = events
        .iter()
        .filter(|e| e.kind == EventKind::TokenResponse && e.status == Some(200))
        .count();
    assert_eq!(ok, 3);
    assert!(events.iter().any(|e| e.kind == EventKind::RevokeRequest));
}

#[test]
fn old_flat_json_shape() {
    let line = r#"{"debug":"Token is expired","description":"Token expired","error":"token_expired","hint":"The token expired.","level":"error","msg":"An error occurred","time":"2020-08-28T20:14:40Z"}"#;
    let mut out = Vec::new();
    let o = HydraParser::default().feed(1, line, &Context::default(), &mut out);
    assert_eq!(o, Outcome::Parsed);
    let e = &out[0];
    assert_eq!(e.kind, EventKind::ProviderEvent);
    assert_eq!(e.error.as_deref(), Some("token_expired"));
    assert_eq!(e.error_description.as_deref(), Some("Token expired"));
    assert_eq!(e.provider_reason.as_deref(), Some("The token expired."));
    assert_eq!(e.provider_debug.as_deref(), Some("Token is expired"));
}

#[test]
fn leaked_authorize_query_is_read_and_redacted() {
    let line = r#"{"audience":"application","http_request":{"headers":{"user-agent":"x"},"host":"h","method":"GET","path":"/oauth2/auth","query":"client_id=shop&redirect_uri=com.example%3A%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256","remote":"10.0.0.1:1","scheme":"https"},"http_response":{"status":302},"level":"info","msg":"completed handling request","service_name":"Ory Hydra","service_version":"v2.3.0","time":"2025-03-11T09:00:00Z"}"#;
    let mut out = Vec::new();
    HydraParser::default().feed(1, line, &Context::default(), &mut out);
    let e = &out[0];
    assert_eq!(e.kind, EventKind::AuthorizeRequest);
    assert_eq!(e.client_id.as_deref(), Some("shop"));
    assert_eq!(e.redirect_uri.as_deref(), Some("com.example:/cb"));
    assert_eq!(e.code_challenge_method.as_deref(), Some("S256"));
}

#[test]
fn secrets_never_survive() {
    let line = "time=2025-03-11T09:00:00Z level=info msg=access denied audience=application error=map[debug: message:invalid_grant reason:x status:Bad Request status_code:400] http_request=map[headers:map[authorization:Basic c2hvcDpzM2NyM3QtZmFrZQ== user-agent:curl/8] host:h method:POST path:/oauth2/token query:code=SplxlOBeZQQYbYS6WxSbIA&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA remote:10.0.0.1:1 scheme:http] service_name=Ory Hydra service_version=v2.2.0";
    let mut out = Vec::new();
    HydraParser::default().feed(1, line, &Context::default(), &mut out);
    let e = &out[0];
    assert!(e.code_fp.is_some() && e.refresh_token_fp.is_some());
    let planted = [
        "c2hvcDpzM2NyM3QtZmFrZQ",
        "SplxlOBeZQQYbYS6WxSbIA",
        "tGzv3JOkF0XG5Qx2TlKWIA",
    ];
    assert_no_secret(std::slice::from_ref(e), &planted);
}

#[test]
fn other_formats_are_unknown() {
    let lines = [
        r#"Started POST "/oauth/token" for 10.0.0.1 at 2025-03-11 09:41:07 +0000"#,
        r#"2023-07-11 10:14:04,584 WARN  [org.keycloak.events] (executor-thread-1) type=REFRESH_TOKEN_ERROR, realmId=a, error=invalid_token"#,
        "05-02 10:15:03.118  4321  4388 E flutter : invalid_grant",
        r#"{"level":"error","msg":"token failed","time":"2025-03-11T09:00:00Z","error":"invalid_grant"}"#,
        r#"{"audience":"application","level":"info","msg":"x","service_name":"Ory Kratos","time":"2025-03-11T09:00:00Z"}"#,
        "time=2025-03-11T09:00:00Z level=info msg=hello service=foo",
        "",
        "\u{0}\u{fffd}{",
    ];
    assert_all_unknown(&mut HydraParser::default(), &Context::default(), lines);
}

#[test]
fn hostile_lines_never_panic() {
    let long = format!(
        "time=x level=error msg=y audience=application error=map[{}",
        "[".repeat(100_000)
    );
    let lines = [
        r#"{"audience":"application","level":"x","msg":"y","error":{"status_code":"abc"}}"#,
        r#"{"audience":"application","level":"x","msg":"y","error":{"message":"é"},"http_request":{"path":"/oauth2/token","remote":"[::1"}}"#,
        "time= level= msg= audience=application error=map[message:é] http_request=map[path:/oauth2/token remote:]:",
        long.as_str(),
    ];
    feed_each(&mut HydraParser::default(), &Context::default(), lines);
}

/// The two combined searches answer what a substring test of each word
/// answers: on the sample lines, on their every cut, and on lines built
/// to trip them (overlapping `/oauth2/`, `error` beside other keys, at
/// the line's ends).
#[test]
fn the_combined_searches_find_what_each_word_finds() {
    let crafted = [
        "/oauth2/oauth2/token",
        "/oauth2//oauth2/revoke",
        "x/oauth2/aut",
        "/oauth2/auth",
        "GET /admin/oauth2/auth/requests/login",
        "/oauth2/",
        "\"error\":",
        "\"error\"",
        " error=",
        "error=",
        "\"errors\":{} error_description=x",
        "\"error_hint\":\"x\" level=error",
        "error\":\"error\":",
        "msg=x  error= y",
    ];
    let samples = [V23, V26, V1, V22].into_iter().flat_map(str::lines);
    for line in crafted.into_iter().chain(samples) {
        let cuts = (0..=line.len()).filter(|&i| line.is_char_boundary(i));
        for end in cuts {
            let text = &line[..end];
            let paths = ["/oauth2/token", "/oauth2/revoke", "/oauth2/auth"];
            let expected_path = paths.iter().any(|p| text.contains(p));
            assert_eq!(names_token_path(text), expected_path, "{text:?}");
            let expected_error = text.contains("\"error\":") || text.contains(" error=");
            assert_eq!(has_error_key(text), expected_error, "{text:?}");
        }
    }
}

/// A named service is Hydra's when its name's first 24 bytes hold `hydra`
/// in any case; another name, or `hydra` past them, is another service's.
#[test]
fn a_service_named_hydra_in_any_case_is_ours() {
    let line = |name: &str| {
        format!(
            r#"{{"audience":"application","level":"info","msg":"x","service_name":"{name}","time":"2025-03-11T09:00:00Z"}}"#
        )
    };
    for name in ["Ory Hydra", "ORY HYDRA", "hydra", "my-HyDrA-fork", ""] {
        assert_eq!(shape(&line(name)), Some(Shape::Json), "{name:?}");
    }
    for name in [
        "Ory Kratos",
        "Hydr",
        "h y d r a",
        "Ory Platform Services Hydra",
    ] {
        assert_eq!(shape(&line(name)), None, "{name:?}");
    }
}
