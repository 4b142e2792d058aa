//! Keyed values outside well-formed JSON: logfmt and `key=value`
//! (`error=invalid_grant`), URL query strings (`?error=…&error_description=…`,
//! percent-decoded), `WWW-Authenticate` (`error="…"`), `key: value` and JS
//! `util.inspect` (`error: 'x'`), Ruby hashes (`"error"=>"x"`, `:error =>`,
//! `error: "x"`), Python dicts (`'error': 'x'`), Go maps
//! (`map[error:x error_description:some words]`), C# dumps (`{{ "error": … }}`,
//! `{ error = x, error_description = some words }`), and `\"`-escaped JSON
//! inside another string, or a pretty-printed JSON object's lines on their
//! own.
//!
//! Invariants: one automaton pass finds every key; a key counts only as a
//! whole word followed by a separator (`=`, `=>`, `:`); an `error` value
//! counts only when it has the shape of an error code
//! ([`super::oauth_error::is_error_code`]); every slice boundary is an
//! ASCII byte found by a search.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::MatchKind;

use crate::common::unescape_until_quote;
use crate::multi_find::MultiFind;
use crate::percent::percent_decode;

use super::oauth_error::{OAuthError, is_error_code};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Error,
    Description,
    SubError,
    Code,
    Uri,
    Hint,
    Status,
    /// `message`: Hydra's error object keeps the error name there; counted
    /// only when it is a standard OAuth error name.
    Message,
    /// A .NET structured log's message (`MessageTemplate`, `RenderedMessage`):
    /// a description only when it holds a provider's known words
    /// ([`template_words`]).
    Template,
}

const KEYS: &[(&str, Field)] = &[
    ("error", Field::Error),
    ("error_description", Field::Description),
    ("errorDescription", Field::Description),
    ("error_message", Field::Description),
    ("errorSummary", Field::Description),
    ("sub_error", Field::SubError),
    ("suberror", Field::SubError),
    ("subError", Field::SubError),
    ("error_subtype", Field::SubError),
    ("error_code", Field::Code),
    ("errorCode", Field::Code),
    ("error_uri", Field::Uri),
    ("errorUri", Field::Uri),
    ("message", Field::Message),
    ("MessageTemplate", Field::Template),
    ("RenderedMessage", Field::Template),
    ("hint", Field::Hint),
    ("reason", Field::Hint),
    ("status", Field::Status),
    ("status_code", Field::Status),
    ("statusCode", Field::Status),
    ("http_status", Field::Status),
];

pub(crate) static KEY_FINDER: LazyLock<MultiFind> = LazyLock::new(|| {
    MultiFind::new(MatchKind::LeftmostLongest, KEYS.iter().map(|(k, _)| k))
        .unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
});

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// How a key was separated from its value: decides where a bare value ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sep {
    /// `key=value` (logfmt, query): a bare value is one token.
    Tight,
    /// `key:value` without a space: a Go map; a bare value runs to the next
    /// `key:` or the closing `]`.
    GoMap,
    /// `key: value`, `key => value`, `key = value`: a bare value runs to the
    /// end of its phrase.
    Spaced,
}

/// The keyed OAuth error fields of `text` (every field empty when none).
pub(super) fn scan(text: &str) -> OAuthError<'_> {
    let bytes = text.as_bytes();
    let mut found = OAuthError::default();
    for m in KEY_FINDER.find_iter(text) {
        if m.start() > 0 && is_word(bytes[m.start() - 1]) {
            continue;
        }
        let field = KEYS[m.pattern().as_usize()].1;
        let Some((sep, at)) = separator(text, m.end()) else {
            continue;
        };
        let Some(value) = value_at(text, at, sep, field) else {
            continue;
        };
        let value = match value {
            Cow::Borrowed(v) => Cow::Borrowed(v.trim()),
            Cow::Owned(v) => Cow::Owned(v.trim().to_owned()),
        };
        if value.is_empty() || matches!(&*value, "null" | "nil" | "None" | "undefined") {
            continue;
        }
        store(&mut found, field, value);
    }
    if !found.is_error() {
        found.hint = None;
        found.status = None;
    }
    found
}

fn store<'t>(found: &mut OAuthError<'t>, field: Field, value: Cow<'t, str>) {
    let slot = match field {
        Field::Error if is_error_code(&value) => &mut found.error,
        Field::Error => return,
        Field::Message if crate::providers::is_oauth_error(&value) => &mut found.error,
        Field::Message => return,
        Field::Template => match template_words(&value) {
            Some(words) => {
                found.description.get_or_insert(Cow::Owned(words));
                return;
            }
            None => return,
        },
        Field::Code if is_error_code(&value) => &mut found.error,
        Field::Code => &mut found.provider_code,
        Field::Description => &mut found.description,
        Field::SubError => &mut found.sub_error,
        Field::Uri => &mut found.uri,
        Field::Hint => &mut found.hint,
        Field::Status => {
            let digits = value.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 3 {
                found.status = found
                    .status
                    .or_else(|| value[..3].parse().ok().filter(|s| (100..600).contains(s)));
            }
            return;
        }
    };
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// What a record no parser knows says about its request beside its error:
/// the request id and the time it names by key (`"request_id":"…"`,
/// `time=…`), for a line whose own grammar failed (a JSON line cut short by
/// a truncation or a paste).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Named<'t> {
    pub(crate) request_id: Option<Cow<'t, str>>,
    /// The time's text, as written; the caller parses it.
    pub(crate) time: Option<Cow<'t, str>>,
}

