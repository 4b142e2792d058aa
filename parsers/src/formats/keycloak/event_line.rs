//! The `org.keycloak.events` listener line (`JBossLoggingEventListenerProvider`):
//! `type=…, realmId=…, clientId=…, userId=…, ipAddress=…, error=…, <detail>=…`.
//!
//! Values are bare (KC ≤ 22), wrapped in `'…'` when they hold a space (old
//! versions, and the quote itself may appear inside), or all double-quoted
//! and sanitized (KC ≥ 23, `\"` escapes). A value ends at its closing quote
//! only when a `, key=` or the end of the line follows, so quotes and commas
//! inside values survive. Admin events (`operationType=`) never get here.
//!
//! Which event types are token requests, and which `error=` constants the
//! server answers with `invalid_grant` (catalog §4.2–4.4; the event line never
//! shows the HTTP answer, so `error` stays empty when it is not certain):
//!
//! | type | kind | `error` = `invalid_grant` when `error=` is |
//! |---|---|---|
//! | `CODE_TO_TOKEN_ERROR` | TokenResponse | `invalid_code`, `expired_code`, `invalid_redirect_uri`, `invalid_client` (client differs from the code's), `user_session_not_found`, `session_expired`, `user_not_found`, `user_disabled`, `code_verifier_missing`, `invalid_code_verifier`, `pkce_verification_failed` |
//! | `REFRESH_TOKEN_ERROR` | TokenResponse | `invalid_token` (unless `reason` is the consent one, answered `invalid_scope`), `user_session_not_found`, `session_expired`, `user_not_found`, `user_disabled` |
//! | `LOGIN_ERROR` with `grant_type` | TokenResponse | `invalid_user_credentials`, `user_not_found`, `user_disabled`, `user_temporarily_disabled`, `resolve_required_actions` |
//! | `LOGIN_ERROR` without `grant_type` (browser) | ProviderEvent | never |
//! | `CLIENT_LOGIN_ERROR`, `TOKEN_EXCHANGE_ERROR` | TokenResponse | never (client authentication and exchange errors are not `invalid_grant`) |
//! | `CODE_TO_TOKEN`, `REFRESH_TOKEN`, `CLIENT_LOGIN`, `TOKEN_EXCHANGE`, `LOGIN` with `grant_type` | TokenResponse, no error (a success) | — |
//! | `LOGIN` with `response_type` `code` (browser login that ends in a code redirect) | CodeIssued (no `code_fp`: the code is not logged) | — |
//! | `LOGOUT`, `REVOKE_GRANT` | RevokeRequest | — |
//! | any other `*_ERROR` | ProviderEvent | never |
//! | anything else | skipped | — |
//!
//! `status` is never set: the listener does not log the HTTP status. The
//! event is marked as read whole ([`Event::errors_read`]): the extractor
//! does not read the line again.

use std::borrow::Cow;

use super::key_bytes::first_non_key_byte;
use crate::bytes::first_byte;
use crate::event::{Event, EventKind, ServerKind};
use crate::format::Format;
use crate::grant::GrantType;

/// `key=value` pairs of an event line, values unquoted and unescaped.
#[cfg(test)]
pub(super) fn pairs(body: &str) -> Vec<(&str, Cow<'_, str>)> {
    Pairs::of(body)
        .map(|(key, value)| (key, value.text()))
        .collect()
}

/// The `key=value` pairs of an event line, in order, each value as
/// written: unquoted only when asked ([`Value::text`]), so the pairs no
/// field is read from (a dozen a line: realm, scope, token ids, …) cost
/// no unescaping, and no list of them is made.
struct Pairs<'a> {
    body: &'a str,
    /// Where the next pair may start.
    at: usize,
    /// The key the last value's end found after it, which the next pair
    /// takes when it starts there (it skips spaces and commas only, the
    /// end any whitespace, so not always).
    next_key: Option<Key>,
}

