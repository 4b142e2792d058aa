//! Free text: what client libraries print around an OAuth error. The
//! exception or library that printed it (ruby `OAuth2::Error`, openid-client
//! `OPError`, google-auth `RefreshError`, MSAL exceptions, AppAuth
//! `AuthorizationException`, flutter `PlatformException`, google-api-client
//! `TokenResponseException`, Spring's `OAuth2AuthenticationException:
//! [code] text`, Go's `oauth2: cannot fetch token: 400 …`), the HTTP status
//! of a status line or a `400 Bad Request`, ADFS `MSIS` and Azure AD B2C
//! `AADB2C` codes, and, through [`crate::providers::recognize`], bare error
//! names with the description printed after them (`invalid_grant: …`,
//! `x (y)`, `"x" "y"`), AADSTS codes and the providers' own words.
//!
//! Invariant: every slice boundary is an ASCII byte a search returned.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::event::ServerKind;
use crate::grant::GrantType;
use crate::needle::Needle;
use crate::providers;

use super::oauth_error::{OAuthError, is_error_code};

/// A client library's OAuth exception or error text: the needle, the name
/// reported, and the server it implies (only when the library talks to one
/// server).
const LIBRARIES: &[(&str, &str, Option<ServerKind>)] = &[
    ("OAuth2::Error", "OAuth2::Error (ruby oauth2)", None),
    ("OPError", "OPError (openid-client)", None),
    (
        "RefreshError",
        "RefreshError (google-auth)",
        Some(ServerKind::Google),
    ),
    (
        "MsalUiRequiredException",
        "MsalUiRequiredException (MSAL)",
        Some(ServerKind::Azure),
    ),
    (
        "MsalServiceException",
        "MsalServiceException (MSAL)",
        Some(ServerKind::Azure),
    ),
    (
        "MsalClientException",
        "MsalClientException (MSAL)",
        Some(ServerKind::Azure),
    ),
    (
        "InteractionRequiredAuthError",
        "InteractionRequiredAuthError (MSAL.js)",
        Some(ServerKind::Azure),
    ),
    (
        "AuthorizationException",
        "AuthorizationException (AppAuth)",
        None,
    ),
    (
        "PlatformException(",
        "PlatformException (flutter_appauth)",
        None,
    ),
    (
        "TokenResponseException",
        "TokenResponseException (google-api-client)",
        None,
    ),
    (
        "OAuth2AuthenticationException",
        "OAuth2AuthenticationException (Spring Security)",
        None,
    ),
    (
        "OAuth2AuthorizationException",
        "OAuth2AuthorizationException (Spring Security)",
        None,
    ),
    (
        "InvalidGrantException",
        "InvalidGrantException (spring-security-oauth2)",
        None,
    ),
    ("InvalidGrantError", "InvalidGrantError (oauthlib)", None),
    ("oauth2: cannot fetch token", "golang.org/x/oauth2", None),
];

static LIBRARY_AC: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(LIBRARIES.iter().map(|(n, ..)| n))
        .unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
});

/// The free-text reading of `text`; `so_far` is what the structured layers
/// found (an exception's message is a description only when they found
/// none).
pub(super) fn scan<'t>(text: &'t str, so_far: &OAuthError<'_>) -> OAuthError<'t> {
    let mut found = OAuthError::default();
    // The catalog's identifying texts (for `recognize`) and its sentences
    // (below) in one pass over `text`.
    let hits = crate::catalog::catalog().hits_in(text, true);
    if let Some(m) = providers::recognize_with(text, &hits) {
        found.server = m.server;
        found.provider_code = m.code;
        found.error = m.error;
        found.description = m.description;
    }
    if let Some((error, description)) = flutter_pair(text) {
        found.error = found.error.or(error.map(Cow::Borrowed));
        found.description = found.description.or(description.map(Cow::Borrowed));
    }
    if let Some(code) = prefixed_code(text, &AADB2C) {
        found.provider_code.get_or_insert(Cow::Borrowed(code));
        found.server.get_or_insert(ServerKind::Azure);
    }
    if let Some(code) = prefixed_code(text, &MSIS) {
        found.provider_code.get_or_insert(Cow::Borrowed(code));
    }
    if let Some(m) = LIBRARY_AC.find(text) {
        let (_, name, server) = LIBRARIES[m.pattern().as_usize()];
        found.library = Some(name);
        found.server = found.server.or(server);
        let message = exception_message(&text[m.end()..]);
        if let Some((code, rest)) = bracketed_code(message) {
            // Spring: `OAuth2AuthenticationException: [invalid_request] text`.
            found.error.get_or_insert(Cow::Borrowed(code));
            if !rest.is_empty() {
                found.description.get_or_insert(Cow::Borrowed(rest));
            }
        } else if so_far.description.is_none()
            && so_far.error.is_none()
            && found.error.is_none()
            && is_message(message)
        {
            found.description.get_or_insert(Cow::Borrowed(message));
        }
    }
    if found.description.is_none()
        && so_far.description.is_none()
        && let Some(hit) = hits.words()
    {
        // A provider's sentence with no key or error name before it (Dex's
        // refresh text printed alone, an SDK's `CAUSE: …`): the sentence is
        // the description.
        let span = &text[hit.start..];
        let from = hit.entry.text.len().min(span.len());
        let end =
            memchr::memchr2(b'\n', b'"', &span.as_bytes()[from..]).map_or(span.len(), |e| from + e);
        found.description = Some(Cow::Borrowed(span[..end].trim_end()));
    }
    if found.provider_code.is_none()
        && let Some((key, flash)) = omniauth_failure(text)
    {
        found.provider_code = Some(Cow::Borrowed(key));
        found.library.get_or_insert("omniauth-oauth2");
        if found.hint.is_none() {
            found.hint = flash.map(Cow::Borrowed);
        }
    }
    if let Some(name) = google_jwt_bearer_client(text) {
        // The library is the only witness of the grant here: it sends no
        // other, and to no other server.
        found.library.get_or_insert(name);
        found.server.get_or_insert(ServerKind::Google);
        found.grant = GrantType::JwtBearer.known_name();
    }
    found.status = status_line(text);
    found
}

