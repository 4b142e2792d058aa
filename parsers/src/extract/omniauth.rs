//! OmniAuth's own log lines about the phases of a login:
//! `(github) Request phase initiated.` when the app sends the browser to
//! the provider, `(github) Callback phase initiated.` when the provider's
//! redirect (carrying the code) reaches the app and omniauth-oauth2 is about
//! to exchange that code. Two callback phases of one login mean the code was
//! exchanged twice (a callback route mounted twice, a provider configured
//! both in `OmniAuth::Builder` and in Devise): the diagnosis reads these
//! events for that (`code_reused`).
//!
//! Invariants: a phase line carries no secret (only the strategy's name),
//! and is never an error; the name is a short word (`[A-Za-z0-9_-]`), so a
//! line that only resembles one is not taken.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;

use crate::event::{Event, EventKind};
use crate::format::Format;
use crate::parser::Context;

/// How Devise's OmniAuth failure flash begins (`devise.omniauth_callbacks.
/// failure` in Devise's `config/locales/en.yml`: `Could not authenticate
/// you from %{kind} because "%{reason}".`). `Devise::OmniauthCallbacksController
/// #failure` sets it after the callback phase failed and the next page shows
/// it: it is no log line, and has no place in a log's order. The extractor
/// keeps the sentence as the failure's reason so the diagnosis can tell it.
pub const DEVISE_FLASH: &str = "Could not authenticate you from ";

/// Which phase a line starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The app sends the browser to the provider.
    Request,
    /// The provider's redirect reached the app: its code is exchanged now.
    Callback,
}

/// One phase line: the phase, the strategy's name and the line's own words
/// (`(github) Callback phase initiated.`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseLine<'t> {
    /// The phase.
    pub phase: Phase,
    /// The strategy (`github`, `stripe_connect`).
    pub strategy: &'t str,
    /// `(name) … phase initiated.` as written.
    pub words: &'t str,
}

/// What both phase lines end with: one vectorised search rules out the
/// lines that are not phase lines (nearly all of a log) before anything else.
static PHASE_END: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(" phase initiated."));

/// The OmniAuth phase `text` logs, if any.
pub fn phase(text: &str) -> Option<PhaseLine<'_>> {
    PHASE_END.find(text.as_bytes())?;
    for (needle, phase) in [
        (") Callback phase initiated.", Phase::Callback),
        (") Request phase initiated.", Phase::Request),
    ] {
        let Some(end) = text.find(needle) else {
            continue;
        };
        let open = text[..end].rfind('(')?;
        let strategy = &text[open + 1..end];
        let name_like = !strategy.is_empty()
            && strategy.len() <= 64
            && strategy
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_like {
            return None;
        }
        return Some(PhaseLine {
            phase,
            strategy,
            words: &text[open..end + needle.len()],
        });
    }
    None
}

/// The event of an OmniAuth phase line: a callback phase is the code's
/// arrival at the client ([`EventKind::CodeIssued`]), a request phase the
/// start of a login ([`EventKind::AuthorizeRequest`]); the line's words go
/// to `provider_reason`, which is how the diagnosis tells them from a
/// server's. `time` is the line's own time when its parser read one.
pub fn phase_event<'t>(
    text: &'t str,
    format: Format,
    ctx: &Context,
    time: Option<crate::event::Timestamp>,
) -> Option<Event<'t>> {
    let line = phase(text)?;
    let kind = match line.phase {
        Phase::Callback => EventKind::CodeIssued,
        Phase::Request => EventKind::AuthorizeRequest,
    };
    let mut event = Event::new(kind, format);
    event.ts = time.or_else(|| crate::common::timestamp(text.trim_start(), ctx).map(|(ts, _)| ts));
    event.provider_reason = Some(Cow::Borrowed(line.words));
    Some(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_lines_as_omniauth_writes_them() {
        let l = phase("I, [2016-05-02T09:09:04.671596 #5893]  INFO -- omniauth: (meta_auth) Callback phase initiated.")
            .expect("callback");
        assert_eq!(l.phase, Phase::Callback);
        assert_eq!(l.strategy, "meta_auth");
        assert_eq!(l.words, "(meta_auth) Callback phase initiated.");
        let l = phase("(instagram_graph) Request phase initiated.").expect("request");
        assert_eq!(l.phase, Phase::Request);
        for text in [
            "Callback phase initiated.",
            "(two words) Callback phase initiated.",
            "() Request phase initiated.",
            "(github) Authentication failure! invalid_credentials: OAuth2::Error",
        ] {
            assert_eq!(phase(text), None, "{text}");
        }
    }

    #[test]
    fn a_callback_is_the_codes_arrival_and_no_error() {
        let ev = phase_event(
            "omniauth: (stripe_connect) Callback phase initiated.",
            Format::Mixed,
            &Context::default(),
            None,
        )
        .expect("event");
        assert_eq!(ev.kind, EventKind::CodeIssued);
        assert!(ev.error.is_none() && ev.status.is_none());
        assert_eq!(
            ev.provider_reason.as_deref(),
            Some("(stripe_connect) Callback phase initiated.")
        );
        assert!(
            crate::extract::extract("omniauth: (stripe_connect) Callback phase initiated.")
                .is_none()
        );
    }
}
