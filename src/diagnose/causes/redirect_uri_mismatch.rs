//! `redirect_uri_mismatch`: the token request's redirect_uri differs from
//! the authorize request's (a trailing slash, a scheme, a query such as the
//! `?code=` an omniauth callback URL carries).
//!
//! Evidence: the provider's words, or the two URIs compared character by
//! character: differing URIs of a flow tied by code or verifier prove it;
//! tied only by client and time they point at it.

use super::support::ts;
use super::{Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::{Case, FlowLink};
use crate::diagnose::cause::{Cause, Confidence};

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
    let flow = case.flow.as_ref()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{case, failed, flow};

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
        let mut e = failed("authorization_code");
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

    #[test]
    fn equal_uris_say_nothing() {
        let c = with_token_uri("com.example.app:/oauth2redirect", FlowLink::Code);
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
    }
}
