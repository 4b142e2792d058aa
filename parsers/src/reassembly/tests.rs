//! Reassembly on excerpts as people posted them in public issue threads
//! (each source named), plus the bounds.

use super::*;

fn records(text: &str) -> Vec<Joined> {
    let mut run = Run::default();
    for (i, line) in text.lines().enumerate() {
        run.push(i as u64 + 1, line);
    }
    run.take_records()
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
    let r = records(concat!(
        "System.Exception: outer ---> Microsoft.Identity.Client.MsalUiRequiredException: AADSTS700082: The refresh token has expired due to inactivity.\n",
        "   at Microsoft.Identity.Client.Internal.Requests.RequestBase.HandleTokenRefreshError(MsalServiceException e)\n",
        "   --- End of inner exception stack trace ---\n",
        "OPError: invalid_grant (Incorrect redirect_uri)\n",
        "    at processResponse (/srv/admin/node_modules/openid-client/lib/helpers/process_response.js:38:13)\n",
    ));
    assert_eq!(r.len(), 2, "{r:#?}");
    assert_eq!(r[0].lines, 3);
    assert_eq!(r[1].lines, 2);
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
fn short_lines_are_not_joined() {
    let r = records("first line\nsecond line\n");
    assert_eq!(r.len(), 2);
}
