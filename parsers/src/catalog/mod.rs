//! The providers' words as data: one TOML file per provider under
//! `parsers/catalog/`, embedded at build time and parsed once. Each entry is
//! a text a server, hosted provider or client library writes (an error
//! description, hint, debug text, exception name or error code), the cause it
//! names (a cause id of the diagnosis), the confidence that text alone gives,
//! the other causes it leaves open, and the URL of the source it was copied
//! from.
//!
//! Both readers use this one catalog: the format modules, through
//! [`crate::providers`], to tell which server wrote a description; the
//! diagnosis, through [`Catalog::matches`], to turn a field into causes.
//!
//! Invariants (checked by the tests below on every file): every entry parses,
//! names a source URL, a cause id from [`CAUSE_IDS`] and candidates from it;
//! no text is listed twice with different causes; a text that identifies a
//! server identifies only one. The embedded files are constants, so loading
//! cannot fail at run time once those tests pass.

mod entry;
mod index;
mod prefixed;

use std::cell::OnceCell;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::event::ServerKind;

pub use entry::{Confidence, Entry, MatchKind, Provider};
pub use index::Hit;

/// The embedded provider files, by file name.
const FILES: &[(&str, &str)] = &[
    ("oauth.toml", include_str!("../../catalog/oauth.toml")),
    ("adfs.toml", include_str!("../../catalog/adfs.toml")),
    (
        "appauth-android.toml",
        include_str!("../../catalog/appauth-android.toml"),
    ),
    (
        "appauth-ios.toml",
        include_str!("../../catalog/appauth-ios.toml"),
    ),
    ("apple.toml", include_str!("../../catalog/apple.toml")),
    ("auth0.toml", include_str!("../../catalog/auth0.toml")),
    (
        "doorkeeper.toml",
        include_str!("../../catalog/doorkeeper.toml"),
    ),
    ("entra.toml", include_str!("../../catalog/entra.toml")),
    ("facebook.toml", include_str!("../../catalog/facebook.toml")),
    (
        "flutter-appauth.toml",
        include_str!("../../catalog/flutter-appauth.toml"),
    ),
    (
        "go-oauth2.toml",
        include_str!("../../catalog/go-oauth2.toml"),
    ),
    (
        "google-auth.toml",
        include_str!("../../catalog/google-auth.toml"),
    ),
    ("google.toml", include_str!("../../catalog/google.toml")),
    ("hydra.toml", include_str!("../../catalog/hydra.toml")),
    (
        "identityserver.toml",
        include_str!("../../catalog/identityserver.toml"),
    ),
    ("keycloak.toml", include_str!("../../catalog/keycloak.toml")),
    ("msal.toml", include_str!("../../catalog/msal.toml")),
    (
        "node-oidc-provider.toml",
        include_str!("../../catalog/node-oidc-provider.toml"),
    ),
    ("okta.toml", include_str!("../../catalog/okta.toml")),
    (
        "ruby-oauth2.toml",
        include_str!("../../catalog/ruby-oauth2.toml"),
    ),
    ("spring.toml", include_str!("../../catalog/spring.toml")),
    ("authelia.toml", include_str!("../../catalog/authelia.toml")),
    (
        "authentik.toml",
        include_str!("../../catalog/authentik.toml"),
    ),
    ("dex.toml", include_str!("../../catalog/dex.toml")),
    ("zitadel.toml", include_str!("../../catalog/zitadel.toml")),
    ("gitea.toml", include_str!("../../catalog/gitea.toml")),
    ("gitlab.toml", include_str!("../../catalog/gitlab.toml")),
    (
        "expo-auth-session.toml",
        include_str!("../../catalog/expo-auth-session.toml"),
    ),
    ("oauthlib.toml", include_str!("../../catalog/oauthlib.toml")),
    (
        "openid-client.toml",
        include_str!("../../catalog/openid-client.toml"),
    ),
    (
        "react-native-app-auth.toml",
        include_str!("../../catalog/react-native-app-auth.toml"),
    ),
    (
        "openiddict.toml",
        include_str!("../../catalog/openiddict.toml"),
    ),
    ("tiktok.toml", include_str!("../../catalog/tiktok.toml")),
];

