//! Redaction: every secret is removed from a line before any parser looks at
//! it, and replaced by a marker that carries a keyed fingerprint.
//!
//! Parsers call [`Redactor::redact`] on each relevant line first and parse the
//! redacted text, so no field they extract can hold a secret. The secrets the
//! redactor found come back as [`Secret`]s, whose fingerprints (and, for a
//! `code_verifier`, its S256 hash; for a JWT, its claims) the parser attaches
//! to the event with [`Redacted::apply_to`].
//!
//! What counts as a secret: the value of a known key (`code`, `refresh_token`,
//! `access_token`, `id_token`, `client_secret`, `password`, `code_verifier`,
//! `assertion`, `client_assertion`, `token`, `secret`) in any of the shapes logs
//! use (`k=v`, `"k"=>"v"`, `"k" => "v"`, `"k":"v"`, `\"k\":\"v\"`, `k: v`,
//! `k: 'v'`), the credentials of an `Authorization: Bearer|Basic` header, and
//! any JWT wherever it appears (its claims are kept, never its signature).
//! Filter placeholders such as `[FILTERED]` are left as they are.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::event::{Event, Fingerprint, JwtClaims};

/// What kind of secret a value was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// An authorization code.
    Code,
    /// A refresh token.
    RefreshToken,
    /// An access token.
    AccessToken,
    /// An ID token.
    IdToken,
    /// A PKCE code verifier.
    CodeVerifier,
    /// A `client_assertion` or jwt-bearer `assertion`.
    Assertion,
    /// A client secret, a password or `Basic` credentials.
    Credential,
    /// A token of unknown kind (`token=` of a revoke call, a bearer token, a
    /// bare JWT).
    Token,
}

/// One secret found in a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    /// What it was.
    pub kind: SecretKind,
    /// Keyed fingerprint of the (percent-decoded) value.
    pub fingerprint: Fingerprint,
    /// For a code verifier: BASE64URL(SHA256(verifier)).
    pub s256: Option<String>,
    /// For a JWT: its claims.
    pub claims: Option<JwtClaims>,
}

/// A line with its secrets replaced, and what was replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redacted<'a> {
    /// The redacted text (borrowed when there was nothing to replace).
    pub text: Cow<'a, str>,
    /// The secrets found, in order of appearance.
    pub secrets: Vec<Secret>,
}

impl Redacted<'_> {
    /// Attaches the fingerprints, verifier hash and JWT claims to `event`.
    /// An authorization code, refresh token or assertion fills the matching
    /// fingerprint if it is still empty.
    pub fn apply_to(&self, event: &mut Event<'_>) {
        for s in &self.secrets {
            match s.kind {
                SecretKind::Code => {
                    event.code_fp.get_or_insert(s.fingerprint);
                }
                SecretKind::RefreshToken => {
                    event.refresh_token_fp.get_or_insert(s.fingerprint);
                }
                SecretKind::Assertion => {
                    event.assertion_fp.get_or_insert(s.fingerprint);
                    if event.jwt.is_none() {
                        event.jwt.clone_from(&s.claims);
                    }
                }
                SecretKind::CodeVerifier => {
                    event.verifier_sent = Some(true);
                    if event.verifier_s256.is_none() {
                        event.verifier_s256.clone_from(&s.s256);
                    }
                }
                SecretKind::IdToken | SecretKind::AccessToken | SecretKind::Token => {
                    if event.jwt.is_none() {
                        event.jwt.clone_from(&s.claims);
                    }
                }
                SecretKind::Credential => {}
            }
        }
    }

    /// The first secret of `kind`, if any.
    pub fn find(&self, kind: SecretKind) -> Option<&Secret> {
        self.secrets.iter().find(|s| s.kind == kind)
    }
}

/// Replaces secrets with fingerprint markers. Cheap to clone; one per
/// deployment key.
#[derive(Clone)]
pub struct Redactor {
    key: [u8; 32],
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor { key: <hidden> }")
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor::new(b"grantwatch default fingerprint key")
    }
}