impl<'a> Pairs<'a> {
    fn of(body: &'a str) -> Pairs<'a> {
        Pairs {
            body,
            at: 0,
            next_key: None,
        }
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let (body, bytes) = (self.body, self.body.as_bytes());
        let mut i = self.at;
        while matches!(bytes.get(i), Some(b' ' | b',')) {
            i += 1;
        }
        let key_len = match self.next_key {
            Some(key) if key.at == i => key.len,
            _ => key_len(body, i)?,
        };
        let key = &body[i..i + key_len];
        let (value, next, next_key) = read_value(body, i + key_len + 1);
        (self.at, self.next_key) = (next, next_key);
        Some((key, value))
    }
}

/// A value as its line writes it.
#[derive(Clone, Copy)]
enum Value<'a> {
    /// Between its quotes, escapes not undone.
    Quoted(&'a str),
    /// Bare, spaces trimmed.
    Bare(&'a str),
}

impl<'a> Value<'a> {
    /// The value's text: a quoted one's escapes undone.
    fn text(self) -> Cow<'a, str> {
        match self {
            Value::Quoted(v) => unescape(v),
            Value::Bare(v) => Cow::Borrowed(v),
        }
    }
}

/// Length of `key` when the text at `at` is `key=`.
fn key_len(body: &str, at: usize) -> Option<usize> {
    let rest = body.get(at..)?.as_bytes();
    let len = first_non_key_byte(rest)?;
    (len > 0 && rest.get(len) == Some(&b'=')).then_some(len)
}

/// Whether a value may end at `at` ([`end_at`]'s answer alone, as its
/// tests ask it).
#[cfg(test)]
fn ends_here(body: &str, at: usize) -> bool {
    end_at(body, at).is_some()
}

/// Whether a value may end at `at`: `, key=` follows (the usual case, so
/// asked first), or the line ends there but for spaces, commas and a
/// truncation mark. Every value's end is asked this; the end-of-line test
/// first cost a value as much as reading it. When `, key=` follows, the
/// key too: where it starts and its length, so the next pair need not
/// measure it again.
fn end_at(body: &str, at: usize) -> Option<Option<Key>> {
    // `, key=`, the way nearly every value ends: the key found where the
    // general way below finds it (one space counted), without its count.
    if body.as_bytes().get(at..at + 2) == Some(b", ")
        && let Some(len) = key_len(body, at + 2)
    {
        return Some(Some(Key { at: at + 2, len }));
    }
    let rest = body.get(at..).unwrap_or("");
    if let Some(after) = rest.strip_prefix(',') {
        let key_at = at + 1 + leading_whitespace(after);
        if let Some(len) = key_len(body, key_at) {
            return Some(Some(Key { at: key_at, len }));
        }
    }
    rest.trim_end_matches([' ', ',', '…'])
        .is_empty()
        .then_some(None)
}

/// A key found after a value: where it starts, its length.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    at: usize,
    len: usize,
}

/// The length of what `str::trim_start` takes off `s`: ASCII whitespace
/// counted byte by byte, the rest left to `trim_start`.
fn leading_whitespace(s: &str) -> usize {
    // `char::is_whitespace`'s ASCII members: tab to carriage return, space.
    let ascii = s
        .bytes()
        .take_while(|b| matches!(b, b'\t'..=b'\r' | b' '))
        .count();
    if s.as_bytes().get(ascii).is_some_and(|&b| b >= 0x80) {
        return s.len() - s.trim_start().len();
    }
    ascii
}

