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
mod json_pruned;
pub(crate) mod keys;
mod oauth_error;
pub mod omniauth;
pub(crate) mod settle;
mod text;

use std::borrow::Cow;
use std::sync::LazyLock;

use crate::event::{Event, EventKind};
use crate::format::Format;
use crate::grant::GrantType;
use crate::multi_find::MultiFind;
use crate::needle::Needle;
use crate::parser::Context;

pub use oauth_error::{OAuthError, is_error_code};

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
    static CONTEXT: [Needle; 4] = [
        Needle::new("token"),
        Needle::new("TOKEN"),
        Needle::new("grant"),
        Needle::new("GRANT"),
    ];
    crate::providers::is_oauth_error(error) || CONTEXT.iter().any(|w| w.is_in(text))
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
    // Leftmost-first: a kind the packed (SIMD) searcher has (`multi_find.rs`).
    static WORDS: LazyLock<MultiFind> = LazyLock::new(|| {
        MultiFind::new(aho_corasick::MatchKind::LeftmostFirst, ERROR_WORDS)
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
