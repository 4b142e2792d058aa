//! The one extractor of OAuth errors: given any record text (one line, or a
//! multi-line record joined with `\n`), [`extract`] finds the OAuth error it
//! carries, whatever shape it was printed in:
//!
//! | layer | shapes |
//! |---|---|
//! | [`json`] | JSON objects anywhere in the text, nested, and JSON inside JSON strings |
//! | [`keys`] | `key=value` (logfmt, query strings, `WWW-Authenticate`), `key: value`, Ruby `=>` hashes, Python dicts, Go `map[k:v]`, C# `{{ }}` and `{ k = v }` dumps, `\"`-escaped JSON |
//! | [`text`] | free text: client libraries' exception names, `oauth2: cannot fetch token: 400 …`, HTTP status lines, Spring's `[code] text`, MSIS and AADB2C codes, and (through [`crate::providers::recognize`]) `invalid_grant: …`, AADSTS codes and the providers' own words |
//!
//! Each layer fills only the fields the layers before it left empty, so the
//! most structured reading wins.
//!
//! Invariants: no I/O; the text handed in is already redacted (the
//! extractor never sees a secret, so it can never copy one); never panics:
//! every slice boundary is an ASCII byte a search returned; nested JSON is
//! followed to a fixed depth and a bounded number of objects, so a hostile
//! line costs linear time.

mod json;
mod keys;
pub mod omniauth;
mod settle;
mod text;

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use crate::event::{Event, EventKind, ServerKind};
use crate::format::Format;
use crate::grant::GrantType;
use crate::parser::Context;

pub(crate) use settle::Settled;

/// The OAuth error one record carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OAuthError<'t> {
    /// The OAuth `error` (`invalid_grant`), or a server's own code of the same
    /// shape (Keycloak `invalid_client_credentials`).
    pub error: Option<Cow<'t, str>>,
    /// `error_description` (or `errorDescription`, a Facebook
    /// `error_message`, an exception's message).
    pub description: Option<Cow<'t, str>>,
    /// `sub_error` / `suberror` / `error_subtype` (MSAL `bad_token`, Google
    /// `invalid_rapt`).
    pub sub_error: Option<Cow<'t, str>>,
    /// The provider's code: `AADSTS50148`, `AADB2C90080`, `MSIS9612`, an
    /// `error_code`/`errorCode` that is not an OAuth error name.
    pub provider_code: Option<Cow<'t, str>>,
    /// `error_uri`.
    pub uri: Option<Cow<'t, str>>,
    /// The provider's `hint` or `reason` (Hydra, Keycloak).
    pub hint: Option<Cow<'t, str>>,
    /// The client library or exception that printed the error
    /// (`OAuth2::Error`, `MsalUiRequiredException`, ...).
    pub library: Option<&'static str>,
    /// The server, when the words identify it.
    pub server: Option<ServerKind>,
    /// The HTTP status of the response, when the record shows it.
    pub status: Option<u16>,
    /// The grant type, when only the client that printed the error tells it
    /// (a library that sends one grant only).
    pub grant: Option<&'static str>,
}

impl<'t> OAuthError<'t> {
    /// Whether this is an OAuth error at all: an error name, a description
    /// read from an error key, a provider code, a provider's words, or a
    /// client library's OAuth exception with its message. A `hint`, a status
    /// or a library name alone is not.
    pub fn is_error(&self) -> bool {
        self.error.is_some()
            || self.description.is_some()
            || self.provider_code.is_some()
            || self.sub_error.is_some()
            || self.server.is_some()
    }

    /// Fills every field still empty from `other` (a less structured
    /// reading of the same text).
    fn merge(&mut self, other: OAuthError<'t>) {
        fn or<T>(a: &mut Option<T>, b: Option<T>) {
            if a.is_none() {
                *a = b;
            }
        }
        or(&mut self.error, other.error);
        or(&mut self.description, other.description);
        or(&mut self.sub_error, other.sub_error);
        or(&mut self.provider_code, other.provider_code);
        or(&mut self.uri, other.uri);
        or(&mut self.hint, other.hint);
        or(&mut self.library, other.library);
        or(&mut self.server, other.server);
        or(&mut self.status, other.status);
        or(&mut self.grant, other.grant);
    }

    /// Copies every borrowed field so the error outlives its text.
    pub fn into_owned(self) -> OAuthError<'static> {
        fn own(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            c.map(|c| Cow::Owned(c.into_owned()))
        }
        OAuthError {
            error: own(self.error),
            description: own(self.description),
            sub_error: own(self.sub_error),
            provider_code: own(self.provider_code),
            uri: own(self.uri),
            hint: own(self.hint),
            library: self.library,
            server: self.server,
            status: self.status,
            grant: self.grant,
        }
    }
}

/// The OAuth error `text` carries, or `None` when it carries none (see
/// [`OAuthError::is_error`]). `text` must already be redacted.
pub fn extract(text: &str) -> Option<OAuthError<'_>> {
    if text.len() > MAX_TEXT {
        return None;
    }
    let mut found = json::scan(text);
    found.merge(keys::scan(text));
    found.merge(text::scan(text, &found));
    text::identify(&mut found);
    if found.library.is_none()
        && found
            .error
            .as_deref()
            .is_some_and(|e| !standard_or_token(e, text))
    {
        found.error = None;
    }
    found.is_error().then_some(found)
}