/// Reads the value starting at `start`; returns it, where the next pair
/// may start and the key found after it, if one was.
fn read_value(body: &str, start: usize) -> (Value<'_>, usize, Option<Key>) {
    let bytes = body.as_bytes();
    if let Some(&q) = bytes.get(start).filter(|&&b| b == b'"' || b == b'\'') {
        let mut j = start + 1;
        // Word at a time: a byte loop over the values was a third of
        // `parse_record`'s own time (benches/README.md).
        while let Some(off) = bytes.get(j..).and_then(|r| first_byte(r, q)) {
            let k = j + off;
            let escaped = q == b'"' && bytes.get(k.wrapping_sub(1)) == Some(&b'\\');
            if !escaped && let Some(key) = end_at(body, k + 1) {
                return (Value::Quoted(&body[start + 1..k]), k + 1, key);
            }
            j = k + 1;
        }
        // Truncated line: the value runs to its end.
        return (Value::Quoted(&body[start + 1..]), body.len(), None);
    }
    let mut j = start;
    while let Some(off) = bytes.get(j..).and_then(|r| first_byte(r, b',')) {
        let k = j + off;
        if let Some(key) = end_at(body, k) {
            return (Value::Bare(body[start..k].trim()), k, key);
        }
        j = k + 1;
    }
    (Value::Bare(body[start..].trim()), body.len(), None)
}

fn unescape(v: &str) -> Cow<'_, str> {
    // One byte search first: nearly every value holds no backslash, and
    // two substring searches per value were a tenth of parsing the line.
    if first_byte(v.as_bytes(), b'\\').is_none() {
        return Cow::Borrowed(v);
    }
    if v.contains("\\\"") || v.contains("\\\\") {
        Cow::Owned(v.replace("\\\"", "\"").replace("\\\\", "\\"))
    } else {
        Cow::Borrowed(v)
    }
}

/// The kind of an event type, or `None` when it is not about grants:
/// `token` when the line has a grant type, `code` when its response type
/// holds `code`. Either only adds kinds.
fn kind_of(event_type: &str, token: bool, code: bool) -> Option<EventKind> {
    Some(match event_type {
        "CODE_TO_TOKEN_ERROR"
        | "REFRESH_TOKEN_ERROR"
        | "CLIENT_LOGIN_ERROR"
        | "TOKEN_EXCHANGE_ERROR" => EventKind::TokenResponse,
        "CODE_TO_TOKEN" | "REFRESH_TOKEN" | "CLIENT_LOGIN" | "TOKEN_EXCHANGE" => {
            EventKind::TokenResponse
        }
        "LOGIN_ERROR" | "LOGIN" if token => EventKind::TokenResponse,
        "LOGIN" if code => EventKind::CodeIssued,
        "LOGOUT" | "REVOKE_GRANT" => EventKind::RevokeRequest,
        t if t.ends_with("_ERROR") => EventKind::ProviderEvent,
        _ => return None,
    })
}

/// Whether Keycloak answers this failure with `invalid_grant` (see the
/// module table).
fn answers_invalid_grant(event_type: &str, error: &str, reason: Option<&str>) -> bool {
    const SESSION_USER: &[&str] = &[
        "user_session_not_found",
        "session_expired",
        "user_not_found",
        "user_disabled",
    ];
    match event_type {
        "CODE_TO_TOKEN_ERROR" => {
            SESSION_USER.contains(&error)
                || [
                    "invalid_code",
                    "expired_code",
                    "invalid_redirect_uri",
                    "invalid_client",
                    "code_verifier_missing",
                    "invalid_code_verifier",
                    "pkce_verification_failed",
                ]
                .contains(&error)
        }
        "REFRESH_TOKEN_ERROR" => {
            let consent = reason.is_some_and(|r| r.contains("no longer has requested consent"));
            (error == "invalid_token" && !consent) || SESSION_USER.contains(&error)
        }
        "LOGIN_ERROR" => [
            "invalid_user_credentials",
            "user_not_found",
            "user_disabled",
            "user_temporarily_disabled",
            "resolve_required_actions",
        ]
        .contains(&error),
        _ => false,
    }
}

/// The default grant type of a token event type that did not log one.
fn default_grant(event_type: &str) -> Option<&'static str> {
    match event_type {
        "CODE_TO_TOKEN" | "CODE_TO_TOKEN_ERROR" => Some("authorization_code"),
        "REFRESH_TOKEN" | "REFRESH_TOKEN_ERROR" => Some("refresh_token"),
        "TOKEN_EXCHANGE" | "TOKEN_EXCHANGE_ERROR" => {
            Some("urn:ietf:params:oauth:grant-type:token-exchange")
        }
        _ => None,
    }
}

