//! Hand-built events and cases for the causes' unit tests: a case is built
//! the way `case::gather` leaves it, without a store.

use crate::config::DiagnoseSettings;
use crate::diagnose::case::{Case, Exchange, Flow, FlowLink};
use crate::diagnose::cause::{Cause, Confidence};
use crate::diagnose::decide;
use crate::store::EventRow;
use grantwatch_parsers::{EventKind, Format, GrantType};

/// 2025-04-11T08:00:00Z, the tests' reference time.
pub const T0: i64 = 1_744_358_400_000;

/// An event of `kind` at `ts_ms`, from a server log (`rails` format) unless
/// changed.
pub fn event(id: i64, kind: EventKind, ts_ms: i64) -> EventRow {
    EventRow {
        id,
        source_id: 1,
        file: "production.log".into(),
        line: id as u64,
        part: 0,
        kind,
        format: Format::Rails,
        server: None,
        ts_ms: Some(ts_ms),
        ts_basis: None,
        request_id: None,
        client_id: Some("app".into()),
        grant_type: None,
        method: None,
        path: None,
        status: None,
        error: None,
        error_description: None,
        provider_reason: None,
        provider_debug: None,
        provider_code: None,
        redirect_uri: None,
        code_challenge: None,
        code_challenge_method: None,
        code_fp: None,
        refresh_token_fp: None,
        assertion_fp: None,
        verifier_s256: None,
        verifier_sent: None,
        jwt_iat: None,
        jwt_exp: None,
        jwt_nbf: None,
        jwt_iss: None,
        server_date_ms: None,
        ip: None,
        user_agent: None,
        session_id: None,
        user_name: None,
        lifecycle: None,
    }
}

/// A failed token response (400, `invalid_grant`) of `grant` at [`T0`].
pub fn failed(grant: GrantType) -> EventRow {
    let mut e = event(100, EventKind::TokenResponse, T0);
    e.status = Some(400);
    e.error = Some("invalid_grant".into());
    e.grant_type = Some(grant);
    e
}

/// A client's error record (an app log) at [`T0`].
pub fn client_error(error: Option<&str>, description: Option<&str>) -> EventRow {
    let mut e = event(200, EventKind::ClientError, T0);
    e.format = Format::Logcat;
    e.file = "logcat.txt".into();
    e.source_id = 2;
    e.client_id = None;
    e.error = error.map(Into::into);
    e.error_description = description.map(Into::into);
    e
}

/// The case of `primary` alone, its exchange taken from it.
pub fn case(primary: EventRow) -> Case {
    let exchange = Exchange {
        grant_type: primary.grant_type.clone(),
        client_id: primary.client_id.clone(),
        redirect_uri: primary.redirect_uri.clone(),
        code_fp: primary.code_fp.clone(),
        verifier_s256: primary.verifier_s256.clone(),
        verifier_sent: primary.verifier_sent,
        refresh_token_fp: primary.refresh_token_fp.clone(),
        jwt_iat: primary.jwt_iat,
        jwt_exp: primary.jwt_exp,
        jwt_nbf: primary.jwt_nbf,
        status: primary.status,
        error: primary.error.clone(),
        ip: primary.ip.clone(),
    };
    Case {
        time_ms: primary.ts_ms,
        sent_ms: primary.ts_ms,
        server: primary.server,
        primary,
        merged: Vec::new(),
        request_events: Vec::new(),
        exchange,
        flow: None,
        earlier: Vec::new(),
        revokes: Vec::new(),
        earlier_successes: Vec::new(),
        lifecycle: Vec::new(),
        client_clock: None,
        client_clock_file: None,
        nearby_offset: None,
        phases: Vec::new(),
    }
}

/// An authorize request (code issued) `ago_ms` before [`T0`], linked by `link`.
pub fn flow(ago_ms: i64, link: FlowLink) -> Flow {
    let mut a = event(10, EventKind::CodeIssued, T0 - ago_ms);
    a.redirect_uri = Some("com.example.app:/oauth2redirect".into());
    Flow {
        authorize: a,
        link,
        challenge_from: None,
    }
}

/// Asserts that a failure a client logged with only `error` and
/// `description` is diagnosed as `cause`, with high confidence: the
/// provider's words name it (the test of each cause its words alone prove).
pub fn assert_words_name(error: Option<&str>, description: Option<&str>, cause: Cause) {
    let v = decide(
        &case(client_error(error, description)),
        &DiagnoseSettings::default(),
    );
    assert_eq!(
        (v.cause, v.confidence),
        (cause, Confidence::High),
        "{}",
        v.summary
    );
}
