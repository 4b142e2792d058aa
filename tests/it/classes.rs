//! The corpus misses fixed by class, each checked through the real binary on
//! lines from a second public source of the same class: never the corpus
//! case itself, so a fix tuned to one case fails here. Each excerpt is as
//! its thread or page posted it (live-looking values were already elided
//! there).

use crate::helpers::analyze_json;

/// The one failure `text` gives, analyzed as a file of its own.
fn only_failure(text: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("excerpt.log");
    std::fs::write(&path, text).expect("write excerpt");
    let mut found = analyze_json(&[&path]);
    assert_eq!(found.len(), 1, "one failure expected: {found:?}");
    found.remove(0)
}

fn candidates(f: &serde_json::Value) -> Vec<&str> {
    f["candidates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["cause"].as_str())
        .collect()
}

#[test]
fn auth0s_unknown_or_invalid_refresh_token_reads_as_expiry_with_the_rest_open() {
    // https://github.com/auth0/nextjs-auth0/issues/962: "We have turned off
    // Refresh Token Rotation setting so the refresh token is really expired
    // (either after passing the inactivity lifetime or absolute lifetime)".
    let f =
        only_failure("Server Error OPError: invalid_grant (Unknown or invalid refresh token.)\n");
    assert_eq!(f["cause"], "refresh_token_expired");
    assert_eq!(f["confidence"], "medium");
    let open = candidates(&f);
    assert!(open.contains(&"refresh_token_revoked"), "{open:?}");
    assert!(open.contains(&"refresh_token_reused"), "{open:?}");
}

#[test]
fn tiktoks_pkce_text_is_read_whoever_printed_it() {
    // TikTok's token endpoint as a developer posted its answer
    // (https://www.volcengine.com/article/1153620, a Q&A about a Flask PKCE
    // integration).
    let body = "{\n  \"error\": \"invalid_request\",\n  \"error_description\": \"Code verifier or code challenge is invalid.\",\n  \"log_id\": \"...\"\n}\n";
    let f = only_failure(body);
    assert_eq!(f["cause"], "pkce_verifier_mismatch");
    assert_eq!(f["confidence"], "medium");
    assert!(candidates(&f).contains(&"pkce_missing"), "{f}");
}

#[test]
fn devises_flash_pasted_above_its_log_reads_the_callbacks_below_it() {
    // The shape people paste: the message the page showed, then the log.
    // Devise sets that flash in `OmniauthCallbacksController#failure`, after
    // the callback phase failed (heartcombo/devise,
    // app/controllers/devise/omniauth_callbacks_controller.rb), so the
    // callback lines below it are its login's. The flash is Devise's own
    // sentence as simi/omniauth-facebook#161 quoted it; the two callback
    // lines are heartcombo/devise#2369's (a provider configured twice).
    let paste = "Could not authenticate you from Facebook because \"Invalid credentials\".\n\n(facebook) Callback phase initiated.\n(facebook) Callback phase initiated.\n";
    let f = only_failure(paste);
    assert_eq!(f["cause"], "code_reused", "{f}");
    assert_eq!(f["confidence"], "medium");
    // One callback below the flash is no double callback.
    let once = "Could not authenticate you from Facebook because \"Invalid credentials\".\n\n(facebook) Callback phase initiated.\n";
    let f = only_failure(once);
    assert_ne!(f["cause"], "code_reused", "{f}");
}
