//! `client_mismatch`: the code or refresh token was issued to another client
//! (apps or environments sharing a redirect URI).
//!
//! Evidence: the provider's words, or the authorize request's client id
//! differing from the token request's when the two are tied by the code or
//! the PKCE verifier (a link by client and time cannot show a different
//! client: it was found by the client id).

use super::support::ts;
use super::{Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::{Case, FlowLink};
use crate::diagnose::cause::{Cause, Confidence};

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::ClientMismatch,
    meaning: "the grant was issued to another client",
    needs: "the authorize request's client_id differing from the token request's",
    fix: "Exchange the code (or refresh the token) with the same client_id that started the authorization; check apps or environments that share a redirect URI.",
    grants: Grants::Any,
    infer: Some(infer),
};

fn infer(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    let flow = case.flow.as_ref()?;
    if flow.link == FlowLink::ClientAndTime {
        return None;
    }
    let (a, b) = (
        flow.authorize.client_id.as_ref()?,
        case.exchange.client_id.as_ref()?,
    );
    (a != b).then(|| {
        Finding::flow(
            Confidence::High,
            format!(
                "The code was issued to client {a} (authorize at {}) but exchanged by client {b}.",
                ts(flow.authorize.ts_ms)
            ),
        )
        .supported_by(vec![flow.authorize.id])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::causes::testing::{case, failed, flow};
    use grantwatch_parsers::GrantType;

    #[test]
    fn a_code_issued_to_another_client_is_proven() {
        let mut c = case(failed(GrantType::AuthorizationCode));
        let mut f = flow(5_000, FlowLink::Code);
        f.authorize.client_id = Some("web".into());
        c.flow = Some(f);
        let found = infer(&c, &DiagnoseSettings::default()).expect("finding");
        assert_eq!(found.confidence, Confidence::High);
        assert!(found.summary.contains("client web"));
    }

    #[test]
    fn the_same_client_or_a_weak_link_says_nothing() {
        let mut c = case(failed(GrantType::AuthorizationCode));
        c.flow = Some(flow(5_000, FlowLink::Code));
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
        let mut f = flow(5_000, FlowLink::ClientAndTime);
        f.authorize.client_id = Some("web".into());
        c.flow = Some(f);
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
    }
}
