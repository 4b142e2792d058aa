//! What the catalog holds: an [`Entry`] (a text, how it is compared, the
//! cause it names, with what [`Confidence`]) and the [`Provider`] that
//! writes it, as read from the TOML files. `mod.rs` loads and checks them,
//! `index.rs` builds the searches over them; a leaf, so that those two do
//! not import each other.

use serde::Deserialize;

use crate::event::ServerKind;

/// How an entry's text is compared with a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The text occurs anywhere in the field (case-sensitive).
    Contains,
    /// The text is the whole field (trimmed, ASCII case ignored): short or
    /// generic words such as Keycloak's `Code not valid` or `invalid_client`.
    Exact,
    /// A code (`AADSTS50011`, `MSIS9612`, Auth0 `fertft`) standing as a
    /// whole word: `AADSTS50011` does not match inside `AADSTS500112`.
    Code,
}

/// How sure an entry alone makes the diagnosis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Several causes fit equally.
    Low,
    /// The text points here, but another cause is not ruled out.
    Medium,
    /// The text names the cause exactly.
    High,
}

/// Who writes the texts of one file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Display name (`Keycloak`, `AppAuth-Android`).
    pub name: String,
    /// The server kind its texts identify, when grantwatch has one.
    #[serde(default, deserialize_with = "server_kind")]
    pub server: Option<ServerKind>,
    /// What it is: `server`, `hosted`, `client` or `standard`.
    pub kind: String,
}

/// One text and what it says.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The exact text, code or exception name.
    pub text: String,
    /// How it is compared ([`MatchKind::Contains`] when absent).
    #[serde(rename = "match", default = "contains")]
    pub kind: MatchKind,
    /// The cause id it names (`unknown` for texts servers give every cause).
    pub cause: String,
    /// How sure the text alone makes the diagnosis.
    pub confidence: Confidence,
    /// Other causes the text leaves open.
    #[serde(default)]
    pub candidates: Vec<String>,
    /// The server source file or documentation URL it was copied from.
    pub source: String,
    /// The provider's own code the text stands for (`invalid_rapt`).
    #[serde(default)]
    pub code: Option<String>,
    /// Whether the text tells which server wrote it (default: yes when the
    /// provider is a known server). Texts several servers share say `false`.
    #[serde(default)]
    pub identifies: Option<bool>,
    /// Index of the entry's provider in
    /// [`Catalog::providers`](super::Catalog::providers) (set on load).
    #[serde(skip)]
    pub provider: usize,
}

/// What `match` is when an entry does not say.
fn contains() -> MatchKind {
    MatchKind::Contains
}

/// A provider's `server`, read as a [`ServerKind`] name.
fn server_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ServerKind>, D::Error> {
    let name = String::deserialize(d)?;
    ServerKind::from_name(&name)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown server `{name}`")))
}
