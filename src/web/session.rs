//! The token and the browser sessions that stand in for it once signed in:
//! what `auth.rs` checks every request against and `login.rs` opens and
//! ends sessions with. A leaf that [`super::AppState`] holds, so
//! that the token check and the sign-in pages (which read the state) and
//! the state do not import each other.
//!
//! The token is kept only as its SHA-256. A session is a random 256-bit
//! value made at each sign-in, never derived from the token: the server
//! keeps the SHA-256 of each live session ([`Sessions`]), signing out
//! removes it (a copied cookie stops working at once), and a restart signs
//! everyone out. At most [`MAX_SESSIONS`] are kept (the oldest goes first),
//! each for [`SESSION_LIFETIME`]. Candidates are compared by their hash, in
//! constant time for the token. The cookie is `HttpOnly; SameSite=Strict;
//! Path=/` but not `Secure`: grantwatch serves plain HTTP, and a `Secure`
//! cookie would never come back (beyond a trusted network, put a TLS proxy
//! in front).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use grantwatch_parsers::hex::lower_hex as hex;
use sha2::{Digest, Sha256};

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "grantwatch_session";

/// The most sessions kept at once: signing in more often drops the oldest.
pub(super) const MAX_SESSIONS: usize = 1024;

/// How long a session lasts after signing in.
pub(super) const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// The token, kept as its SHA-256 so that comparing takes the same time
/// whatever the length or content of the candidate, and the sessions of
/// the browsers signed in with it.
#[derive(Clone)]
pub(super) struct Token {
    digest: [u8; 32],
    sessions: Arc<Sessions>,
}

/// The live sessions: SHA-256 of each cookie value, with when it was made.
#[derive(Default)]
pub(super) struct Sessions {
    live: Mutex<HashMap<[u8; 32], Instant>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Instant>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session's cookie value (64 hex digits of fresh randomness),
    /// or `None` when the system has no randomness to give.
    fn open(&self) -> Option<String> {
        let mut value = [0u8; 32];
        getrandom::fill(&mut value).ok()?;
        let value = hex(&value);
        let now = Instant::now();
        let mut live = self.lock();
        live.retain(|_, made| now.saturating_duration_since(*made) < SESSION_LIFETIME);
        while live.len() >= MAX_SESSIONS {
            let Some(oldest) = live.iter().min_by_key(|(_, made)| **made).map(|(k, _)| *k) else {
                break;
            };
            live.remove(&oldest);
        }
        live.insert(sha256(value.as_bytes()), now);
        Some(value)
    }

    fn is_live(&self, value: &str) -> bool {
        self.lock()
            .get(&sha256(value.as_bytes()))
            .is_some_and(|made| made.elapsed() < SESSION_LIFETIME)
    }

    fn close(&self, value: &str) {
        self.lock().remove(&sha256(value.as_bytes()));
    }
}

impl Token {
    pub(super) fn new(token: &str) -> Token {
        Token {
            digest: sha256(token.as_bytes()),
            sessions: Arc::new(Sessions::default()),
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

    /// Whether the headers carry a live session cookie.
    fn accepts_session(&self, headers: &HeaderMap) -> bool {
        session_cookies(headers).any(|value| self.sessions.is_live(value))
    }

    /// Whether the headers carry the bearer token or the session cookie.
    pub(super) fn allows(&self, headers: &HeaderMap) -> bool {
        self.accepts(headers) || self.accepts_session(headers)
    }

    /// Opens a session: the `Set-Cookie` value that signs a browser in (no
    /// `Secure`: grantwatch serves plain HTTP, where the browser would drop
    /// it), or `None` without randomness.
    pub(super) fn session_cookie(&self) -> Option<String> {
        let value = self.sessions.open()?;
        Some(format!(
            "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/"
        ))
    }

    /// Ends the sessions the headers carry (signing out).
    pub(super) fn revoke(&self, headers: &HeaderMap) {
        for value in session_cookies(headers) {
            self.sessions.close(value);
        }
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

/// Compares without an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
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

    fn value_of(set_cookie: &str) -> String {
        set_cookie
            .strip_prefix("grantwatch_session=")
            .and_then(|rest| rest.split(';').next())
            .expect("a value")
            .to_owned()
    }

    #[test]
    fn each_sign_in_is_a_new_random_session_and_signing_out_ends_it() {
        let token = Token::new("s3cret-token-0123");
        let first = value_of(&token.session_cookie().expect("randomness"));
        let second = value_of(&token.session_cookie().expect("randomness"));
        assert_eq!(first.len(), 64, "hex of 256 bits");
        assert_ne!(first, second, "one value per sign-in");
        assert!(!first.contains("s3cret"));
        assert_ne!(
            first,
            hex(&sha256(b"s3cret-token-0123")),
            "not the token's hash"
        );
        let cookie = |v: &str| with(header::COOKIE, v);
        assert!(token.allows(&cookie(&format!("a=b; grantwatch_session={first}"))));
        assert!(token.allows(&cookie(&format!("grantwatch_session={second};x=y"))));
        let mut tampered = first.clone();
        tampered.replace_range(..1, if first.starts_with('0') { "1" } else { "0" });
        assert!(!token.allows(&cookie(&format!("grantwatch_session={tampered}"))));
        assert!(!token.allows(&cookie("grantwatch_session=s3cret-token-0123")));
        assert!(!token.allows(&cookie(&format!("other_session={first}"))));
        assert!(!token.allows(&cookie("grantwatch_session=")));
        // Signing out ends that session only.
        token.revoke(&cookie(&format!("grantwatch_session={first}")));
        assert!(!token.allows(&cookie(&format!("grantwatch_session={first}"))));
        assert!(token.allows(&cookie(&format!("grantwatch_session={second}"))));
        // Another server (another token, or a restart) knows none of them.
        let other = Token::new("s3cret-token-0123");
        assert!(!other.allows(&cookie(&format!("grantwatch_session={second}"))));
    }

    #[test]
    fn sessions_are_bounded_the_oldest_dropped_first() {
        let token = Token::new("s3cret-token-0123");
        let first = value_of(&token.session_cookie().expect("randomness"));
        for _ in 0..MAX_SESSIONS {
            token.session_cookie().expect("randomness");
        }
        assert_eq!(token.sessions.lock().len(), MAX_SESSIONS);
        let cookie = with(header::COOKIE, &format!("grantwatch_session={first}"));
        assert!(!token.allows(&cookie));
    }
}
