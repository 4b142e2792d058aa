//! One test per shape, on excerpts of real logs (the source of each is named;
//! most are cases of `tests/corpus/`). A record the lead's reassembly joins
//! from several lines is given here joined with `\n`.

use super::*;
use crate::event::ServerKind;

fn found(text: &str) -> OAuthError<'_> {
    extract(text).unwrap_or_else(|| panic!("no OAuth error found in {text:?}"))
}

fn desc<'a>(e: &'a OAuthError<'_>) -> &'a str {
    e.description.as_deref().unwrap_or("")
}

/// Pretty-printed JSON body, joined into one record.
/// github.com/AzureAD/microsoft-authentication-library-for-js/issues/4613
#[test]
fn pretty_printed_json_body() {
    let text = "{\n  \"error\": \"invalid_grant\",\n  \"error_description\": \"AADSTS700084: The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended.\"\n}";
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert!(desc(&e).starts_with("AADSTS700084: The refresh token"));
    assert_eq!(e.provider_code.as_deref(), Some("AADSTS700084"));
    assert_eq!(e.server, Some(ServerKind::Azure));
}

/// Escaped JSON inside a JSON log line's message, after Go's oauth2 text.
/// github.com/dexidp/dex/issues/2352
#[test]
fn escaped_json_inside_a_json_string() {
    let text = r#"{"level":"error","msg":"failed to refresh identity: gitlab: failed to get refresh token: oauth2: cannot fetch token: 400 Bad Request\nResponse: {\"error\":\"invalid_grant\",\"error_description\":\"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.\"}","time":"2022-03-05T04:13:54Z"}"#;
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert!(desc(&e).starts_with("The provided authorization grant is invalid"));
    assert_eq!(e.status, Some(400));
    assert_eq!(e.library, Some("golang.org/x/oauth2"));
    assert_eq!(e.server, Some(ServerKind::Doorkeeper));
}

/// `\"`-escaped JSON inside a logfmt value.
/// github.com/mescon/Muximux/issues/456
#[test]
fn escaped_json_inside_logfmt() {
    let text = r#"level=ERROR msg="OIDC code exchange failed" request_id=195f174dcfa41ff3 source=auth error="token endpoint returned 400: {\"error\":\"invalid_grant\",\"error_description\":\"PKCE verification failed: Invalid code verifier\"}""#;
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(desc(&e), "PKCE verification failed: Invalid code verifier");
}

/// Go oauth2's error with the body on the following lines (joined).
/// github.com/odeke-em/drive/issues/346
#[test]
fn go_oauth2_cannot_fetch_token() {
    let text = "oauth2: cannot fetch token: 400 Bad Request\nResponse: {\n  \"error\" : \"invalid_grant\",\n  \"error_description\" : \"Code was already redeemed.\"\n}";
    let e = found(text);
    assert_eq!(e.library, Some("golang.org/x/oauth2"));
    assert_eq!(e.status, Some(400));
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(desc(&e), "Code was already redeemed.");
}

/// A body cut short as posted (the record ends inside the description):
/// the keyed reading still finds the description, marked cut, so the
/// catalog reads it as the beginning of Dex's sentence.
/// github.com/dexidp/dex/issues/973
#[test]
fn truncated_json_body() {
    let text = r#"Response: {"error":"invalid_request","error_description":"Refresh token is invalid or has already bee"#;
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_request"));
    assert_eq!(desc(&e), "Refresh token is invalid or has already bee…");
    let hits = crate::catalog::catalog().matches(desc(&e));
    assert!(
        hits.iter().any(|h| h
            .text
            .starts_with("Refresh token is invalid or has already been claimed")),
        "{hits:?}"
    );
    // A closed value is left as it is.
    let closed = found(r#"{"error":"invalid_grant","error_description":"Code not valid"}"#);
    assert_eq!(desc(&closed), "Code not valid");
    // A line a viewer cut keeps its one marker.
    let viewer = found(
        r#"{"error":{"debug":"","message":"invalid_grant","reason":"The authorization code has al…"#,
    );
    assert_eq!(
        viewer.hint.as_deref(),
        Some("The authorization code has al…")
    );
}

/// Hydra's error object (a fragment of its JSON log, joined).
/// github.com/ory/hydra/issues/3604
#[test]
fn hydra_error_object() {
    let text = "    \"payload\": {\n      \"error\": {\n        \"debug\": \"Unable to serialize access due to a concurrent update in another session\",\n        \"message\": \"invalid_request\",\n        \"reason\": \"Failed to refresh token because of multiple concurrent requests using the same token which is not allowed.\",\n        \"status\": \"Bad Request\",\n        \"status_code\": 400\n      },";
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_request"));
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.starts_with("Failed to refresh token because of multiple"))
    );
    assert_eq!(e.status, Some(400));
}