/// The cause ids an entry may name (the diagnosis's `Cause` ids; its test
/// checks the two lists agree).
pub const CAUSE_IDS: [&str; 21] = [
    "clock_skew",
    "code_expired",
    "code_reused",
    "redirect_uri_mismatch",
    "pkce_verifier_mismatch",
    "pkce_missing",
    "client_mismatch",
    "invalid_client_credentials",
    "refresh_token_expired",
    "refresh_token_revoked",
    "refresh_token_reused",
    "session_terminated",
    "grant_type_not_allowed",
    "invalid_resource_owner_credentials",
    "user_or_consent_revoked",
    "interaction_required",
    "scope_invalid",
    "binding_mismatch",
    "issuer_or_tenant_mismatch",
    "malformed_grant",
    "unknown",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    provider: Provider,
    #[serde(default)]
    entry: Vec<Entry>,
}

/// Why an embedded catalog file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file is not valid TOML of the catalog's shape.
    #[error("{file}: {source}")]
    Parse {
        /// The file name.
        file: &'static str,
        /// The TOML error.
        source: toml::de::Error,
    },
    /// An entry breaks an invariant of the catalog.
    #[error("{file}: entry `{text}`: {problem}")]
    Invalid {
        /// The file name.
        file: &'static str,
        /// The entry's text.
        text: String,
        /// What is wrong.
        problem: String,
    },
}

/// Every provider and entry, with the automata that find them.
pub struct Catalog {
    providers: Vec<Provider>,
    entries: Vec<Entry>,
    index: index::Index,
}

impl Catalog {
    /// Parses the embedded files and checks every entry.
    pub fn load() -> Result<Catalog, CatalogError> {
        let mut providers = Vec::new();
        let mut entries = Vec::new();
        for (name, text) in FILES {
            let file: File = toml::from_str(text)
                .map_err(|source| CatalogError::Parse { file: name, source })?;
            let provider = providers.len();
            for mut e in file.entry {
                check(name, &e)?;
                e.provider = provider;
                entries.push(e);
            }
            providers.push(file.provider);
        }
        let index = index::Index::build(&providers, &entries);
        Ok(Catalog {
            providers,
            entries,
            index,
        })
    }

    /// Every provider, in file order.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The provider of `entry`.
    pub fn provider_of(&self, entry: &Entry) -> &Provider {
        &self.providers[entry.provider]
    }

    /// Whether `entry` tells which server wrote it.
    pub fn identifies(&self, entry: &Entry) -> Option<ServerKind> {
        let server = self.provider_of(entry).server?;
        entry.identifies.unwrap_or(true).then_some(server)
    }

    /// Every entry whose text matches the field `value` (one pass of an
    /// Aho-Corasick automaton for the contained texts and codes, one hash
    /// lookup for the exact ones).
    ///
    /// A value cut short (`…`, `...`: see [`crate::cut`]) also matches the
    /// entries its last words begin: "The authorization code has al…" is
    /// Hydra's "The authorization code has already been used.", once at
    /// least [`CUT_PREFIX_MIN`] bytes of the entry's text are left.
    pub fn matches(&self, value: &str) -> Vec<&Entry> {
        let mut found: Vec<&Entry> = self
            .index
            .matches(value, &self.entries)
            .into_iter()
            .filter_map(|i| self.entries.get(i))
            .collect();
        if let Some(kept) = crate::cut::before_cut(value) {
            for entry in self.entries.iter().filter(|e| begins_in(&e.text, kept)) {
                if !found.iter().any(|f| std::ptr::eq(*f, entry)) {
                    found.push(entry);
                }
            }
        }
        found
    }

    /// Whether `value` is a text servers give every cause alike (an entry
    /// whose cause is `unknown`, such as Doorkeeper's `invalid_grant`
    /// sentence in any locale).
    pub fn is_generic(&self, value: &str) -> bool {
        self.matches(value).iter().any(|e| e.cause == "unknown")
    }