/// The keys whose values are secrets, with their kind. Order matters only for
/// the automaton; matches are checked for word boundaries afterwards.
const SECRET_KEYS: &[(&str, SecretKind)] = &[
    ("code", SecretKind::Code),
    ("refresh_token", SecretKind::RefreshToken),
    ("access_token", SecretKind::AccessToken),
    ("id_token", SecretKind::IdToken),
    ("code_verifier", SecretKind::CodeVerifier),
    ("client_assertion", SecretKind::Assertion),
    ("assertion", SecretKind::Assertion),
    ("client_secret", SecretKind::Credential),
    ("password", SecretKind::Credential),
    ("secret", SecretKind::Credential),
    ("token", SecretKind::Token),
    ("refreshToken", SecretKind::RefreshToken),
    ("accessToken", SecretKind::AccessToken),
    ("idToken", SecretKind::IdToken),
    ("codeVerifier", SecretKind::CodeVerifier),
    ("clientSecret", SecretKind::Credential),
    ("Bearer ", SecretKind::Token),
    ("Basic ", SecretKind::Credential),
    ("bearer ", SecretKind::Token),
    ("eyJ", SecretKind::Token),
];

static KEYS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    // Leftmost-longest so `code_verifier` wins over `code`, `refresh_token`
    // over `token`. The patterns are constants, so building cannot fail.
    AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(SECRET_KEYS.iter().map(|(k, _)| k))
        .unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
});

/// Values that are already placeholders: leave them.
const PLACEHOLDERS: &[&str] = &[
    "[FILTERED]",
    "[filtered]",
    "***REDACTED***",
    "[REDACTED",
    "<redacted>",
    "<REDACTED>",
    "null",
    "nil",
    "<nil>",
    "undefined",
    "***",
];

impl Redactor {
    /// A redactor whose fingerprints are keyed with `key` (any length).
    pub fn new(key: &[u8]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"grantwatch-fingerprint-key\0")
            .chain_update(key)
            .finalize();
        let mut k = [0u8; 32];
        k.copy_from_slice(&digest);
        Redactor { key: k }
    }

    /// The keyed fingerprint of a secret value.
    pub fn fingerprint(&self, secret: &str) -> Fingerprint {
        let digest = Sha256::new()
            .chain_update(self.key)
            .chain_update(secret.as_bytes())
            .finalize();
        let mut fp = [0u8; 12];
        fp.copy_from_slice(&digest[..12]);
        Fingerprint(fp)
    }

    /// Replaces every secret in `line` with a marker. Borrows when the line
    /// holds none.
    pub fn redact<'a>(&self, line: &'a str) -> Redacted<'a> {
        let mut out: Option<String> = None;
        let mut secrets = Vec::new();
        let mut copied_to = 0;
        let bytes = line.as_bytes();
        let mut search_from = 0;
        while search_from < line.len() {
            let Some(m) = KEYS.find(&line[search_from..]) else {
                break;
            };
            let (start, end) = (search_from + m.start(), search_from + m.end());
            let (key, kind) = SECRET_KEYS[m.pattern().as_usize()];
            search_from = end;
            let Some(value) = locate_value(bytes, start, end, key) else {
                continue;
            };
            let raw = &line[value.0..value.1];
            if is_placeholder(&line[value.0..]) || !is_secret_value(key, raw) {
                continue;
            }
            let secret = self.describe(kind, key, raw);
            let marker = marker(&secret);
            let buf = out.get_or_insert_with(|| String::with_capacity(line.len() + 32));
            buf.push_str(&line[copied_to..value.0]);
            buf.push_str(&marker);
            copied_to = value.1;
            search_from = value.1;
            secrets.push(secret);
        }
        let text = match out {
            Some(mut buf) => {
                buf.push_str(&line[copied_to..]);
                Cow::Owned(buf)
            }
            None => Cow::Borrowed(line),
        };
        Redacted { text, secrets }
    }

    fn describe(&self, kind: SecretKind, key: &str, raw: &str) -> Secret {
        let decoded = percent_decode(raw);
        let claims = if key == "eyJ" || decoded.starts_with("eyJ") {
            jwt_claims(&decoded)
        } else {
            None
        };
        let kind = if key == "eyJ" {
            SecretKind::Token
        } else {
            kind
        };
        Secret {
            kind,
            fingerprint: self.fingerprint(&decoded),
            s256: (kind == SecretKind::CodeVerifier).then(|| s256(&decoded)),
            claims,
        }
    }
}

