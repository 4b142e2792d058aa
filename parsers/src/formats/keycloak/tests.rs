//! Tests of the Keycloak parser on the sample logs (`sample_logs/keycloak/`).

use crate::grant::GrantType;
use chrono::NaiveDate;

use super::*;
use crate::event::{EventKind, ServerKind, TimeBasis};
use crate::format::Format;
use crate::test_support::{
    assert_all_unknown, assert_detected, assert_no_secret, feed_each, parse_file, parse_lines_owned,
};

const KC26: &str = include_str!("../../../../sample_logs/keycloak/keycloak-26.log");
const KC21: &str = include_str!("../../../../sample_logs/keycloak/keycloak-21.log");
const WILDFLY: &str = include_str!("../../../../sample_logs/keycloak/keycloak-wildfly.log");
const JSON: &str = include_str!("../../../../sample_logs/keycloak/keycloak.json.log");
const ECS: &str = include_str!("../../../../sample_logs/keycloak/keycloak-ecs.json.log");
const BARE: &str = include_str!("../../../../sample_logs/keycloak/keycloak-events.bare.log");

fn parse_with(text: &str, ctx: &Context) -> (Vec<Event<'static>>, Vec<Outcome>) {
    parse_lines_owned::<KeycloakParser>(text, ctx)
}

fn parse_all(text: &str) -> (Vec<Event<'static>>, Vec<Outcome>) {
    parse_with(text, &Context::default())
}

fn failures<'e>(events: &'e [Event<'static>]) -> Vec<&'e Event<'static>> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::TokenResponse && e.provider_code.is_some())
        .collect()
}

#[test]
fn every_sample_line_is_keycloak() {
    for text in [KC26, KC21, WILDFLY, JSON, ECS, BARE] {
        let (_, outcomes) = parse_all(text);
        assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
        assert_detected(text, Format::Keycloak);
    }
}

#[test]
fn quoted_kc26_refresh_failures() {
    let (events, outcomes) = parse_all(KC26);
    assert_eq!(outcomes[0], Outcome::Skipped);
    let f = failures(&events);
    assert_eq!(f.len(), 8);
    let session = f[1];
    assert_eq!(session.server, Some(ServerKind::Keycloak));
    assert_eq!(
        session.provider_reason.as_deref(),
        Some("Session not active")
    );
    assert_eq!(session.provider_code.as_deref(), Some("invalid_token"));
    assert_eq!(session.error.as_deref(), Some("invalid_grant"));
    assert_eq!(session.status, None);
    assert_eq!(session.client_id.as_deref(), Some("shop-web"));
    assert_eq!(session.user, None);
    assert_eq!(
        session.session_id.as_deref(),
        Some("5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a")
    );
    assert_eq!(session.ip.as_deref(), Some("203.0.113.90"));
    assert_eq!(session.grant_type, Some(GrantType::RefreshToken));
    let ts = session.ts.expect("ts");
    assert_eq!(ts.basis, TimeBasis::AssumedZone);
    assert_eq!(ts.utc.to_rfc3339(), "2025-03-11T09:21:44.019+00:00");
    let issuer = f[7];
    assert_eq!(
        issuer.provider_reason.as_deref(),
        Some("Invalid token issuer. Expected 'https://sso.example.com/realms/shop'")
    );
    assert_eq!(
        f[6].provider_reason.as_deref(),
        Some("Maximum allowed refresh token reuse exceeded")
    );
}

#[test]
fn kc26_code_reuse_pkce_and_client_auth() {
    let (events, _) = parse_all(KC26);
    let warning = events
        .iter()
        .find(|e| e.provider_reason.as_deref() == Some("Code already used"))
        .expect("code warning");
    assert_eq!(warning.kind, EventKind::ProviderEvent);
    assert_eq!(
        warning.session_id.as_deref(),
        Some("a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4e")
    );
    let fp = warning.code_fp.expect("code fp");
    let expected = Context::default()
        .redactor
        .fingerprint("5e0c8a1f-7b2d-4c9e-a3f6-1d4b8e2c7a90");
    assert_eq!(fp, expected);
    let f = failures(&events);
    assert_eq!(f[0].provider_code.as_deref(), Some("invalid_code"));
    assert_eq!(f[0].session_id, warning.session_id);
    assert_eq!(f[0].error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        f[3].provider_code.as_deref(),
        Some("pkce_verification_failed")
    );
    assert_eq!(f[4].provider_code.as_deref(), Some("code_verifier_missing"));
    let client = f[5];
    assert_eq!(
        client.provider_code.as_deref(),
        Some("invalid_client_credentials")
    );
    assert_eq!(client.error, None);
    let pkce: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::ProviderEvent)
        .filter_map(|e| e.provider_reason.as_deref())
        .collect();
    assert_eq!(
        pkce,
        [
            "Code already used",
            "PKCE verification failed: Code mismatch",
            "PKCE code verifier not specified"
        ]
    );
}

