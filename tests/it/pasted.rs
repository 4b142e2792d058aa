//! Logs as people paste them and as deployments ship them, through the
//! real binary: standard input, a pretty-printed error body, a file inside
//! an envelope, `--envelope`, and the report that never stays silent.
//! Excerpts come from the public threads named in `tests/corpus/cases.json`.

use std::io::Write as _;
use std::process::Stdio;

use crate::helpers::{grantwatch, root, stderr};

fn corpus(file: &str) -> String {
    std::fs::read_to_string(root().join("tests/corpus").join(file)).expect("read corpus case")
}

fn analyze_stdin(args: &[&str], input: &str) -> std::process::Output {
    let mut child = grantwatch()
        .arg("analyze")
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

#[test]
fn a_ticket_pasted_on_standard_input_is_analyzed() {
    // A support person pipes the ticket in.
    let ticket = std::fs::read_to_string(root().join("sample_logs/providers/support-ticket.txt"))
        .expect("read ticket");
    let out = analyze_stdin(&["--json"], &ticket);
    assert!(out.status.success(), "{}", stderr(&out));
    let failures: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(failures.len() >= 8, "{failures:#?}");
    for f in &failures {
        assert_eq!(
            f["evidence"][0]["file"], "-",
            "standard input is named -: {f}"
        );
    }
}

/// The failures of an `analyze --json` output, each without what its
/// file's name makes: its id and the file of its evidence lines.
fn failures_without_file_names(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let mut f: serde_json::Value = serde_json::from_str(l).expect("json");
            f["id"] = serde_json::Value::Null;
            for e in f["evidence"].as_array_mut().expect("evidence") {
                e["file"] = serde_json::Value::Null;
            }
            f
        })
        .collect()
}

#[test]
fn a_log_given_as_a_pipe_is_analyzed_as_the_file_is() {
    // `grantwatch analyze <(zcat keycloak.log.3.gz)`: a path that cannot be
    // read twice, so every evidence line is kept as read, none named by
    // its place in the file.
    for log in [
        "sample_logs/keycloak/keycloak-26.log",
        "sample_logs/hydra/hydra-v2.3.json.log",
    ] {
        let path = root().join(log);
        let from_file = grantwatch()
            .args(["analyze", "--json"])
            .arg(&path)
            .output()
            .expect("run");
        assert!(from_file.status.success(), "{}", stderr(&from_file));
        let through_pipe = std::process::Command::new("bash")
            .arg("-c")
            .arg("\"$0\" analyze --json <(cat \"$1\")")
            .arg(env!("CARGO_BIN_EXE_grantwatch"))
            .arg(&path)
            .output()
            .expect("run bash");
        assert!(
            through_pipe.status.success(),
            "{log}: {}",
            stderr(&through_pipe)
        );
        let failures = failures_without_file_names(&from_file.stdout);
        assert!(!failures.is_empty(), "{log}");
        assert_eq!(
            failures_without_file_names(&through_pipe.stdout),
            failures,
            "{log}"
        );
    }
}

#[test]
fn a_pretty_printed_error_body_is_one_failure_with_its_description() {
    // odeke-em/drive#346: golang.org/x/oauth2's error, its body printed
    // over several lines.
    let case = corpus("hosted_other/odeke-drive-346-code-already-redeemed.log");
    let failure = only_failure(&case);
    let evidence = failure["evidence"].as_array().expect("evidence");
    assert!(
        evidence.iter().any(|e| e["text"]
            .as_str()
            .is_some_and(|t| t.contains("already redeemed"))),
        "the body's lines are the failure's evidence: {failure}"
    );
}