/// Node clients that only ever send Google a service account's signed JWT
/// (a `urn:ietf:params:oauth:grant-type:jwt-bearer` grant), known by what
/// they leave in an error: gtoken's frames (`node_modules/gtoken/`; it
/// throws `Error: invalid_grant`, googleapis/node-gtoken src/lib/index.ts)
/// and google-oauth-jwt's own message `access token request failed (HTTP
/// 400) : {body}` (extrabacon/google-oauth-jwt lib/auth.js; the space before
/// the colon tells it from other libraries' `… failed (HTTP 400): …`).
fn google_jwt_bearer_client(text: &str) -> Option<&'static str> {
    static GTOKEN: Needle = Needle::new("node_modules/gtoken/");
    static MESSAGE: Needle = Needle::new("access token request failed (HTTP ");
    if GTOKEN.is_in(text) {
        return Some("gtoken");
    }
    let at = MESSAGE.find(text)? + MESSAGE.text().len();
    let rest = &text[at..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (digits == 3 && rest[digits..].starts_with(") : ")).then_some("google-oauth-jwt")
}

/// omniauth-oauth2's failure for a token request that failed: it rescues
/// the `OAuth2::Error` of the code exchange as `invalid_credentials`, which
/// OmniAuth logs (`(github) Authentication failure! invalid_credentials:
/// OAuth2::Error, …`) and Devise shows (`Could not authenticate you from
/// GitHub because "Invalid credentials".`). Its other failure keys
/// (`csrf_detected`, `access_denied`, `timeout`) are no token error, or
/// are read as error names already.
///
/// Devise's sentence is also returned: it is a page's flash message, set by
/// `Devise::OmniauthCallbacksController#failure` after the callback phase
/// failed, not a log line, so the diagnosis reads it apart (see
/// [`super::omniauth::DEVISE_FLASH`]).
fn omniauth_failure(text: &str) -> Option<(&'static str, Option<&str>)> {
    const KEY: &str = "invalid_credentials";
    const REASON: &str = "\"Invalid credentials\"";
    static FAILURE: Needle = Needle::new("Authentication failure! ");
    static FLASH: Needle = Needle::new(super::omniauth::DEVISE_FLASH);
    static BECAUSE: Needle = Needle::new(" because ");
    let logged = FAILURE
        .find(text)
        .is_some_and(|p| text[p + FAILURE.text().len()..].starts_with(KEY));
    let flash = FLASH.find(text).and_then(|p| {
        let b = p + BECAUSE.find(&text[p..])? + BECAUSE.text().len();
        text[b..].starts_with(REASON).then(|| {
            let end = b + REASON.len();
            // With Devise's closing period when the page kept it.
            let end = end + usize::from(text[end..].starts_with('.'));
            &text[p..end]
        })
    });
    (logged || flash.is_some()).then_some((KEY, flash))
}

/// Server and provider code from the description when no layer gave them
/// (a provider's verbatim text, an AADSTS number inside the description).
pub(super) fn identify(found: &mut OAuthError<'_>) {
    if found.server.is_some() && found.provider_code.is_some() {
        return;
    }
    let Some((server, code)) = found.description.as_deref().and_then(providers::identify) else {
        return;
    };
    found.server.get_or_insert(server);
    if found.provider_code.is_none() {
        found.provider_code = code.map(Cow::Borrowed);
    }
}