#[test]
fn kc26_successes_and_logout() {
    let (events, _) = parse_all(KC26);
    let ok: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::TokenResponse && e.provider_code.is_none())
        .collect();
    assert_eq!(ok.len(), 3);
    assert!(ok.iter().all(|e| e.error.is_none() && e.status.is_none()));
    assert_eq!(
        ok[0].user.as_deref(),
        Some("3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b")
    );
    let issued: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::CodeIssued)
        .collect();
    assert_eq!(issued.len(), 4);
    assert_eq!(
        issued[1].redirect_uri.as_deref(),
        Some("https://shop.example.com/callback")
    );
    assert_eq!(
        issued[1].session_id.as_deref(),
        Some("a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4e")
    );
    assert_eq!(issued[1].client_id.as_deref(), Some("shop-web"));
    let logout = events
        .iter()
        .find(|e| e.kind == EventKind::RevokeRequest)
        .expect("logout");
    assert_eq!(
        logout.session_id.as_deref(),
        Some("5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a")
    );
}

#[test]
fn unquoted_kc21_with_single_quotes_and_stack_trace() {
    let (events, outcomes) = parse_all(KC21);
    // The KC-SERVICES0014 warning is followed by its stack trace.
    assert_eq!(outcomes[5], Outcome::Parsed);
    assert_eq!(outcomes[6..10], [Outcome::Skipped; 4]);
    let f = failures(&events);
    assert_eq!(f.len(), 5);
    assert_eq!(f[0].provider_code.as_deref(), Some("invalid_code"));
    assert_eq!(
        f[0].session_id.as_deref(),
        Some("463f87a6-5ab5-484b-b12a-24ee20abb1da")
    );
    assert_eq!(f[0].ip.as_deref(), Some("81.184.94.187"));
    let redirect = f[3];
    assert_eq!(
        redirect.provider_code.as_deref(),
        Some("invalid_redirect_uri")
    );
    assert_eq!(redirect.error.as_deref(), Some("invalid_grant"));
    assert!(
        redirect
            .provider_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("Parameter 'redirect_uri' did not match")
                && r.ends_with("redirectUri parameter: https://shop.example.com/callback/"))
    );
    let password = f[4];
    assert_eq!(password.grant_type, Some(GrantType::Password));
    assert_eq!(password.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        password.user.as_deref(),
        Some("4c5d6e7f-8a9b-4c0d-9e1f-2a3b4c5d6e7f")
    );
    let services = events
        .iter()
        .find(|e| e.provider_reason.as_deref() == Some("Failed client authentication"))
        .expect("KC-SERVICES0014");
    assert_eq!(services.kind, EventKind::ProviderEvent);
    let pkce = events
        .iter()
        .find(|e| e.provider_reason.as_deref() == Some("PKCE verification failed"))
        .expect("old pkce warning");
    assert_eq!(pkce.user.as_deref(), Some("grace"));
}

#[test]
fn wildfly_time_only_lines() {
    let (events, _) = parse_all(WILDFLY);
    assert!(events.iter().all(|e| e.ts.is_none()));
    assert_eq!(failures(&events).len(), 3);
    let ctx = Context {
        assumed_date: NaiveDate::from_ymd_opt(2025, 3, 11),
        ..Context::default()
    };
    let (events, _) = parse_with(WILDFLY, &ctx);
    let refresh = failures(&events)[0];
    let ts = refresh.ts.expect("ts");
    assert_eq!(ts.basis, TimeBasis::DateInferred);
    assert_eq!(ts.utc.to_rfc3339(), "2025-03-11T12:07:55.903+00:00");
    assert_eq!(refresh.provider_reason, None);
    assert_eq!(refresh.client_id.as_deref(), Some("alto-portal"));
    assert_eq!(refresh.user, None);
}

