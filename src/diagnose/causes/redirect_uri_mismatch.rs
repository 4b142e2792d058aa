//! `redirect_uri_mismatch`: the token request's redirect_uri differs from
//! the authorize request's (a trailing slash, a scheme, a query such as the
//! `?code=` an omniauth callback URL carries).
//!
//! Evidence: the provider's words, or the two URIs compared character by
//! character: differing URIs of a flow tied by code or verifier prove it;
//! tied only by client and time they point at it.
//!
//! Or, at `low`, the shape of an OmniAuth client: omniauth-oauth2 exchanges
//! the code inside the callback request that brought it (so it is fresh),
//! once per callback phase (one phase: not reused), with the client id it
//! is configured with; the one thing it builds anew is redirect_uri, from the
//! callback URL, which omniauth-oauth2 1.4 and later send with the
//! callback's own query (`?code=…&state=…`) unless the strategy overrides
//! `callback_url`, and which a proxy can turn from https into http. When
//! such an exchange fails with `invalid_grant` and words that name no cause
//! (none, or Doorkeeper's one sentence), redirect_uri is the cause left
//! (omniauth-oauth2#81; omniauth-runkeeper#3, omniauth-gitlab#10,
//! omniauth-reddit#10 and doorkeeper#732 settled so).

use super::support::{omniauth_callbacks, own_texts, ts};
use super::{Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::{Case, FlowLink};
use crate::diagnose::cause::{Cause, Confidence};
use crate::diagnose::phrases::said;

/// The failure key omniauth-oauth2 logs for a refused code exchange
/// (`(github) Authentication failure! invalid_credentials: OAuth2::Error, …`),
/// kept as the provider code of the failure.
const OMNIAUTH_FAILURE: &str = "invalid_credentials";

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::RedirectUriMismatch,
    meaning: "the token request's redirect_uri differs from the authorize request's",
    needs: "the authorize request's redirect_uri and the token request's, compared character by character",
    fix: "Send the token request with byte-for-byte the same redirect_uri as the authorize request (scheme, host, port, path, trailing slash, query).",
    grants: Grants::Code,
    infer: Some(infer),
};

/// Describes how two redirect URIs differ, precisely.
pub fn uri_difference(authorize: &str, token: &str) -> String {
    if authorize.trim_end_matches('/') == token.trim_end_matches('/') {
        let (with, without) = if authorize.ends_with('/') {
            ("authorize", "token")
        } else {
            ("token", "authorize")
        };
        return format!(
            "only a trailing slash differs (the {with} request has it, the {without} request does not)"
        );
    }
    if authorize.eq_ignore_ascii_case(token) {
        return "they differ only in letter case".into();
    }
    let (pa, qa) = authorize
        .split_once('?')
        .map_or((authorize, ""), |(p, q)| (p, q));
    let (pt, qt) = token.split_once('?').map_or((token, ""), |(p, q)| (p, q));
    if pa == pt {
        return format!("the query differs (\"{qa}\" vs \"{qt}\")");
    }
    let scheme = |u: &str| u.split_once("://").map(|(s, _)| s.to_owned());
    if scheme(pa) != scheme(pt) {
        return format!(
            "the scheme differs ({} vs {})",
            scheme(pa).unwrap_or_else(|| pa.split(':').next().unwrap_or("").to_owned()),
            scheme(pt).unwrap_or_else(|| pt.split(':').next().unwrap_or("").to_owned())
        );
    }
    let common = pa
        .chars()
        .zip(pt.chars())
        .take_while(|(x, y)| x == y)
        .count();
    format!(
        "they first differ at character {} (\"{}\" vs \"{}\")",
        common + 1,
        &pa.chars().skip(common).collect::<String>(),
        &pt.chars().skip(common).collect::<String>()
    )
}

fn infer(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    let Some(flow) = case.flow.as_ref() else {
        return omniauth_exchange(case);
    };
    let (a, b) = (
        flow.authorize.redirect_uri.as_ref()?,
        case.exchange.redirect_uri.as_ref()?,
    );
    if a == b {
        return None;
    }
    let confidence = if flow.link == FlowLink::ClientAndTime {
        Confidence::Medium
    } else {
        Confidence::High
    };
    Some(
        Finding::flow(
            confidence,
            format!(
                "The token request sent redirect_uri \"{b}\" but the authorize request at {} used \"{a}\": {}.",
                ts(flow.authorize.ts_ms),
                uri_difference(a, b)
            ),
        )
        .supported_by(vec![flow.authorize.id])
        .missing((confidence != Confidence::High).then(|| {
            "the code or PKCE verifier of the exchange (to tie it to this authorize request for sure)".into()
        })),
    )
}