/// Facebook's nested error object, as omniauth prints it.
/// github.com/heartcombo/devise/issues/2369 (body as Facebook sends it)
#[test]
fn nested_error_object_with_a_sentence() {
    let text = r#"{"error":{"message":"This authorization code has been used.","type":"OAuthException","code":100}}"#;
    let e = found(text);
    assert_eq!(desc(&e), "This authorization code has been used.");
    assert_eq!(e.error, None);
}

/// Instagram's `error_message` key.
/// github.com/jgorset/omniauth-instagram-graph/issues/1
#[test]
fn error_message_key() {
    let text = r#"{"error_type": "OAuthException", "code": 400, "error_message": "This authorization code has been used"}"#;
    let e = found(text);
    assert_eq!(desc(&e), "This authorization code has been used");
}

/// A Python dict repr. github.com/st4lk/django-rest-social-auth/issues/59
#[test]
fn python_dict_repr() {
    let text = "Authentication process canceled; ; {'error': 'invalid_grant', 'error_description': 'Malformed code.'}";
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(desc(&e), "Malformed code.");
}

/// A Ruby hash repr (`=>`), as Rails and omniauth print params and bodies.
/// The keys and value shapes of github.com/doorkeeper-gem/doorkeeper/issues/827
/// (`Parameters: {"client_id"=>…}`) carrying Doorkeeper's error body.
#[test]
fn ruby_hash_repr() {
    let text = r#"{"error"=>"invalid_grant", "error_description"=>"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}"#;
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert!(desc(&e).ends_with("or was issued to another client."));
    assert_eq!(e.server, Some(ServerKind::Doorkeeper));
    let symbols = r#"{:error=>"invalid_grant", :error_description=>"Malformed code."}"#;
    assert_eq!(desc(&found(symbols)), "Malformed code.");
}

/// Node's `util.inspect` of an error object, joined.
/// github.com/Dev-Sumit-Kumar/spotify-clone/issues/14
#[test]
fn js_inspect() {
    let text = "  error: 'invalid_grant',\n    error_description: 'Authorization code expired'\n statusCode: 400";
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(desc(&e), "Authorization code expired");
    assert_eq!(e.status, Some(400));
}

/// Keycloak's event line in `key=value` form: its own `error=` constant.
/// github.com/mauriciovigolo/keycloak-angular/issues/212
#[test]
fn logfmt_with_a_server_constant() {
    let text = "type=CODE_TO_TOKEN_ERROR, realmId=ServoRealm, clientId=servoweb, userId=null, ipAddress=xx.xx.xxx.xxx, error=invalid_client_credentials, grant_type=authorization_code";
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_client_credentials"));
}

/// An HTTP response dump. github.com/ory/hydra/issues/2140
#[test]
fn http_response_dump() {
    let text = r#"HTTP/1.1 401 Content-Type: application/json { "error": "invalid_client", "error_description": "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method)", "status_code": 401 } "#;
    let e = found(text);
    assert_eq!(e.status, Some(401));
    assert_eq!(e.error.as_deref(), Some("invalid_client"));
    assert!(desc(&e).starts_with("Client authentication failed (e.g., unknown client"));
}

/// A URL query string (the authorization endpoint's error redirect), as
/// RFC 6749 §4.1.2.1 shapes it; percent- and `+`-decoded.
#[test]
fn query_string() {
    let text = "Started GET \"/auth/callback?error=invalid_scope&error_description=The+requested+scope+is+invalid%2C+unknown%2C+or+malformed.&state=abc\" for 10.0.0.7";
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_scope"));
    assert_eq!(
        desc(&e),
        "The requested scope is invalid, unknown, or malformed."
    );
}

