//! Unit tests of [`super::decide`] on hand-built cases: how the providers'
//! words and the inferences from the logs are weighed against each other.
//! The texts are as posted in public threads, each named beside its test.

use super::decide;
use crate::config::DiagnoseSettings;
use crate::diagnose::cause::{Cause, Confidence};
use crate::diagnose::causes::testing::{T0, case, client_error, event};
use grantwatch_parsers::{EventKind, GrantType};

/// Auth0's refresh error as nextjs-auth0 printed it in
/// <https://github.com/auth0/nextjs-auth0/issues/962> ("We have turned off
/// Refresh Token Rotation setting so the refresh token is really expired").
fn auth0_refresh_error() -> crate::store::EventRow {
    let mut e = client_error(
        Some("invalid_grant"),
        Some("Unknown or invalid refresh token."),
    );
    e.grant_type = Some(GrantType::RefreshToken);
    e.client_id = Some("app".into());
    e
}

#[test]
fn an_ambiguous_text_alone_gives_the_cause_it_names_below_high() {
    let v = decide(&case(auth0_refresh_error()), &DiagnoseSettings::default());
    assert_eq!(v.cause, Cause::RefreshTokenExpired);
    assert_eq!(v.confidence, Confidence::Medium);
    // The causes the text leaves open stay in view.
    for open in [Cause::RefreshTokenRevoked, Cause::RefreshTokenReused] {
        assert!(
            v.candidates.iter().any(|c| c.cause == open),
            "{open} missing from {:?}",
            v.candidates
        );
    }
}

#[test]
fn an_ambiguous_text_yields_to_the_flow_that_shows_a_cause_it_leaves_open() {
    // The same text, after the same client revoked a token from the same
    // address a minute before: the logs show the revocation the text allows.
    let mut c = case(auth0_refresh_error());
    let mut revoke = event(30, EventKind::RevokeRequest, T0 - 60_000);
    revoke.path = Some("/oauth/revoke".into());
    c.revokes.push(revoke);
    let v = decide(&c, &DiagnoseSettings::default());
    assert_eq!(v.cause, Cause::RefreshTokenRevoked, "{}", v.summary);
    assert!(
        v.candidates
            .iter()
            .any(|k| k.cause == Cause::RefreshTokenExpired),
        "the text's own reading stays a candidate: {:?}",
        v.candidates
    );
}

#[test]
fn a_text_that_names_its_cause_alone_is_not_overruled_by_a_weaker_flow() {
    // Keycloak's older "Refresh token expired" names one cause and leaves
    // none open: a revoke before it does not turn it into a revocation.
    let mut e = client_error(Some("invalid_grant"), Some("Refresh token expired"));
    e.grant_type = Some(GrantType::RefreshToken);
    let mut c = case(e);
    c.revokes
        .push(event(30, EventKind::RevokeRequest, T0 - 60_000));
    let v = decide(&c, &DiagnoseSettings::default());
    assert_eq!(v.cause, Cause::RefreshTokenExpired, "{}", v.summary);
}
