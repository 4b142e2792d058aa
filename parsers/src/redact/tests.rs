//! Unit tests of the redactor: the shapes secrets come in, the prose and
//! challenges that must stay, and how fingerprints reach events.

use super::*;
use crate::event::{Event, EventKind};

fn r() -> Redactor {
    Redactor::new(b"test")
}

#[test]
fn redirect_code_is_replaced_and_fingerprinted() {
    let line = r#"Redirected to com.example.app:/oauth2redirect?code=6324f49b09e982f36f087f6bfa14559347aab5740f33802f3260b1daca693acd&state=92816b4d"#;
    let red = r().redact(line);
    assert!(!red.text.contains("6324f49b09e982"), "{}", red.text);
    assert!(red.text.contains("&state=92816b4d"));
    assert_eq!(red.secrets.len(), 1);
    assert_eq!(red.secrets[0].kind, SecretKind::Code);
    assert_eq!(
        red.secrets[0].fingerprint,
        r().fingerprint("6324f49b09e982f36f087f6bfa14559347aab5740f33802f3260b1daca693acd")
    );
}

#[test]
fn ruby_hash_shapes_old_and_new() {
    for line in [
        r#"  Parameters: {"grant_type"=>"authorization_code", "code"=>"abcDEF123456", "code_verifier"=>"pYl3mN0cZb8wQ1rT5uV7xA9sD2fG4hJ6kL8zX0cV2bN", "client_secret"=>"[FILTERED]"}"#,
        r#"  Parameters: {"grant_type" => "authorization_code", "code" => "abcDEF123456", "code_verifier" => "pYl3mN0cZb8wQ1rT5uV7xA9sD2fG4hJ6kL8zX0cV2bN", "client_secret" => "[FILTERED]"}"#,
    ] {
        let red = r().redact(line);
        assert!(!red.text.contains("abcDEF123456"), "{}", red.text);
        assert!(!red.text.contains("pYl3mN0cZb8w"), "{}", red.text);
        assert!(red.text.contains("[FILTERED]"));
        assert!(red.text.contains("\"grant_type\""));
        let v = red.find(SecretKind::CodeVerifier).expect("verifier");
        assert_eq!(
            v.s256.as_deref(),
            Some(s256("pYl3mN0cZb8wQ1rT5uV7xA9sD2fG4hJ6kL8zX0cV2bN").as_str())
        );
    }
}

