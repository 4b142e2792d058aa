//! Keycloak warnings that name why a grant failed, besides the event line:
//! `OAuth2CodeParser` (code already used, bound to another session, badly
//! formed), the PKCE checks (`PkceUtils`, older `TokenEndpoint`) and
//! `KC-SERVICES0014: Failed client authentication`.
//!
//! The code id in `Code '<id>' …` is the first part of the authorization
//! code; the redactor replaces it (`redact/code_parser_id.rs`) before
//! anything here reads the line.

use std::borrow::Cow;

use crate::event::{Event, EventKind, ServerKind};
use crate::format::Format;

const CODE_PARSER: &str = "OAuth2CodeParser";
const CODE_OPEN: &str = "Code '";

/// Whether a message of `logger` is one of these warnings.
pub(super) fn is_warning(logger: &str, message: &str) -> bool {
    if logger.ends_with(CODE_PARSER) {
        return message.starts_with(CODE_OPEN) || message.starts_with("Invalid format of the code");
    }
    message.starts_with("PKCE ") || message.starts_with("KC-SERVICES0014")
}

/// The event of a warning message (already redacted).
pub(super) fn parse<'t>(logger: &str, message: &'t str) -> Option<Event<'t>> {
    let mut event = Event::new(EventKind::ProviderEvent, Format::Keycloak);
    event.server = Some(ServerKind::Keycloak);
    if logger.ends_with(CODE_PARSER) {
        code_warning(&mut event, message)?;
    } else if message.starts_with("KC-SERVICES0014") {
        // The message may carry its cause (`…: AuthenticationFlowException`);
        // the reason is the fixed text of message id 14.
        event.provider_reason = Some(Cow::Borrowed("Failed client authentication"));
    } else {
        pkce_warning(&mut event, message)?;
    }
    Some(event)
}

fn code_warning<'t>(event: &mut Event<'t>, message: &'t str) -> Option<()> {
    if message.starts_with("Invalid format of the code") {
        event.provider_reason = Some(Cow::Borrowed("Invalid format of the code"));
        return Some(());
    }
    let after_id = message.strip_prefix(CODE_OPEN)?;
    let after_id = &after_id[after_id.find('\'')? + 1..];
    if let Some(rest) = after_id.strip_prefix(" already used for userSession '") {
        event.provider_reason = Some(Cow::Borrowed("Code already used"));
        event.session_id = rest.find('\'').map(|e| Cow::Borrowed(&rest[..e]));
    } else if after_id.starts_with(" is bound to a different session") {
        event.provider_reason = Some(Cow::Borrowed("Code is bound to a different session"));
    } else {
        return None;
    }
    Some(())
}

/// `PKCE verification failed: Code mismatch. authUserId = 1, authUsername = a`
/// → reason `PKCE verification failed: Code mismatch`, user `a`.
fn pkce_warning<'t>(event: &mut Event<'t>, message: &'t str) -> Option<()> {
    let cut = [", authUserId", ". authUserId"]
        .iter()
        .filter_map(|m| message.find(m))
        .min()
        .unwrap_or(message.len());
    let reason = message[..cut].trim().trim_end_matches('.');
    if reason.is_empty() {
        return None;
    }
    event.provider_reason = Some(Cow::Borrowed(reason));
    let named = |key: &str| {
        let at = message.find(key)? + key.len();
        let value = message[at..].split(',').next()?.trim();
        (!value.is_empty() && value != "null").then_some(Cow::Borrowed(value))
    };
    event.user = named("authUsername = ").or_else(|| named("authUserId = "));
    Some(())
}
