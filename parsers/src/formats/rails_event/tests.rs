//! Tests on `sample_logs/rails/rails-event.json.log` (the Rails 8.1 sample's
//! requests as `Rails.event` reports them) and on hand-written lines in the
//! JSON encoder's shape.

use super::*;
use crate::grant::GrantType;
use crate::test_support::{assert_detected, by_request_id, of_kind, parse_file};

const SAMPLE: &str = include_str!("../../../../sample_logs/rails/rails-event.json.log");

const STARTED: &str = r#"{"name":"action_controller.request_started","payload":{"controller":"Doorkeeper::TokensController","action":"create","format":"*/*","params":{"grant_type":"authorization_code","code":"[FILTERED]","redirect_uri":"com.example.app:/oauth2redirect","client_id":"mobile-app"}},"tags":{},"context":{"request_id":"req-1"},"timestamp":1762243267001000000,"source_location":{"filepath":"app/x.rb","lineno":1,"label":"x"}}"#;
const COMPLETED: &str = r#"{"name":"action_controller.request_completed","payload":{"controller":"Doorkeeper::TokensController","action":"create","status":400,"duration_ms":14.0},"tags":{},"context":{"request_id":"req-1"},"timestamp":1762243267015000000,"source_location":{"filepath":"app/x.rb","lineno":1,"label":"x"}}"#;

fn parse(text: &str) -> Vec<Event<'static>> {
    let (events, outcomes) = parse_file(Format::RailsEvent, text);
    for (line, outcome) in text.lines().zip(outcomes) {
        assert_ne!(outcome, Outcome::Unknown, "{line}");
    }
    events
}

#[test]
fn the_sample_is_detected_as_rails_event() {
    assert_detected(SAMPLE, Format::RailsEvent);
}

#[test]
fn started_and_completed_are_one_token_response() {
    let text = format!("{STARTED}\n{COMPLETED}\n");
    let events = parse(&text);
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.kind, EventKind::TokenResponse);
    assert_eq!(e.status, Some(400));
    assert_eq!(e.grant_type, Some(GrantType::AuthorizationCode));
    assert_eq!(e.client_id.as_deref(), Some("mobile-app"));
    assert_eq!(
        e.redirect_uri.as_deref(),
        Some("com.example.app:/oauth2redirect")
    );
    assert_eq!(e.request_id.as_deref(), Some("req-1"));
    assert_eq!(
        e.verifier_sent,
        Some(false),
        "no code_verifier among the params"
    );
    assert_eq!(e.server, Some(ServerKind::Doorkeeper));
    let lines: Vec<u64> = e.evidence.iter().map(|l| l.line).collect();
    assert_eq!(lines, [1, 2]);
    let ts = e.ts.expect("the started event's time");
    assert_eq!(
        ts.utc.timestamp_nanos_opt(),
        Some(1_762_243_267_001_000_000)
    );
}

#[test]
fn without_a_request_id_events_join_in_order() {
    let strip = |l: &str| l.replace(r#""context":{"request_id":"req-1"}"#, r#""context":{}"#);
    let second = strip(STARTED).replace("mobile-app", "web-app");
    let text = format!(
        "{}\n{second}\n{}\n{}\n",
        strip(STARTED),
        strip(COMPLETED),
        strip(COMPLETED).replace("400", "200")
    );
    let events = parse(&text);
    let got: Vec<(Option<&str>, Option<u16>)> = events
        .iter()
        .map(|e| (e.client_id.as_deref(), e.status))
        .collect();
    assert_eq!(
        got,
        [
            (Some("mobile-app"), Some(400)),
            (Some("web-app"), Some(200))
        ]
    );
}

#[test]
fn a_request_without_completion_is_flushed_as_a_request() {
    let events = parse(&format!("{STARTED}\n"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::TokenRequest);
    assert_eq!(events[0].status, None);
}

#[test]
fn other_controllers_and_events_are_skipped() {
    let other = STARTED.replace("Doorkeeper::TokensController", "OrdersController");
    let sql = r#"{"name":"active_record.sql","payload":{"sql":"SELECT 1","name":"x"},"tags":{},"context":{},"timestamp":1762243267001000000,"source_location":null}"#;
    let (events, outcomes) = parse_file(Format::RailsEvent, &format!("{other}\n{sql}\n"));
    assert!(events.is_empty());
    assert_eq!(outcomes, [Outcome::Skipped, Outcome::Skipped]);
}

#[test]
fn rescue_and_redirect_events_add_to_their_request() {
    let events = parse(SAMPLE);
    let reuse = by_request_id(&events, "bd64bf85-0edc-4b15-af8e-d978c2a7398d");
    assert_eq!(reuse.kind, EventKind::TokenResponse);
    assert_eq!(reuse.status, Some(400));
    assert_eq!(
        reuse.provider_reason.as_deref(),
        Some("Doorkeeper::Errors::InvalidGrantReuse")
    );
    assert_eq!(reuse.evidence.len(), 3, "started, rescue, completed");
    let authorize = by_request_id(&events, "ccf3554d-5d9a-4b2e-ad05-cc18f207709f");
    assert_eq!(authorize.kind, EventKind::CodeIssued);
    assert_eq!(
        authorize.code_challenge.as_deref(),
        Some("2F7kFiIwr4nNPyTUNR-RYao2wY3B-HErLkRh2AGGFjg")
    );
    assert!(!of_kind(&events, EventKind::TokenResponse).is_empty());
}

#[test]
fn behind_a_logger_prefix_and_tags() {
    let text = format!(
        "I, [2025-11-04T08:01:07.001000 #7]  INFO -- : [req-1] {STARTED}\n\
         I, [2025-11-04T08:01:07.015000 #7]  INFO -- : [req-1] {COMPLETED}\n"
    );
    let events = parse(&text);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, Some(400));
}

#[test]
fn the_verifier_is_fingerprinted_never_kept() {
    let verifier = "FDUygeHP8R1gcwq-QiUerhBhV9p44EYuszo3ZVIzOzE";
    let started = STARTED.replace(
        r#""client_id":"mobile-app""#,
        &format!(r#""client_id":"mobile-app","code_verifier":"{verifier}""#),
    );
    let events = parse(&format!("{started}\n{COMPLETED}\n"));
    assert_eq!(events[0].verifier_sent, Some(true));
    assert!(events[0].verifier_s256.is_some());
    crate::test_support::assert_no_secret(&events, &[verifier]);
}
