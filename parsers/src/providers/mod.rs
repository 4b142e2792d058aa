//! Provider messages recognised anywhere: Entra ID `AADSTSnnnnn` codes,
//! Google, Okta, Auth0, Doorkeeper, Hydra, Keycloak, node-oidc-provider,
//! Spring and Duende error texts, and the generic OAuth error shapes clients
//! print:
//!
//! | shape | who prints it |
//! |---|---|
//! | `{"error":"x","error_description":"y"}` (also `\"`-escaped, anywhere) | HTTP bodies, dio, AppAuth-Android JSON |
//! | `x: y` | AppAuth-iOS / flutter_appauth iOS, Okta SDKs |
//! | `[error: x, description: y]` | flutter_appauth Android |
//! | `OPError: x (y)`, `CAUSE: x (y)` | openid-client, nextjs-auth0 |
//! | `oauth2: "x" "y"` | golang.org/x/oauth2 |
//! | `('x: y', '{…}')` | google-auth (Python) `RefreshError` |
//! | `ErrorCode: x` | MSAL.NET |
//! | `error="x", error_description="y"`, `error=x` | `WWW-Authenticate`, logfmt, query strings |
//! | `error: 'x', error_description: 'y'` | Node `util.inspect` of an error object |
//!
//! Any format module calls [`recognize`] on a response body or exception text
//! it has already redacted. It never allocates unless a description has to be
//! unescaped or percent-decoded, and never panics: every slice boundary is
//! an ASCII byte it found itself.
//!
//! Provider identification keys on the AADSTS *number* (Microsoft changes the
//! texts), on the verbatim texts of the provider catalog ([`crate::catalog`]:
//! long texts anywhere in a description, short generic ones only as the whole
//! description), and on `realm="Doorkeeper"` in a `WWW-Authenticate` header.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use memchr::memmem;

use crate::catalog::{self, Entry, TextHits};
use crate::common::unescape_until_quote;
use crate::event::ServerKind;
use crate::needle::Needle;
use crate::percent::percent_decode;

/// An OAuth error found in free text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderMessage<'t> {
    /// The provider the text identifies, when it does (AADSTS → Azure, ...).
    pub server: Option<ServerKind>,
    /// The provider's own code (`AADSTS50148`, `invalid_rapt`, Auth0 `fertft`).
    pub code: Option<Cow<'t, str>>,
    /// The OAuth `error` (`invalid_grant`, ...), when the text gives it.
    pub error: Option<Cow<'t, str>>,
    /// The `error_description`, when the text gives it.
    pub description: Option<Cow<'t, str>>,
}

/// The OAuth error names [`recognize`] looks for (RFC 6749 §5.2 and §4.1.2.1,
/// RFC 8707, RFC 9449, OIDC Core §3.1.2.6, RFC 6750, and the non-standard
/// names servers are known to send).
pub const OAUTH_ERRORS: [&str; 22] = [
    "invalid_grant",
    "invalid_client",
    "invalid_request",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
    "token_inactive",
    "scope_not_granted",
    "interaction_required",
    "consent_required",
    "login_required",
    "access_denied",
    "invalid_dpop_proof",
    "use_dpop_nonce",
    "invalid_token",
    "server_error",
    "temporarily_unavailable",
    "redirect_uri_mismatch",
    "mfa_required",
    "expired_token",
    "unsupported_response_type",
];

/// Whether `name` is one of [`OAUTH_ERRORS`].
pub fn is_oauth_error(name: &str) -> bool {
    OAUTH_ERRORS.contains(&name)
}

static ERROR_NAMES: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(OAUTH_ERRORS)
        .unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
});

/// Finds an OAuth error and the provider behind it in `text`. Returns `None`
/// when the text holds neither an OAuth error name nor a provider's error
/// text.
pub fn recognize(text: &str) -> Option<ProviderMessage<'_>> {
    recognize_with(text, &catalog::catalog().hits_in(text, false))
}

/// [`recognize`], asking `hits` (of `text`) for the catalog's identifying
/// texts: a caller that also wants the catalog's sentences in `text` has
/// both found in one pass.
pub fn recognize_with<'t>(
    text: &'t str,
    hits: &TextHits<'static, 't>,
) -> Option<ProviderMessage<'t>> {
    let name = find_error_name(text);
    let aad = find_aadsts(text);
    let mut description = description_by_key(text).or_else(|| {
        name.and_then(|(_, end)| description_after(text, end))
            .map(Cow::Borrowed)
    });
    if description.is_none()
        && let Some(a) = &aad
    {
        description = Some(Cow::Borrowed(until_terminator(&text[a.first..])));
    }
    let mut msg = ProviderMessage {
        server: None,
        code: None,
        error: name.map(|(s, e)| Cow::Borrowed(&text[s..e])),
        description,
    };
    if let Some(a) = aad {
        msg.server = Some(ServerKind::Azure);
        msg.code = Some(Cow::Borrowed(a.code));
    } else if let Some(desc) = msg.description.as_deref() {
        if let Some((server, code)) = identify(desc) {
            msg.server = Some(server);
            msg.code = code.map(Cow::Borrowed);
        }
    } else if let Some((server, code, span)) = identify_in_text(text, hits) {
        msg.server = Some(server);
        msg.code = code.map(Cow::Borrowed);
        msg.description = Some(Cow::Borrowed(span));
    }
    refine_server(text, &mut msg);
    (msg.error.is_some() || msg.server.is_some()).then_some(msg)
}

