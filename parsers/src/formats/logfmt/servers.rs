//! What the token endpoints of logfmt-logging servers say when they refuse a
//! grant, read from their fixed messages:
//!
//! - Authelia (fosite inside): `msg="Access Request failed with error: <fosite
//!   description> <hint>"` on `path=/api/oidc/token`; the description names
//!   the OAuth error, the hint (after the description's closing `. `) is the
//!   reason.
//! - Dex (`server/refreshhandlers.go`): `refresh token with id … claimed
//!   twice`, `… expired`, `… expired due to inactivity`, `client … trying to
//!   claim token for client …`, `clientID … failed to get refresh token ID
//!   …: not found`. Dex answers these with the error its source gives
//!   (`invalid_request` except the cross-client claim, `invalid_grant`).
//!
//! Only fixed heads are matched: no secret can be in them.

/// A token endpoint's refusal read from a message.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refusal<'t> {
    /// The OAuth error the endpoint answered.
    pub error: &'static str,
    /// The error description the endpoint answered, when the log shows it.
    pub description: Option<&'t str>,
    /// The server's own reason.
    pub reason: Option<&'t str>,
    /// The grant type only this message can come from.
    pub grant: Option<&'static str>,
}

/// fosite's descriptions (`errors.go`) by the error they describe.
const FOSITE: &[(&str, &str)] = &[
    ("The provided authorization grant", "invalid_grant"),
    ("Client authentication failed", "invalid_client"),
    (
        "The request is missing a required parameter",
        "invalid_request",
    ),
    ("The requested scope is invalid", "invalid_scope"),
    (
        "The client is not authorized to request a token using this method",
        "unauthorized_client",
    ),
    (
        "The authorization grant type is not supported",
        "unsupported_grant_type",
    ),
    ("Token is inactive", "invalid_grant"),
];

const AUTHELIA_HEAD: &str = "Access Request failed with error: ";

/// Authelia's token endpoint refusal.
fn authelia(msg: &str) -> Option<Refusal<'_>> {
    let text = msg.strip_prefix(AUTHELIA_HEAD)?;
    let (_, error) = FOSITE.iter().find(|(head, _)| text.starts_with(head))?;
    let (description, reason) = match text.find(". ") {
        Some(p) => (
            &text[..=p],
            Some(text[p + 2..].trim()).filter(|r| !r.is_empty()),
        ),
        None => (text, None),
    };
    let grant = reason.and_then(|r| {
        if r.contains("refresh token") {
            Some("refresh_token")
        } else if r.contains("authorization code") || r.contains("PKCE") {
            Some("authorization_code")
        } else {
            None
        }
    });
    Some(Refusal {
        error,
        description: Some(description),
        reason,
        grant,
    })
}

/// Dex's refresh handler messages.
fn dex(msg: &str) -> Option<Refusal<'_>> {
    let refresh = |error| Refusal {
        error,
        description: None,
        reason: Some(msg),
        grant: Some("refresh_token"),
    };
    if msg.starts_with("refresh token with id ")
        && (msg.ends_with(" claimed twice") || msg.contains(" expired"))
    {
        return Some(refresh("invalid_request"));
    }
    if msg.starts_with("client ") && msg.contains(" trying to claim token for client ") {
        return Some(refresh("invalid_grant"));
    }
    if msg.starts_with("clientID ") && msg.contains(" failed to get refresh token ID ") {
        return Some(refresh("invalid_request"));
    }
    None
}

/// The refusal a server message tells, if it is one of the known ones.
pub(super) fn refusal(msg: &str) -> Option<Refusal<'_>> {
    authelia(msg).or_else(|| dex(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// authelia/authelia issue #3913 (Outline refreshing, 2022).
    #[test]
    fn authelia_refresh_not_found() {
        let r = refusal("Access Request failed with error: The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client. The refresh token has not been found: not_found").expect("refusal");
        assert_eq!(r.error, "invalid_grant");
        assert_eq!(
            r.reason,
            Some("The refresh token has not been found: not_found")
        );
        assert_eq!(r.grant, Some("refresh_token"));
        assert!(
            r.description
                .is_some_and(|d| d.ends_with("another client."))
        );
    }

    #[test]
    fn authelia_client_auth() {
        let r = refusal("Access Request failed with error: Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method). The request was determined to be using 'token_endpoint_auth_method' method 'client_secret_post', however the OAuth 2.0 client registration does not allow this method.").expect("refusal");
        assert_eq!(r.error, "invalid_client");
        assert!(r.reason.is_some_and(|x| x.contains("client_secret_post")));
    }

    #[test]
    fn dex_refresh_messages() {
        let r =
            refusal("refresh token with id nbq5xbj3nqcjxbphwkbl6ywpw claimed twice").expect("dex");
        assert_eq!(r.error, "invalid_request");
        assert_eq!(r.grant, Some("refresh_token"));
        assert_eq!(
            refusal("client example-app trying to claim token for client other-app")
                .map(|r| r.error),
            Some("invalid_grant")
        );
        assert!(refusal("refresh token with id x expired due to inactivity").is_some());
        assert!(refusal("login successful: connector \"ldap\"").is_none());
        assert!(refusal("Access Request failed with error: something else").is_none());
    }
}
