//! Tests on the sample logs under `sample_logs/rails/` and on hostile input.

use super::*;
use crate::event::{EventKind, ServerKind, TimeBasis};
use crate::format::Format;
use crate::grant::GrantType;
use crate::test_support::{
    assert_all_unknown, assert_detected, assert_no_secret, by_request_id, parse_file,
};

pub(crate) const PRODUCTION: &str = include_str!("../../../../sample_logs/rails/production.log");
pub(crate) const RAILS8: &str = include_str!("../../../../sample_logs/rails/production-rails8.log");
pub(crate) const DEVELOPMENT: &str = include_str!("../../../../sample_logs/rails/development.log");

fn parse(text: &str) -> Vec<Event<'static>> {
    parse_file(Format::Rails, text).0
}

/// Values the samples hold in clear text that must never come out: codes
/// and verifiers in Parameters, codes in redirects.
fn planted_secrets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for key in [
        "\"code\"=>\"",
        "\"code_verifier\"=>\"",
        "\"code_verifier\" => \"",
        "?code=",
        "\"code_verifier\":\"",
    ] {
        for (pos, _) in text.match_indices(key) {
            let rest = &text[pos + key.len()..];
            let end = rest.find(['"', '&', ' ', '\n']).unwrap_or(rest.len());
            let value = &rest[..end];
            if value.len() >= 20 && !value.starts_with('[') {
                out.push(value.to_owned());
            }
        }
    }
    out
}

