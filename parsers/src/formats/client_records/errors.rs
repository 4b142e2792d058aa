//! The OAuth error texts client libraries print on one line:
//! flutter_appauth `PlatformException(code, message, ...)`, AppAuth-Android
//! `AuthorizationException: {json}`, AppAuth-iOS and MSAL `Error Domain=`
//! NSErrors, AppAuth `IdTokenException` sentences, and any other message that
//! names an OAuth error or an AADSTS code (MSAL, app tags).
//!
//! Invariants: the input is already redacted; every slice boundary is one a
//! `find` returned for an ASCII needle; which words are OAuth errors, which
//! texts name a provider and which AADSTS code a text carries is decided by
//! [`crate::providers`], never here.

use std::borrow::Cow;

use crate::common;
use crate::event::{Event, EventKind};
use crate::format::Format;
use crate::providers;

/// An empty client-side error event, which each grammar below fills. Here,
/// where every caller is, rather than in `mod.rs`: `mod.rs` dispatches to
/// this file, which then does not import it back.
fn client_error(format: Format) -> Event<'static> {
    Event::new(EventKind::ClientError, format)
}

/// flutter_appauth: `PlatformException(code, message, details, stacktrace)`.
pub(super) fn platform_exception(msg: &str, format: Format) -> Option<Event<'_>> {
    let start = msg.find("PlatformException(")? + "PlatformException(".len();
    let inner = &msg[start..];
    let (code, rest) = inner.split_once(", ")?;
    let message = trim_exception_tail(rest);
    let mut ev = client_error(format);
    ev.provider_code = Some(Cow::Borrowed(code.trim()));
    let (error, desc) = split_oauth_error(message);
    ev.error = error.map(Cow::Borrowed);
    ev.error_description = desc.map(Cow::Borrowed);
    if ev.error.is_none() && ev.error_description.is_none() {
        ev.provider_reason = Some(Cow::Borrowed(message));
    }
    fill_from_provider(&mut ev, message);
    Some(ev)
}

/// The message of a `PlatformException(code, message, details, stack)`: cut
/// at the `, null, null)` / `, null)` / `)` that closes it.
fn trim_exception_tail(rest: &str) -> &str {
    for tail in [", null, null)", ", null)"] {
        if let Some(p) = rest.find(tail) {
            return &rest[..p];
        }
    }
    let end = rest
        .find(") -> #")
        .or_else(|| rest.find(") - stack:"))
        .or_else(|| rest.rfind(')'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Splits the shapes clients print an OAuth error in: `[error: x,
/// description: y]`, `Failed to get token: x: y`, `x: y`, `x (y)`, bare `x`.
pub(crate) fn split_oauth_error(text: &str) -> (Option<&str>, Option<&str>) {
    if let Some(p) = text.find("[error: ") {
        let after = &text[p + "[error: ".len()..];
        let (err, desc) = match after.split_once(", description: ") {
            Some((e, d)) => (e, Some(d.rfind(']').map_or(d, |q| &d[..q]))),
            None => (after.split(']').next().unwrap_or(after), None),
        };
        // `[error: null,` when the description went to the next line.
        let err = err.trim().trim_end_matches(',');
        let err = (!err.is_empty() && err != "null").then_some(err);
        let desc = desc
            .map(str::trim)
            .filter(|d| !d.is_empty() && *d != "null");
        return (err, desc);
    }
    let Some((pos, err)) = find_error_word(text) else {
        return (None, None);
    };
    let after = &text[pos + err.len()..];
    let desc = match after.strip_prefix(": ") {
        Some(d) => Some(d.trim_end()),
        None => after
            .strip_prefix(" (")
            .map(|d| d.rfind(')').map_or(d, |q| &d[..q])),
    };
    (Some(err), desc.filter(|d| !d.is_empty()))
}

/// The first [`providers::OAUTH_ERRORS`] name standing as a whole word.
fn find_error_word(text: &str) -> Option<(usize, &'static str)> {
    providers::OAUTH_ERRORS
        .iter()
        .filter_map(|w| {
            let mut from = 0;
            while let Some(p) = text[from..].find(w) {
                let at = from + p;
                let before = text[..at].bytes().next_back();
                let after = text.as_bytes().get(at + w.len()).copied();
                let word =
                    |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !word(before) && !word(after) {
                    return Some((at, *w));
                }
                from = at + w.len();
            }
            None
        })
        .min_by_key(|(at, _)| *at)
}

/// Fills server, provider code and missing error fields from the one
/// extractor ([`crate::extract`]); an AADSTS code replaces a library's own
/// code (`Code=-50002`).
pub(crate) fn fill_from_provider<'t>(ev: &mut Event<'t>, text: &'t str) {
    crate::extract::fill_event(ev, text);
}

/// AppAuth-Android `AuthorizationException: {"type":2,"code":2002,...}`.
pub(super) fn authorization_exception(msg: &str, format: Format) -> Option<Event<'_>> {
    let p = msg.find("AuthorizationException: {")?;
    let json = &msg[p + "AuthorizationException: ".len()..];
    let value: serde_json::Value = serde_json::Deserializer::from_str(json)
        .into_iter()
        .next()?
        .ok()?;
    let text = |k: &str| {
        value
            .get(k)
            .and_then(|v| v.as_str())
            .map(|s| Cow::Owned(s.to_owned()))
    };
    let mut ev = client_error(format);
    ev.provider_code = value
        .get("code")
        .and_then(serde_json::Value::as_i64)
        .map(|c| Cow::Owned(c.to_string()));
    ev.error = text("error");
    ev.error_description = text("errorDescription");
    if let Some(cause) = id_token_cause(msg) {
        ev.provider_reason = Some(Cow::Borrowed(cause));
    }
    fill_from_provider(&mut ev, msg);
    Some(ev)
}

const ID_TOKEN_TEXTS: &[&str] = &[
    "Issued at time is more than",
    "ID Token expired",
    "Issuer mismatch",
    "Audience mismatch",
    "Nonce mismatch",
];

/// The `IdTokenException` text in a message, up to the end of its sentence.
fn id_token_cause(msg: &str) -> Option<&str> {
    let p = ID_TOKEN_TEXTS.iter().filter_map(|t| msg.find(t)).min()?;
    let rest = &msg[p..];
    let end = rest.find(['"', '\'', ')', ']', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_end())
}

pub(super) fn id_token_text(msg: &str, format: Format) -> Option<Event<'_>> {
    let cause = id_token_cause(msg)?;
    let mut ev = client_error(format);
    ev.error_description = Some(Cow::Borrowed(cause));
    Some(ev)
}

/// AppAuth-iOS / MSAL NSError descriptions: `Error Domain=D Code=N "text"
/// UserInfo={...}`.
pub(super) fn ns_error(msg: &str, format: Format) -> Option<Event<'_>> {
    let p = msg.find("Error Domain=")?;
    let rest = &msg[p + "Error Domain=".len()..];
    let domain = rest.split(' ').next().unwrap_or("");
    let code = rest
        .find(" Code=")
        .map(|c| &rest[c + 6..])
        .and_then(|c| c.split([' ', ',']).next());
    let quoted = rest
        .find(" \"")
        .map(|q| common::unescape_until_quote(&rest[q + 2..]));
    let mut ev = client_error(format);
    ev.provider_code = code.map(Cow::Borrowed);
    if let Some(Cow::Borrowed(text)) = quoted
        && text != "(null)"
    {
        let (error, desc) = split_oauth_error(text);
        ev.error = error.map(Cow::Borrowed);
        ev.error_description = desc
            .map(Cow::Borrowed)
            .or_else(|| (error.is_none()).then_some(Cow::Borrowed(text)));
    }
    if domain.starts_with("MSAL") {
        msal_user_info(rest, &mut ev);
    }
    fill_from_provider(&mut ev, msg);
    Some(ev)
}

