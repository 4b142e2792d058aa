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
//! `status` is never set: the listener does not log the HTTP status.

use std::borrow::Cow;

use crate::event::{Event, EventKind, ServerKind};
use crate::format::Format;
use crate::grant::GrantType;

/// `key=value` pairs of an event line, values unquoted and unescaped.
pub(super) fn pairs(body: &str) -> Vec<(&str, Cow<'_, str>)> {
    let bytes = body.as_bytes();
    // An event line has about fifteen pairs: room for them up front
    // rather than four reallocations per line.
    let mut out = Vec::with_capacity(16);
    let mut i = 0;
    while i < bytes.len() {
        while matches!(bytes.get(i), Some(b' ' | b',')) {
            i += 1;
        }
        let Some(key_len) = key_len(body, i) else {
            break;
        };
        let key = &body[i..i + key_len];
        let start = i + key_len + 1;
        let (value, next) = read_value(body, start);
        out.push((key, value));
        i = next;
    }
    out
}

/// Length of `key` when the text at `at` is `key=`.
fn key_len(body: &str, at: usize) -> Option<usize> {
    let rest = body.get(at..)?;
    let len = rest
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'))?;
    (len > 0 && rest.as_bytes().get(len) == Some(&b'=')).then_some(len)
}

/// Whether a value may end at `at`: the line ends, or `, key=` follows.
fn ends_here(body: &str, at: usize) -> bool {
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

/// Reads the value starting at `start`; returns it and where the next pair
/// may start.
fn read_value(body: &str, start: usize) -> (Cow<'_, str>, usize) {
    let bytes = body.as_bytes();
    if let Some(&q) = bytes.get(start).filter(|&&b| b == b'"' || b == b'\'') {
        let mut j = start + 1;
        while let Some(off) = bytes.get(j..).and_then(|r| r.iter().position(|&b| b == q)) {
            let k = j + off;
            let escaped = q == b'"' && bytes.get(k.wrapping_sub(1)) == Some(&b'\\');
            if !escaped && ends_here(body, k + 1) {
                return (unescape(&body[start + 1..k]), k + 1);
            }
            j = k + 1;
        }
        // Truncated line: the value runs to its end.
        return (unescape(&body[start + 1..]), body.len());
    }
    let mut j = start;
    while let Some(off) = bytes
        .get(j..)
        .and_then(|r| r.iter().position(|&b| b == b','))
    {
        let k = j + off;
        if ends_here(body, k) {
            return (Cow::Borrowed(body[start..k].trim()), k);
        }
        j = k + 1;
    }
    (Cow::Borrowed(body[start..].trim()), body.len())
}

fn unescape(v: &str) -> Cow<'_, str> {
    // One byte search first: nearly every value holds no backslash, and
    // two substring searches per value were a tenth of parsing the line.
    if memchr::memchr(b'\\', v.as_bytes()).is_none() {
        return Cow::Borrowed(v);
    }
    if v.contains("\\\"") || v.contains("\\\\") {
        Cow::Owned(v.replace("\\\"", "\"").replace("\\\\", "\\"))
    } else {
        Cow::Borrowed(v)
    }
}

/// The kind of an event type, or `None` when it is not about grants.
fn kind_of(
    event_type: &str,
    grant_type: Option<&str>,
    response_type: Option<&str>,
) -> Option<EventKind> {
    let token = grant_type.is_some();
    let code = response_type.is_some_and(|r| r.split(' ').any(|t| t == "code"));
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

/// The event of a listener line (`message` starts with `type=`).
pub(super) fn parse(message: &str) -> Option<Event<'_>> {
    let kv = pairs(message);
    let get = |key: &str| {
        kv.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty() && v != "null")
    };
    let event_type = get("type")?;
    let grant_type = get("grant_type");
    let response_type = get("response_type");
    let kind = kind_of(&event_type, grant_type.as_deref(), response_type.as_deref())?;
    let mut event = Event::new(kind, Format::Keycloak);
    event.server = Some(ServerKind::Keycloak);
    event.grant_type = grant_type
        .as_deref()
        .or_else(|| default_grant(&event_type))
        .map(GrantType::from_name);
    event.client_id = get("clientId");
    event.user = get("userId").or_else(|| get("username"));
    event.session_id = get("sessionId").or_else(|| get("code_id"));
    event.ip = get("ipAddress");
    event.redirect_uri = get("redirect_uri");
    event.provider_reason = get("reason");
    if let Some(error) = get("error") {
        if answers_invalid_grant(&event_type, &error, event.provider_reason.as_deref()) {
            event.error = Some(Cow::Borrowed("invalid_grant"));
        }
        event.provider_code = Some(error);
    }
    Some(event)
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
}
