use super::*;
use crate::event::ServerKind;
use crate::grant::GrantType;
use crate::test_support::{
    assert_detected, assert_no_secret, by_request_id, of_kind, parse_lines_owned,
};
use crate::{Event, EventKind, Lifecycle};

const SAMPLE: &str = include_str!("../../../../sample_logs/android/flutter-doorkeeper.logcat.txt");

/// Fake secrets planted in the sample; none may survive redaction.
const PLANTED: &[&str] = &[
    "y7B0HDNM5VyQlsYzpfo5F4mcDnTInWcAK_htRn7CYks",
    "Bb-LJhQmdodj290OinL0aCgB-w1YHOnIVXBxccdnQYJ",
    "HymfaBE09vL3Rclk15WTI6poKOEfOLgVkmSbz4Rfqr3",
    "fpSmH2c2S6RUhBb0x8dl5pnQ9aqCvFTQ3Te4odczYcx",
    "p2hgSfdRTfUphon-tPgCsZt6iV_Eq7REMK5Y7LKVKoH",
    "Qx3vN8kLm2Rt7Yp0Wc5Zs9Hd4Fb1Gj6Ea8Uo2Ti7Ky3",
    "cbZWWsytTplYfHgoBGkkP487RkkY6EMVzDScGJeVaBg",
    "lsbwoaEPMmGzNZqoEIZN8RPNTqwfpLPZv0hJ6uz3ULY",
    "mPS-HjB39LQmj0n0TIU5TMf2_qBfZAZu-MAvRZwLl03ysIsywQokyNq6RVw_Vxzt",
    "Tm90QVJlYWxTaWduYXR1cmVfZmFrZV9zaWduYXR1cmVfMDAx",
];

fn ctx() -> Context {
    Context {
        assumed_year: Some(2025),
        ..Context::default()
    }
}

fn run(text: &str, ctx: &Context) -> (Vec<Event<'static>>, Vec<Outcome>) {
    parse_lines_owned::<LogcatParser>(text, ctx)
}

fn one(line: &str) -> (Outcome, Vec<Event<'static>>) {
    let (events, outcomes) = run(line, &ctx());
    (outcomes[0], events)
}

#[test]
fn sample_is_detected_and_fully_known() {
    assert_detected(SAMPLE, Format::Logcat);
    let (_, outcomes) = run(SAMPLE, &ctx());
    assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
}

#[test]
fn refresh_race_two_requests_same_token_then_doorkeeper_400() {
    let (events, _) = run(SAMPLE, &ctx());
    let reqs = of_kind(&events, EventKind::TokenRequest);
    let (a, b) = (reqs[0], reqs[1]);
    assert_eq!(a.grant_type, Some(GrantType::RefreshToken));
    assert!(a.refresh_token_fp.is_some());
    assert_eq!(a.refresh_token_fp, b.refresh_token_fp);
    let gap = b.ts.expect("ts").utc - a.ts.expect("ts").utc;
    assert_eq!(gap.num_milliseconds(), 20);
    assert_eq!(a.path.as_deref(), Some("/oauth/token"));
    assert_eq!(
        a.client_id.as_deref(),
        Some("Z_7hs3QNNUSyXcSzxspDgdnpI1ahwsF1XGyeEZ6LeRR")
    );

    let ok = by_request_id(&events, "3f9c2e71-5b8a-4d0e-9a61-c47e2b18d903");
    assert_eq!((ok.kind, ok.status), (EventKind::TokenResponse, Some(200)));

    let fail = by_request_id(&events, "b81d4a06-92e3-4c5f-8e27-1a6f0d9c3b55");
    assert_eq!(fail.kind, EventKind::ClientError);
    assert_eq!(fail.status, Some(400));
    assert_eq!(fail.error.as_deref(), Some("invalid_grant"));
    assert!(
        fail.error_description
            .as_deref()
            .is_some_and(|d| d.starts_with("The provided authorization grant"))
    );
    assert_eq!(fail.server, Some(ServerKind::Doorkeeper));
    assert_eq!(
        fail.server_date.map(|d| d.to_rfc3339()).as_deref(),
        Some("2025-03-11T09:41:07+00:00")
    );
    assert_eq!(fail.line(), 62);
    assert!(
        fail.evidence
            .iter()
            .any(|e| e.text.contains("Response Text:"))
    );
    assert!(fail.evidence.len() > 15);
}