/// A Go map (logrus text output of a struct): values with spaces run to the
/// next `key:`. Shape of Hydra's text logs (`error=map[…]`, as in
/// github.com/ory/hydra discussions); the OAuth fields are Hydra's.
#[test]
fn go_map() {
    let text = "time=2025-03-14T08:12:44Z level=info msg=access denied audience=application error=map[debug: message:invalid_grant reason:The authorization code has already been used. status:Bad Request status_code:400] service_name=Ory Hydra";
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(
        e.hint.as_deref(),
        Some("The authorization code has already been used.")
    );
    assert_eq!(e.status, Some(400));
    // A real Hydra line whose error map is not an OAuth error (a database
    // outage): nothing found. github.com/ory/hydra discussion, hydra-migrate.
    let outage = "time=2026-02-18T17:18:13Z level=info msg=Retrying in 5.000000 seconds... audience=application error=map[message:failed to connect to `user=hydra-user database=hydradb`: hostname resolving error: lookup postgres on 10.89.3.1:53: read udp 10.89.3.75:57220->10.89.3.1:53: read: no route to host] service_name=Ory Hydra service_version=v2.3.0";
    assert_eq!(extract(outage), None);
}

/// C# dumps: an unrendered `{{ }}` template body and an anonymous object's
/// `{ key = value }` (no public excerpt with an OAuth error was found; the
/// shapes are .NET's).
#[test]
fn csharp_dumps() {
    let braces = r#"Token request failed: {{ "error": "invalid_grant", "error_description": "Invalid redirect_uri" }}"#;
    let e = found(braces);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(desc(&e), "Invalid redirect_uri");
    let anon = "{ error = invalid_grant, error_description = The code has expired, or was already used, status = 400 }";
    let e = found(anon);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(desc(&e), "The code has expired, or was already used");
    assert_eq!(e.status, Some(400));
}

/// MSAL Android's exception with an Azure AD B2C code.
/// github.com/AzureAD/microsoft-authentication-library-for-android/issues/1216
#[test]
fn msal_ui_required_exception() {
    let text = "Fatal Exception: com.microsoft.identity.client.exception.MsalUiRequiredException: AADB2C90080: The provided grant has expired. Please re-authenticate and try again. Current time: 1604921912, Grant issued time: 1604684246, Grant expiration time: 1604770646\nCorrelation ID: *******";
    let e = found(text);
    assert_eq!(e.library, Some("MsalUiRequiredException (MSAL)"));
    assert_eq!(e.provider_code.as_deref(), Some("AADB2C90080"));
    assert_eq!(e.server, Some(ServerKind::Azure));
    assert!(desc(&e).starts_with("AADB2C90080: The provided grant has expired."));
}

/// AppAuth-Android's exception with its JSON.
/// github.com/openid/AppAuth-Android/issues/733
#[test]
fn appauth_authorization_exception() {
    let text =
        r#"    AuthorizationException: {"type":0,"code":9,"errorDescription":"Invalid ID Token"}"#;
    let e = found(text);
    assert_eq!(e.library, Some("AuthorizationException (AppAuth)"));
    assert_eq!(desc(&e), "Invalid ID Token");
}

/// flutter_appauth's `PlatformException`, joined from its wrapped lines.
/// github.com/MaikuB/flutter_appauth/issues/422
#[test]
fn flutter_platform_exception() {
    let text = "PlatformException(authorize_and_exchange_code_failed, Failed to authorize: [error: null, description: Invalid ID Token], Issued at time is more than 10 minutes before or after the current time, null)";
    let e = found(text);
    assert_eq!(e.library, Some("PlatformException (flutter_appauth)"));
    assert_eq!(desc(&e), "Invalid ID Token");
}

/// Spring Security's `[code] text` message.
/// github.com/spring-projects/spring-security/issues/5083 (corpus
/// spring-security-oauth-1344)
#[test]
fn spring_bracketed_code() {
    let text = "org.springframework.security.oauth2.core.OAuth2AuthenticationException: [invalid_redirect_uri_parameter] ";
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_redirect_uri_parameter"));
    assert_eq!(
        e.library,
        Some("OAuth2AuthenticationException (Spring Security)")
    );
}

