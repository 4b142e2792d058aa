//! Who may read: the token check of every request, and the browser session
//! that stands in for the token once signed in (the sign-in and sign-out
//! pages that set and clear it are in `login.rs`).
//!
//! When a token is set, a request passes with `Authorization: Bearer
//! <token>` or with the session cookie [`SESSION_COOKIE`]; `/healthz`,
//! `/login`, `/logout` and `/static/style.css` pass without either. Without
//! them a program's path (`/api`, `/metrics`) answers today's JSON 401 asking
//! for a bearer token, and a page answers 303 to `/login?next=<the page>`.
//!
//! The token is kept only as its SHA-256. The cookie's value is derived from
//! the token (SHA-256 over a domain-separation label and the token), so a
//! leaked cookie does not reveal the token; both are compared in constant
//! time. The cookie is `HttpOnly; SameSite=Strict; Path=/` but not `Secure`:
//! grantwatch serves plain HTTP, and a `Secure` cookie would never come back
//! (beyond a trusted network, put a TLS proxy in front). A `next` target is
//! only ever a path of this origin ([`local_path`]), never another site.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{AppState, WebError, is_machine_path};

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "grantwatch_session";

/// What the cookie's value hashes before the token: a cookie value is never
/// the SHA-256 of the token alone, nor a hash another use of it would give.
const SESSION_LABEL: &[u8] = b"grantwatch session cookie v1\0";

/// The `Set-Cookie` value that removes the session.
pub(super) const CLEARED_COOKIE: &str =
    "grantwatch_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0";

/// The paths a visitor reaches without the token: the health check, the
/// sign-in and sign-out, and the stylesheet of the sign-in page.
const PUBLIC_PATHS: [&str; 4] = ["/healthz", "/login", "/logout", "/static/style.css"];

tokio::task_local! {
    /// Whether the request being answered passed the token check with a
    /// token set: the page header then shows "Sign out". A task-local
    /// rather than a field of every page, so that the error pages (rendered
    /// without the state) show it too.
    static SIGNED_IN: bool;
}

/// Whether the page being rendered is for a signed-in visitor (read by
/// `templates/base.html`; false outside a request).
pub(crate) fn signed_in() -> bool {
    SIGNED_IN.try_with(|s| *s).unwrap_or(false)
}

/// The token, kept as its SHA-256 so that comparing takes the same time
/// whatever the length or content of the candidate, and the session cookie
/// derived from it.
#[derive(Clone)]
pub(super) struct Token {
    digest: [u8; 32],
    /// The cookie's value: hex of SHA-256(label, token).
    session: String,
    /// SHA-256 of `session`, what a candidate cookie's hash is compared to.
    session_digest: [u8; 32],
}

impl Token {
    pub(super) fn new(token: &str) -> Token {
        let session = hex(&sha256(&[SESSION_LABEL, token.as_bytes()].concat()));
        Token {
            digest: sha256(token.as_bytes()),
            session_digest: sha256(session.as_bytes()),
            session,
        }
    }

    /// Whether `candidate` is the token (constant time).
    pub(super) fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(&self.digest, &sha256(candidate.as_bytes()))
    }

    /// Whether the headers carry `Authorization: Bearer <this token>`.
    fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, candidate)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer") && self.matches(candidate.trim())
    }

    /// Whether the headers carry this token's session cookie.
    fn accepts_session(&self, headers: &HeaderMap) -> bool {
        session_cookies(headers)
            .any(|value| constant_time_eq(&self.session_digest, &sha256(value.as_bytes())))
    }

    /// Whether the headers carry the bearer token or the session cookie.
    pub(super) fn allows(&self, headers: &HeaderMap) -> bool {
        self.accepts(headers) || self.accepts_session(headers)
    }

    /// The `Set-Cookie` value that signs a browser in. No `Secure`:
    /// grantwatch serves plain HTTP, where the browser would drop it.
    pub(super) fn session_cookie(&self) -> String {
        format!(
            "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            self.session
        )
    }
}