#[test]
fn pkce_story_cold_start_and_regenerated_verifier() {
    let (events, _) = run(SAMPLE, &ctx());
    let auth = &of_kind(&events, EventKind::AuthorizeRequest)[0];
    assert_eq!(
        auth.code_challenge.as_deref(),
        Some("6iWLQmvVqK2j-0j8Cybq98QDaBLP5cv9ISPu77PsF8o")
    );
    assert_eq!(auth.code_challenge_method.as_deref(), Some("S256"));
    assert_eq!(
        auth.redirect_uri.as_deref(),
        Some("com.acme.fieldapp:/oauth2redirect")
    );
    let issued = &of_kind(&events, EventKind::CodeIssued)[0];
    let exchange = of_kind(&events, EventKind::TokenRequest)
        .into_iter()
        .find(|e| e.grant_type == Some(GrantType::AuthorizationCode))
        .expect("code exchange");
    assert!(exchange.code_fp.is_some());
    assert_eq!(issued.code_fp, exchange.code_fp);
    assert_eq!(exchange.verifier_sent, Some(true));
    assert_ne!(
        exchange.verifier_s256.as_deref(),
        auth.code_challenge.as_deref()
    );
    let starts: Vec<_> = events
        .iter()
        .filter(|e| e.lifecycle == Some(Lifecycle::ColdStart))
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[1].user_agent.as_deref(), Some("com.acme.fieldapp"));
    assert!(
        events
            .iter()
            .any(|e| e.lifecycle == Some(Lifecycle::Terminated))
    );
    let fail = by_request_id(&events, "e2a7c915-0f4b-4b8e-b3d2-6c91f7a05e48");
    assert_eq!(
        (fail.status, fail.error.as_deref()),
        (Some(400), Some("invalid_grant"))
    );
}

#[test]
fn clock_sample_and_invalid_id_token() {
    let (events, _) = run(SAMPLE, &ctx());
    let ok = by_request_id(&events, "71c0e8b4-3d29-4f6a-a8e5-92b4d1f6c037");
    let skew = ok.ts.expect("ts").utc - ok.server_date.expect("date");
    assert_eq!(skew.num_minutes(), 9);
    assert!(
        ok.jwt
            .as_ref()
            .is_some_and(|j| j.iat == Some(1_741_701_190))
    );
    let err = events
        .iter()
        .find(|e| e.error_description.as_deref() == Some("Invalid ID Token"))
        .expect("Invalid ID Token");
    assert_eq!(err.kind, EventKind::ClientError);
    assert_eq!(err.error, None);
    assert_eq!(
        err.provider_code.as_deref(),
        Some("authorize_and_exchange_code_failed")
    );
    assert_eq!(err.line(), 231);
}

#[test]
fn appauth_authorization_exception_and_debug_lines() {
    let (events, _) = run(SAMPLE, &ctx());
    let e = events
        .iter()
        .find(|e| e.provider_code.as_deref() == Some("2002"))
        .expect("AuthorizationException");
    assert_eq!(e.kind, EventKind::ClientError);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(e.line(), 192);
    let init = events.iter().find(|e| e.line() == 191).expect("Initiating");
    assert_eq!(init.kind, EventKind::TokenRequest);
    assert_eq!(init.path.as_deref(), Some("/oauth/token"));
    let (o, ev) = one(
        "05-02 10:15:03.500  4321  4388 D AppAuth : Token exchange with https://auth.example.com/oauth/token completed",
    );
    assert_eq!(o, Outcome::Parsed);
    assert_eq!(
        (ev[0].kind, ev[0].status),
        (EventKind::TokenResponse, Some(200))
    );
}

#[test]
fn no_planted_secret_survives() {
    let (events, _) = run(SAMPLE, &ctx());
    assert!(events.len() > 20);
    assert_no_secret(&events, PLANTED);
}

#[test]
fn containers_brief_time_threadtime_and_no_year() {
    let brief = "I/flutter ( 9705): login error: PlatformException(token_failed, Failed to get token: [error: invalid_grant, description: Invalid ID Token], null, null) -> #0      StandardMethodCodec.decodeEnvelope (package:flutter/src/services/message_codecs.dart:607:7)";
    let (o, ev) = one(brief);
    assert_eq!(o, Outcome::Parsed);
    assert_eq!(ev[0].error.as_deref(), Some("invalid_grant"));
    assert_eq!(ev[0].error_description.as_deref(), Some("Invalid ID Token"));
    assert_eq!(ev[0].provider_code.as_deref(), Some("token_failed"));
    assert!(ev[0].ts.is_none());
    let time = "05-02 10:15:03.118 I/flutter ( 9705): AppLifecycleState.resumed";
    let (_, ev) = one(time);
    assert_eq!(ev[0].lifecycle, Some(Lifecycle::Resumed));
    assert_eq!(
        ev[0].ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-05-02T10:15:03.118+00:00")
    );
    let thread = "05-02 10:15:03.118  4321  4388 D AppAuth : Initiating code exchange request to https://auth.example.com/oauth/token";
    let (events, outcomes) = run(thread, &Context::default());
    assert_eq!(outcomes[0], Outcome::Parsed);
    assert!(events[0].ts.is_none());
    let flutter_run = "I/flutter (12345): *** Request ***";
    assert_eq!(one(flutter_run).0, Outcome::Parsed);
}