/// An OmniAuth code exchange refused with an `invalid_grant` whose words
/// name no cause, with one callback phase at most (see the module's doc).
fn omniauth_exchange(case: &Case) -> Option<Finding> {
    let omniauth = case
        .own_events()
        .any(|e| e.provider_code.as_deref() == Some(OMNIAUTH_FAILURE));
    if !omniauth
        || case.exchange.error.as_deref() != Some("invalid_grant")
        || own_texts(case).any(|t| !said(t).is_empty())
    {
        return None;
    }
    let callbacks = omniauth_callbacks(case).map_or(0, |(_, c)| c.len());
    if callbacks > 1 {
        // Two callbacks of one login: the code was exchanged twice.
        return None;
    }
    Some(
        Finding::flow(
            Confidence::Low,
            "OmniAuth's code exchange at its callback was refused with invalid_grant and no words naming a cause. It exchanges the code inside the callback request that brought it, once, with the client id it is configured with; what it builds anew is redirect_uri, from the callback URL, which omniauth-oauth2 1.4 and later send with the callback's own query (?code=...&state=...) unless the strategy overrides callback_url, and which a proxy can turn from https into http.".into(),
        )
        .missing(Some(
            "the redirect_uri of the authorize request and of the token request (the provider's request log, or the strategy's callback_url logged)".into(),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{T0, case, client_error, event, failed, flow};
    use grantwatch_parsers::EventKind;
    use grantwatch_parsers::GrantType;

    #[test]
    fn uri_differences_are_named() {
        assert!(uri_difference("https://app/cb/", "https://app/cb").contains("trailing slash"));
        assert!(uri_difference("https://app/cb", "http://app/cb").contains("scheme"));
        assert!(uri_difference("https://app/cb?x=1", "https://app/cb?x=2").contains("query"));
        assert!(
            uri_difference(
                "com.example.app:/oauth2redirect",
                "com.example.app:/oauth2callback"
            )
            .contains("character")
        );
    }

    fn with_token_uri(uri: &str, link: FlowLink) -> Case {
        let mut e = failed(GrantType::AuthorizationCode);
        e.redirect_uri = Some(uri.into());
        let mut c = case(e);
        c.flow = Some(flow(3_000, link));
        c
    }

    #[test]
    fn two_uris_differing_in_one_flow_prove_it() {
        let c = with_token_uri("com.example.app:/oauth2redirect/", FlowLink::Code);
        let f = infer(&c, &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::High);
        assert!(f.summary.contains("trailing slash"), "{}", f.summary);
    }

    #[test]
    fn a_flow_found_by_client_and_time_only_points_at_it() {
        let c = with_token_uri("com.example.app:/other", FlowLink::ClientAndTime);
        let f = infer(&c, &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::Medium);
        assert!(f.missing.is_some());
    }

    /// An omniauth-oauth2 code exchange refused with a bare `invalid_grant`,
    /// as in <https://github.com/jackdempsey/omniauth-reddit/issues/10>
    /// (`invalid_grant: {"error": "invalid_grant"}` raised from
    /// omniauth-oauth2 1.4.0's `callback_phase`; downgrading to 1.3.1, which
    /// sent the callback URL without its query, and later a `callback_url`
    /// override fixed it), after `callbacks` callback phases.
    fn omniauth_refused(callbacks: usize, description: Option<&str>) -> Case {
        let mut e = client_error(Some("invalid_grant"), description);
        e.provider_code = Some(OMNIAUTH_FAILURE.into());
        let mut c = case(e);
        for i in 0..callbacks {
            let mut p = event(10 + i as i64, EventKind::CodeIssued, T0 - 500);
            p.provider_reason = Some("(reddit) Callback phase initiated.".into());
            c.phases.push(p);
        }
        c
    }

    #[test]
    fn an_omniauth_exchange_refused_without_words_leaves_the_redirect_uri() {
        for callbacks in [0, 1] {
            let f = infer(
                &omniauth_refused(callbacks, None),
                &DiagnoseSettings::default(),
            )
            .expect("finding");
            assert_eq!(f.confidence, Confidence::Low);
            assert!(f.summary.contains("callback_url"), "{}", f.summary);
            assert!(f.missing.is_some());
        }
        // Doorkeeper's one sentence names no cause either (omniauth-gitlab#10).
        let dk = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";
        assert!(infer(&omniauth_refused(1, Some(dk)), &DiagnoseSettings::default()).is_some());
    }

    #[test]
    fn an_omniauth_exchange_is_left_to_other_evidence_when_there_is_some() {
        let settings = DiagnoseSettings::default();
        // Two callbacks of one login: a reused code (doorkeeper#827).
        assert!(infer(&omniauth_refused(2, None), &settings).is_none());
        // Words that name a cause decide.
        assert!(
            infer(
                &omniauth_refused(1, Some("This authorization code has been used")),
                &settings
            )
            .is_none()
        );
        // Another error than invalid_grant is not a grant the server refused.
        let mut c = omniauth_refused(1, None);
        c.exchange.error = Some("invalid_client".into());
        assert!(infer(&c, &settings).is_none());
    }

    #[test]
    fn equal_uris_say_nothing() {
        let c = with_token_uri("com.example.app:/oauth2redirect", FlowLink::Code);
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
    }
}
