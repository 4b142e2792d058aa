//! Reassembly on excerpts as people posted them in public issue threads
//! (each source named), plus the bounds.

use super::*;

fn records(text: &str) -> Vec<Joined> {
    let mut run = Run::default();
    for (i, line) in text.lines().enumerate() {
        run.push(i as u64 + 1, line, None);
    }
    run.take_records().into_iter().map(|(j, _)| j).collect()
}

#[test]
fn a_pretty_printed_error_body_is_one_json_record() {
    // golang.org/x/oauth2's error as pasted in odeke-em/drive#346.
    let r = records(concat!(
        "oauth2: cannot fetch token: 400 Bad Request\n",
        "Response: {\n",
        "  \"error\" : \"invalid_grant\",\n",
        "  \"error_description\" : \"Code was already redeemed.\"\n",
        "}\n",
    ));
    assert_eq!(r.len(), 2, "{r:#?}");
    assert_eq!(
        r[1].text,
        r#"Response: {"error":"invalid_grant","error_description":"Code was already redeemed."}"#
    );
    assert_eq!((r[1].line_no, r[1].lines), (2, 4));
    assert_eq!(r[1].originals.len(), 4);
}

#[test]
fn a_document_starting_on_its_own_line() {
    let r = records(
        "{\n  \"error\": \"invalid_grant\",\n  \"error_description\": \"Code not valid\"\n}",
    );
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].text,
        r#"{"error":"invalid_grant","error_description":"Code not valid"}"#
    );
}

#[test]
fn an_unclosed_block_leaves_its_lines_alone() {
    let r =
        records("Response: {\n  \"error\": \"invalid_grant\",\n2025-03-11 09:00:00 next record");
    assert!(r.iter().all(|j| !j.text.contains("{\"error\"")), "{r:#?}");
    assert_eq!(
        r.iter().map(|j| j.lines).sum::<usize>(),
        3,
        "every line comes out once"
    );
}

#[test]
fn a_java_exception_chain_is_one_record() {
    // spring-security-oauth#1344 as posted.
    let r = records(concat!(
        "org.springframework.security.oauth2.core.OAuth2AuthorizationException: [invalid_redirect_uri_parameter]\n",
        "\tat org.springframework.security.oauth2.client.authentication.OAuth2LoginAuthenticationProvider.authenticate(OAuth2LoginAuthenticationProvider.java:97)\n",
        "\tat org.springframework.security.authentication.ProviderManager.authenticate(ProviderManager.java:175)\n",
        "Caused by: java.lang.IllegalStateException: x\n",
        "\t... 42 more\n",
    ));
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!(r[0].lines, 5);
    assert!(
        r[0].text
            .contains("\nCaused by: java.lang.IllegalStateException")
    );
}

#[test]
fn a_python_traceback_ends_with_its_exception_line() {
    // The shape google-auth's RefreshError has in googleapis/google-auth-library-python issues.
    let r = records(concat!(
        "Traceback (most recent call last):\n",
        "  File \"/srv/sync/worker.py\", line 88, in refresh_credentials\n",
        "    creds.refresh(Request())\n",
        "google.auth.exceptions.RefreshError: ('invalid_grant: Bad Request', {'error': 'invalid_grant'})\n",
        "next unrelated line\n",
    ));
    assert_eq!(r.len(), 2, "{r:#?}");
    assert_eq!(r[0].lines, 4);
    assert!(r[0].text.ends_with("{'error': 'invalid_grant'})"));
}

#[test]
fn dotnet_inner_exceptions_and_node_frames() {
    // openid-client's OPError as posted in nextauthjs/next-auth#3356, then
    // a .NET chain in the NUnit form of Azure/azure-sdk-for-net#36383
    // (`---->`, the app id replaced).
    let r = records(concat!(
        "https://next-auth.js.org/errors#callback_oauth_error invalid_grant (Bad Request) OPError: invalid_grant (Bad Request)\n",
        "    at processResponse (/node_modules/next-auth/node_modules/openid-client/lib/helpers/process_response.js:45:13)\n",
        "    at Client.grant (/node_modules/next-auth/node_modules/openid-client/lib/client.js:1265:26)\n",
        "    at processTicksAndRejections (internal/process/task_queues.js:95:5)\n",
        "Azure.Identity.AuthenticationFailedException : ClientSecretCredential authentication failed: A configuration issue is preventing authentication. Original exception: AADSTS7000222: The provided client secret keys for app '00000000-1111-2222-3333-444444444444' are expired.\n",
        "  ----> Microsoft.Identity.Client.MsalServiceException : A configuration issue is preventing authentication - check the error message from the server for details.\n",
        "   --- End of inner exception stack trace ---\n",
    ));
    assert_eq!(r.len(), 2, "{r:#?}");
    assert_eq!(r[0].lines, 4);
    assert_eq!(r[1].lines, 3);
}

