//! Tests of provider recognition with catalog strings and the support-ticket
//! sample.

use super::*;

const TICKET: &str = include_str!("../../../sample_logs/providers/support-ticket.txt");

fn ticket_line(n: usize) -> &'static str {
    TICKET.lines().nth(n - 1).unwrap_or("")
}

fn rec(text: &str) -> ProviderMessage<'_> {
    recognize(text).unwrap_or_else(|| panic!("no message in {text:?}"))
}

#[test]
fn plain_and_escaped_json_bodies() {
    let m = rec(r#"Response Text: {"error":"invalid_grant","error_description":"Code not valid"}"#);
    assert_eq!(m.error.as_deref(), Some("invalid_grant"));
    assert_eq!(m.description.as_deref(), Some("Code not valid"));
    assert_eq!(m.server, Some(ServerKind::Keycloak));
    let m = rec(
        r#""body":"{\"error\":\"invalid_grant\",\"error_description\":\"Token is not active\"}""#,
    );
    assert_eq!(m.description.as_deref(), Some("Token is not active"));
    assert_eq!(m.server, Some(ServerKind::Keycloak));
}

#[test]
fn go_error_quoted_again_by_its_logger() {
    // golang.org/x/oauth2's `oauth2: "code" "desc"` inside a logfmt value:
    // the logger escapes its quotes, the description still ends at its own.
    let m = rec(
        r#"ERR cannot authenticate user error="oauth2: \"unauthorized_client\" \"invalid empty client secret\"" uid=3"#,
    );
    assert_eq!(m.error.as_deref(), Some("unauthorized_client"));
    assert_eq!(
        m.description.as_deref(),
        Some("invalid empty client secret")
    );
}

#[test]
fn appauth_ios_and_flutter_shapes() {
    let m = rec(
        "PlatformException(token_failed, Failed to get token: invalid_grant: The refresh token is invalid or expired., null, null)",
    );
    assert_eq!(m.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        m.description.as_deref(),
        Some("The refresh token is invalid or expired.")
    );
    assert_eq!(m.server, Some(ServerKind::Okta));
    let m = rec(
        "flutter: error on refresh token: PlatformException(token_failed, Failed to get token: invalid_grant: Unknown or invalid refresh token., null, null) - stack: #0      StandardMethodCodec.decodeEnvelope",
    );
    assert_eq!(m.server, Some(ServerKind::Auth0));
    assert_eq!(
        m.description.as_deref(),
        Some("Unknown or invalid refresh token.")
    );
    let m = rec(
        "Failed to get token: [error: invalid_grant, description: The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.]",
    );
    assert_eq!(m.server, Some(ServerKind::Doorkeeper));
    assert!(
        m.description
            .as_deref()
            .is_some_and(|d| d.ends_with("another client."))
    );
}

#[test]
fn openid_client_go_python_msal_nextjs() {
    let m = rec("OPError: invalid_grant (grant request is invalid)");
    assert_eq!(m.server, Some(ServerKind::NodeOidcProvider));
    assert_eq!(m.description.as_deref(), Some("grant request is invalid"));
    let m = rec(r#"oauth2: "invalid_grant" "Invalid code verifier.""#);
    assert_eq!(m.server, Some(ServerKind::Google));
    assert_eq!(m.description.as_deref(), Some("Invalid code verifier."));
    let m = rec(
        r#"google.auth.exceptions.RefreshError: ('invalid_grant: Token has been expired or revoked.', '{\n "error": "invalid_grant",\n "error_description": "Token has been expired or revoked."\n}')"#,
    );
    assert_eq!(m.server, Some(ServerKind::Google));
    assert_eq!(
        m.description.as_deref(),
        Some("Token has been expired or revoked.")
    );
    let m = rec("        ErrorCode: invalid_grant");
    assert_eq!(m.error.as_deref(), Some("invalid_grant"));
    assert_eq!(m.server, None);
    let m = rec(
        "[AccessTokenError]: The request to refresh the access token failed. CAUSE: invalid_grant (Unknown or invalid refresh token.)",
    );
    assert_eq!(m.server, Some(ServerKind::Auth0));
    assert_eq!(
        m.description.as_deref(),
        Some("Unknown or invalid refresh token.")
    );
    let m = rec("OPError: invalid_grant (Failed to verify code verifier)");
    assert_eq!(m.server, Some(ServerKind::Auth0));
}

#[test]
fn www_authenticate_names_doorkeeper_by_realm() {
    let m = rec(
        r#"WWW-Authenticate: Bearer realm="Doorkeeper", error="invalid_client", error_description="Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.""#,
    );
    assert_eq!(m.error.as_deref(), Some("invalid_client"));
    assert_eq!(m.server, Some(ServerKind::Doorkeeper));
    let m = rec(r#"www-authenticate: Bearer realm="Doorkeeper", error="invalid_token""#);
    assert_eq!(m.server, Some(ServerKind::Doorkeeper));
    assert_eq!(m.description, None);
    let m = rec(
        "Redirected to com.example:/cb?error=access_denied&error_description=The+resource+owner+denied",
    );
    assert_eq!(m.error.as_deref(), Some("access_denied"));
    assert_eq!(m.description.as_deref(), Some("The resource owner denied"));
}

#[test]
fn aadsts_keys_on_the_number() {
    let m = rec(
        "invalid_grant: AADSTS50148: The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
    );
    assert_eq!(m.server, Some(ServerKind::Azure));
    assert_eq!(m.code.as_deref(), Some("AADSTS50148"));
    // A reworded text still keys on the number.
    let m = rec("AADSTS700082: Refresh token expired (new wording).");
    assert_eq!(m.code.as_deref(), Some("AADSTS700082"));
    assert_eq!(m.error, None);
    assert_eq!(
        m.description.as_deref(),
        Some("AADSTS700082: Refresh token expired (new wording).")
    );
    let m = rec(
        "AADSTS70002: Error validating credentials. AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
    );
    assert_eq!(m.code.as_deref(), Some("AADSTS54005"));
    assert_eq!(aadsts_code("no code AADSTS here"), None);
}

#[test]
fn google_texts_and_rapt_codes() {
    for (desc, code) in [
        ("Malformed auth code.", None),
        ("Code was already redeemed.", None),
        ("Missing code verifier.", None),
        ("Bad Request", None),
        (
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
            None,
        ),
        ("reauth related error (invalid_rapt)", Some("invalid_rapt")),
        (
            "reauth related error (rapt_required)",
            Some("rapt_required"),
        ),
    ] {
        let body = format!(r#"{{"error":"invalid_grant","error_description":"{desc}"}}"#);
        let m = rec(&body);
        assert_eq!(m.server, Some(ServerKind::Google), "{desc}");
        assert_eq!(m.code.as_deref(), code, "{desc}");
        assert_eq!(m.description.as_deref(), Some(desc));
    }
    // `Bad Request` inside other text is not Google.
    assert_eq!(identify("400 Bad Request from upstream"), None);
}

#[test]
fn okta_auth0_keycloak_hydra_spring_duende() {
    for (desc, server) in [
        (
            "The authorization code is invalid or has expired.",
            ServerKind::Okta,
        ),
        ("PKCE verification failed.", ServerKind::Okta),
        ("PKCE verification failed", ServerKind::Keycloak),
        (
            "The interaction code is invalid or has expired.",
            ServerKind::Okta,
        ),
        (
            "The client secret supplied for a confidential client is invalid.",
            ServerKind::Okta,
        ),
        (
            "Grant type 'password' not allowed for the client.",
            ServerKind::Auth0,
        ),
        ("Session not active", ServerKind::Keycloak),
        ("Incorrect redirect_uri", ServerKind::Keycloak),
        ("Stale token", ServerKind::Keycloak),
        (
            "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client. The authorization code has already been used.",
            ServerKind::Hydra,
        ),
        (
            "Client authentication failed: code_verifier",
            ServerKind::Spring,
        ),
        ("invalid_username_or_password", ServerKind::IdentityServer),
        ("grant request is invalid", ServerKind::NodeOidcProvider),
    ] {
        assert_eq!(identify(desc).map(|(s, _)| s), Some(server), "{desc}");
    }
}

#[test]
fn doorkeeper_in_every_language() {
    // Two of the sentences as a client would log them, typed out here so the
    // test does not read its expectation from the catalog it checks.
    for t in [
        "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
        "Право на авторизацию истекло или отозвано",
    ] {
        let body = format!(r#"{{"error":"invalid_grant","error_description":"{t}"}}"#);
        assert_eq!(rec(&body).server, Some(ServerKind::Doorkeeper), "{t}");
    }
    let cat = crate::catalog::catalog();
    let localized = cat.entries().iter().filter(|e| {
        e.cause == "unknown" && cat.provider_of(e).server == Some(ServerKind::Doorkeeper)
    });
    for t in localized.map(|e| e.text.as_str()) {
        assert!(is_doorkeeper_description(t));
        let body = format!(r#"{{"error":"invalid_grant","error_description":"{t}"}}"#);
        assert_eq!(rec(&body).server, Some(ServerKind::Doorkeeper), "{t}");
    }
    assert!(!is_doorkeeper_description("grant request is invalid"));
}

#[test]
fn node_inspect_object_shape() {
    let m = rec("error={ error: 'invalid_grant', error_description: 'grant request is invalid' }");
    assert_eq!(m.error.as_deref(), Some("invalid_grant"));
    assert_eq!(m.description.as_deref(), Some("grant request is invalid"));
    assert_eq!(m.server, Some(ServerKind::NodeOidcProvider));
}

#[test]
fn no_oauth_error_is_none() {
    for text in [
        "",
        "Started GET \"/health\" for 10.0.0.1",
        "invalid_grants are fine as a word",
        "my_invalid_grant_counter=3",
        "error_description",
        "\u{0}\u{1}\u{fffd}",
        "(((((((",
        "AADSTS",
    ] {
        assert_eq!(recognize(text), None, "{text:?}");
    }
}

#[test]
fn never_panics_on_truncated_shapes() {
    for text in [
        "invalid_grant: ",
        "invalid_grant (",
        "invalid_grant\" \"",
        "invalid_grant\" \"unterminated \\",
        "invalid_grant\\\" \\\"unterminated",
        "error_description=",
        "error_description:\\\"",
        "\"error_description\": \"",
        "invalid_grant, description: ",
        "AADSTS1",
        "é invalid_grant: é",
        "Grant type 'x' not allowed for the client.",
    ] {
        let _ = recognize(text);
    }
    let big = "x ".repeat(1 << 19) + "invalid_grant";
    assert_eq!(
        recognize(&big).and_then(|m| m.error).as_deref(),
        Some("invalid_grant")
    );
}

#[test]
fn support_ticket_failures() {
    let cases: [(usize, Option<&str>, ServerKind, Option<&str>); 10] = [
        (13, None, ServerKind::Azure, Some("AADSTS54005")),
        (
            21,
            Some("invalid_grant"),
            ServerKind::Azure,
            Some("AADSTS50148"),
        ),
        (28, None, ServerKind::Azure, Some("AADSTS700082")),
        (
            34,
            Some("invalid_client"),
            ServerKind::Azure,
            Some("AADSTS700024"),
        ),
        (
            41,
            Some("invalid_grant"),
            ServerKind::Google,
            Some("invalid_rapt"),
        ),
        (
            43,
            Some("invalid_grant"),
            ServerKind::Google,
            Some("invalid_rapt"),
        ),
        (47, Some("invalid_grant"), ServerKind::Okta, None),
        (51, Some("invalid_grant"), ServerKind::Auth0, None),
        (52, None, ServerKind::Auth0, Some("ferrt")),
        (56, Some("invalid_grant"), ServerKind::Keycloak, None),
    ];
    for (line, error, server, code) in cases {
        let text = ticket_line(line);
        let m = rec(text);
        assert_eq!(m.error.as_deref(), error, "line {line}");
        assert_eq!(m.server, Some(server), "line {line}");
        assert_eq!(m.code.as_deref(), code, "line {line}");
        assert!(m.description.is_some(), "line {line}");
    }
    let m = rec(ticket_line(47));
    assert_eq!(
        m.description.as_deref(),
        Some(
            "The 'redirect_uri' does not match the redirection URI used in the authorization request."
        )
    );
    let m = rec(ticket_line(13));
    assert!(m.description.as_deref().is_some_and(|d| {
        d.starts_with("AADSTS54005: OAuth2 Authorization code was already redeemed")
    }));
    // Ordinary prose of the ticket is not an error.
    assert_eq!(recognize(ticket_line(1)), None);
    assert_eq!(recognize(ticket_line(5)), None);
}