/// MSAL iOS `UserInfo={MSALErrorDescriptionKey=..., MSALOAuthErrorKey=...}`.
fn msal_user_info<'t>(text: &'t str, ev: &mut Event<'t>) {
    let key = |k: &str| -> Option<&'t str> {
        let p = text.find(k)? + k.len();
        let v = text[p..].strip_prefix('=')?;
        let end = v.find(", MSAL").or_else(|| v.rfind('}')).unwrap_or(v.len());
        Some(v[..end].trim())
    };
    if let Some(e) = key("MSALOAuthErrorKey") {
        ev.error = Some(Cow::Borrowed(e));
    }
    if let Some(d) = key("MSALErrorDescriptionKey") {
        ev.error_description = Some(Cow::Borrowed(d));
    }
    ev.status = key("MSALHTTPResponseCodeKey").and_then(|s| s.parse().ok());
    ev.request_id = key("MSALCorrelationIDKey").map(Cow::Borrowed);
}

/// Any other message naming an OAuth error or an AADSTS code (app tags, MSAL,
/// `Error fetching fresh tokens: ...`, `Token exchange error: ...`). An
/// AADSTS text is its own description, read by [`providers::recognize`].
pub(super) fn oauth_error_text(msg: &str, format: Format) -> Option<Event<'_>> {
    let (error, desc) = split_oauth_error(msg);
    let msal_code = msal_error_code(msg);
    let aad = providers::aadsts_code(msg);
    if error.is_none() && aad.is_none() && msal_code.is_none() {
        return None;
    }
    let mut ev = client_error(format);
    ev.error = msal_code.or(error).map(Cow::Borrowed);
    if aad.is_none() {
        ev.error_description = desc.map(Cow::Borrowed);
    }
    fill_from_provider(&mut ev, msg);
    Some(ev)
}

/// MSAL.NET `ErrorCode: invalid_grant`.
fn msal_error_code(msg: &str) -> Option<&str> {
    let p = msg.find("ErrorCode: ")?;
    msg[p + 11..]
        .split([' ', ',', '\\'])
        .next()
        .filter(|s| !s.is_empty())
}
