//! Heroku's router line (`heroku[router]: at=info method=POST
//! path="/oauth/token" … request_id=… fwd="…" status=400 …`), which the
//! envelope layer hands over as logfmt: a token request seen at the edge.
//! It carries the request id the app's own lines are tagged with (Heroku
//! sets `X-Request-ID`), so the app's diagnosis joins it; alone it is still
//! a failed token request.
//!
//! Format: devcenter.heroku.com/articles/http-routing ("Heroku router log
//! format").

use std::borrow::Cow;

use super::pairs::pairs;
use crate::event::{Event, EventKind, EvidenceLine};
use crate::format::Format;

/// Paths of token endpoints (Doorkeeper, Spring, Keycloak, IdentityServer,
/// node-oidc-provider, Hydra).
const TOKEN_PATHS: [&str; 6] = [
    "/oauth/token",
    "/oauth2/token",
    "/token",
    "/connect/token",
    "/protocol/openid-connect/token",
    "/oauth2/v2.0/token",
];

/// The token-response event of a router line for a token endpoint, or
/// `None` for any other line.
pub(crate) fn router_event(line_no: u64, text: &str, format: Format) -> Option<Event<'static>> {
    if !text.starts_with("at=") {
        return None;
    }
    let fields = pairs(text);
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone().into_owned())
    };
    let path = get("path")?;
    let bare = path.split('?').next().unwrap_or(&path);
    if !TOKEN_PATHS.iter().any(|p| bare.ends_with(p)) {
        return None;
    }
    let mut event = Event::new(EventKind::TokenResponse, format);
    event.method = get("method").map(Cow::Owned);
    event.path = Some(Cow::Owned(bare.to_string()));
    event.status = get("status").and_then(|s| s.parse().ok());
    event.request_id = get("request_id").map(Cow::Owned);
    // `fwd` is the client's address (the first of a forwarded list).
    event.ip = get("fwd").map(|f| Cow::Owned(f.split(',').next().unwrap_or("").trim().to_string()));
    event.evidence.push(EvidenceLine {
        line: line_no,
        text: Cow::Owned(text.to_string()),
    });
    Some(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_router_line_for_the_token_endpoint_is_a_token_response() {
        // The router line's shape as Heroku's routing article shows it.
        let line = r#"at=info method=POST path="/oauth/token" host=myapp.herokuapp.com request_id=8601b555-6a83-4c12-8269-97c8e32cdb22 fwd="204.204.204.204" dyno=web.1 connect=1ms service=18ms status=400 bytes=975 protocol=https"#;
        let e = router_event(3, line, Format::Rails).expect("an event");
        assert_eq!(e.kind, EventKind::TokenResponse);
        assert_eq!(e.status, Some(400));
        assert_eq!(e.method.as_deref(), Some("POST"));
        assert_eq!(
            e.request_id.as_deref(),
            Some("8601b555-6a83-4c12-8269-97c8e32cdb22")
        );
        assert_eq!(e.ip.as_deref(), Some("204.204.204.204"));
        assert_eq!(e.line(), 3);
        let other = r#"at=info method=GET path="/posts" host=myapp.herokuapp.com status=200"#;
        assert!(router_event(4, other, Format::Rails).is_none());
    }
}