#[test]
fn json_console_events() {
    let (events, outcomes) = parse_all(JSON);
    // The admin event that disabled the user is skipped.
    assert_eq!(outcomes[2], Outcome::Skipped);
    let f = failures(&events);
    assert_eq!(f.len(), 3);
    assert_eq!(f[0].provider_reason.as_deref(), Some("User disabled"));
    assert_eq!(f[0].session_id.as_deref(), Some("Vq3xN0dO4b7sEJ2qYw9kR1Tm"));
    assert_eq!(
        f[0].ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T12:09:02.337114520+00:00")
    );
    assert_eq!(f[1].provider_reason.as_deref(), Some("Session not active"));
    let warning = events
        .iter()
        .find(|e| e.kind == EventKind::ProviderEvent)
        .expect("code warning");
    assert_eq!(warning.session_id, f[2].session_id);
    assert!(warning.code_fp.is_some());
}

/// `--log-console-output=json --log-console-json-format=ecs` (KC 26.2+):
/// the keys of the record the elastic/integrations issue #13749 shows.
#[test]
fn ecs_console_events() {
    let (events, outcomes) = parse_all(ECS);
    assert_eq!(outcomes[0], Outcome::Skipped, "startup line");
    assert_eq!(outcomes[7], Outcome::Skipped, "scheduled task");
    let f = failures(&events);
    assert_eq!(f.len(), 2, "{events:#?}");
    assert_eq!(f[0].provider_code.as_deref(), Some("invalid_code"));
    assert_eq!(f[0].error.as_deref(), Some("invalid_grant"));
    assert_eq!(f[0].client_id.as_deref(), Some("acme-portal"));
    assert_eq!(
        f[0].ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-05-06T08:01:11.307010455+00:00")
    );
    assert_eq!(f[1].provider_reason.as_deref(), Some("Session not active"));
    let warning = events
        .iter()
        .find(|e| e.kind == EventKind::ProviderEvent)
        .expect("code warning");
    assert!(warning.code_fp.is_some());
    assert_eq!(warning.session_id, f[0].session_id);
}

#[test]
fn ecs_records_of_other_services_are_not_keycloak() {
    let spring = r#"{"@timestamp":"2025-05-06T08:01:11.307Z","log.level":"WARN","process.pid":1,"process.thread.name":"http-nio-8080-exec-1","service.name":"orders","log.logger":"com.example.Orders","message":"type=x","ecs.version":"8.11"}"#;
    assert_all_unknown(
        &mut KeycloakParser::default(),
        &Context::default(),
        [spring],
    );
}

/// The listener's message without the JBoss prefix (a shipper kept only the
/// message, or a user pasted it): every field, no time.
#[test]
fn bare_event_lines() {
    let (events, outcomes) = parse_all(BARE);
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Parsed),
        "{outcomes:?}"
    );
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].kind, EventKind::TokenResponse);
    assert_eq!(events[0].provider_code, None, "a success");
    let reuse = &events[1];
    assert_eq!(
        reuse.provider_reason.as_deref(),
        Some("Maximum allowed refresh token reuse exceeded")
    );
    assert_eq!(reuse.error.as_deref(), Some("invalid_grant"));
    assert_eq!(reuse.ts, None);
    assert_eq!(
        events[2].provider_reason.as_deref(),
        Some("Parameter 'redirect_uri' did not match")
    );
    assert_eq!(events[3].client_id.as_deref(), Some("acme-mobile"));
    assert_eq!(
        events[3].provider_code.as_deref(),
        Some("pkce_verification_failed")
    );
    // Admin events and free text starting with `type=` are not events.
    assert_all_unknown(
        &mut KeycloakParser::default(),
        &Context::default(),
        [
            "operationType=UPDATE, realmId=3b8d, resourceType=USER",
            "type=button value=submit",
        ],
    );
}