/// Asserts that `text` plants secrets and that none is in any event; lograge
/// samples hold the same Rails parameter shapes.
pub(crate) fn assert_no_planted_secret(events: &[Event<'_>], text: &str) {
    let secrets = planted_secrets(text);
    assert!(!secrets.is_empty());
    assert_no_secret(events, &secrets);
}

#[test]
fn every_sample_is_detected_as_rails() {
    for text in [PRODUCTION, RAILS8, DEVELOPMENT] {
        assert_detected(text, Format::Rails);
    }
}

#[test]
fn production_pkce_exchange_matches_the_authorize_challenge() {
    let events = parse(PRODUCTION);
    // The double-callback story: the code issued once, exchanged twice.
    let second = by_request_id(&events, "dbbf68a5-b8c8-4416-a093-00ac0c36980f");
    assert_eq!(second.kind, EventKind::TokenResponse);
    assert_eq!(second.status, Some(400));
    assert_eq!(second.error, None);
    assert_eq!(second.server, Some(ServerKind::Doorkeeper));
    assert_eq!(second.grant_type, Some(GrantType::AuthorizationCode));
    assert_eq!(second.client_id.as_deref(), Some(MOBILE));
    assert_eq!(
        second.redirect_uri.as_deref(),
        Some("com.example.app:/oauth2redirect")
    );
    assert_eq!(second.path.as_deref(), Some("/oauth/token"));
    assert_eq!(second.ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(second.verifier_sent, Some(true));
    let code = second.code_fp.expect("code fingerprint");
    let first = by_request_id(&events, "be41f708-6075-45d7-8116-d0745aefa3f1");
    assert_eq!(first.status, Some(200));
    assert_eq!(first.code_fp, Some(code));
    let issued = events
        .iter()
        .find(|e| e.kind == EventKind::CodeIssued && e.code_fp == Some(code))
        .expect("the authorize request that issued the code");
    assert_eq!(issued.status, Some(302));
    assert_eq!(issued.code_challenge_method.as_deref(), Some("S256"));
    assert_eq!(
        issued.code_challenge,
        second.verifier_s256.as_deref().map(Into::into)
    );
    let utc = |e: &Event<'_>| e.ts.map(|t| t.utc);
    assert!(utc(issued) < utc(first) && utc(first) < utc(second));
}

#[test]
fn production_failures_carry_what_attribution_needs() {
    let events = parse(PRODUCTION);
    let mismatch = by_request_id(&events, "6284f118-3187-4ec8-b318-7c48a2aa1487");
    let issued = events
        .iter()
        .find(|e| e.kind == EventKind::CodeIssued && e.code_fp == mismatch.code_fp)
        .expect("issued");
    assert_ne!(
        issued.code_challenge.as_deref(),
        mismatch.verifier_s256.as_deref()
    );
    let redirect = by_request_id(&events, "6f66e8be-cf89-4d15-8419-ab75385fa422");
    assert_eq!(
        redirect.redirect_uri.as_deref(),
        Some("https://app.example.com/auth/callback/")
    );
    let missing = by_request_id(&events, "decdfef5-ac18-4399-80df-ca7bb3a12330");
    assert_eq!(missing.verifier_sent, Some(false));
    assert_eq!(missing.verifier_s256, None);
    let unauthorized = by_request_id(&events, "58bc0011-3cdd-4c06-98f5-dfb6bbb744bb");
    assert_eq!(unauthorized.status, Some(401));
    assert_eq!(unauthorized.error, None);
    assert_eq!(unauthorized.grant_type, Some(GrantType::ClientCredentials));
    let revoke = events
        .iter()
        .find(|e| e.kind == EventKind::RevokeRequest)
        .expect("revoke");
    assert_eq!(revoke.client_id.as_deref(), Some("tv-9d2c41e07b5f4a8c"));
    assert_eq!(revoke.status, Some(200));
    // Non-OAuth 401s (an expired access token on the API) are not events.
    assert!(
        events
            .iter()
            .all(|e| e.path.as_deref().is_some_and(|p| p.contains("/oauth/")))
    );
    assert_no_planted_secret(&events, PRODUCTION);
}

#[test]
fn interleaved_refresh_race_is_assembled_per_request_id() {
    let events = parse(PRODUCTION);
    let first = by_request_id(&events, "fa4768ee-c602-434f-97cc-eabdd1de2fa9");
    let second = by_request_id(&events, "e754c054-d567-4c34-bfe9-5c15710bc3d0");
    assert_eq!((first.status, second.status), (Some(200), Some(400)));
    for (e, id) in [(first, "fa4768ee"), (second, "e754c054")] {
        assert_eq!(e.grant_type, Some(GrantType::RefreshToken));
        assert!(e.evidence.iter().all(|l| l.text.contains(id)));
        assert!(e.evidence.len() >= 5);
    }
    let lines: Vec<u64> = first.evidence.iter().map(|l| l.line).collect();
    assert_eq!(lines.first(), Some(&1337));
    assert!(
        lines.windows(2).any(|w| w[1] > w[0] + 1),
        "interleaved: {lines:?}"
    );
    // The Logger prefix gives the sub-second part of the zoned Started time.
    let ts = first.ts.expect("ts");
    assert_eq!(ts.basis, TimeBasis::Zoned);
    assert_eq!(ts.utc.to_rfc3339(), "2025-03-11T09:52:20.114+00:00");
    let gap = second.ts.expect("ts").utc - ts.utc;
    assert_eq!(gap.num_milliseconds(), 25);
}

#[test]
fn rails8_ruby34_hashes_and_invalid_grant_reuse() {
    let events = parse(RAILS8);
    let reuse = by_request_id(&events, "20b2bdbb-fe8f-4cd3-b672-603cb1f4c1fa");
    assert_eq!(reuse.kind, EventKind::TokenResponse);
    assert_eq!(reuse.status, Some(400));
    assert_eq!(
        reuse.provider_reason.as_deref(),
        Some("Doorkeeper::Errors::InvalidGrantReuse")
    );
    assert_eq!(reuse.client_id.as_deref(), Some(MOBILE));
    assert_eq!(reuse.grant_type, Some(GrantType::AuthorizationCode));
    assert_eq!(reuse.path.as_deref(), Some("/api/oauth/token"));
    assert_eq!(reuse.code_fp, None, "code is [FILTERED]");
    assert!(reuse.verifier_s256.is_some());
    let ts = reuse.ts.expect("ts");
    assert_eq!(ts.utc.to_rfc3339(), "2025-11-04T08:04:22+00:00");
    let refresh = by_request_id(&events, "f73c195e-a516-441f-8587-44a35ba42752");
    assert_eq!(
        refresh.provider_reason.as_deref(),
        Some("Doorkeeper::Errors::InvalidGrantReuse")
    );
    assert_eq!(refresh.grant_type, Some(GrantType::RefreshToken));
    let issued: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::CodeIssued)
        .collect();
    assert!(issued.len() >= 6);
    assert!(
        issued
            .iter()
            .all(|e| e.code_fp.is_none() && e.code_challenge.is_some())
    );
    assert_no_planted_secret(&events, RAILS8);
}

#[test]
fn development_log_is_sequential_and_untagged() {
    let events = parse(DEVELOPMENT);
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    use EventKind::{CodeIssued as C, TokenResponse as T};
    assert_eq!(kinds, [C, T, T, C, T, C, T]);
    assert!(
        events
            .iter()
            .all(|e| e.request_id.is_none() && e.ip.as_deref() == Some("::1"))
    );
    let (ok, reused) = (&events[1], &events[2]);
    assert_eq!((ok.status, reused.status), (Some(200), Some(400)));
    assert_eq!(ok.verifier_s256, reused.verifier_s256);
    assert_eq!(
        events[0].code_challenge.as_deref(),
        ok.verifier_s256.as_deref()
    );
    assert_eq!(reused.evidence.first().map(|l| l.line), Some(48));
    assert_eq!(reused.evidence.last().map(|l| l.line), Some(53));
    assert_eq!(
        events[4].redirect_uri.as_deref(),
        Some("http://127.0.0.1:5173/callback")
    );
    assert_eq!(
        events[3].redirect_uri.as_deref(),
        Some("http://localhost:5173/callback")
    );
    assert_no_planted_secret(&events, DEVELOPMENT);
}

#[test]
fn other_formats_lines_are_unknown() {
    let lines = [
        "method=POST path=/oauth/token format=*/* controller=Doorkeeper::TokensController action=create status=400 duration=12.84 view=0.17 db=2.91",
        "I, [2025-03-11T09:41:07.318220 #7]  INFO -- : method=POST path=/oauth/token status=400",
        r#"{"method":"POST","path":"/oauth/token","status":400}"#,
        "2025-03-11 09:41:07,584 WARN  [org.keycloak.events] (executor-thread-1) type=\"CODE_TO_TOKEN_ERROR\", realmId=\"x\", clientId=\"app\", error=\"invalid_code\"",
        "03-11 09:41:07.118  4321  4321 E flutter : PlatformException(token_failed, invalid_grant)",
        r#"{"level":"error","msg":"invalid_grant","time":"2025-03-11T09:41:07Z"}"#,
        "Started server on port 3000",
        "    at Object.<anonymous> (/app/index.js:1:1)",
        "[2025-03-11T09:41:07.019Z] info  auth/callback: acquireTokenByCode ok",
        "[2025-03-11T09:41:07.399Z] error auth/callback: acquireTokenByCode failed {",
    ];
    assert_all_unknown(&mut RailsParser::default(), &Context::default(), lines);
}

#[test]
fn doorkeeper_mounted_without_oauth_in_the_path() {
    let text = "\
[3f0b2c1d-aaaa-4bbb-8ccc-0123456789ab] Started POST \"/auth/token\" for 10.1.1.1 at 2025-03-11 09:41:07 +0000
[3f0b2c1d-aaaa-4bbb-8ccc-0123456789ab] Processing by Doorkeeper::TokensController#create as */*
[3f0b2c1d-aaaa-4bbb-8ccc-0123456789ab]   Parameters: {\"grant_type\" => \"refresh_token\", \"refresh_token\" => \"[FILTERED]\", \"client_id\" => \"abc\"}
[3f0b2c1d-aaaa-4bbb-8ccc-0123456789ab] Completed 400 Bad Request in 9ms (Views: 0.1ms | ActiveRecord: 2.4ms (4 queries, 0 cached) | GC: 0.0ms)";
    let events = parse(text);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.path.as_deref(), Some("/auth/token"));
    assert_eq!(e.status, Some(400));
    assert_eq!(e.client_id.as_deref(), Some("abc"));
    assert_eq!(
        e.evidence.iter().map(|l| l.line).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
}

#[test]
fn unfinished_requests_are_flushed_and_state_is_bounded() {
    let ctx = Context::default();
    let mut p = RailsParser::default();
    let n = MAX_IN_FLIGHT + 500;
    let mut emitted = 0;
    for i in 0..n {
        let line = format!(
            "[req-{i:012}-0000] Started POST \"/oauth/token\" for 10.0.0.1 at 2025-03-11 09:41:07 +0000"
        );
        let mut out = Vec::new();
        assert_eq!(p.feed(i as u64 + 1, &line, &ctx, &mut out), Outcome::Parsed);
        emitted += out.len();
        assert!(p.in_flight.len() <= MAX_IN_FLIGHT);
    }
    assert_eq!(emitted, 500);
    assert!(p.order.len() <= 2 * p.in_flight.len() + 64 + 1);
    let mut rest = Vec::new();
    p.flush(&ctx, &mut rest);
    assert_eq!(rest.len(), MAX_IN_FLIGHT);
    assert!(
        rest.iter()
            .all(|e| e.kind == EventKind::TokenRequest && e.status.is_none())
    );
}

#[test]
fn hostile_lines_do_not_panic() {
    let ctx = Context::default();
    let mut p = RailsParser::default();
    let mut out = Vec::new();
    let long = format!(
        "[abcdef0123456789abcdef] Started GET \"/oauth/authorize?x={}\" for 1 at 2025-03-11 09:41:07 +0000",
        "é".repeat(300_000)
    );
    let lines = [
        "[abcdef0123456789abcdef] Started GET \"/oauth/authorize\" for",
        "[abcdef0123456789abcdef]   Parameters: {\"client_id\"=>\"",
        "[abcdef0123456789abcdef] Redirected to ?code=&",
        "[abcdef0123456789abcdef] Completed 9999",
        long.as_str(),
        "[abcdef0123456789abcdef]   Parameters: {\"code_verifier\"=>\"\0\0\"}",
        "[abcdef0123456789abcdef] Completed 400 Bad Request in 1ms",
    ];
    for (i, line) in lines.iter().enumerate() {
        let _ = p.feed(i as u64, line, &ctx, &mut out);
    }
    p.flush(&ctx, &mut out);
    assert!(out.iter().all(|e| {
        e.evidence
            .iter()
            .all(|l| l.text.len() <= request::MAX_LINE + 16)
    }));
}

const MOBILE: &str = "Zr9kq3bB4u2xq0X9mB7Yt0a6v1c8d2e3f4g5h6i7j8k";

/// An app that is Doorkeeper's OmniAuth client logs its login phases in
/// the same Rails log: each becomes an event of the step it names, timed by
/// the Logger prefix (github.com/doorkeeper-gem/doorkeeper/issues/827).
#[test]
fn omniauth_phase_lines_are_the_logins_steps() {
    let text = "I, [2016-05-02T09:09:04.392655 #5893]  INFO -- omniauth: (meta_auth) Request phase initiated.\n\
I, [2016-05-02T09:09:04.671596 #5893]  INFO -- omniauth: (meta_auth) Callback phase initiated.\n\
I, [2016-05-02T09:09:04.822931 #5893]  INFO -- omniauth: (meta_auth) Callback phase initiated.\n";
    let events = parse(text);
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::AuthorizeRequest,
            EventKind::CodeIssued,
            EventKind::CodeIssued
        ]
    );
    assert_eq!(
        events[2].provider_reason.as_deref(),
        Some("(meta_auth) Callback phase initiated.")
    );
    let (a, b) = (
        events[1].ts.as_ref().map(|t| t.utc),
        events[2].ts.as_ref().map(|t| t.utc),
    );
    assert!(a.is_some() && a < b, "{a:?} {b:?}");
    assert!(events.iter().all(|e| e.error.is_none()));
}
