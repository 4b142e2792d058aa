//! The log formats grantwatch can read, by their stable names.
//!
//! Only identities live here: which parser reads a format is the
//! registry's business ([`crate::registry`]), so that a format module can
//! name its own format without importing the registry.

use serde::Serialize;

/// A log format grantwatch can read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Rails request log (Doorkeeper), tagged or not, Logger prefix or not.
    Rails,
    /// Rails lograge, key=value or JSON.
    Lograge,
    /// Rails 8.1 structured events (`Rails.event`, JSON encoder).
    RailsEvent,
    /// Ory Hydra, JSON or logfmt text.
    Hydra,
    /// Keycloak, text console or JSON console output.
    Keycloak,
    /// node-oidc-provider `DEBUG=oidc-provider:*` lines and relying parties'
    /// `OPError` lines.
    NodeOidcProvider,
    /// Duende IdentityServer (Serilog/NLog/console text).
    IdentityServer,
    /// Spring Authorization Server (Spring Boot console).
    Spring,
    /// Android logcat (flutter, AppAuth, MSAL tags).
    Logcat,
    /// iOS console (`flutter:` lines, AppAuth NSErrors, MSAL).
    IosConsole,
    /// Go and Rust structured text: logfmt (logrus, slog, Grafana, Authelia,
    /// Dex) and Rust `tracing`'s default output.
    Logfmt,
    /// Generic JSON lines with `error` / `error_description`.
    JsonLines,
    /// A file that mixes formats: every line is offered to every parser.
    #[default]
    Mixed,
}

/// Every concrete format, in the order detection and mixed mode try them
/// (specific before generic).
pub const CONCRETE_FORMATS: [Format; 12] = [
    Format::Rails,
    Format::Hydra,
    Format::Keycloak,
    Format::NodeOidcProvider,
    Format::IdentityServer,
    Format::Spring,
    Format::Logcat,
    Format::IosConsole,
    Format::Lograge,
    Format::RailsEvent,
    Format::Logfmt,
    Format::JsonLines,
];

impl Format {
    /// The stable name (`rails`, `hydra`, `ios-console`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Rails => "rails",
            Format::Lograge => "lograge",
            Format::RailsEvent => "rails-event",
            Format::Hydra => "hydra",
            Format::Keycloak => "keycloak",
            Format::NodeOidcProvider => "node-oidc-provider",
            Format::IdentityServer => "identityserver",
            Format::Spring => "spring",
            Format::Logcat => "logcat",
            Format::IosConsole => "ios-console",
            Format::Logfmt => "logfmt",
            Format::JsonLines => "json-lines",
            Format::Mixed => "mixed",
        }
    }

    /// Parses a name written by [`Format::as_str`].
    pub fn from_name(name: &str) -> Option<Format> {
        CONCRETE_FORMATS
            .iter()
            .chain(&[Format::Mixed])
            .copied()
            .find(|f| f.as_str() == name)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
