//! grantwatch-parsers: turns raw log lines of OAuth 2.0 / OpenID Connect
//! servers and clients into normalized, redacted [`Event`]s.
//!
//! No I/O happens here: the caller reads files and feeds lines to a
//! [`FileParser`], which was built for the format [`detect`] found (or one the
//! user forced). Every secret is replaced by a keyed fingerprint before any
//! parser sees the line ([`redact`]).
//!
//! # Layout
//! - [`event`]: the normalized event; [`grant`]: the grant types it names.
//! - [`format`]: the formats' names; [`parser`]: the [`LineParser`] trait
//!   every format module implements and the settings they share;
//!   [`registry`]: which parser reads which format, detection, mixed mode;
//!   [`file_parser`]: the per-file driver.
//! - [`redact`]: secrets out, fingerprints in.
//! - `common`: timestamp, URL and quoted-value field parsers.
//! - [`extract`]: the one extractor of the OAuth error any record carries,
//!   in any shape; every record of every format goes through it.
//! - [`catalog`]: the providers' words as data (one TOML file per provider
//!   under `parsers/catalog/`), read by [`providers`] and by the diagnosis.
//! - [`providers`]: AADSTS, Google, Okta, Auth0 and generic OAuth error texts.
//! - `formats/`: one module per format: `rails`, `lograge`, `hydra`,
//!   `keycloak`, `node_oidc`, `identityserver`, `spring`, `logcat`, `ios`,
//!   `logfmt`, `json_lines` (and `client_records`, the client grammars they share).
#![deny(missing_docs)]

mod bytes;
pub mod catalog;
pub mod common;
mod counts;
pub mod cut;
pub mod envelope;
pub mod event;
pub mod extract;
pub mod format;
pub mod grant;
pub mod handover;
pub mod hex;
pub(crate) mod json_scan;
mod multi_find;
mod needle;
pub mod providers;
pub mod reassembly;
pub mod redact;

pub mod file_parser;
mod formats;
pub mod parser;
mod percent;
pub mod quiet;
pub mod registry;
#[cfg(test)]
pub(crate) mod test_support;
mod warm;

pub use counts::LineCounts;
pub use event::{
    ALL_SERVERS, Event, EventKind, EvidenceLine, Fingerprint, JwtClaims, Lifecycle, ServerKind,
    TimeBasis, Timestamp,
};
pub use file_parser::FileParser;
pub use format::{CONCRETE_FORMATS, Format};
pub use grant::{GrantType, KNOWN_GRANTS};
pub use parser::{Context, EnvelopeChoice, LineParser, Outcome};
pub use redact::Redactor;
pub use registry::{DETECT_LINES, Sniffed, detect, sniff};
pub use warm::warm_up;