#[test]
fn a_hard_wrapped_line_is_rejoined() {
    let r = records(concat!(
        "error=\"invalid_grant\" error_description=\"The provided authorization grant is inv\n",
        "alid, expired, revoked, does not match the redirection URI\"\n",
        "2025-03-11 09:00:00 next record\n",
    ));
    assert_eq!(r.len(), 2, "{r:#?}");
    assert!(r[0].text.contains("grant is invalid, expired"));
}

#[test]
fn a_console_wrap_through_ids_and_urls_is_rejoined() {
    // mspnp/identity-reference-architectures#9 as posted: Entra's error
    // wrapped at a console's 115 columns, through a trace id and a URL
    // (settled: a refresh token unused for 90 days).
    let r = records(concat!(
        "2019-09-27 04:38:50Z\",\"error_codes\":[700082],\"timestamp\":\"2019-09-27 04:38:50Z\",\"trace_id\":\"624f7355-f654-4e51-bf4\n",
        "1-417b1c4b6200\",\"correlation_id\":\"06fd79c9-fe43-4f61-bb6f-22df21f2c597\",\"error_uri\":\"https://login.microsoftonline\n",
        ".com/error?code=700082\"}\n",
    ));
    assert_eq!(r.len(), 1, "{r:#?}");
    assert!(
        r[0].text
            .contains("\"trace_id\":\"624f7355-f654-4e51-bf41-417b1c4b6200\""),
        "{}",
        r[0].text
    );
    assert!(
        r[0].text
            .contains("https://login.microsoftonline.com/error?code=700082")
    );
}

#[test]
fn a_wrap_inside_a_json_value_is_rejoined() {
    // keycloak/keycloak#13357 as posted: an audit listener's event, wrapped
    // inside `"C` / `ODE_TO_TOKEN_ERROR"` and `"a` / `udit_object_type"`
    // (the paste goes on; the excerpt ends mid-record).
    let r = records(concat!(
        "2022-07-27 12:41:21,712 INFO  [] (default task-208) Audit login event :\n",
        "{  \"level\" : \"audit\",  \"timestamp\" : \"Wed Jul 27 12:41:21 IST 2022\",  \"user_id\" : null,  \"tenant_id\" : \"system\",  \"audit_action\" : \"C\n",
        "ODE_TO_TOKEN_ERROR\",  \"source_ip\" : \"X.X.X.X\",  \"audit_action_result\" : \"FAILED\",  \"audit_action_message\" : \"invalid_code\",  \"a\n",
        "udit_object_type\" : \"CODE_TO_TOKEN_ERROR\",  \"audit_object_tenant_id\" : \"system\",  \"audit_action_dat\n",
    ));
    assert_eq!(r.len(), 2, "{r:#?}");
    assert_eq!((r[1].line_no, r[1].lines), (2, 3));
    assert!(
        r[1].text
            .contains("\"audit_action\" : \"CODE_TO_TOKEN_ERROR\"")
            && r[1].text.contains("\"audit_object_type\""),
        "{}",
        r[1].text
    );
}

#[test]
fn a_status_line_after_a_long_line_starts_a_record() {
    let r = records(concat!(
        "oauth2: cannot fetch token: the server answered the token request of the mobile app with\n",
        "400 Bad Request\n",
    ));
    assert_eq!(r.len(), 2, "{r:#?}");
}

#[test]
fn short_lines_are_not_joined() {
    let r = records("first line\nsecond line\n");
    assert_eq!(r.len(), 2);
}