/// The time keys: JSON Lines' (`@timestamp` ends in `timestamp`).
const TIME_KEYS: &[&str] = &["time", "timestamp", "ts"];

pub(crate) static NAMED_FINDER: LazyLock<MultiFind> = LazyLock::new(|| {
    MultiFind::new(
        MatchKind::LeftmostLongest,
        crate::common::REQUEST_ID_KEYS.iter().chain(TIME_KEYS),
    )
    .unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
});

/// The request id and time `text` names by key (see [`Named`]): the first
/// of each, a request id only when it is one token (no spaces, at most 128
/// bytes), as an id is.
pub(crate) fn named(text: &str) -> Named<'_> {
    let bytes = text.as_bytes();
    let ids = crate::common::REQUEST_ID_KEYS.len();
    let mut found = Named::default();
    for m in NAMED_FINDER.find_iter(text) {
        if m.start() > 0 && (is_word(bytes[m.start() - 1]) || bytes[m.start() - 1] == b'-') {
            continue;
        }
        let is_id = m.pattern().as_usize() < ids;
        let slot = if is_id {
            &mut found.request_id
        } else {
            &mut found.time
        };
        if slot.is_some() {
            continue;
        }
        let Some((sep, at)) = separator(text, m.end()) else {
            continue;
        };
        // A time runs to its phrase's end (`time: 2025-03-11 08:00:01`).
        let field = if is_id { Field::Error } else { Field::Hint };
        let Some(value) = value_at(text, at, sep, field) else {
            continue;
        };
        let value = value.trim();
        let token = !value.is_empty() && value.len() <= 128 && !value.contains(char::is_whitespace);
        if (is_id && token) || (!is_id && !value.is_empty()) {
            *slot = Some(Cow::Owned(value.to_owned()));
        }
    }
    found
}

/// The separator after a key ending at `end` (past a closing quote), and
/// where the value starts.
fn separator(text: &str, end: usize) -> Option<(Sep, usize)> {
    let rest = &text[end..];
    let (quoted, rest) = match rest.strip_prefix("\\\"") {
        Some(r) => (true, r),
        None => match rest.strip_prefix(['"', '\'']) {
            Some(r) => (true, r),
            None => (false, rest),
        },
    };
    let spaced = rest.trim_start_matches([' ', '\t']);
    let gap = rest.len() - spaced.len();
    let (sep_len, sep) = if spaced.starts_with("=>") {
        (2, Sep::Spaced)
    } else if let Some(after) = spaced.strip_prefix('=') {
        let tight = gap == 0 && !after.starts_with([' ', '\t']);
        (1, if tight { Sep::Tight } else { Sep::Spaced })
    } else if let Some(after) = spaced.strip_prefix(':') {
        let tight = gap == 0 && !quoted && !after.starts_with([' ', '\t', '"', '\'', '\\']);
        // An empty Go map entry (`reason: status:Bad Request`, Hydra's text
        // log when the reason is empty): no value, not a phrase running to
        // the map's end.
        let empty_entry = gap == 0 && !quoted && after.starts_with(' ') && {
            let next = &after[1..];
            next_is_key(next, b':')
                && next
                    .split_once(':')
                    .is_some_and(|(_, v)| !v.starts_with([' ', '\t']))
        };
        if empty_entry {
            return None;
        }
        (1, if tight { Sep::GoMap } else { Sep::Spaced })
    } else {
        return None;
    };
    let value = &spaced[sep_len..];
    let value_start = text.len() - value.trim_start_matches([' ', '\t']).len();
    Some((sep, value_start))
}

/// The value starting at `at`.
fn value_at(text: &str, at: usize, sep: Sep, field: Field) -> Option<Cow<'_, str>> {
    let value = &text[at..];
    let phrase = matches!(field, Field::Description | Field::Hint | Field::Template);
    if let Some(body) = value.strip_prefix("\\\"") {
        let Some(end) = memchr::memmem::find(body.as_bytes(), b"\\\"") else {
            return Some(cut_off(body, phrase));
        };
        return Some(Cow::Borrowed(&body[..end]));
    }
    if let Some(body) = value.strip_prefix('"') {
        if !closes(body) {
            return Some(cut_off(body, phrase));
        }
        return Some(unescape_until_quote(body));
    }
    if let Some(body) = value.strip_prefix('\'') {
        let end = memchr::memchr(b'\'', body.as_bytes()).unwrap_or(body.len());
        return Some(Cow::Borrowed(&body[..end]));
    }
    if value.starts_with(['{', '[']) || value.starts_with("map[") {
        return None;
    }
    match sep {
        Sep::Tight => {
            let end = value
                .find(|c: char| c.is_whitespace() || "&,;\"'<>)]}".contains(c))
                .unwrap_or(value.len());
            Some(percent_decode(&value[..end]))
        }
        _ if !phrase => {
            let end = value
                .find(|c: char| c.is_whitespace() || ",;\"'<>)]}\\".contains(c))
                .unwrap_or(value.len());
            Some(Cow::Borrowed(value[..end].trim_end_matches(['.', ':'])))
        }
        Sep::GoMap => Some(Cow::Borrowed(&value[..go_map_end(value)])),
        Sep::Spaced => Some(Cow::Borrowed(&value[..phrase_end(value)])),
    }
}

