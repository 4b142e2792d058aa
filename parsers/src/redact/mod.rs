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

use crate::multi_find::MultiFind;

mod derived;
mod secret;
pub use derived::{jwt_claims, s256};
pub use secret::{Redacted, Redactor, Secret, SecretKind};

/// Its old public path, kept: it moved to a leaf of its own (`percent.rs`)
/// that the providers import.
pub use crate::percent::percent_decode;

/// The keys whose values are secrets, with their kind. Order matters only for
/// the automaton; matches are checked for word boundaries afterwards.
pub(crate) const SECRET_KEYS: &[(&str, SecretKind)] = &[
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
    // .NET property names (Duende's TokenRequestValidationLog).
    ("RefreshToken", SecretKind::RefreshToken),
    ("AccessToken", SecretKind::AccessToken),
    ("IdToken", SecretKind::IdToken),
    ("ClientSecret", SecretKind::Credential),
    ("CodeVerifier", SecretKind::CodeVerifier),
    // Prose that names the secret before printing it (node-oidc-provider
    // `detail=authorization code <code> already consumed`).
    ("authorization code ", SecretKind::Code),
    ("refresh token ", SecretKind::RefreshToken),
    ("Bearer ", SecretKind::Token),
    ("Basic ", SecretKind::Credential),
    ("bearer ", SecretKind::Token),
    ("eyJ", SecretKind::Token),
];

/// Strings every key of [`SECRET_KEYS`] holds, which the search for the
/// keys looks for (`multi_find/anchored.rs`): fewer and less common than the
/// keys' own letters.
const KEY_ANCHORS: &[&str] = &[
    "ode", "oken", "ecret", "ssertion", "assword", "earer ", "asic ", "eyJ",
];