/// google-api-java-client's exception, body joined.
/// github.com/Triple-T/gradle-play-publisher/issues/131
#[test]
fn token_response_exception() {
    let text = "com.google.api.client.auth.oauth2.TokenResponseException: 400 Bad Request\n{\n  \"error\" : \"invalid_grant\"\n}";
    let e = found(text);
    assert_eq!(
        e.library,
        Some("TokenResponseException (google-api-client)")
    );
    assert_eq!(e.status, Some(400));
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    // The status line is not a description.
    assert_eq!(e.description, None);
}

/// Ruby oauth2 through omniauth, body on the next line (joined).
/// github.com/m4i/omniauth-runkeeper/issues/3
#[test]
fn ruby_oauth2_error() {
    let text = "E, [2015-10-26T23:32:42.325118 #83218] ERROR -- omniauth: (runkeeper) Authentication failure! invalid_credentials: OAuth2::Error, invalid_grant: \n{\"error\":\"invalid_grant\"}";
    let e = found(text);
    assert_eq!(e.library, Some("OAuth2::Error (ruby oauth2)"));
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
}

/// openid-client's `OPError` in a next-auth log.
/// github.com/nextauthjs/next-auth/issues/2871
#[test]
fn openid_client_operror() {
    let text = "    stack: 'OPError: invalid_grant (Missing code verifier.)\\n' +";
    let e = found(text);
    assert_eq!(e.library, Some("OPError (openid-client)"));
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(desc(&e), "Missing code verifier.");
}

/// google-auth's `RefreshError` tuple (shape of google-auth-library-python's
/// `_handle_error_response`).
#[test]
fn google_auth_refresh_error() {
    let text = "google.auth.exceptions.RefreshError: ('invalid_grant: Token has been expired or revoked.', {'error': 'invalid_grant', 'error_description': 'Token has been expired or revoked.'})";
    let e = found(text);
    assert_eq!(e.library, Some("RefreshError (google-auth)"));
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(desc(&e), "Token has been expired or revoked.");
    assert_eq!(e.server, Some(ServerKind::Google));
}

/// Free text naming the error, then its description.
/// github.com/googleapis/google-auth-library-nodejs/issues/129 and an
/// AADSTS text from github.com/Azure/azure-cli/issues/16745
#[test]
fn free_text() {
    let e = found("Error: invalid_grant");
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    let aad = found(
        "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed.",
    );
    assert_eq!(aad.provider_code.as_deref(), Some("AADSTS50173"));
    assert_eq!(aad.server, Some(ServerKind::Azure));
}

/// ADFS `MSIS` codes (text of the MSIS9611 error as ADFS troubleshooting
/// pages quote it).
#[test]
fn adfs_msis_code() {
    let e = found("MSIS9611: The Client Is Not Allowed to Access the Resource");
    assert_eq!(e.provider_code.as_deref(), Some("MSIS9611"));
    // Other words that start the same way are not codes (`MSIS90`, a
    // drag model of satellite software).
    assert_eq!(extract("Drag model (NONE, JAC70/MSIS90)"), None);
}

/// `sub_error`, `suberror` and `error_uri` (Entra's body and MSAL's
/// fields, as github.com/AzureAD/microsoft-authentication-library-for-js
/// issues quote them).
#[test]
fn sub_error_and_uri() {
    let text = r#"{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity.","error_codes":[700082],"error_uri":"https://login.microsoftonline.com/error?code=700082","suberror":"bad_token"}"#;
    let e = found(text);
    assert_eq!(e.sub_error.as_deref(), Some("bad_token"));
    assert_eq!(
        e.uri.as_deref(),
        Some("https://login.microsoftonline.com/error?code=700082")
    );
    assert_eq!(e.provider_code.as_deref(), Some("AADSTS700082"));
}

/// Lines that carry no OAuth error: an app's own error words, redirects of
/// its own, a bare reason, a status alone.
#[test]
fn no_oauth_error() {
    for text in [
        r#"{"level":"error","error":"ECONNRESET","msg":"socket hang up"}"#,
        r#"level=error msg="An error occurred" reason="timeout""#,
        "GET /settings?error=invalid_state 302",
        "Completed 400 Bad Request in 11ms",
        "(facebook) Callback phase initiated.",
        "",
    ] {
        assert_eq!(extract(text), None, "{text}");
    }
}

