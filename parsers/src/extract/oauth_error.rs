//! What the extractor finds in a record ([`OAuthError`]) and what an error
//! code looks like ([`is_error_code`]): filled by each layer (`json.rs`,
//! `keys.rs`, `text.rs`) and merged by `mod.rs`. A leaf, so that the layers
//! and `mod.rs` do not import each other.

use std::borrow::Cow;

use crate::event::ServerKind;

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
    pub(super) fn merge(&mut self, other: OAuthError<'t>) {
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