/// The server (and provider code) a description alone identifies: an AADSTS
/// number, or a catalog text that identifies its server (exact texts must be
/// the whole description).
pub fn identify(description: &str) -> Option<(ServerKind, Option<&'static str>)> {
    if find_aadsts(description).is_some() {
        return Some((ServerKind::Azure, None));
    }
    let cat = catalog::catalog();
    let entry = match cat.identify_exact(description) {
        Some(e) => e,
        None => cat.identify_in(description)?.entry,
    };
    server_and_code(entry)
}

fn server_and_code(entry: &'static Entry) -> Option<(ServerKind, Option<&'static str>)> {
    Some((catalog::catalog().identifies(entry)?, entry.code.as_deref()))
}

/// Whether `text` holds a sentence Doorkeeper gives every `invalid_grant`,
/// in English or in any doorkeeper-i18n locale. Useful to tell a Doorkeeper
/// 400 body from another server's when the client logged it.
pub fn is_doorkeeper_description(text: &str) -> bool {
    let cat = catalog::catalog();
    cat.matches(text)
        .iter()
        .any(|e| e.cause == "unknown" && cat.provider_of(e).server == Some(ServerKind::Doorkeeper))
}

/// The first Entra ID code in `text` (`AADSTS50148`), preferring the inner
/// code of the old nested `AADSTS70002: Error validating credentials.
/// AADSTS54005: …` form.
pub fn aadsts_code(text: &str) -> Option<&str> {
    find_aadsts(text).map(|a| a.code)
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Start and end of the first OAuth error name standing as a whole word.
fn find_error_name(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    ERROR_NAMES.find_iter(text).find_map(|m| {
        let before_ok = m.start() == 0 || !is_word(bytes[m.start() - 1]);
        let after_ok = bytes.get(m.end()).is_none_or(|&b| !is_word(b));
        (before_ok && after_ok).then_some((m.start(), m.end()))
    })
}

struct Aadsts<'t> {
    /// Where the first `AADSTS` starts (the description starts there).
    first: usize,
    /// The code to report.
    code: &'t str,
}

fn find_aadsts(text: &str) -> Option<Aadsts<'_>> {
    static AADSTS: Needle = Needle::new("AADSTS");
    let bytes = text.as_bytes();
    let mut found: Option<Aadsts<'_>> = None;
    for start in AADSTS.find_iter(text) {
        let digits = bytes[start + 6..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            continue;
        }
        let code = &text[start..start + 6 + digits];
        match &found {
            None if code == "AADSTS70002" => {
                found = Some(Aadsts { first: start, code });
            }
            None => return Some(Aadsts { first: start, code }),
            Some(outer) => {
                return Some(Aadsts {
                    first: outer.first,
                    code,
                });
            }
        }
    }
    found
}

static DESCRIPTION_KEYS: [Needle; 2] = [
    Needle::new("error_description"),
    Needle::new("errorDescription"),
];

/// The value of an `error_description` / `errorDescription` key in any of the
/// shapes logs write: JSON (plain or `\"`-escaped), Ruby hash, JS inspect
/// (`'…'`), `WWW-Authenticate` (`key="…"`), logfmt and query (`key=v`).
fn description_by_key(text: &str) -> Option<Cow<'_, str>> {
    let bytes = text.as_bytes();
    for key in &DESCRIPTION_KEYS {
        for start in key.find_iter(text) {
            if start > 0 && is_word(bytes[start - 1]) {
                continue;
            }
            if let Some(v) = value_after_key(text, start + key.text().len())
                && !v.trim().is_empty()
            {
                return Some(v);
            }
        }
    }
    None
}

/// Reads the value that follows a key ending at `at`.
fn value_after_key(text: &str, at: usize) -> Option<Cow<'_, str>> {
    let rest = &text[at..];
    let rest = rest
        .strip_prefix("\\\"")
        .or_else(|| rest.strip_prefix(['"', '\'']))
        .unwrap_or(rest);
    let trimmed = rest.trim_start_matches(' ');
    let (sep_eq, after) = if let Some(a) = trimmed.strip_prefix("=>") {
        (false, a)
    } else if let Some(a) = trimmed.strip_prefix('=') {
        (true, a)
    } else if let Some(a) = trimmed.strip_prefix(':') {
        (false, a)
    } else {
        return None;
    };
    let value = after.trim_start_matches(' ');
    if let Some(body) = value.strip_prefix("\\\"") {
        let end = memmem::find(body.as_bytes(), b"\\\"").unwrap_or(body.len());
        return Some(Cow::Borrowed(&body[..end]));
    }
    if let Some(body) = value.strip_prefix('"') {
        return Some(unescape_until_quote(body));
    }
    if let Some(body) = value.strip_prefix('\'') {
        let end = memchr::memchr(b'\'', body.as_bytes()).unwrap_or(body.len());
        return Some(Cow::Borrowed(&body[..end]));
    }
    if sep_eq {
        let end = value
            .find(['&', ' ', ',', '\t', '"'])
            .unwrap_or(value.len());
        return Some(percent_decode(&value[..end]));
    }
    Some(Cow::Borrowed(until_terminator(value)))
}

