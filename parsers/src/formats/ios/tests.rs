use super::*;
use crate::event::ServerKind;
use crate::test_support::{assert_detected, assert_no_secret, at_line, parse_lines_owned};
use crate::{Event, EventKind, Lifecycle};

const SAMPLE: &str = include_str!("../../../../sample_logs/ios/console.log");

/// Fake secrets planted in the sample (the access token of the
/// `Got authorization tokens` line is never emitted, so it is not listed).
const PLANTED: &[&str] = &[
    "Kp3Vw8sZr1Qm6Ty0Ux4Nb7Hc2Fd9Ge5Ja1Lo8Wi3Es",
    "nQ8cR2vW6yB0dF4hJ9kL3mP7sT1xZ5aE8gI2oU6wC0r",
    "tG4hY7uJ1kM5nB9vC3xZ6aS0dF2gH8jK4lP7oI1uY5t",
    "Wm2Nq6Rt0Yv4Zx8Bc1Df5Gh9Jk3Lp7Ms2Qt6Uw0Xy4a",
    "eA7bC1dE5fG9hI3jK7lM1nO5pQ9rS3tU7vW1xY5zA9b",
    "Tk1_Vc7Qw3Rn9Lp5Zx2Mb8Hd4Fs6Gy0Ja",
    "Bq5_Wd1Ye7Uf3Io9Pa2Sg6Dh0Jk4Lz8Xc",
    "Fh2Kd9Lp4Qx7Ws1Ez6Rc3Tv8Yb5Un0Mi2Ok7Jl4Hg9Fd3Sa6Zq1Xw8Ce5Vr0Bt",
];

fn run(text: &str, ctx: &Context) -> (Vec<Event<'static>>, Vec<Outcome>) {
    parse_lines_owned::<IosConsoleParser>(text, ctx)
}

fn one(line: &str) -> (Outcome, Vec<Event<'static>>) {
    let (events, outcomes) = run(line, &Context::default());
    (outcomes[0], events)
}

#[test]
fn sample_is_detected() {
    assert_detected(SAMPLE, Format::IosConsole);
}

#[test]
fn okta_refresh_expired_after_idle() {
    let (events, _) = run(SAMPLE, &Context::default());
    let e = at_line(&events, 40);
    assert_eq!(e.kind, EventKind::ClientError);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        e.error_description.as_deref(),
        Some("The refresh token is invalid or expired.")
    );
    assert_eq!(e.server, Some(ServerKind::Okta));
    assert_eq!(
        e.ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T08:03:56.031877+00:00")
    );
    let last_ok = at_line(&events, 19);
    assert_eq!(
        (last_ok.kind, last_ok.status),
        (EventKind::TokenResponse, Some(200))
    );
    assert_eq!(at_line(&events, 36).lifecycle, Some(Lifecycle::Paused));
    assert_eq!(at_line(&events, 38).lifecycle, Some(Lifecycle::ColdStart));
}

#[test]
fn redirect_uri_mismatch_via_dio_with_list_headers_and_continuations() {
    let (events, outcomes) = run(SAMPLE, &Context::default());
    // Xcode prints a multi-line message's continuation lines bare.
    assert_eq!(outcomes[68], Outcome::Parsed);
    let auth = at_line(&events, 45);
    assert_eq!(auth.kind, EventKind::AuthorizeRequest);
    assert_eq!(
        auth.redirect_uri.as_deref(),
        Some("com.acme.fieldapp:/callback")
    );
    let req = at_line(&events, 49);
    assert_eq!(req.kind, EventKind::TokenRequest);
    assert_eq!(
        req.redirect_uri.as_deref(),
        Some("com.acme.fieldapp:/oauth2redirect")
    );
    assert_eq!(req.verifier_s256.as_deref(), auth.code_challenge.as_deref());
    assert_eq!(req.code_fp, at_line(&events, 47).code_fp);
    let fail = at_line(&events, 66);
    assert_eq!(fail.kind, EventKind::ClientError);
    assert_eq!(
        fail.request_id.as_deref(),
        Some("Z9c1xQ4nFv3kYp2oJ8sT0wAAAHk")
    );
    assert_eq!(fail.status, Some(400));
    assert_eq!(
        fail.error_description.as_deref(),
        Some(
            "The 'redirect_uri' does not match the redirection URI used in the authorization request."
        )
    );
    assert_eq!(
        fail.server_date.map(|d| d.to_rfc3339()).as_deref(),
        Some("2025-03-11T08:11:03+00:00")
    );
    assert!(
        fail.evidence
            .iter()
            .any(|e| e.text.starts_with("Read more about status codes"))
    );
}

#[test]
fn appauth_nserror_code_expired() {
    let (events, _) = run(SAMPLE, &Context::default());
    let e = at_line(&events, 96);
    assert_eq!(e.kind, EventKind::ClientError);
    assert_eq!(e.provider_code.as_deref(), Some("-10"));
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        e.error_description.as_deref(),
        Some("The authorization code is invalid or has expired.")
    );
    let issued = at_line(&events, 90);
    assert_eq!(issued.kind, EventKind::CodeIssued);
    let gap = e.ts.expect("ts").utc - issued.ts.expect("ts").utc;
    assert!(gap.num_minutes() >= 14);
}