#[test]
fn a_file_of_unknown_lines_is_named_not_passed_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let mut lines = String::new();
    for i in 0..50 {
        lines.push_str(&format!(
            "{{\"log\":\"worker {i} heartbeat ok\\n\",\"stream\":\"stdout\",\"time\":\"2025-03-11T08:00:00Z\"}}\n"
        ));
    }
    std::fs::write(&path, lines).expect("write");
    let out = grantwatch()
        .arg("analyze")
        .arg(&path)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("looks like docker json-file around an unknown format: 50 lines, 50 of 50 records unknown"),
        "{text}"
    );
    assert!(
        !text.contains("\nNo failed token requests found.\n"),
        "{text}"
    );
    let out = grantwatch()
        .args(["analyze", "--json"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(
        stderr(&out).contains("looks like docker json-file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn envelope_can_be_forced_or_turned_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pod.log");
    let rails =
        std::fs::read_to_string(root().join("sample_logs/scenarios/code_reused/production.log"))
            .expect("read sample");
    let wrapped: String = rails
        .lines()
        .map(|l| format!("2025-03-11T08:00:00.123456789Z stdout F {l}\n"))
        .collect();
    std::fs::write(&path, wrapped).expect("write");
    let count = |envelope: &str| {
        let out = grantwatch()
            .args(["analyze", "--json", "--envelope", envelope])
            .arg(&path)
            .output()
            .expect("run");
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert!(count("cri") > 0);
    assert_eq!(count("cri"), count("auto"));
    assert_eq!(
        count("docker-json"),
        count("none"),
        "another envelope is not taken off"
    );
    assert!(count("none") < count("cri"));
    let out = grantwatch()
        .args(["analyze", "--envelope", "tarball"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn heroku_router_lines_are_token_requests_joined_to_the_apps_own() {
    // A Heroku drain: the app's Rails lines under `app[web.1]`, and after
    // each failed token request the router's line with the same request id
    // (Heroku's X-Request-ID). One failure per request, not two; and a
    // router line alone is still a failure.
    let rails = std::fs::read_to_string(
        root().join("sample_logs/scenarios/invalid_client_credentials/production.log"),
    )
    .expect("read sample");
    let mut drain = String::new();
    let mut requests = 0;
    let tag = |line: &str, marker: &str| {
        line.split(marker)
            .next()
            .and_then(|head| head.rsplit('[').next())
            .map(str::to_string)
    };
    let mut token_requests = Vec::new();
    for line in rails.lines() {
        drain.push_str(&format!(
            "2025-04-10T08:58:13.588134+00:00 app[web.1]: {line}\n"
        ));
        if line.contains("] Started POST \"/oauth/token\"") {
            token_requests.extend(tag(line, "] Started"));
        }
        let completed = tag(line, "] Completed 4").filter(|_| line.contains("] Completed 4"));
        if let Some(id) = completed.filter(|id| token_requests.contains(id)) {
            drain.push_str(&format!(
                "2025-04-10T08:58:13.600000+00:00 heroku[router]: at=info method=POST path=\"/oauth/token\" host=auth.example.com request_id={id} fwd=\"203.0.113.7\" dyno=web.1 connect=0ms service=4ms status=401 bytes=212 protocol=https\n"
            ));
            requests += 1;
        }
    }
    drain.push_str("2025-04-10T10:00:00.000000+00:00 heroku[router]: at=info method=POST path=\"/oauth/token\" host=auth.example.com request_id=0f0e0d0c-0000-4000-8000-000000000001 fwd=\"203.0.113.9\" dyno=web.2 connect=0ms service=4ms status=400 bytes=212 protocol=https\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("drain.log");
    std::fs::write(&path, drain).expect("write");
    let plain = crate::helpers::analyze_json(&[
        &root().join("sample_logs/scenarios/invalid_client_credentials/production.log")
    ]);
    let found = crate::helpers::analyze_json(&[&path]);
    assert!(requests > 0);
    assert_eq!(found.len(), plain.len() + 1, "{found:#?}");
    let alone = found
        .iter()
        .find(|f| f["request_id"] == "0f0e0d0c-0000-4000-8000-000000000001")
        .expect("the router-only request is a failure");
    assert_eq!(alone["http_status"], 400);
}

/// One failure's JSON from `analyze --json -` over `input`.
fn only_failure(input: &str) -> serde_json::Value {
    let out = analyze_stdin(&["--json"], input);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let failures: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(failures.len(), 1, "{input}\n=> {text}");
    failures.into_iter().next().expect("one")
}

#[test]
fn lines_cut_short_keep_every_field_before_the_cut() {
    // Entra's error body cut mid-string as posted, each settled as a
    // refresh token that expired from inactivity: blobfile/blobfile#93,
    // microsoft/azuredatastudio#15331 (cache cleared), and
    // CompositionalIT/farmer#1070 (signed in again).
    for pasted in [
        "400: `b'{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS700082: The refresh token has expired due to inactivity.` from https://login.microsoftonline.com/common/oauth2/token\n",
        "Response error! - {\"error\":\"invalid_grant\",\"error_description\":\"AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2020-12-24T19:24:03.9196643Z and was inactive for 90.00:00:00.\n",
        "Farmer.FarmerException: 'ERROR: AADSTS700082: The refresh token has expired due to inactivity.\nThe token was issued on 2023-04-20T18:48:41.6655773Z and was inactive for 90.00:00:00.\n",
    ] {
        let f = only_failure(pasted);
        assert_eq!(f["cause"], "refresh_token_expired", "{pasted}\n=> {f}");
    }
}

#[test]
fn a_field_cut_with_an_ellipsis_is_completed_or_dropped() {
    // The Keycloak event line of mauriciovigolo/keycloak-angular#464, cut
    // with `…` the way `systemctl status` and log viewers cut it. The
    // fields before the cut stay; the cut grant type has one completion.
    let pasted = concat!(
        "2022-12-29 07:55:50,841 WARN  [org.keycloak.protocol.oidc.utils.OAuth2CodeParser] (executor-thread-27) Code 'b199dad6-06c2-4e3d-9054-ebff4d96b459' already used for userSession '463987a6-5ab5-484b-b12a-24ee20abb1da' and client '9f330c7c-4985-4c0c-8185-8932b9fa7297'.\n",
        "2022-12-29 07:55:50,841 WARN  [org.keycloak.events] (executor-thread-27) type=CODE_TO_TOKEN_ERROR, realmId=bed9b38b-fc4f-4bc4-863c-8a21b80160fb, clientId=heresharing-back, userId=null, ipAddress=81.184.94.187, error=invalid_code, grant_type=authorization_co…\n",
    );
    let f = only_failure(pasted);
    assert_eq!(f["client_id"], "heresharing-back", "{f}");
    assert_eq!(f["grant_type"], "authorization_code", "{f}");
    assert_eq!(f["cause"], "code_reused", "{f}");
    // Hydra's reason, cut in a log viewer after "has al": the catalog's
    // sentence it begins still names the cause.
    let hydra = r#"{"audience":"application","error":{"debug":"","message":"invalid_grant","reason":"The authorization code has al…"#;
    let f = only_failure(&format!("{hydra}\n"));
    assert_eq!(f["cause"], "code_reused", "{f}");
}

/// A JSON Lines log whose last line was cut short (a truncation while it
/// was being written, a paste that stopped mid-line): the cut line no longer
/// parses as JSON, but it still names its request, so it must never lend its
/// words to the complete line beside it (the model test's seed
/// 6687763488028738240 found a `Code was already redeemed.` cut line turning
/// its neighbour's redirect URI mismatch into `code_reused`).
#[test]
fn a_line_cut_short_stays_its_own_request() {
    let first = r#"{"time":"2025-03-11T08:00:01.000Z","request_id":"fail-00028","error":"invalid_redirect_uri","error_description":"The requested redirect uri is malformed or doesn't match client redirect URI."}"#;
    // Cut with its time kept, and cut before it (no time left to read).
    let cuts = [
        r#"{"time":"2025-03-11T08:00:02.000Z","request_id":"fail-00029","error":"invalid_grant","error_description":"Code was already redeemed."#,
        r#"{"request_id":"fail-00029","error":"invalid_grant","error_description":"Code was alrea"#,
    ];
    for cut in cuts {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("app.jsonl");
        std::fs::write(&log, format!("{first}\n{cut}\n")).expect("write log");
        let failures = crate::helpers::analyze_json(&[log.as_path()]);
        let of = |id: &str| {
            failures
                .iter()
                .find(|f| f["request_id"] == id)
                .unwrap_or_else(|| panic!("no failure for {id}: {failures:#?}"))
        };
        let complete = of("fail-00028");
        assert_eq!(complete["cause"], "redirect_uri_mismatch", "{complete}");
        assert_eq!(
            complete["evidence"].as_array().map(Vec::len),
            Some(1),
            "the cut line is not the complete line's evidence: {complete}"
        );
        let cut_failure = of("fail-00029");
        assert_eq!(cut_failure["evidence"][0]["line"], 2, "{cut_failure}");
    }
}
