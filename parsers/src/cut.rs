//! Lines cut short with `…` or `...`, as log viewers, `systemctl status`,
//! terminal columns and people pasting into tickets leave them.
//!
//! A parser reads a cut line like any other, so every field before the cut
//! is kept; only the field the cut runs through is partial. [`mend`] repairs
//! that field on an event: a value of a closed set (`grant_type`, the OAuth
//! `error`) is completed when exactly one member starts with what is left,
//! an identifier (client, request, redirect URI, …) with a marker anywhere
//! is dropped, since a partial id would join the wrong requests (systemd's
//! journal ellipsis keeps the last tenth of a line after the marker:
//! `client_id=11111111-2222-3333-44...veclient`), and a sentence
//! (`error_description`, the provider's reason) keeps its text with the
//! marker, for the catalog to complete ([`crate::catalog::Catalog::matches`]).
//!
//! Invariant: a field without a trailing marker is never touched.

use std::borrow::Cow;

use crate::bytes::first_of_two;
use crate::event::Event;
use crate::grant::{GrantType, KNOWN_GRANTS};

/// The OAuth 2.0 token endpoint errors (RFC 6749 §5.2, RFC 8628 §3.5).
const OAUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "authorization_pending",
    "slow_down",
    "access_denied",
    "expired_token",
    "invalid_dpop_proof",
    "use_dpop_nonce",
];

/// Shortest text left before a cut that is completed or matched at all.
pub const MIN_KEPT: usize = 4;

/// The text before a trailing cut marker (`…`, or three or more dots), if
/// `value` ends with one.
pub fn before_cut(value: &str) -> Option<&str> {
    let v = value.trim_end();
    if let Some(rest) = v.strip_suffix('…') {
        return Some(rest.trim_end_matches('.'));
    }
    let rest = v.trim_end_matches('.');
    (v.len() - rest.len() >= 3).then_some(rest)
}

/// Whether `value` has a cut marker anywhere. Asked of eleven fields of
/// every event: a substring search built a searcher each time (a twelfth
/// of reading a Keycloak log), a window compared at every byte a twentieth;
/// most fields hold neither a dot nor the first byte of `…`, which one
/// vectorised search rules out.
fn has_marker(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut from = 0;
    while let Some(i) = first_of_two(&bytes[from..], b'.', ELLIPSIS[0]) {
        let at = &bytes[from + i..];
        if at.starts_with(b"...") || at.starts_with(&ELLIPSIS) {
            return true;
        }
        from += i + 1;
    }
    false
}

/// `…` in UTF-8.
const ELLIPSIS: [u8; 3] = [0xe2, 0x80, 0xa6];

/// Repairs the field a cut runs through (see the module docs).
pub fn mend(event: &mut Event<'_>) {
    // A cut grant type is completed to a named one only.
    if let Some(GrantType::Other(logged)) = &event.grant_type {
        let mut text = Some(Cow::Borrowed(logged.as_str()));
        complete(
            &mut text,
            KNOWN_GRANTS.iter().filter_map(|g| g.known_name()),
        );
        if text.as_deref() != Some(logged.as_str()) {
            event.grant_type = text.as_deref().map(GrantType::from_name);
        }
    }
    complete(&mut event.error, OAUTH_ERRORS.iter().copied());
    for id in [
        &mut event.request_id,
        &mut event.client_id,
        &mut event.method,
        &mut event.path,
        &mut event.redirect_uri,
        &mut event.code_challenge,
        &mut event.code_challenge_method,
        &mut event.ip,
        &mut event.session_id,
        &mut event.user,
        &mut event.provider_code,
    ] {
        if id.as_deref().is_some_and(has_marker) {
            *id = None;
        }
    }
}

/// A cut value of a closed set becomes the one member it starts, or nothing.
fn complete(field: &mut Option<Cow<'_, str>>, members: impl IntoIterator<Item = &'static str>) {
    let Some(kept) = field.as_deref().and_then(before_cut) else {
        return;
    };
    let mut candidates = members.into_iter().filter(|m| m.starts_with(kept));
    *field = match (candidates.next(), candidates.next()) {
        (Some(only), None) if kept.len() >= MIN_KEPT => Some(Cow::Borrowed(only)),
        _ => None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::format::Format;

    fn event() -> Event<'static> {
        Event::new(EventKind::ProviderEvent, Format::Keycloak)
    }

    #[test]
    fn a_marker_is_found_anywhere_as_a_substring_search_finds_it() {
        for value in [
            "",
            ".",
            "..",
            "...",
            "a.b.c",
            "a..b",
            "cut...",
            "...cut",
            "x…",
            "…",
            "a—b",
            "☃ snow",
            "a.…",
            "—...",
            "e\u{2026}",
            "2025-03-11T08:00:00.123Z",
            "uuid.v4..x",
        ] {
            let naive = value.contains('…') || value.contains("...");
            assert_eq!(has_marker(value), naive, "{value:?}");
        }
    }

    #[test]
    fn markers_are_found_only_at_the_end() {
        assert_eq!(before_cut("authorization_co…"), Some("authorization_co"));
        assert_eq!(before_cut("has al..."), Some("has al"));
        assert_eq!(before_cut("has al.... "), Some("has al"));
        assert_eq!(before_cut("Code not valid."), None);
        assert_eq!(before_cut("a…b"), None);
    }

    #[test]
    fn a_cut_grant_type_is_completed_when_only_one_fits() {
        let mut e = event();
        e.grant_type = Some(GrantType::from_name("authorization_co…"));
        e.error = Some(Cow::Borrowed("invalid_g..."));
        mend(&mut e);
        assert_eq!(e.grant_type, Some(GrantType::AuthorizationCode));
        assert_eq!(e.error.as_deref(), Some("invalid_grant"));
        let mut ambiguous = event();
        ambiguous.grant_type = Some(GrantType::from_name("urn:ietf:params:oauth:grant-type:…"));
        ambiguous.error = Some(Cow::Borrowed("in…"));
        mend(&mut ambiguous);
        assert_eq!(ambiguous.grant_type, None);
        assert_eq!(ambiguous.error, None);
    }

    #[test]
    fn a_cut_identifier_is_dropped_and_whole_ones_kept() {
        let mut e = event();
        e.client_id = Some(Cow::Borrowed("heresharing-back"));
        e.redirect_uri = Some(Cow::Borrowed("https://app.example.com/cal…"));
        // skilion/onedrive#409: `systemctl status` kept the line's tail.
        e.request_id = Some(Cow::Borrowed("11111111-2222-3333-44...veclient"));
        e.error_description = Some(Cow::Borrowed("The authorization code has al..."));
        mend(&mut e);
        assert_eq!(e.client_id.as_deref(), Some("heresharing-back"));
        assert_eq!(e.redirect_uri, None);
        assert_eq!(e.request_id, None);
        assert_eq!(
            e.error_description.as_deref(),
            Some("The authorization code has al..."),
            "sentences keep their cut for the catalog"
        );
    }
}