#[test]
fn revoke_then_refresh_with_the_revoked_token() {
    let (events, _) = run(SAMPLE, &Context::default());
    let revoke = at_line(&events, 133);
    assert_eq!(revoke.kind, EventKind::RevokeRequest);
    let refresh = at_line(&events, 162);
    assert_eq!(refresh.kind, EventKind::TokenRequest);
    assert!(revoke.refresh_token_fp.is_some());
    assert_eq!(revoke.refresh_token_fp, refresh.refresh_token_fp);
    // ... which is the token the 09:05 refresh issued.
    assert_eq!(
        at_line(&events, 116).refresh_token_fp,
        refresh.refresh_token_fp
    );
    let fail = at_line(&events, 179);
    assert_eq!(
        fail.request_id.as_deref(),
        Some("Z5pQr1St7Uv3Wx9Yz2AbAAAC4m")
    );
    assert_eq!(fail.error.as_deref(), Some("invalid_grant"));
}

#[test]
fn no_planted_secret_survives() {
    let (events, _) = run(SAMPLE, &Context::default());
    assert_no_secret(&events, PLANTED);
}

#[test]
fn flutter_appauth_ios_platform_exception() {
    let line = "flutter: error on refresh token: PlatformException(token_failed, Failed to get token: invalid_grant: Unknown or invalid refresh token., null, null) - stack: #0      StandardMethodCodec.decodeEnvelope (package:flutter/src/services/message_codecs.dart:597:7)";
    let (o, ev) = one(line);
    assert_eq!(o, Outcome::Parsed);
    assert_eq!(ev[0].provider_code.as_deref(), Some("token_failed"));
    assert_eq!(ev[0].error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        ev[0].error_description.as_deref(),
        Some("Unknown or invalid refresh token.")
    );
    assert_eq!(ev[0].server, Some(ServerKind::Auth0));
}

#[test]
fn msal_nserror_and_syslog_container() {
    let line = "2025-03-11 09:41:07.123456+0000 Runner[1234:56789] MSAL error: Error Domain=MSALErrorDomain Code=-50002 \"(null)\" UserInfo={MSALErrorDescriptionKey=AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed., MSALOAuthErrorKey=invalid_grant, MSALHTTPResponseCodeKey=400, MSALCorrelationIDKey=4e9b1a07-2c6d-4f83-a5e2-71d0c8b39f46}";
    let (_, ev) = one(line);
    assert_eq!(ev[0].error.as_deref(), Some("invalid_grant"));
    assert_eq!(ev[0].status, Some(400));
    assert_eq!(ev[0].provider_code.as_deref(), Some("AADSTS50173"));
    assert_eq!(
        ev[0].request_id.as_deref(),
        Some("4e9b1a07-2c6d-4f83-a5e2-71d0c8b39f46")
    );
    assert!(
        ev[0]
            .error_description
            .as_deref()
            .is_some_and(|d| d.starts_with("AADSTS50173: The provided grant"))
    );
    let ctx = Context {
        assumed_year: Some(2025),
        ..Context::default()
    };
    let sys =
        "Mar 11 09:41:07 iPhone Runner(Flutter)[1234] <Notice>: flutter: AppLifecycleState.paused";
    let (events, outcomes) = run(sys, &ctx);
    assert_eq!(outcomes[0], Outcome::Parsed);
    assert_eq!(
        events[0].ts.map(|t| t.utc.to_rfc3339()).as_deref(),
        Some("2025-03-11T09:41:07+00:00")
    );
}

#[test]
fn seed_doorkeeper_headers_in_a_block() {
    let text = "\
flutter: *** DioException ***:
flutter: uri: https://api.example.jp/oauth/token
flutter: statusCode: 400
flutter: headers:
flutter:  www-authenticate: Bearer realm=\"Doorkeeper\", error=\"invalid_grant\", error_description=\"xx\"
flutter:  x-request-id: a5a054ed-7f5a-4416-ab8e-c8d174df9c3a
flutter:  x-runtime: 0.069790
flutter: Response Text:
flutter: {\"error\":\"invalid_grant\",\"error_description\":\"指定された認可グラントは無効か、有効期限切れか、リダイレクトURIが異なるか、もしくは別のクライアントに適用されています。\"}";
    let (events, _) = run(text, &Context::default());
    let e = &events[0];
    assert_eq!(e.server, Some(ServerKind::Doorkeeper));
    assert_eq!(
        e.request_id.as_deref(),
        Some("a5a054ed-7f5a-4416-ab8e-c8d174df9c3a")
    );
    assert!(
        e.error_description
            .as_deref()
            .is_some_and(|d| d.starts_with("指定された"))
    );
    assert!(e.ts.is_none());
}

#[test]
fn unknown_for_other_formats_and_plain_text() {
    for unknown in [
        "I/flutter ( 9705): AppLifecycleState.paused",
        "05-02 10:15:03.118  4321  4388 D AppAuth : Initiating code exchange request to https://a/oauth/token",
        r#"Started POST "/oauth/token" for 10.0.0.7 at 2025-03-11 09:41:07 +0000"#,
        r#"{"type":"fertft","description":"Unknown or invalid refresh token."}"#,
        "Connecting to VM Service at ws://127.0.0.1:52311/ws",
    ] {
        assert_eq!(one(unknown).0, Outcome::Unknown, "{unknown}");
    }
    assert_eq!(one("flutter: [Feed] loaded 3 notes").0, Outcome::Skipped);
    assert_eq!(one("applicationDidEnterBackground").0, Outcome::Parsed);
}

proptest::proptest! {
    #[test]
    fn never_panics(lines in proptest::collection::vec(".{0,200}", 0..20)) {
        let _ = run(&lines.join("\n"), &Context::default());
    }
}