/// BASE64URL-ENCODE(SHA256(ASCII(verifier))), as RFC 7636 §4.2 defines it.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The claims of a compact JWT (`header.payload.signature`), if its payload
/// decodes to a JSON object. The signature is ignored.
pub fn jwt_claims(token: &str) -> Option<JwtClaims> {
    let mut parts = token.split('.');
    let _header = parts.next()?;
    let payload = parts.next()?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .or_else(|_| STANDARD.decode(payload))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let obj = value.as_object()?;
    let num = |k: &str| {
        obj.get(k)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    };
    let text = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let aud = match obj.get("aud") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Array(a)) => Some(
            a.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    };
    Some(JwtClaims {
        iat: num("iat"),
        exp: num("exp"),
        nbf: num("nbf"),
        iss: text("iss"),
        aud,
        jti: text("jti"),
    })
}

fn marker(secret: &Secret) -> String {
    let fp = secret.fingerprint.to_hex();
    match &secret.s256 {
        Some(h) => format!("[REDACTED s256={}]", h),
        None => format!("[REDACTED fp={}]", &fp[..12]),
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Where the value introduced by the key match `start..end` lies, if the
/// match is really a key (word boundaries, followed by a separator).
fn locate_value(bytes: &[u8], start: usize, end: usize, key: &str) -> Option<(usize, usize)> {
    if key == "eyJ" {
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric()) {
            return None;
        }
        let stop = scan_while(bytes, start, |b| {
            b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
        });
        let token = &bytes[start..stop];
        let dots = token.iter().filter(|&&b| b == b'.').count();
        return (dots >= 2 && stop - start >= 20).then_some((start, stop));
    }
    if start > 0 && is_word_byte(bytes[start - 1]) {
        return None;
    }
    if key.ends_with(' ') {
        // `Bearer xyz` / `Basic xyz`: the value starts right after the space.
        let stop = scan_while(bytes, end, |b| !is_value_end(b));
        return (stop > end).then_some((end, stop));
    }
    let mut i = end;
    // Closing quote (escaped or not) of a quoted key.
    if bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'"') {
        i += 2;
    } else if matches!(bytes.get(i), Some(b'"') | Some(b'\'')) {
        i += 1;
    } else if bytes.get(i).is_some_and(|&b| is_word_byte(b)) {
        return None;
    }
    // Separator: `=`, `=>`, ` => `, `:`, `: `.
    let sep_start = i;
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    match bytes.get(i) {
        Some(b'=') => {
            i += 1;
            if bytes.get(i) == Some(&b'>') {
                i += 1;
            }
        }
        Some(b':') => i += 1,
        _ => return None,
    }
    if i - sep_start > 6 {
        return None;
    }
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    // Opening quote of the value.
    if bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'"') {
        i += 2;
    } else if matches!(bytes.get(i), Some(b'"') | Some(b'\'')) {
        i += 1;
    }
    let stop = scan_while(bytes, i, |b| !is_value_end(b));
    (stop > i).then_some((i, stop))
}

fn is_value_end(b: u8) -> bool {
    matches!(
        b,
        b'&' | b' '
            | b'\t'
            | b'"'
            | b'\''
            | b','
            | b';'
            | b')'
            | b']'
            | b'}'
            | b'>'
            | b'\\'
            | b'\r'
            | b'\n'
    )
}

fn scan_while(bytes: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| !keep(b))
        .map_or(bytes.len(), |p| from + p)
}

fn is_placeholder(value_onwards: &str) -> bool {
    PLACEHOLDERS.iter().any(|p| value_onwards.starts_with(p))
}

fn is_secret_value(key: &str, raw: &str) -> bool {
    if raw.is_empty() {
        return false;
    }
    match key {
        // `"code":2002` (AppAuth), `code=400`, `code: -10`: numbers are error
        // codes, not authorization codes.
        "code" => !raw.bytes().all(|b| b.is_ascii_digit() || b == b'-'),
        // `token_type=Bearer`-like words and `token=` flags are short; real
        // tokens are not.
        "token" | "secret" => raw.len() >= 8,
        _ => true,
    }
}