/// The keys an event is read from, each with its slot in [`Fields`].
#[derive(Clone, Copy)]
enum Field {
    Type,
    GrantType,
    ResponseType,
    ClientId,
    UserId,
    Username,
    SessionId,
    CodeId,
    IpAddress,
    RedirectUri,
    Reason,
    Error,
}

const FIELDS: usize = Field::Error as usize + 1;

impl Field {
    fn of(key: &str) -> Option<Field> {
        Some(match key {
            "type" => Field::Type,
            "grant_type" => Field::GrantType,
            "response_type" => Field::ResponseType,
            "clientId" => Field::ClientId,
            "userId" => Field::UserId,
            "username" => Field::Username,
            "sessionId" => Field::SessionId,
            "code_id" => Field::CodeId,
            "ipAddress" => Field::IpAddress,
            "redirect_uri" => Field::RedirectUri,
            "reason" => Field::Reason,
            "error" => Field::Error,
            _ => return None,
        })
    }
}

/// The first value of each [`Field`] in a line, empty and `null`
/// ones left out: read in one pass over the pairs (a search of them per key
/// compared about 180 keys a line).
struct Fields<'a>([Option<Cow<'a, str>>; FIELDS]);

impl<'a> Fields<'a> {
    fn of(message: &'a str) -> Fields<'a> {
        let mut slots: [Option<Cow<'a, str>>; FIELDS] = Default::default();
        let mut seen = [false; FIELDS];
        for (key, value) in Pairs::of(message) {
            let Some(field) = Field::of(key) else {
                continue;
            };
            let i = field as usize;
            // The first pair of a key is its value, even when empty.
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            let value = value.text();
            if !value.is_empty() && value != "null" {
                slots[i] = Some(value);
            }
        }
        Fields(slots)
    }

    fn take(&mut self, field: Field) -> Option<Cow<'a, str>> {
        self.0[field as usize].take()
    }
}

/// Whether a listener line gives no event whatever its other pairs say:
/// its type is one [`kind_of`] maps to no kind even with a grant type and a
/// code response type. Such lines (`INTROSPECT_TOKEN`, `USER_INFO_REQUEST`,
/// `UPDATE_PROFILE`, …: a resource server that introspects every call logs
/// one per call) are skipped before the redactor reads them and before
/// their pairs are read. `false` when the type is not plainly written (see
/// [`type_letters`]): such a line is read whole, as before.
pub(super) fn gives_no_event(message: &str) -> bool {
    no_event_by_type(message, &[b"\"", b"'"])
}

/// [`gives_no_event`] of a message still inside its JSON string (the
/// bytes after the `message` key's opening quote, escapes untouched): a
/// double quote is written `\"` there, and nothing else the type's plain
/// writing holds is escaped, so the same test reads the same type.
pub(super) fn gives_no_event_in_json(raw_message: &str) -> bool {
    no_event_by_type(raw_message, &[b"\\\"", b"'"])
}

fn no_event_by_type(message: &str, quotes: &[&'static [u8]]) -> bool {
    let Some(letters) = type_letters(message, quotes) else {
        return false;
    };
    // Nearly every line's type may give an event: told before its end is.
    kind_of(letters.text, true, true).is_none() && letters.end_the_value(message)
}

/// The capital letters, digits and underscores after a line's `type=` and
/// one of `quotes`, if one follows.
struct TypeLetters<'a> {
    text: &'a str,
    quote: &'static [u8],
    end: usize,
}

fn type_letters<'a>(message: &'a str, quotes: &[&'static [u8]]) -> Option<TypeLetters<'a>> {
    let value = message.strip_prefix("type=")?.as_bytes();
    let quote = quotes
        .iter()
        .copied()
        .find(|q| value.starts_with(q))
        .unwrap_or(b"");
    let start = "type=".len() + quote.len();
    let len = message.as_bytes()[start..]
        .iter()
        .position(|&b| !(b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))?;
    let end = start + len;
    (len > 0).then(|| TypeLetters {
        text: &message[start..end],
        quote,
        end,
    })
}

impl TypeLetters<'_> {
    /// Whether [`read_value`] ends the type's value right after the
    /// letters, so that they are the type [`parse_into`] reads.
    fn end_the_value(&self, message: &str) -> bool {
        let after = &message.as_bytes()[self.end..];
        match self.quote {
            [] => after.first() == Some(&b',') && end_at(message, self.end).is_some(),
            quote => after.starts_with(quote) && end_at(message, self.end + quote.len()).is_some(),
        }
    }
}

/// The event of a listener line (`message` starts with `type=`).
pub(super) fn parse(message: &str) -> Option<Event<'_>> {
    let mut event = Event::new(EventKind::Unparsed, Format::Keycloak);
    parse_into(message, &mut event).then_some(event)
}

