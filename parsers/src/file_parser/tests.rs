//! The per-file driver in mixed mode (`--format mixed`): a paste of
//! several formats' lines, each read by its own parser. Here rather than
//! beside the registry's mixed parser: the driver imports the registry,
//! which then does not import the driver back. And the driver's rest marks
//! when envelopes name origins.

use super::*;
use crate::event::EventKind;

/// A support ticket's paste: a Rails request, a Keycloak event, a
/// flutter_appauth error from logcat, and a Node app's msal-node error.
const MIXED: &str = concat!(
    "I, [2025-03-11T09:02:15.978492 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1] Started POST \"/oauth/token\" for 10.0.3.235 at 2025-03-11 09:02:15 +0000\n",
    "I, [2025-03-11T09:02:15.980892 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1] Processing by Doorkeeper::TokensController#create as */*\n",
    "I, [2025-03-11T09:02:15.981092 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1]   Parameters: {\"grant_type\"=>\"refresh_token\", \"refresh_token\"=>\"wqhbnIw2OpRszwqkNdVIekqE700lTlXJcYc8ErcErLw\", \"client_id\"=>\"Zr9kq3bB4u2xq0X9mB7Yt0a6v1c8d2e3f4g5h6i7j8k\"}\n",
    "I, [2025-03-11T09:02:15.997492 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1] Completed 400 Bad Request in 19ms (Views: 0.1ms | ActiveRecord: 5.8ms | Allocations: 3762)\n",
    "2025-03-11 09:10:32,093 WARN  [org.keycloak.events] (executor-thread-11) type=\"CODE_TO_TOKEN_ERROR\", realmId=\"7c1f3a52-9d4e-4b8a-a6c1-2e5f8b9d0a13\", realmName=\"shop\", clientId=\"shop-web\", userId=\"null\", ipAddress=\"10.20.0.7\", error=\"invalid_code\", reason=\"Code not valid\", grant_type=\"authorization_code\", code_id=\"a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4e\", client_auth_method=\"client-secret\"\n",
    "03-11 14:02:49.301  4388  4421 I flutter : login error: PlatformException(token_failed, Failed to get token: invalid_grant: The refresh token is invalid or expired., null, null)\n",
    "{\"level\":\"error\",\"time\":\"2025-03-11T09:47:02Z\",\"msg\":\"acquireTokenByRefreshToken failed\",\"err\":{\"name\":\"InteractionRequiredAuthError\",\"errorCode\":\"invalid_grant\",\"errorMessage\":\"AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2024-11-20T08:12:44.1234567Z and was inactive for 90.00:00:00.\",\"correlationId\":\"6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d\"}}\n",
);

fn parse_mixed(text: &str) -> (Vec<Event<'_>>, LineCounts) {
    let ctx = Context {
        assumed_year: Some(2025),
        ..Context::default()
    };
    let mut parser = FileParser::new(Format::Mixed, ctx);
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        parser.feed(i as u64 + 1, line, &mut events);
    }
    parser.flush(&mut events);
    (events, parser.counts())
}

#[test]
fn mixed_excerpt_yields_each_formats_event_once() {
    let (events, counts) = parse_mixed(MIXED);
    let by_format = |f: Format| events.iter().filter(|e| e.format == f).collect::<Vec<_>>();

    let rails = by_format(Format::Rails);
    assert_eq!(rails.len(), 1, "{events:#?}");
    assert_eq!(rails[0].kind, EventKind::TokenResponse);
    assert_eq!(rails[0].status, Some(400));
    assert!(rails[0].refresh_token_fp.is_some());

    let keycloak = by_format(Format::Keycloak);
    assert_eq!(keycloak.len(), 1, "{events:#?}");
    assert_eq!(keycloak[0].client_id.as_deref(), Some("shop-web"));
    assert_eq!(
        keycloak[0].provider_reason.as_deref(),
        Some("Code not valid")
    );

    let logcat = by_format(Format::Logcat);
    assert_eq!(logcat.len(), 1, "{events:#?}");
    assert_eq!(logcat[0].kind, EventKind::ClientError);
    assert_eq!(logcat[0].error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        logcat[0].error_description.as_deref(),
        Some("The refresh token is invalid or expired.")
    );

    let json = by_format(Format::JsonLines);
    assert_eq!(json.len(), 1, "{events:#?}");
    assert_eq!(json[0].error.as_deref(), Some("invalid_grant"));
    assert_eq!(json[0].provider_code.as_deref(), Some("AADSTS700082"));

    assert_eq!(events.len(), 4, "{events:#?}");
    assert_eq!(counts.unknown, 0, "{counts:?}");
    for e in &events {
        for f in e.text_fields() {
            assert!(!f.contains("wqhbnIw2OpRs"), "{f}");
        }
    }
}

/// A Keycloak event line from `host`, in a syslog envelope (an origin).
fn keycloak_from(host: &str) -> String {
    format!(
        "Mar 11 09:10:32 {host} keycloak[1]: 2025-03-11 09:10:32,093 INFO  [org.keycloak.events] \
         (executor-thread-11) type=\"CODE_TO_TOKEN\", realmId=\"7c1f3a52\", clientId=\"shop-web\", \
         userId=\"u1\", ipAddress=\"10.20.0.7\", grant_type=\"authorization_code\""
    )
}

/// The rest mark after feeding `lines`.
fn mark_after(lines: &[String]) -> Option<crate::handover::RestMark> {
    let mut parser = FileParser::new(Format::Keycloak, Context::default());
    let mut events = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        parser.feed(i as u64 + 1, line, &mut events);
    }
    assert!(!events.is_empty(), "the lines were read");
    parser.rest_mark()
}

/// Parsers of origins at rest give a mark (they used to refuse one, and a
/// syslog-wrapped log was read on one core), and the mark names the
/// origins read apart, in any order: a reader that has an origin's parser
/// and one that has none read that origin's next lines otherwise.
#[test]
fn a_rest_mark_names_the_origins_at_rest() {
    let both = mark_after(&[keycloak_from("web0"), keycloak_from("web1")]);
    let swapped = mark_after(&[keycloak_from("web1"), keycloak_from("web0")]);
    let one = mark_after(&[keycloak_from("web1")]);
    assert!(both.is_some() && one.is_some());
    assert_eq!(both, swapped);
    assert_ne!(both, one);
    // A Keycloak parser fed a plain line is at rest, as a fresh one is.
    let plain =
        "2025-03-11 09:10:31,000 INFO  [io.quarkus] (main) Keycloak 26.1.4 started".to_owned();
    let after_plain = mark_after(&[plain, keycloak_from("web1")]);
    assert_eq!(after_plain, one);
}