/// Whether an `error` value is an OAuth error: a standard name, or a
/// server's own code in a record about a token or a grant (or printed by an
/// OAuth library, checked by the caller) (Keycloak's
/// `type=CODE_TO_TOKEN_ERROR … error=invalid_client_credentials`). Apps use
/// the same shape for their own redirects (`/login?error=invalid_state`),
/// which are not.
fn standard_or_token(error: &str, text: &str) -> bool {
    const CONTEXT: [&str; 4] = ["token", "TOKEN", "grant", "GRANT"];
    crate::providers::is_oauth_error(error)
        || CONTEXT
            .iter()
            .any(|w| memchr::memmem::find(text.as_bytes(), w.as_bytes()).is_some())
}

/// The client-side error record `text` (redacted) carries, with the time
/// it starts with (or else the time it names by key) and the request id it
/// names by key, but no evidence: for a record no parser knows. A record
/// that names its request is never taken for another request's (a JSON
/// line cut by a truncation still says whose error it is).
pub fn error_event<'t>(text: &'t str, format: Format, ctx: &Context) -> Option<Event<'t>> {
    let found = extract(text)?;
    let mut event = Event::new(EventKind::ClientError, format);
    let named = keys::named(text);
    event.ts = crate::common::timestamp(text.trim_start(), ctx)
        .or_else(|| crate::common::timestamp(named.time.as_deref()?, ctx))
        .map(|(ts, _)| ts);
    event.request_id = named.request_id;
    apply(&mut event, found);
    Some(event)
}

/// Whether `text` carries an OAuth error: to decide whether a record no
/// parser knows is worth keeping. One automaton pass first (error keys,
/// standard error names, code prefixes, the libraries' exception names, or
/// else a provider's sentence from the catalog), then [`extract`]. Only the answer leaves this function, so it may be
/// asked about text not yet redacted.
pub fn carries_error(text: &str) -> bool {
    // A provider's own words carry the error even on a line with no error
    // word (Dex's `Refresh token is invalid or has already been claimed by
    // another client.` printed alone, an SDK's `CAUSE: Unknown or invalid
    // refresh token.`).
    text.len() <= MAX_TEXT
        && (has_error_words(text) || crate::catalog::catalog().words_in(text).is_some())
        && extract(text).is_some()
}

/// Whether `text` holds a word an OAuth error is written with (`error`,
/// `Exception`, `invalid_grant`, `AADSTS`, ...): one Aho-Corasick pass, the
/// cheap test before the extractor (and before redaction) runs.
pub(crate) fn has_error_words(text: &str) -> bool {
    // Leftmost-first lets the searcher use its SIMD prefilter.
    static WORDS: LazyLock<AhoCorasick> = LazyLock::new(|| {
        AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(ERROR_WORDS)
            .unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
    });
    WORDS.is_match(text)
}

/// The words of [`has_error_words`]. Few, short needles: the searcher stays
/// on its SIMD path (the full list of OAuth error names would not). Every
/// OAuth error name holds one of them (`invalid_…`, `…_required`,
/// `unauthorized_client`, `unsupported_…`, `access_denied`;
/// `temporarily_unavailable` is no token failure), and so does every
/// exception and provider code.
pub const ERROR_WORDS: [&str; 13] = [
    "rror",
    "nvalid",
    "xception",
    "AADSTS",
    "AADB2C",
    "MSIS",
    "_required",
    "nauthorized",
    "nsupported",
    "denied",
    "oauth2:",
    "hint",
    "reason",
];

/// Records longer than this are not searched (a 1 MiB line is junk or a
/// dump; the parsers bound their own work the same way).
const MAX_TEXT: usize = 256 * 1024;

/// Whether `value` has the shape of an OAuth error code: a standard name
/// ([`crate::providers::is_oauth_error`]) or one lowercase `snake_case` word
/// with an underscore (a server's own code: `invalid_code`, `invalid_rapt`),
/// never free text.
pub fn is_error_code(value: &str) -> bool {
    crate::providers::is_oauth_error(value)
        || (value.len() <= 64
            && value.contains('_')
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
}

/// Fills the fields of `ev` that its parser left empty from the OAuth error
/// `text` carries; an Entra `AADSTS` code replaces a library's own code
/// (MSAL's `Code=-50002`), as the provider's code is the one that names the
/// cause. Returns whether `text` carried an error.
pub fn fill_event<'t>(ev: &mut Event<'t>, text: &'t str) -> bool {
    let Some(found) = extract(text) else {
        return false;
    };
    apply(ev, found);
    true
}

/// Writes `found` into the empty fields of `ev` (see [`fill_event`]).
pub(crate) fn apply<'t>(ev: &mut Event<'t>, found: OAuthError<'t>) {
    fn or<'t>(a: &mut Option<Cow<'t, str>>, b: Option<Cow<'t, str>>) {
        if a.is_none() {
            *a = b;
        }
    }
    let aad = found
        .provider_code
        .as_deref()
        .is_some_and(|c| c.starts_with("AADSTS"));
    if aad
        && ev
            .provider_code
            .as_deref()
            .is_none_or(|c| !c.starts_with("AADSTS"))
    {
        ev.provider_code = found.provider_code;
    } else {
        or(&mut ev.provider_code, found.provider_code);
    }
    or(&mut ev.provider_code, found.sub_error);
    // A server's own constant its parser already kept as the provider code
    // (Keycloak `error=invalid_client_credentials`) is not an OAuth error.
    if found.error.as_deref() != ev.provider_code.as_deref() {
        or(&mut ev.error, found.error);
    }
    or(&mut ev.error_description, found.description);
    or(&mut ev.provider_reason, found.hint);
    ev.server = ev.server.or(found.server);
    ev.status = ev.status.or(found.status);
    if ev.grant_type.is_none() {
        ev.grant_type = found.grant.map(GrantType::from_name);
    }
}

#[cfg(test)]
mod tests;
