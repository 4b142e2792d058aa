//! Unit tests of the shared client records: one-line error texts, and dio
//! blocks fed message by message (container parsers have their own tests
//! over the sample logs).

use super::*;
use crate::event::ServerKind;

fn ctx() -> Context {
    Context {
        redactor: crate::Redactor::new(b"client-records-test"),
        ..Context::default()
    }
}

#[test]
fn platform_exception_with_prose_after_token() {
    let msg = "login error: PlatformException(token_failed, Failed to get token: invalid_grant: The refresh token is invalid or expired., null, null)";
    let ev = record(msg, Format::Logcat).expect("record");
    assert_eq!(ev.kind, EventKind::ClientError);
    assert_eq!(ev.provider_code.as_deref(), Some("token_failed"));
    assert_eq!(ev.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        ev.error_description.as_deref(),
        Some("The refresh token is invalid or expired.")
    );
    assert_eq!(ev.server, Some(ServerKind::Okta));
}

#[test]
fn msal_node_aadsts_text_is_its_own_description() {
    let msg = r"acquireTokenByCode failed: '50148 - [2025-03-11 09:47:02Z]: AADSTS50148: The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.\r\nTrace ID: 2d4f6a8c-0e1b-4c3d-9e5f-7a8b9c0d1e2f\r\nCorrelation ID: 6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d'";
    let ev = record(msg, Format::Logcat).expect("record");
    assert_eq!(ev.server, Some(ServerKind::Azure));
    assert_eq!(ev.provider_code.as_deref(), Some("AADSTS50148"));
    assert_eq!(
        ev.error_description.as_deref(),
        Some(
            "AADSTS50148: The code_verifier does not match the code_challenge supplied in the authorization request for PKCE."
        )
    );
}

#[test]
fn nested_aadsts_reports_the_inner_code() {
    let msg = "Token exchange error: invalid_grant: AADSTS70002: Error validating credentials. AADSTS54005: OAuth2 Authorization code was already redeemed.";
    let ev = record(msg, Format::IosConsole).expect("record");
    assert_eq!(ev.error.as_deref(), Some("invalid_grant"));
    assert_eq!(ev.provider_code.as_deref(), Some("AADSTS54005"));
}

/// Feeds dio messages (one per line) to a block reader, as the container
/// parsers do, and flushes it.
fn dio_events(lines: &[&str]) -> Vec<Event<'static>> {
    let ctx = ctx();
    let mut blocks = DioBlocks::default();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let red = ctx.redactor.redact(line);
        let mut events = Vec::new();
        blocks.offer(
            i as u64 + 1,
            &red,
            &red.text,
            None,
            Format::Logcat,
            &mut events,
        );
        out.extend(events.into_iter().map(Event::into_owned));
    }
    blocks.flush(&mut out);
    out
}

const REVOKE_TOKEN: &str = "rt-Qm4fX8kPz2Lw9sVb7nTc1yHd6gJ";

fn revoke_block(data: &str) -> Vec<String> {
    [
        "*** Request ***",
        "uri: https://dev-48213977.okta.com/oauth2/default/v1/revoke",
        "method: POST",
        "data:",
        data,
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn dio_revoke_token_is_the_refresh_token_unless_hinted() {
    let fp = ctx().redactor.fingerprint(REVOKE_TOKEN);
    for (data, expected) in [
        (
            format!("{{token: {REVOKE_TOKEN}, client_id: app}}"),
            Some(fp),
        ),
        (
            format!("token={REVOKE_TOKEN}&token_type_hint=refresh_token"),
            Some(fp),
        ),
        (
            format!("token={REVOKE_TOKEN}&token_type_hint=access_token"),
            None,
        ),
    ] {
        let lines = revoke_block(&data);
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let events = dio_events(&refs);
        assert_eq!(events.len(), 1, "{events:#?}");
        assert_eq!(events[0].kind, EventKind::RevokeRequest);
        assert_eq!(events[0].refresh_token_fp, expected, "{data}");
        assert_eq!(events[0].server, Some(ServerKind::Okta));
        for f in events[0].text_fields() {
            assert!(!f.contains(REVOKE_TOKEN), "{f}");
        }
    }
}

#[test]
fn dio_error_reads_the_www_authenticate_challenge() {
    let events = dio_events(&[
        "*** DioException ***:",
        "uri: https://auth.acme-field.com/oauth/token",
        "DioException [bad response]: This exception was thrown because the response has a status code of 400 and RequestOptions.validateStatus was configured to throw for this status code.",
        "uri: https://auth.acme-field.com/oauth/token",
        "statusCode: 400",
        "headers:",
        " date: Tue, 11 Mar 2025 09:41:07 GMT",
        " www-authenticate: Bearer realm=\"Doorkeeper\", error=\"invalid_grant\", error_description=\"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.\"",
        " x-request-id: b81d4a06-92e3-4c5f-8e27-1a6f0d9c3b55",
        "",
    ]);
    assert_eq!(events.len(), 1, "{events:#?}");
    let ev = &events[0];
    assert_eq!(ev.kind, EventKind::ClientError);
    assert_eq!(ev.status, Some(400));
    assert_eq!(ev.error.as_deref(), Some("invalid_grant"));
    assert_eq!(ev.server, Some(ServerKind::Doorkeeper));
    assert_eq!(
        ev.request_id.as_deref(),
        Some("b81d4a06-92e3-4c5f-8e27-1a6f0d9c3b55")
    );
    assert!(
        ev.error_description
            .as_deref()
            .is_some_and(|d| d.starts_with("The provided authorization grant"))
    );
    assert!(
        ev.evidence
            .iter()
            .any(|e| e.text.contains("Bearer realm=\"Doorkeeper\""))
    );
}