#[test]
fn code_ids_never_survive() {
    for (text, planted) in [
        (KC26, "5e0c8a1f-7b2d-4c9e-a3f6-1d4b8e2c7a90"),
        (KC21, "b6a1d2e3-f4c5-4b6d-8e7f-9a0b1c2d3e4f"),
        (WILDFLY, "c7d8e9f0-a1b2-4c3d-8e4f-5a6b7c8d9e0f"),
        (JSON, "d8e9f0a1-b2c3-4d4e-9f5a-6b7c8d9e0f1a"),
        (ECS, "9c4b2e7a-1d3f-4a8b-b6c5-0e9d8f7a6b51"),
    ] {
        let (events, _) = parse_all(text);
        assert!(events.iter().any(|e| e.code_fp.is_some()));
        assert_no_secret(&events, &[planted]);
    }
}

#[test]
fn other_formats_are_unknown() {
    let lines = [
        r#"Started POST "/oauth/token" for 10.0.0.1 at 2025-03-11 09:41:07 +0000"#,
        r#"{"audience":"application","level":"info","msg":"access denied","service_name":"Ory Hydra","time":"2025-03-11T09:00:00Z"}"#,
        "2025-03-11 09:41:07.318  WARN 12345 --- [nio-9000-exec-1] o.s.s.o.s.a.OAuth2TokenEndpointFilter : invalid_grant",
        "05-02 10:15:03.118  4321  4388 E flutter : invalid_grant",
        "\tat org.keycloak.Foo.bar(Foo.java:1)",
        "",
        "12:00",
        "2025-03-11T09:58:31.207Z ERROR [okta] token exchange failed: invalid_grant",
    ];
    assert_all_unknown(&mut KeycloakParser::default(), &Context::default(), lines);
}

#[test]
fn hostile_lines_never_panic() {
    let long = format!(
        "2025-03-11 09:00:00,000 WARN  [org.keycloak.events] (t) type=\"{}",
        "\\\"".repeat(50_000)
    );
    let lines = [
        "2025-03-11 09:00:00,000 WARN  [org.keycloak.events] (t) type=",
        "2025-03-11 09:00:00,000 WARN  [org.keycloak.events] (t) type='é, error='",
        "10:00:00,000 WARN  [x.OAuth2CodeParser] (t) Code '",
        "10:00:00,000 WARN  [x.OAuth2CodeParser] (t) Code 'é' already used for userSession 'é",
        "10:00:00,000 WARN  [x.PkceUtils] (t) PKCE . authUserId = ",
        r#"{"timestamp":"x","loggerName":"org.keycloak.events","message":"type=\"A_ERROR\""}"#,
        r#"{"timestamp":"x","loggerName":"org.keycloak.events","message":1}"#,
        long.as_str(),
    ];
    feed_each(&mut KeycloakParser::default(), &Context::default(), lines);
}