/// A parsed event keeps what its parser read; the extractor fills only the
/// empty fields, and an AADSTS code replaces a library's own code.
#[test]
fn fill_event_fills_only_empty_fields() {
    use crate::event::{Event, EventKind};
    use crate::format::Format;
    let text = r#"Error Domain=MSALErrorDomain Code=-50002 "(null)" UserInfo={MSALErrorDescriptionKey=AADSTS50076: Due to a configuration change, you must use multi-factor authentication., MSALOAuthErrorKey=invalid_grant}"#;
    let mut ev = Event::new(EventKind::ClientError, Format::IosConsole);
    ev.provider_code = Some(Cow::Borrowed("-50002"));
    ev.error = Some(Cow::Borrowed("interaction_required"));
    assert!(fill_event(&mut ev, text));
    assert_eq!(ev.error.as_deref(), Some("interaction_required"));
    assert_eq!(ev.provider_code.as_deref(), Some("AADSTS50076"));
    assert_eq!(ev.server, Some(ServerKind::Azure));
}

/// A provider's sentence printed alone, with no error key or name: the
/// sentence is the description, and the line carries an error.
/// github.com/dexidp/dex/issues/1976, github.com/auth0/react-native-auth0/issues/680
#[test]
fn a_providers_sentence_alone_is_the_description() {
    let text = "Refresh token is invalid or has already been claimed by another client.";
    assert!(carries_error(text));
    assert_eq!(desc(&found(text)), text);
    let text =
        "getCredentials The credentials renewal failed. CAUSE: Unknown or invalid refresh token.";
    assert!(carries_error(text));
    assert_eq!(desc(&found(text)), "Unknown or invalid refresh token.");
    // Words of no provider sentence are no error.
    assert!(!carries_error(
        "The refresh token was stored for the next run."
    ));
}

/// .NET structured logs write the message template beside its properties:
/// the template's words (placeholders out) are the description when they
/// are a provider's; an app's own template is no error.
/// github.com/damienbod/angular-auth-oidc-client/issues/1423
#[test]
fn dotnet_message_templates() {
    let line = r#"  "MessageTemplate": "Invalid redirect_uri{@values}, details: {@details}","#;
    assert!(carries_error(line));
    assert_eq!(desc(&found(line)), "Invalid redirect_uri");
    let clef = r#"{"@t":"2024-01-02T03:04:05Z","@mt":"Invalid redirect_uri{@values}, details: {@details}","@l":"Error"}"#;
    assert_eq!(desc(&found(clef)), "Invalid redirect_uri");
    for text in [
        r#"  "MessageTemplate": "Request finished in {Elapsed} ms {StatusCode}","#,
        r#"{"@mt":"Invalid {Thing} in cart {CartId}","@l":"Error"}"#,
    ] {
        assert_eq!(extract(text), None, "{text}");
    }
}

/// Facebook's and Instagram's Graph API answer a second exchange of one
/// code in their own words, also when the body is pasted mangled.
/// github.com/jetrockets/omniauth-instagram-graph/issues/1,
/// github.com/heartcombo/devise/issues/2369
#[test]
fn graph_api_code_used() {
    let e = found(
        r#"{"error_type": "OAuthException", "code": 400, "error_message": "This authorization code has been used"}"#,
    );
    assert_eq!(desc(&e), "This authorization code has been used");
    let e = found(
        r#"{"error""message":"This authorization code has been used.","type":"OAuthException","code":100}}"#,
    );
    assert!(desc(&e).starts_with("This authorization code has been used"));
}