/// Percent-decodes a query or form value (`+` is a space). Invalid escapes
/// are kept as they are.
pub fn percent_decode(raw: &str) -> Cow<'_, str> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::new(b"test")
    }

    #[test]
    fn redirect_code_is_replaced_and_fingerprinted() {
        let line = r#"Redirected to com.example.app:/oauth2redirect?code=6324f49b09e982f36f087f6bfa14559347aab5740f33802f3260b1daca693acd&state=92816b4d"#;
        let red = r().redact(line);
        assert!(!red.text.contains("6324f49b09e982"), "{}", red.text);
        assert!(red.text.contains("&state=92816b4d"));
        assert_eq!(red.secrets.len(), 1);
        assert_eq!(red.secrets[0].kind, SecretKind::Code);
        assert_eq!(
            red.secrets[0].fingerprint,
            r().fingerprint("6324f49b09e982f36f087f6bfa14559347aab5740f33802f3260b1daca693acd")
        );
    }

    #[test]
    fn ruby_hash_shapes_old_and_new() {
        for line in [
            r#"  Parameters: {"grant_type"=>"authorization_code", "code"=>"abcDEF123456", "code_verifier"=>"pYl3mN0cZb8wQ1rT5uV7xA9sD2fG4hJ6kL8zX0cV2bN", "client_secret"=>"[FILTERED]"}"#,
            r#"  Parameters: {"grant_type" => "authorization_code", "code" => "abcDEF123456", "code_verifier" => "pYl3mN0cZb8wQ1rT5uV7xA9sD2fG4hJ6kL8zX0cV2bN", "client_secret" => "[FILTERED]"}"#,
        ] {
            let red = r().redact(line);
            assert!(!red.text.contains("abcDEF123456"), "{}", red.text);
            assert!(!red.text.contains("pYl3mN0cZb8w"), "{}", red.text);
            assert!(red.text.contains("[FILTERED]"));
            assert!(red.text.contains("\"grant_type\""));
            let v = red.find(SecretKind::CodeVerifier).expect("verifier");
            assert_eq!(
                v.s256.as_deref(),
                Some(s256("pYl3mN0cZb8wQ1rT5uV7xA9sD2fG4hJ6kL8zX0cV2bN").as_str())
            );
        }
    }

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn json_and_escaped_json_keep_their_shape() {
        let line = r#"{"error":"x","refresh_token":"rt-SECRET-1234567","nested":"{\"access_token\":\"at-SECRET-98765432\"}"}"#;
        let red = r().redact(line);
        assert!(!red.text.contains("rt-SECRET"), "{}", red.text);
        assert!(!red.text.contains("at-SECRET"), "{}", red.text);
        let v: serde_json::Value = serde_json::from_str(&red.text).expect("still JSON");
        assert_eq!(v["error"], "x");
    }

    #[test]
    fn words_that_merely_contain_a_key_are_left_alone() {
        let line = r#"grant_type=authorization_code code_challenge=E9Mel status_code=400 error_code=1 "code":2002 token_type=Bearer"#;
        let red = r().redact(line);
        assert_eq!(red.text, line);
        assert!(red.secrets.is_empty());
    }

    #[test]
    fn bearer_basic_and_bare_jwts() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDMwMCwiaXNzIjoiaHR0cHM6Ly9pZHAifQ.c2lnbmF0dXJlLXNlY3JldA";
        let line =
            format!("authorization: Bearer opaque-SECRET-token-123 x assertion={jwt} id {jwt}");
        let red = r().redact(&line);
        assert!(!red.text.contains("opaque-SECRET"), "{}", red.text);
        assert!(!red.text.contains("c2lnbmF0dXJl"), "{}", red.text);
        let a = red.find(SecretKind::Assertion).expect("assertion");
        let claims = a.claims.as_ref().expect("claims");
        assert_eq!(claims.iat, Some(1_700_000_000));
        assert_eq!(claims.exp, Some(1_700_000_300));
        assert_eq!(claims.iss.as_deref(), Some("https://idp"));
        let basic = r().redact("Authorization: Basic Y2xpZW50OnNlY3JldA==");
        assert!(!basic.text.contains("Y2xpZW50"), "{}", basic.text);
    }

    #[test]
    fn percent_encoded_code_fingerprints_like_decoded() {
        let a = r().redact("cb?code=ab%2Fcd%3D12345");
        let b = r().redact(r#""code"=>"ab/cd=12345""#);
        assert_eq!(a.secrets[0].fingerprint, b.secrets[0].fingerprint);
    }

    #[test]
    fn fingerprints_depend_on_the_key() {
        assert_ne!(
            Redactor::new(b"a").fingerprint("x"),
            Redactor::new(b"b").fingerprint("x")
        );
    }
}
