//! One failure per exchange: the lines a client prints about one failed
//! token request (the error line, the response body after it, the library's
//! exception) are one failure with all of them as evidence, and two
//! different errors next to each other stay two failures. (`watch` groups
//! with the same `correlate::group`, whose first record stands for the
//! exchange whichever arrives first.)

use crate::helpers::{analyze_json, evidence_lines};

const BODY: &str = "2025-04-11T08:12:03.461Z WARN  sync: response body: {\"error\":\"invalid_grant\",\"error_description\":\"Token is not active\"}\n";
const EXCEPTION: &str =
    "2025-04-11T08:12:03.470Z ERROR sync: OAuth2::Error invalid_grant: Token is not active\n";
const OTHER: &str = "2025-04-11T08:12:04.020Z ERROR sync: OAuth2::Error invalid_client: Invalid client credentials\n";

#[test]
fn a_body_and_its_exception_are_one_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("sync.log");
    std::fs::write(&log, format!("{BODY}{EXCEPTION}")).expect("write");
    let found = analyze_json(&[&log]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["cause"], "refresh_token_expired");
    assert_eq!(evidence_lines(&found[0]), vec![1, 2]);
}

#[test]
fn two_different_errors_side_by_side_are_two_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("sync.log");
    std::fs::write(&log, format!("{BODY}{EXCEPTION}{OTHER}")).expect("write");
    let found = analyze_json(&[&log]);
    let causes: Vec<&str> = found.iter().filter_map(|f| f["cause"].as_str()).collect();
    let mut causes = causes;
    causes.sort_unstable();
    assert_eq!(
        causes,
        ["invalid_client_credentials", "refresh_token_expired"],
        "{found:#?}"
    );
}
