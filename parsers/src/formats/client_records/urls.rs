//! URLs client apps print: AppAuth-Android's debug lines around a code
//! exchange, authorize request URLs, and the redirect that carries the
//! authorization code back to the app; and what a URL says about the server
//! behind it.
//!
//! Invariant: the input is already redacted (a code is a `[REDACTED fp=...]`
//! marker, which URL scanning steps over).

use std::borrow::Cow;

use crate::common;
use crate::event::{Event, EventKind, ServerKind};
use crate::format::Format;
use crate::grant::GrantType;

/// AppAuth-Android DEBUG lines around a token request.
pub(super) fn appauth_debug(msg: &str, format: Format) -> Option<Event<'_>> {
    let (kind, url) = if let Some(p) = msg.find("Initiating code exchange request to ") {
        let url = &msg[p + "Initiating code exchange request to ".len()..];
        (EventKind::TokenRequest, url.split_whitespace().next()?)
    } else {
        let p = msg.find("Token exchange with ")?;
        let url = msg[p + "Token exchange with ".len()..].strip_suffix(" completed")?;
        (EventKind::TokenResponse, url.trim())
    };
    let mut ev = Event::new(kind, format);
    if kind == EventKind::TokenResponse {
        // AppAuth logs this only after a 200 whose tokens parsed and validated.
        ev.status = Some(200);
    } else {
        // "Initiating code exchange": AppAuth's authorization-code exchange.
        ev.grant_type = Some(GrantType::AuthorizationCode);
    }
    ev.path = Some(Cow::Borrowed(common::split_url(url).0));
    ev.server = server_from_url(url);
    Some(ev)
}

/// A URL token inside a message that contains `needle`.
fn url_around<'t>(msg: &'t str, needle: &str) -> Option<&'t str> {
    let p = msg.find(needle)?;
    let start = msg[..p]
        .rfind([' ', '\t', '"', '\'', '(', '[', '<', '='])
        .map_or(0, |s| s + 1);
    let end = url_end(msg, p);
    let url = msg[start..end].trim_end_matches([',', '.', ';']);
    url.contains(":/").then_some(url)
}

/// Where a URL that goes through `from` ends; redaction markers
/// (`[REDACTED fp=...]`) inside it are stepped over.
fn url_end(msg: &str, from: usize) -> usize {
    let mut i = from;
    while let Some(e) = msg[i..].find([' ', '\t', '"', '\'', ')', ']', '>', '[']) {
        let at = i + e;
        if msg[at..].starts_with("[REDACTED")
            && let Some(close) = msg[at..].find(']')
        {
            i = at + close + 1;
            continue;
        }
        return at;
    }
    msg.len()
}

/// `https://idp/.../authorize?client_id=...&code_challenge=...` printed by an app.
pub(super) fn authorize_url(msg: &str, format: Format) -> Option<Event<'_>> {
    let url = url_around(msg, "/authorize?")?;
    let (path, query) = common::split_url(url);
    let query = query?;
    let mut ev = Event::new(EventKind::AuthorizeRequest, format);
    ev.path = Some(Cow::Borrowed(path));
    ev.server = server_from_url(url);
    ev.client_id = common::query_param(query, "client_id");
    ev.redirect_uri = common::query_param(query, "redirect_uri");
    ev.code_challenge = common::query_param(query, "code_challenge");
    ev.code_challenge_method = common::query_param(query, "code_challenge_method");
    Some(ev)
}

/// `com.example.app:/oauthredirect?code=[REDACTED fp=..]&state=...`: the
/// authorization response as the app received it.
pub(super) fn redirect_with_code(msg: &str, format: Format) -> Option<Event<'_>> {
    let needle = if msg.contains("?code=") {
        "?code="
    } else {
        "&code="
    };
    let url = url_around(msg, needle)?;
    let (base, query) = url.split_once('?')?;
    common::query_param(query, "state")?;
    let mut ev = Event::new(EventKind::CodeIssued, format);
    ev.redirect_uri = Some(Cow::Borrowed(base));
    Some(ev)
}

/// The authorization server a token or authorize URL points at, when its
/// host or path names one.
pub(crate) fn server_from_url(url: &str) -> Option<ServerKind> {
    let host = url.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', ':', '?']).next().unwrap_or("")
    });
    let path = common::split_url(url).0;
    let host_is = |suffix: &str| host == suffix || host.ends_with(&format!(".{suffix}"));
    if host_is("okta.com") || host_is("oktapreview.com") {
        Some(ServerKind::Okta)
    } else if host_is("auth0.com") {
        Some(ServerKind::Auth0)
    } else if host_is("login.microsoftonline.com") || host_is("b2clogin.com") {
        Some(ServerKind::Azure)
    } else if host_is("googleapis.com") || host_is("accounts.google.com") {
        Some(ServerKind::Google)
    } else if path.contains("/protocol/openid-connect/") {
        Some(ServerKind::Keycloak)
    } else if path.ends_with("/connect/token") || path.ends_with("/connect/authorize") {
        Some(ServerKind::IdentityServer)
    } else {
        None
    }
}

/// Whether a path is a token endpoint (`/oauth/token`, `/v1/token`, ...).
pub(super) fn is_token_path(path: &str) -> bool {
    path.trim_end_matches('/').ends_with("/token")
}