#[test]
fn a_kc23_value_keeps_its_escaped_quotes_and_backslashes() {
    let line = r#"2025-03-11 09:00:01,000 WARN  [org.keycloak.events] (executor-thread-1) type="REFRESH_TOKEN_ERROR", realmId="r1", realmName="shop", clientId="shop-web", userId="null", ipAddress="10.0.0.1", error="invalid_token", reason="Token \"rt\" from C:\\kc not valid", grant_type="refresh_token""#;
    let (events, _) = parse_all(&format!("{line}\n"));
    let failure = failures(&events)[0];
    assert_eq!(
        failure.provider_reason.as_deref(),
        Some(r#"Token "rt" from C:\kc not valid"#)
    );
    assert_eq!(failure.client_id.as_deref(), Some("shop-web"));
}

/// Every event of the sample logs holds its one line and room for no more
/// (a read holds thousands of them at once).
#[test]
fn an_event_keeps_room_for_its_one_line_only() {
    for text in [KC26, KC21, WILDFLY, JSON, ECS, BARE] {
        let (events, _) = parse_all(text);
        assert!(!events.is_empty());
        for e in &events {
            assert_eq!(e.evidence.len(), 1, "{:?}", e.evidence);
            assert_eq!(e.evidence.capacity(), 1, "{:?}", e.evidence);
        }
    }
}

/// Listener lines of a type no kind takes (a resource server's
/// introspections, userinfo calls, profile updates) are skipped and leave
/// no event, in the console's shape and bare, also between two that give
/// one: the event made for a line is dropped again when the line gives
/// none.
#[test]
fn listener_types_no_kind_takes_leave_no_event() {
    let text = "\
2025-03-11 00:00:20,178 INFO  [org.keycloak.events] (executor-thread-47) type=\"INTROSPECT_TOKEN\", realmId=\"7c1f3a52\", realmName=\"shop\", clientId=\"reporting-portal\", userId=\"null\", ipAddress=\"10.20.6.186\", client_auth_method=\"client-secret\"
2025-03-11 00:00:20,613 INFO  [org.keycloak.events] (executor-thread-32) type=\"CODE_TO_TOKEN\", realmId=\"7c1f3a52\", clientId=\"shop-web\", userId=\"de236a9a\", ipAddress=\"10.20.3.139\", grant_type=\"authorization_code\", code_id=\"b0dd1b26\"
2025-03-11 00:00:20,700 INFO  [org.keycloak.events] (executor-thread-5) type=\"USER_INFO_REQUEST\", realmId=\"7c1f3a52\", clientId=\"shop-web\", userId=\"de236a9a\", ipAddress=\"10.20.3.139\", auth_method=\"validate_access_token\"
type=UPDATE_PROFILE, realmId=7c1f3a52, clientId=account-console, userId=de236a9a, ipAddress=10.20.3.139
";
    let (events, outcomes) = parse_all(text);
    assert_eq!(
        outcomes,
        [
            Outcome::Skipped,
            Outcome::Parsed,
            Outcome::Skipped,
            Outcome::Skipped
        ]
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, EventKind::TokenResponse);
    assert_eq!(events[0].client_id.as_deref(), Some("shop-web"));
    assert_eq!(events[0].evidence.len(), 1);
}

/// A listener line's error fields are its `error` and `reason` pairs, read
/// by the grammar alone, as a file of the format is read (the extractor
/// included): an app's redirect URI carrying an error of its own in its
/// query gives a login error no description the server did not write. A
/// server's warning line, which only the extractor reads, is still read by
/// it.
#[test]
fn a_listener_line_is_read_by_its_grammar_alone() {
    let text = "\
2025-03-11 00:00:20,542 WARN  [org.keycloak.events] (executor-thread-31) type=\"LOGIN_ERROR\", realmId=\"shop\", clientId=\"shop-web\", userId=\"d06ae587\", ipAddress=\"203.0.113.5\", error=\"invalid_user_credentials\", auth_method=\"openid-connect\", response_type=\"code\", redirect_uri=\"https://shop.example.com/cb?error=invalid_grant&error_description=Code+not+valid\", username=\"niaj@example.com\"
2025-03-11 00:00:29,115 WARN  [org.keycloak.events] (executor-thread-63) type=\"REFRESH_TOKEN_ERROR\", realmId=\"shop\", clientId=\"partner-api\", userId=\"null\", ipAddress=\"10.40.8.195\", error=\"invalid_token\", reason=\"Maximum allowed refresh token reuse exceeded\", grant_type=\"refresh_token\"
2022-12-29 07:55:50,841 WARN  [org.keycloak.protocol.oidc.utils.OAuth2CodeParser] (executor-thread-27) Code 'b199dad6' already used for userSession '463987a6' and client '9f330c7c'.
";
    let (events, _) = parse_file(Format::Keycloak, text);
    assert_eq!(events.len(), 3, "{events:?}");
    let login = &events[0];
    assert_eq!(login.kind, EventKind::ProviderEvent);
    assert_eq!(
        login.provider_code.as_deref(),
        Some("invalid_user_credentials")
    );
    assert_eq!(login.error_description, None, "{login:?}");
    let refresh = &events[1];
    assert_eq!(refresh.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        refresh.provider_reason.as_deref(),
        Some("Maximum allowed refresh token reuse exceeded")
    );
    assert!(events[..2].iter().all(|e| e.errors_read));
    let warning = &events[2];
    assert!(!warning.errors_read);
    assert!(
        warning
            .error_description
            .as_deref()
            .is_some_and(|d| d.starts_with("already used for userSession")),
        "{warning:?}"
    );
}