    /// The leftmost-longest identifying text in `text`: the entry and where
    /// it starts.
    pub fn identify_in(&self, text: &str) -> Option<Hit<'_>> {
        self.hit(self.index.identify_in(text))
    }

    /// The leftmost-longest provider sentence in `text` that names a cause,
    /// of any provider (see the `words` automaton of the index): for a line
    /// that carries a provider's words and nothing else of an error.
    pub fn words_in(&self, text: &str) -> Option<Hit<'_>> {
        self.hit(self.index.words_in(text))
    }

    /// The searches of [`Catalog::identify_in`] and [`Catalog::words_in`]
    /// over `text`, made together in one pass the first time either is
    /// asked, when the caller says it will ask both (`both`).
    pub fn hits_in<'t>(&self, text: &'t str, both: bool) -> TextHits<'_, 't> {
        TextHits {
            catalog: self,
            text,
            both,
            found: OnceCell::new(),
        }
    }

    fn hit(&self, found: Option<(usize, usize)>) -> Option<Hit<'_>> {
        let (i, start) = found?;
        Some(Hit {
            entry: self.entries.get(i)?,
            start,
        })
    }

    /// The identifying entry that is the whole of `description` (exact
    /// entries only).
    pub fn identify_exact(&self, description: &str) -> Option<&Entry> {
        let i = self.index.identify_exact(description)?;
        self.entries.get(i)
    }

    /// The code entries of `server` (Auth0 log event types, ...).
    pub fn codes_of(&self, server: ServerKind) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| {
            e.kind == MatchKind::Code && self.providers[e.provider].server == Some(server)
        })
    }
}

/// [`Catalog::identify_in`] and [`Catalog::words_in`] of one text, each
/// searched at most once (`Catalog::hits_in`).
pub struct TextHits<'c, 't> {
    catalog: &'c Catalog,
    text: &'t str,
    /// Whether the first question searches for the sentences too, the
    /// caller having said it will ask for them.
    both: bool,
    found: OnceCell<[Option<(usize, usize)>; 2]>,
}

impl<'c> TextHits<'c, '_> {
    /// [`Catalog::identify_in`] of the text.
    pub fn identify(&self) -> Option<Hit<'c>> {
        self.catalog.hit(self.found()[0])
    }

    /// [`Catalog::words_in`] of the text.
    pub fn words(&self) -> Option<Hit<'c>> {
        if !self.both {
            return self.catalog.words_in(self.text);
        }
        self.catalog.hit(self.found()[1])
    }

    fn found(&self) -> &[Option<(usize, usize)>; 2] {
        self.found.get_or_init(|| {
            if self.both {
                self.catalog.index.both_in(self.text)
            } else {
                [self.catalog.index.identify_in(self.text), None]
            }
        })
    }
}

fn check(file: &'static str, e: &Entry) -> Result<(), CatalogError> {
    let invalid = |problem: String| CatalogError::Invalid {
        file,
        text: e.text.clone(),
        problem,
    };
    if e.text.trim().is_empty() {
        return Err(invalid("empty text".into()));
    }
    if !(e.source.starts_with("https://") || e.source.starts_with("http://")) {
        return Err(invalid(format!("source `{}` is not a URL", e.source)));
    }
    for id in std::iter::once(&e.cause).chain(&e.candidates) {
        if !CAUSE_IDS.contains(&id.as_str()) {
            return Err(invalid(format!("unknown cause `{id}`")));
        }
    }
    Ok(())
}

/// Bytes of an entry's text a cut value must keep to match it.
pub const CUT_PREFIX_MIN: usize = 16;

/// Whether `kept` (a value's text before its cut) ends with the beginning of
/// `text`: at least [`CUT_PREFIX_MIN`] bytes of it, and not all of it (a
/// whole text is found by the index).
fn begins_in(text: &str, kept: &str) -> bool {
    let Some(head) = text.get(..CUT_PREFIX_MIN) else {
        return false;
    };
    memchr::memmem::find_iter(kept.as_bytes(), head.as_bytes()).any(|at| {
        let tail = &kept[at..];
        tail.len() < text.len() && text.starts_with(tail)
    })
}

/// The catalog, parsed on first use.
pub fn catalog() -> &'static Catalog {
    static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
        Catalog::load().unwrap_or_else(|e| unreachable!("embedded catalog (tested): {e}"))
    });
    &CATALOG
}

#[cfg(test)]
mod tests;