/// omniauth-oauth2's failure of the code exchange, as OmniAuth logs it and
/// as Devise shows it: an error with no OAuth detail. Its other failures
/// are not read as one.
/// github.com/isaacsanders/omniauth-stripe-connect/issues/27
#[test]
fn omniauth_invalid_credentials() {
    for text in [
        r#"Could not authenticate you from StripeConnect because "Invalid credentials"."#,
        "(facebook) Authentication failure! invalid_credentials: OAuth2::Error, :",
    ] {
        let e = found(text);
        assert_eq!(
            e.provider_code.as_deref(),
            Some("invalid_credentials"),
            "{text}"
        );
        assert!(e.error.is_none(), "{text}");
    }
    assert_eq!(
        extract(r#"Could not authenticate you from GitHub because "Timeout"."#),
        None
    );
}

#[test]
fn devises_flash_is_kept_as_the_failures_reason() {
    // As simi/omniauth-facebook#161 quoted the page: "the callback is
    // returned with the message ...". The sentence is Devise's
    // `omniauth_callbacks.failure` (heartcombo/devise, config/locales/en.yml).
    let text = r#"the callback is returned with the message "Could not authenticate you from Facebook because "Invalid credentials".""#;
    let e = found(text);
    assert_eq!(
        e.hint.as_deref(),
        Some(r#"Could not authenticate you from Facebook because "Invalid credentials"."#)
    );
    // OmniAuth's own log line is a log line: no flash.
    let logged = found("(facebook) Authentication failure! invalid_credentials: OAuth2::Error, :");
    assert!(logged.hint.is_none());
}

#[test]
fn a_google_service_account_client_tells_the_jwt_bearer_grant() {
    // gtoken throws the bare error; its frames name it.
    let gtoken = "Error: invalid_grant\n    at Request._callback (/srv/app/node_modules/gtoken/lib/index.js:215:34)";
    // google-oauth-jwt's own message: `(HTTP nnn) : body`.
    let jwt = r#"Error: access token request failed (HTTP 400) : {"error":"invalid_grant"}."#;
    for text in [gtoken, jwt] {
        let e = found(text);
        assert_eq!(e.error.as_deref(), Some("invalid_grant"), "{text}");
        assert_eq!(
            e.grant,
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer"),
            "{text}"
        );
        assert_eq!(e.server, Some(ServerKind::Google), "{text}");
    }
}

#[test]
fn other_clients_failing_a_token_request_tell_no_grant() {
    for text in [
        // Another library's wording: the colon inside the parentheses.
        "Vertex access token request failed (HTTP 400: invalid_grant: audience mismatch)",
        r#"Error: Access token request failed (HTTP 400): {"error":"invalid_grant"}"#,
        "Error: invalid_grant\n    at Request._callback (/srv/app/node_modules/request/request.js:186:22)",
    ] {
        assert_eq!(found(text).grant, None, "{text}");
    }
}

#[test]
fn a_record_no_parser_knows_keeps_the_request_and_time_it_names() {
    let ctx = Context::default();
    // A JSON line cut by a truncation: not JSON any more, still its request's.
    let cut = r#"{"time":"2025-03-11T08:00:02.000Z","request_id":"fail-00029","error":"invalid_grant","error_description":"Code was alr"#;
    let ev = error_event(cut, Format::JsonLines, &ctx).expect("an error record");
    assert_eq!(ev.request_id.as_deref(), Some("fail-00029"));
    assert!(ev.ts.is_some(), "the time named by key is read");
    // logfmt-like text with another id key; `counts=` holds no `ts` key.
    let kv = "level=error counts=3 traceId=4bf92f3577b34da6 error=invalid_grant msg=refused";
    let ev = error_event(kv, Format::JsonLines, &ctx).expect("an error record");
    assert_eq!(ev.request_id.as_deref(), Some("4bf92f3577b34da6"));
    assert!(ev.ts.is_none());
    // An id with spaces is a sentence, not an id.
    let prose = r#"error=invalid_grant request_id: "see the server log" done"#;
    let ev = error_event(prose, Format::JsonLines, &ctx).expect("an error record");
    assert_eq!(ev.request_id, None);
}

/// An empty entry of a Go map as `fmt` prints it (`reason:` then a space and
/// the next key): Hydra's text log of an error whose reason is empty, as
/// its JSON log writes `"reason":""`. The entry has no value; the next
/// entries are not its text.
#[test]
fn an_empty_go_map_entry_takes_nothing_from_the_next() {
    let text = "level=info msg=access denied error=map[debug:invalid_token message:invalid_grant reason: status:Bad Request status_code:400]";
    let e = found(text);
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(e.hint, None);
    let filled = found(
        "error=map[debug: message:invalid_grant reason:The authorization code has expired. status:Bad Request status_code:400]",
    );
    assert_eq!(
        filled.hint.as_deref(),
        Some("The authorization code has expired.")
    );
}