/// The description printed right after an error name ending at `end`.
fn description_after(text: &str, end: usize) -> Option<&str> {
    let rest = &text[end..];
    let desc = if let Some(body) = rest.strip_prefix("\" \"") {
        // Go: oauth2: "invalid_grant" "desc" (%q escapes inner quotes).
        let stop = closing_quote(body);
        &body[..stop]
    } else if let Some(body) = rest.strip_prefix("\\\" \\\"") {
        // The same Go error quoted once more by the logger that printed it
        // (logfmt `error="oauth2: \"code\" \"desc\""`, zerolog, JSON strings):
        // its quotes arrive escaped, and the description ends at the next `\"`.
        let stop = memmem::find(body.as_bytes(), b"\\\"").unwrap_or(body.len());
        &body[..stop]
    } else if let Some(body) = rest.strip_prefix(" (") {
        &body[..closing_paren(body)]
    } else if let Some(body) = rest.strip_prefix(", description: ") {
        let stop = memchr::memchr(b']', body.as_bytes()).unwrap_or(body.len());
        &body[..stop]
    } else if let Some(body) = rest.strip_prefix(": ") {
        until_terminator(body)
    } else {
        return None;
    };
    let desc = desc.trim();
    (!desc.is_empty()).then_some(desc)
}

fn closing_quote(body: &str) -> usize {
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    body.len()
}

/// Index of the `)` that closes an already opened parenthesis (nesting
/// counted), or the end of the line.
fn closing_paren(body: &str) -> usize {
    let mut depth = 0usize;
    for (i, b) in body.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' if depth == 0 => return i,
            b')' => depth -= 1,
            b'\n' | b'\r' => return i,
            _ => {}
        }
    }
    body.len()
}

/// Where free text printed after an error name ends: a line break (real or
/// escaped), the close of a quoted Python/JS string, a `PlatformException`'s
/// `, null` fields, a Dart stack, an Entra trace block.
const TERMINATORS: [&str; 13] = [
    "\n",
    "\r",
    "\\n",
    "\\r",
    "', ",
    "')",
    "\",",
    "\"",
    ", null",
    " - stack:",
    " -> #",
    " Trace ID:",
    "\t",
];

static TERMINATOR_AC: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(TERMINATORS)
        .unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
});

fn until_terminator(text: &str) -> &str {
    let end = TERMINATOR_AC.find(text).map_or(text.len(), |m| m.start());
    let out = text[..end].trim();
    out.strip_suffix('\'').unwrap_or(out).trim_end()
}

/// A provider text found anywhere in `text` (when no description could be
/// read): the server, its code, and the text from the phrase on.
fn identify_in_text<'t>(
    text: &'t str,
    hits: &TextHits<'static, 't>,
) -> Option<(ServerKind, Option<&'static str>, &'t str)> {
    let hit = hits.identify()?;
    let (server, code) = server_and_code(hit.entry)?;
    let mut start = hit.start;
    if hit.entry.text.starts_with('\'') {
        // Auth0 `Grant type 'password' not allowed…`: back to the sentence start.
        let head = &text[..start];
        start = head.rfind(": ").map_or(0, |p| p + 2);
    }
    Some((server, code, until_terminator(&text[start..])))
}

/// Server hints outside the description: Doorkeeper's default realm, an
/// Auth0 tenant-log event type, Google's `error_subtype`.
fn refine_server<'t>(text: &'t str, msg: &mut ProviderMessage<'t>) {
    static DOORKEEPER_REALM: Needle = Needle::new("realm=\"Doorkeeper\"");
    if msg.server.is_none() && DOORKEEPER_REALM.is_in(text) {
        msg.server = Some(ServerKind::Doorkeeper);
    }
    if msg.code.is_none()
        && let Some(t) = crate::common::quoted_value(text, "type")
        && let Some(code) = catalog::catalog()
            .codes_of(ServerKind::Auth0)
            .find(|e| e.text == t)
    {
        msg.server.get_or_insert(ServerKind::Auth0);
        msg.code = Some(Cow::Borrowed(code.text.as_str()));
    }
    if msg.code.is_none()
        && let Some(sub) = crate::common::quoted_value(text, "error_subtype")
        && (sub == "invalid_rapt" || sub == "rapt_required")
    {
        msg.server.get_or_insert(ServerKind::Google);
        msg.code = Some(sub);
    }
}

#[cfg(test)]
mod tests;