/// The search for [`SECRET_KEYS`] and, after them, Keycloak's
/// [`code_parser_id::CODE_PARSER`], which names no secret but tells the
/// pass for its code ids to run: a search of its own over every line was
/// about 1% of reading a Keycloak log (benches/README.md). It holds an
/// anchor (`ode`), and no key can match across it (none ends with its
/// start, none that starts inside it follows a non-word byte there).
pub(crate) static KEYS: LazyLock<MultiFind> = LazyLock::new(|| {
    // Leftmost-longest so `code_verifier` wins over `code`, `refresh_token`
    // over `token`. The patterns are constants, so building cannot fail.
    MultiFind::with_anchors(
        aho_corasick::MatchKind::LeftmostLongest,
        SECRET_KEYS
            .iter()
            .map(|(k, _)| *k)
            .chain([code_parser_id::CODE_PARSER]),
        KEY_ANCHORS,
    )
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
    /// Replaces every secret in `line` with a marker. Borrows when the line
    /// holds none.
    pub fn redact<'a>(&self, line: &'a str) -> Redacted<'a> {
        let mut out: Option<String> = None;
        let mut secrets = Vec::new();
        let mut copied_to = 0;
        let bytes = line.as_bytes();
        let mut search_from = 0;
        // Whether the line names Keycloak's code parser, outside the
        // values replaced (a marker never does).
        let mut code_parser = false;
        while search_from < line.len() {
            let Some(m) = KEYS.find_from(line, search_from) else {
                break;
            };
            let (start, end) = (m.start(), m.end());
            search_from = end;
            let Some(&(key, kind)) = SECRET_KEYS.get(m.pattern().as_usize()) else {
                code_parser = true;
                continue;
            };
            let Some(value) = locate_value(bytes, start, end, key) else {
                continue;
            };
            let raw = &line[value.0..value.1];
            let shape = Shape::of(bytes, end, value.0);
            if is_placeholder(&line[value.0..])
                || !is_secret_value(key, raw, &line[value.0..], shape)
            {
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
        let mut red = Redacted { text, secrets };
        if code_parser {
            code_parser_id::redact(self, &mut red);
        }
        red
    }

    fn describe(&self, kind: SecretKind, key: &'static str, raw: &str) -> Secret {
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
            key,
            fingerprint: self.fingerprint(&decoded),
            s256: (kind == SecretKind::CodeVerifier).then(|| s256(&decoded)),
            claims,
        }
    }
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
        if let Some(v) = sql_bind_value(bytes, start, i) {
            return Some(v);
        }
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

/// The value of an ActiveRecord bind pair, `["token", "value"]`, whose key
/// starts at `start` (after `["`) and whose closing quote ends at `after_key`.
fn sql_bind_value(bytes: &[u8], start: usize, after_key: usize) -> Option<(usize, usize)> {
    let opened = start >= 2 && bytes.get(start - 2..start) == Some(b"[\"".as_slice());
    if !opened || bytes.get(after_key..after_key + 3) != Some(b", \"".as_slice()) {
        return None;
    }
    let from = after_key + 3;
    let stop = scan_while(bytes, from, |b| !is_value_end(b));
    (stop > from).then_some((from, stop))
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

/// How a value follows its key, as far as telling secrets from prose needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// `key: value`: unquoted key, colon, space, unquoted value. Prose writes
    /// this too (`Failed to get token: invalid_grant: ...`).
    ColonSpace,
    /// Every other shape (`k=v`, JSON, Ruby hash, quoted values, ...).
    Other,
}

impl Shape {
    /// `key_end` is where the key match ends, `value_start` where the value
    /// starts.
    fn of(bytes: &[u8], key_end: usize, value_start: usize) -> Shape {
        let between = bytes.get(key_end..value_start).unwrap_or_default();
        match between {
            [b':', b' ', rest @ ..] if rest.iter().all(|&b| b == b' ') => Shape::ColonSpace,
            _ => Shape::Other,
        }
    }
}

fn is_secret_value(key: &str, raw: &str, value_onwards: &str, shape: Shape) -> bool {
    if raw.is_empty() || is_sql_placeholder(raw) {
        return false;
    }
    match key {
        // `Bearer realm="x", error="invalid_grant"` is a challenge, not a
        // credential.
        "Bearer " | "bearer " | "Basic " => !is_auth_challenge(value_onwards),
        "authorization code " | "refresh token " => looks_secret(raw) && !is_plain_word(raw),
        "eyJ" => true,
        _ if raw.ends_with(':') || crate::providers::is_oauth_error(raw) => false,
        "code" | "token" | "secret" if shape == Shape::ColonSpace => looks_secret(raw),
        // `"code":2002` (AppAuth), `code=400`, `code: -10`: numbers are error
        // codes, not authorization codes.
        "code" => !raw.bytes().all(|b| b.is_ascii_digit() || b == b'-') && !is_plain_word(raw),
        // `token_type=Bearer`-like words and `token=` flags are short; real
        // tokens are not.
        "token" | "secret" => raw.len() >= 8 && !is_plain_word(raw),
        _ => true,
    }
}

/// A bind placeholder of a logged SQL statement (`"refresh_token" = $1`,
/// `= ?`, `= :token`): the value is elsewhere (and filtered) on the line.
fn is_sql_placeholder(raw: &str) -> bool {
    raw == "?"
        || raw
            .strip_prefix('$')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        || raw.strip_prefix(':').is_some_and(|n| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// An auth-scheme parameter list rather than credentials: it starts with
/// an auth-param `name="` (RFC 9110 §11.2; `realm`, `error`, `scope`,
/// `authorization_uri`, ...). Credentials are token68, whose `=` is base64
/// padding: `dXNlcjpwYXNzMQ="` must stay a secret, so names are lowercase.
fn is_auth_challenge(value_onwards: &str) -> bool {
    if ["realm=", "error=", "scope="]
        .iter()
        .any(|p| value_onwards.starts_with(p))
    {
        return true;
    }
    let name_len = value_onwards
        .bytes()
        .take_while(|&b| b.is_ascii_lowercase() || b == b'_' || b == b'-')
        .count();
    (2..=32).contains(&name_len)
        && value_onwards
            .get(name_len..)
            .is_some_and(|rest| rest.starts_with("=\""))
}

/// What a token, code or secret looks like: long, of token characters, not
/// ending like a prose label.
fn looks_secret(raw: &str) -> bool {
    raw.len() >= 16
        && !raw.ends_with(':')
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b))
}

/// A lowercase word of prose (`expired`, `missing`, `Invalid`): letters
/// only, too short to be a generated value.
fn is_plain_word(raw: &str) -> bool {
    let mut chars = raw.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    first_ok && raw.len() < 16 && chars.all(|c| c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests;

mod code_parser_id;