/// The values of every `grantwatch_session` pair in the `Cookie` headers
/// (a browser may send more than one with the same name). Parsed here: the
/// `name=value; name=value` form is all that is needed, and a cookie crate
/// would bring a date library for the attributes grantwatch only writes.
fn session_cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(bytes));
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// `next` when it is a path of this origin, else `/`: it starts with one
/// `/` (`//host` is another site), and holds only visible ASCII without a
/// backslash (browsers read `\` as `/` and drop tabs and line feeds, so
/// `/\host` or `/<TAB>/host` would be another site too).
pub(super) fn local_path(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if local { next } else { "/" }
}

/// A 303 See Other to `location` (a local path or a percent-encoded one:
/// always a valid header value, else a 500 rather than a panic).
pub(super) fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The sign-in page, coming back to `uri` afterwards.
fn to_login(uri: &Uri) -> Response {
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    see_other(&format!("/login?next={}", super::pages::encode(target)))
}

/// The token check (a middleware of every route).
pub(super) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    let signed_in = token.allows(request.headers());
    let path = request.uri().path();
    if signed_in || PUBLIC_PATHS.contains(&path) {
        SIGNED_IN.scope(signed_in, next.run(request)).await
    } else if is_machine_path(path) {
        WebError::Unauthorized.into_response()
    } else {
        to_login(request.uri())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).expect("ascii"));
        h
    }

    #[test]
    fn the_token_check_wants_the_bearer_scheme_and_the_exact_token() {
        let token = Token::new("s3cret");
        let auth = |v: &str| with(header::AUTHORIZATION, v);
        assert!(token.accepts(&auth("Bearer s3cret")));
        assert!(token.accepts(&auth("bearer s3cret")));
        assert!(!token.accepts(&auth("Bearer s3cre")));
        assert!(!token.accepts(&auth("Bearer s3cret2")));
        assert!(!token.accepts(&auth("Basic s3cret")));
        assert!(!token.accepts(&auth("s3cret")));
        assert!(!token.accepts(&HeaderMap::new()));
    }

    #[test]
    fn the_session_cookie_is_derived_from_the_token_and_checked() {
        let token = Token::new("s3cret");
        let set = token.session_cookie();
        let value = set
            .strip_prefix("grantwatch_session=")
            .and_then(|rest| rest.split(';').next())
            .expect("a value");
        assert_eq!(value.len(), 64, "hex of SHA-256");
        assert!(!value.contains("s3cret"));
        assert_ne!(value, hex(&sha256(b"s3cret")), "not the bare hash");
        assert_ne!(value, Token::new("other").session, "one per token");
        let cookie = |v: &str| with(header::COOKIE, v);
        assert!(token.allows(&cookie(&format!("a=b; grantwatch_session={value}"))));
        assert!(token.allows(&cookie(&format!("grantwatch_session={value};x=y"))));
        let mut tampered = value.to_owned();
        tampered.replace_range(..1, if value.starts_with('0') { "1" } else { "0" });
        assert!(!token.allows(&cookie(&format!("grantwatch_session={tampered}"))));
        assert!(!token.allows(&cookie("grantwatch_session=s3cret")));
        assert!(!token.allows(&cookie(&format!("other_session={value}"))));
        assert!(!token.allows(&cookie("grantwatch_session=")));
    }

    #[test]
    fn next_is_a_local_path_or_the_overview() {
        for local in [
            "/",
            "/failures",
            "/failures?cause=code_reused&page=2",
            "/a/b%2F/c",
        ] {
            assert_eq!(local_path(local), local);
        }
        for other in [
            "",
            "failures",
            "//evil.example",
            "//evil.example/path",
            "https://evil.example",
            "javascript:alert(1)",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/é",
        ] {
            assert_eq!(local_path(other), "/", "{other:?}");
        }
    }

    #[test]
    fn the_sign_in_redirect_keeps_the_page_and_its_query() {
        let uri: Uri = "/failures?cause=code_reused&page=2".parse().expect("uri");
        let response = to_login(&uri);
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[header::LOCATION],
            "/login?next=%2Ffailures%3Fcause%3Dcode_reused%26page%3D2"
        );
    }
}