#[test]
fn s256_matches_rfc7636_appendix_b() {
    assert_eq!(
        s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn json_and_escaped_json_keep_their_shape() {
    let line = r#"{"error":"x","refresh_token":"rt-SECRET-1234567","nested":"{\"access_token\":\"at-SECRET-98765432\"}"}"#;
    let red = r().redact(line);
    assert!(!red.text.contains("rt-SECRET"), "{}", red.text);
    assert!(!red.text.contains("at-SECRET"), "{}", red.text);
    let v: serde_json::Value = serde_json::from_str(&red.text).expect("still JSON");
    assert_eq!(v["error"], "x");
}

#[test]
fn words_that_merely_contain_a_key_are_left_alone() {
    let line = r#"grant_type=authorization_code code_challenge=E9Mel status_code=400 error_code=1 "code":2002 token_type=Bearer"#;
    let red = r().redact(line);
    assert_eq!(red.text, line);
    assert!(red.secrets.is_empty());
}

#[test]
fn bearer_basic_and_bare_jwts() {
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDMwMCwiaXNzIjoiaHR0cHM6Ly9pZHAifQ.c2lnbmF0dXJlLXNlY3JldA";
    let line = format!("authorization: Bearer opaque-SECRET-token-123 x assertion={jwt} id {jwt}");
    let red = r().redact(&line);
    assert!(!red.text.contains("opaque-SECRET"), "{}", red.text);
    assert!(!red.text.contains("c2lnbmF0dXJl"), "{}", red.text);
    let a = red.find(SecretKind::Assertion).expect("assertion");
    let claims = a.claims.as_ref().expect("claims");
    assert_eq!(claims.iat, Some(1_700_000_000));
    assert_eq!(claims.exp, Some(1_700_000_300));
    assert_eq!(claims.iss.as_deref(), Some("https://idp"));
    let basic = r().redact("Authorization: Basic Y2xpZW50OnNlY3JldA==");
    assert!(!basic.text.contains("Y2xpZW50"), "{}", basic.text);
}

#[test]
fn percent_encoded_code_fingerprints_like_decoded() {
    let a = r().redact("cb?code=ab%2Fcd%3D12345");
    let b = r().redact(r#""code"=>"ab/cd=12345""#);
    assert_eq!(a.secrets[0].fingerprint, b.secrets[0].fingerprint);
}

#[test]
fn fingerprints_depend_on_the_key() {
    assert_ne!(
        Redactor::new(b"a").fingerprint("x"),
        Redactor::new(b"b").fingerprint("x")
    );
}

#[test]
fn prose_after_token_colon_is_not_a_secret() {
    for line in [
        "Failed to get token: invalid_grant: The refresh token is invalid or expired.",
        "PlatformException(token_failed, Failed to get token: [error: invalid_grant, description: x], null, null)",
        "refresh failed, secret: missing, code: invalid_request",
        "token: expired",
    ] {
        let red = r().redact(line);
        assert_eq!(red.text, line);
        assert!(red.secrets.is_empty(), "{line}");
    }
}

#[test]
fn colon_space_secrets_still_redacted() {
    let line = "revoking token: eA7bC1dE5fG9hI3jK7lM1nO5pQ9rS3tU7vW1xY5zA9b now";
    let red = r().redact(line);
    assert!(!red.text.contains("eA7bC1dE5fG9"), "{}", red.text);
    assert_eq!(red.secrets[0].key, "token");
    let short = r().redact("code: Xy12ab");
    assert!(short.secrets.is_empty(), "{}", short.text);
    let quoted = r().redact(r#"{"code": "Xy12abQQ"}"#);
    assert_eq!(quoted.secrets.len(), 1, "{}", quoted.text);
}

#[test]
fn oauth_error_names_are_never_values() {
    let line = "code=invalid_grant token=invalid_token refresh_token=invalid_grant";
    let red = r().redact(line);
    assert_eq!(red.text, line);
}

#[test]
fn www_authenticate_challenge_is_not_a_credential() {
    for line in [
        r#"www-authenticate: Bearer realm="Doorkeeper", error="invalid_grant", error_description="The provided authorization grant is invalid""#,
        r#"WWW-Authenticate: Bearer error="invalid_token", error_description="expired""#,
        r#"WWW-Authenticate: Bearer scope="openid""#,
        r#"WWW-Authenticate: Basic realm="api""#,
        r#"WWW-Authenticate: Bearer authorization_uri="https://login", error="insufficient_claims""#,
    ] {
        let red = r().redact(line);
        assert_eq!(red.text, line);
    }
    for credential in [
        "Authorization: Bearer abc.def-ghi_1234567",
        r#""authorization":"Basic ZmllbGRhcHA6UExBTlRFRGJhc2ljc2VjcmV0N1J0Mll1NUlvOFBhMVNkNA==""#,
        r#""authorization":"Basic dXNlcjpwYXNzMQ=""#,
    ] {
        let red = r().redact(credential);
        assert_eq!(red.secrets.len(), 1, "{credential}");
    }
}

#[test]
fn revoke_token_param_becomes_the_refresh_token() {
    use crate::Format;
    let red = r().redact("POST /oauth/revoke token=rt-7f3a9c2e1b8d4f60a5e7&client_id=app");
    let mut revoke = Event::new(EventKind::RevokeRequest, Format::Logcat);
    red.apply_to(&mut revoke);
    assert_eq!(
        revoke.refresh_token_fp,
        Some(r().fingerprint("rt-7f3a9c2e1b8d4f60a5e7"))
    );
    let mut other = Event::new(EventKind::TokenRequest, Format::Logcat);
    red.apply_to(&mut other);
    assert_eq!(other.refresh_token_fp, None);
    for hinted in [
        "token=rt-7f3a9c2e1b8d4f60a5e7&token_type_hint=access_token",
        r#"{"token":"rt-7f3a9c2e1b8d4f60a5e7","token_type_hint":"access_token"}"#,
        "{token: rt-7f3a9c2e1b8d4f60a5e7, token_type_hint: access_token}",
    ] {
        let red = r().redact(hinted);
        assert_eq!(red.secrets.len(), 1, "{}", red.text);
        let mut revoke = Event::new(EventKind::RevokeRequest, Format::Logcat);
        red.apply_to(&mut revoke);
        assert_eq!(revoke.refresh_token_fp, None, "{hinted}");
    }
    let bearer = r().redact("Authorization: Bearer at-9e8d7c6b5a4f3e2d1c0b");
    let mut revoke = Event::new(EventKind::RevokeRequest, Format::Logcat);
    bearer.apply_to(&mut revoke);
    assert_eq!(revoke.refresh_token_fp, None);
}

#[test]
fn dotnet_property_names_sql_binds_and_prose_keys() {
    let planted = "PLANTEDrefresh2nQ8cR2vW6yB0dF4hJ9kL3mP7sT1";
    for line in [
        format!(r#"{{"ClientId":"mobile","RefreshToken":"{planted}"}}"#),
        format!(r#"  [["token", "{planted}"], ["LIMIT", 1]]"#),
        format!("detail=refresh token {planted} is expired"),
        format!("detail=authorization code {planted} already consumed"),
    ] {
        let red = r().redact(&line);
        assert!(!red.text.contains(planted), "{}", red.text);
    }
    for prose in [
        "detail=refresh token is expired",
        "the authorization code grant was used",
        r#"[["LIMIT", 1], ["token", "[FILTERED]"]]"#,
    ] {
        assert_eq!(r().redact(prose).text, prose);
    }
}

#[test]
fn sql_bind_placeholders_are_not_secrets() {
    let line = r#"Doorkeeper::AccessToken Load (0.5ms)  SELECT "oauth_access_tokens".* FROM "oauth_access_tokens" WHERE "oauth_access_tokens"."refresh_token" = $1 LIMIT $2  [["refresh_token", "[FILTERED]"], ["LIMIT", 1]]"#;
    let red = Redactor::new(b"test").redact(line);
    assert!(red.secrets.is_empty(), "{:?}", red.secrets);
    assert_eq!(red.text, line);
}

/// Keycloak's code parser quotes the code's id without a key: the line
/// that names the parser has the id replaced, beside any keyed secret;
/// a `Code '…'` on a line that does not name it is prose and stays.
#[test]
fn the_code_parsers_code_id_is_replaced_where_the_parser_is_named() {
    let warning = "2023-04-25 13:49:41,783 WARN  [org.keycloak.protocol.oidc.utils.OAuth2CodeParser] \
        (executor-thread-91) Code '3c1e9d47-b20a-4f6e-8d15-a7f2c09e4b38' already used for userSession \
        '634bcc7c-eabd-4295-9df2-9637c37a00ff' and client '38183741-cafd-4386-a8a6-a3418ccf74f4'.";
    let red = r().redact(warning);
    assert!(!red.text.contains("3c1e9d47-b20a"), "{}", red.text);
    assert!(red.text.contains("already used for userSession"));
    assert_eq!(red.secrets.len(), 1);
    assert_eq!(red.secrets[0].kind, SecretKind::Code);
    assert_eq!(
        red.secrets[0].fingerprint,
        r().fingerprint("3c1e9d47-b20a-4f6e-8d15-a7f2c09e4b38")
    );
    let with_key = format!("code=abcDEF123456 {warning}");
    let red = r().redact(&with_key);
    assert!(!red.text.contains("abcDEF123456"), "{}", red.text);
    assert!(!red.text.contains("3c1e9d47-b20a"), "{}", red.text);
    assert_eq!(red.secrets.len(), 2);
    let prose = "WARN [org.example.Other] Code 'A12' is a product code";
    assert_eq!(r().redact(prose).text, prose);
}