/// flutter_appauth (Android): `[error: x, description: y]`, either side
/// possibly `null`.
fn flutter_pair(text: &str) -> Option<(Option<&str>, Option<&str>)> {
    static OPEN: Needle = Needle::new("[error: ");
    let p = OPEN.find(text)?;
    let after = &text[p + OPEN.text().len()..];
    let close = after.find(']').unwrap_or(after.len());
    let inner = &after[..close];
    let (error, description) = match inner.split_once(", description: ") {
        Some((e, d)) => (e, Some(d)),
        None => (inner.trim_end_matches(','), None),
    };
    fn keep(s: &str) -> Option<&str> {
        let s = s.trim();
        (!s.is_empty() && s != "null").then_some(s)
    }
    Some((
        keep(error).filter(|e| is_error_code(e)),
        description.and_then(keep),
    ))
}

static AADB2C: Needle = Needle::new("AADB2C");
static MSIS: Needle = Needle::new("MSIS");

/// `PREFIX` followed by digits (`AADB2C90080`, `MSIS9612`), as a whole word.
fn prefixed_code<'t>(text: &'t str, prefix: &'t Needle) -> Option<&'t str> {
    let bytes = text.as_bytes();
    prefix.find_iter(text).find_map(|start| {
        if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            return None;
        }
        let digits_at = start + prefix.text().len();
        let digits = bytes[digits_at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        (digits >= 4).then(|| &text[start..digits_at + digits])
    })
}

/// The message after an exception name: past `: `, `(` or `, :`, up to the
/// end of its line (a real or an escaped line break).
fn exception_message(rest: &str) -> &str {
    let rest = rest.trim_start_matches(['(', ':', ',', ' ']);
    let end = [
        rest.find('\n'),
        rest.find('\r'),
        rest.find("\\n"),
        rest.find("\\r"),
        rest.find(" Trace ID:"),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(rest.len());
    rest[..end].trim()
}

/// `[code] rest` where `code` has the shape of an error code.
fn bracketed_code(message: &str) -> Option<(&str, &str)> {
    let inner = message.strip_prefix('[')?;
    let close = inner.find(']')?;
    let code = inner[..close].trim();
    is_error_code(code).then(|| (code, inner[close + 1..].trim()))
}

/// Whether an exception's message says something: words, not a bare status
/// line (`400 Bad Request`), a JSON body (read by the JSON layer) or
/// punctuation.
fn is_message(message: &str) -> bool {
    if message.starts_with(['{', '[', '"']) || status_phrase(message).is_some() {
        return false;
    }
    message.bytes().filter(u8::is_ascii_alphabetic).count() >= 8
}

/// Status lines by their reason phrase, each searched for as a [`Needle`].
static REASONS: [(Needle, u16); 7] = [
    (Needle::new("400 Bad Request"), 400),
    (Needle::new("401 Unauthorized"), 401),
    (Needle::new("403 Forbidden"), 403),
    (Needle::new("404 Not Found"), 404),
    (Needle::new("500 Internal Server Error"), 500),
    (Needle::new("502 Bad Gateway"), 502),
    (Needle::new("503 Service Unavailable"), 503),
];

/// A message that is only a status line: `400 Bad Request`, `(400)`.
fn status_phrase(message: &str) -> Option<u16> {
    let m = message.trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace());
    REASONS
        .iter()
        .find(|(r, _)| m == r.text())
        .map(|(_, s)| *s)
        .or_else(|| m.parse().ok().filter(|s| (400..600).contains(s)))
}

/// The HTTP status a status line shows: `HTTP/1.1 400`, `HTTP/2 401`, or a
/// `400 Bad Request`-style code and reason anywhere.
fn status_line(text: &str) -> Option<u16> {
    static HTTP: Needle = Needle::new("HTTP/");
    let bytes = text.as_bytes();
    for start in HTTP.find_iter(text) {
        let rest = &text[start + 5..];
        let version = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let after = rest[version..].trim_start_matches(' ').as_bytes();
        if after.len() >= 3
            && after[..3].iter().all(u8::is_ascii_digit)
            && after.get(3).is_none_or(|b| !b.is_ascii_digit())
        {
            let s = after[..3]
                .iter()
                .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
            if (100..600).contains(&s) {
                return Some(s);
            }
        }
    }
    REASONS
        .iter()
        .filter_map(|(r, s)| r.find(text).map(|p| (p, *s)))
        .filter(|(p, _)| *p == 0 || !bytes[p - 1].is_ascii_digit())
        .min_by_key(|(p, _)| *p)
        .map(|(_, s)| s)
}