/// Whether a quoted value's body has its closing quote (one no backslash
/// escapes).
fn closes(body: &str) -> bool {
    let mut escaped = false;
    for b in body.bytes() {
        match b {
            b'\\' => escaped = !escaped,
            b'"' if !escaped => return true,
            _ => escaped = false,
        }
    }
    false
}

/// A quoted value the record ends inside: a line cut short by a length
/// limit or a paste (`…"error_description":"Refresh token is invalid or has
/// already bee`). A JSON string holds no raw newline, so the value ends with
/// its line; a sentence gets the cut marker, so the catalog reads it as the
/// beginning of a provider's text ([`crate::cut`]).
fn cut_off(body: &str, phrase: bool) -> Cow<'_, str> {
    let line = body.split('\n').next().unwrap_or(body).trim_end();
    // A line a viewer already cut (`…`, `...`) carries its own marker.
    if phrase && !line.is_empty() && crate::cut::before_cut(line).is_none() {
        Cow::Owned(format!("{}…", line.replace("\\\"", "\"")))
    } else {
        unescape_until_quote(line)
    }
}

/// Where a Go map value ends: at ` key:` (a next entry) or the `]` that
/// closes the map.
fn go_map_end(value: &str) -> usize {
    let bytes = value.as_bytes();
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' if depth == 0 => return i,
            b']' => depth -= 1,
            b'\n' => return i,
            b' ' if next_is_key(&value[i + 1..], b':') => return i,
            _ => {}
        }
    }
    value.len()
}

/// Whether `rest` starts with a key (a word) directly followed by `sep`.
fn next_is_key(rest: &str, sep: u8) -> bool {
    let n = rest.bytes().take_while(|b| is_word(*b)).count();
    n > 0 && rest.as_bytes().get(n) == Some(&sep)
}

/// Where a phrase value ends: a line break (real or escaped), a `, key` of
/// the next entry (`, key:`, `, key =`, `, "key"`), or a bracket that closes
/// one the value did not open.
fn phrase_end(value: &str) -> usize {
    let bytes = value.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' | b'\r' => return i,
            b'\\' if matches!(bytes.get(i + 1), Some(b'n' | b'r')) => return i,
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => return i,
            b')' | b']' | b'}' => depth -= 1,
            b',' if next_entry(&value[i + 1..]) => return i,
            _ => {}
        }
        i += 1;
    }
    value.len()
}

/// Whether text after a comma starts the next `key: value` entry.
fn next_entry(rest: &str) -> bool {
    let rest = rest.trim_start_matches(' ');
    let rest = rest.trim_start_matches([':', '"', '\'']);
    let n = rest.bytes().take_while(|b| is_word(*b)).count();
    if n == 0 {
        return false;
    }
    let after = rest[n..]
        .trim_start_matches(['"', '\''])
        .trim_start_matches(' ');
    after.starts_with(['=', ':'])
}

/// The words of a .NET structured log message (Serilog and
/// Microsoft.Extensions.Logging write the template, `Invalid
/// redirect_uri{@values}, details: {@details}`, beside its properties): the
/// `{Property}` placeholders taken out, kept only when the catalog knows a
/// provider's text in them, since any app logs templates and only a
/// provider's words make one an OAuth error.
pub(super) fn template_words(template: &str) -> Option<String> {
    let mut words = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        words.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // `{{` is a literal brace; a placeholder is a short name with an
        // optional `@`/`$` and format (`{@details}`, `{ClientId:l}`).
        let close = after.find('}').filter(|&c| {
            c > 0
                && c <= 64
                && after[..c]
                    .bytes()
                    .all(|b| is_word(b) || matches!(b, b'@' | b'$' | b':' | b',' | b'-' | b'.'))
        });
        match close {
            Some(c) => rest = &after[c + 1..],
            None => {
                words.push('{');
                rest = after;
            }
        }
    }
    words.push_str(rest);
    let words = words
        .trim()
        .trim_end_matches([',', ':', ';', ' '])
        // Duende appends `, details: {@details}` to every validation message.
        .trim_end_matches(", details")
        .trim();
    let known = crate::catalog::catalog()
        .matches(words)
        .iter()
        .any(|e| e.cause != "unknown");
    (known && !words.is_empty()).then(|| words.to_owned())
}