/// [`parse`] into `event`, a new event the caller made for the line: its
/// fields set, and `true`, when the line gives an event (else `false`, and
/// the caller drops it). Filled where it lies in the parser's output, an
/// event is not copied through each caller's return: 608 bytes, four times
/// a line (benches/README.md).
pub(super) fn parse_into<'t>(message: &'t str, event: &mut Event<'t>) -> bool {
    let mut fields = Fields::of(message);
    let Some(event_type) = fields.take(Field::Type) else {
        return false;
    };
    let grant_type = fields.take(Field::GrantType);
    let response_type = fields.take(Field::ResponseType);
    let code = response_type.is_some_and(|r| r.split(' ').any(|t| t == "code"));
    let Some(kind) = kind_of(&event_type, grant_type.is_some(), code) else {
        return false;
    };
    event.kind = kind;
    event.format = Format::Keycloak;
    event.server = Some(ServerKind::Keycloak);
    event.grant_type = grant_type
        .as_deref()
        .or_else(|| default_grant(&event_type))
        .map(GrantType::from_name);
    event.client_id = fields.take(Field::ClientId);
    event.user = fields
        .take(Field::UserId)
        .or_else(|| fields.take(Field::Username));
    event.session_id = fields
        .take(Field::SessionId)
        .or_else(|| fields.take(Field::CodeId));
    event.ip = fields.take(Field::IpAddress);
    event.redirect_uri = fields.take(Field::RedirectUri);
    event.provider_reason = fields.take(Field::Reason);
    if let Some(error) = fields.take(Field::Error) {
        if answers_invalid_grant(&event_type, &error, event.provider_reason.as_deref()) {
            event.error = Some(Cow::Borrowed("invalid_grant"));
        }
        event.provider_code = Some(error);
    }
    // `error` and `reason` are the only error fields the listener writes,
    // and both are read above, `error` into the OAuth error only where the
    // table says the server answers one. Read again as prose, the line
    // could only add what the table leaves out on purpose or take a
    // user's words (a username, a redirect URI) for the server's; it was
    // a tenth of the instructions of a Keycloak log's analysis
    // (benches/README.md).
    event.errors_read = true;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_keep_commas_quotes_and_escapes() {
        let line = r#"type="CODE_TO_TOKEN_ERROR", error="invalid_redirect_uri", reason="Saved: a, b=\"c\"", grant_type="authorization_code""#;
        let kv = pairs(line);
        assert_eq!(kv[2].1, r#"Saved: a, b="c""#);
        assert_eq!(kv[3].1, "authorization_code");
    }

    #[test]
    fn single_quoted_values_with_inner_quotes() {
        let line = "type=CODE_TO_TOKEN_ERROR, error=invalid_redirect_uri, reason='Parameter 'redirect_uri' did not match', grant_type=authorization_code";
        let kv = pairs(line);
        assert_eq!(kv[2].1, "Parameter 'redirect_uri' did not match");
        assert_eq!(kv[3].1, "authorization_code");
    }

    #[test]
    fn truncated_lines_and_garbage() {
        let kv = pairs("type=CODE_TO_TOKEN_ERROR, error=invalid_code,");
        assert_eq!(kv.len(), 2);
        assert_eq!(kv[1].1, "invalid_code");
        for junk in ["type=\"", "type='", "=", "type=a,,, ,=", "type=\"a\\\""] {
            let _ = pairs(junk);
        }
    }

    /// Event lines near the edges of the value-end rule: a quoted value
    /// holding `, b=`, Unicode spaces, a tab and empty pairs after a comma,
    /// a truncation mark, a single-quoted value holding a quote.
    const EDGE_LINES: [&str; 5] = [
        r#"type="CODE_TO_TOKEN_ERROR", error="invalid_code", reason="a, b=c", grant_type="authorization_code""#,
        "type=LOGIN, clientId=app,\u{a0}userId=1 ,  …",
        "type=LOGIN,\tclientId=app, ,",
        "type=LOGIN,\tclientId=app, ,userId=2",
        "reason='it's, \u{2003}x=1', error=e",
    ];

    /// The pairs read taking the key each value's end found are the pairs
    /// read measuring every key again, whatever separates them (tabs and
    /// Unicode spaces after a comma, which the pairs' own skip stops at).
    mod keys_taken_from_value_ends {
        use super::super::*;
        use proptest::prelude::*;

        fn measuring_each_key(body: &str) -> Vec<(&str, Cow<'_, str>)> {
            let mut pairs = Pairs::of(body);
            let mut out = Vec::new();
            loop {
                pairs.next_key = None;
                let Some((key, value)) = pairs.next() else {
                    return out;
                };
                out.push((key, value.text()));
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3_000))]
            #[test]
            fn same_pairs(
                body in "([a-z_]{0,4}(=|, |,|,\\t|,\u{a0}|, ,| |\"|'|…|\\\\|é)){0,12}"
            ) {
                prop_assert_eq!(pairs(&body), measuring_each_key(&body));
            }
        }

        #[test]
        fn same_pairs_on_event_lines() {
            for body in super::EDGE_LINES {
                assert_eq!(pairs(body), measuring_each_key(body), "{body:?}");
            }
        }
    }

    /// The value-end test against the one it replaced (kept here as the
    /// reference), at every character boundary of lines near the event
    /// line's shape, with Unicode spaces and truncation marks.
    mod ends_here_as_before {
        use super::super::*;
        use proptest::prelude::*;

        fn reference(body: &str, at: usize) -> bool {
            let rest = body.get(at..).unwrap_or("");
            let trimmed = rest.trim_end_matches([' ', ',', '…']);
            if trimmed.is_empty() {
                return true;
            }
            match rest.strip_prefix(',') {
                Some(after) => {
                    let after = after.trim_start();
                    let skipped = rest.len() - after.len();
                    key_len(body, at + skipped).is_some()
                }
                None => false,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3_000))]
            #[test]
            fn same_answer_at_every_boundary(
                body in "([a-z_]{0,4}(=|, |,|,\\t|,\u{a0}|,\u{2003}| |\"|'|…|\\\\|\u{b}|é)){0,12}"
            ) {
                for at in (0..=body.len() + 1).filter(|&i| i > body.len() || body.is_char_boundary(i)) {
                    prop_assert_eq!(ends_here(&body, at), reference(&body, at), "{:?} at {}", body, at);
                }
            }
        }

        #[test]
        fn same_answer_on_event_lines() {
            for body in super::EDGE_LINES {
                for at in (0..=body.len()).filter(|&i| body.is_char_boundary(i)) {
                    assert_eq!(ends_here(body, at), reference(body, at), "{body:?} at {at}");
                }
            }
        }
    }
}