#[test]
fn skips_and_unknowns() {
    for skipped in [
        "--------- beginning of main",
        "03-11 09:41:09.870  4321  4340 I Choreographer: Skipped 31 frames!",
        "I/flutter (12345): #1      MethodChannel._invokeMethod (package:flutter/src/services/platform_channel.dart:321:18)",
        "I/flutter (12345): <asynchronous suspension>",
        "I/flutter (12345): [Feed] loaded 24 notes",
        "03-11 09:40:58.102  1402  1431 I ActivityManager: Start proc 2100:com.android.vending/u0a12 for service {...}",
    ] {
        assert_eq!(one(skipped).0, Outcome::Skipped, "{skipped}");
    }
    for unknown in [
        r#"Started POST "/oauth/token" for 10.0.0.7 at 2025-03-11 09:41:07 +0000"#,
        "2025-03-11 09:41:07,118 WARN  [org.keycloak.events] (executor-thread-1) type=\"CODE_TO_TOKEN_ERROR\", realmId=\"x\", error=\"invalid_code\"",
        "flutter: *** DioException ***:",
        "2025-03-11 09:41:07.123456+0000 Runner[1234:56789] flutter: hi",
        r#"{"level":"error","error":"invalid_grant"}"#,
        "   ",
    ] {
        assert_eq!(one(unknown).0, Outcome::Unknown, "{unknown}");
    }
}

#[test]
fn msal_and_id_token_texts() {
    let msal = "03-11 12:00:01.002  5120  5160 E MSAL    : [2025-03-11 12:00:01 - {\"thread_id\":\"2\"}] AcquireTokenSilent failed: invalid_grant AADSTS700082: The refresh token has expired due to inactivity.";
    let (_, ev) = one(msal);
    assert_eq!(ev[0].kind, EventKind::ClientError);
    assert_eq!(ev[0].provider_code.as_deref(), Some("AADSTS700082"));
    assert_eq!(ev[0].server, Some(ServerKind::Azure));
    assert!(
        ev[0]
            .error_description
            .as_deref()
            .is_some_and(|d| d.starts_with("AADSTS700082: The refresh token"))
    );
    let idt = "03-11 12:00:01.002  5120  5120 W AuthRepo: net.openid.appauth.IdToken$IdTokenException: Issued at time is more than 10 minutes before or after the current time";
    let (_, ev) = one(idt);
    assert_eq!(
        ev[0].error_description.as_deref(),
        Some("Issued at time is more than 10 minutes before or after the current time")
    );
}

#[test]
fn dio_header_lists_timeouts_and_interleaved_tags() {
    let text = "\
I/flutter (700): *** DioException ***:
I/flutter (700): uri: https://auth.example.com/oauth/token
D/OkHttp  (700): unrelated line from another tag
I/flutter (700): DioException [connection timeout]: The request connection took longer than 0:00:15.000000 and it was aborted.
I/flutter (700): 
I/flutter (700): [Auth] retrying refresh
I/flutter (700): *** Response ***
I/flutter (700): uri: https://auth.example.com/oauth/token
I/flutter (700): statusCode: 401
I/flutter (700): headers:
I/flutter (700):  date: [Tue, 11 Mar 2025 09:41:07 GMT]
I/flutter (700):  x-request-id: [a5a054ed-7f5a-4416-ab8e-c8d174df9c3a]
I/flutter (700):  www-authenticate: [Bearer realm=\"Doorkeeper\", error=\"invalid_client\"]";
    let (events, outcomes) = run(text, &ctx());
    assert!(outcomes.iter().all(|o| *o != Outcome::Unknown));
    assert_eq!(events.len(), 2);
    assert!(
        events[0]
            .provider_reason
            .as_deref()
            .is_some_and(|r| r.contains("connection timeout"))
    );
    assert_eq!(events[0].status, None);
    let e = &events[1];
    assert_eq!(
        e.request_id.as_deref(),
        Some("a5a054ed-7f5a-4416-ab8e-c8d174df9c3a")
    );
    assert_eq!(
        (e.status, e.error.as_deref()),
        (Some(401), Some("invalid_client"))
    );
    assert!(e.server_date.is_some());
}

proptest::proptest! {
    #[test]
    fn never_panics(lines in proptest::collection::vec(".{0,200}", 0..20)) {
        let text = lines.join("\n");
        let _ = run(&text, &ctx());
    }

    #[test]
    fn never_panics_inside_a_block(tail in proptest::collection::vec("(I/flutter \\(1\\): )?[ -~]{0,80}", 0..12)) {
        let text = format!("I/flutter (1): *** Response ***\n{}", tail.join("\n"));
        let _ = run(&text, &ctx());
    }
}
