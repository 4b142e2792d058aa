//! grantwatch-parsers: turns raw log lines of OAuth 2.0 / OpenID Connect
//! servers and clients into normalized, redacted [`Event`]s.
//!
//! No I/O happens here: the caller reads files and feeds lines to a
//! [`FileParser`], which was built for the format [`detect`] found (or one the
//! user forced). Every secret is replaced by a keyed fingerprint before any
//! parser sees the line ([`redact`]).
//!
//! # Layout
//! - [`event`]: the normalized event.
//! - [`format`]: formats, detection, the per-file driver, the [`LineParser`]
//!   trait every format module implements.
//! - [`redact`]: secrets out, fingerprints in.
//! - `common`: timestamp, URL and quoted-value field parsers.
//! - [`providers`]: AADSTS, Google, Okta, Auth0 and generic OAuth error texts.
//! - one module per format: `rails`, `lograge`, `hydra`, `keycloak`,
//!   `node_oidc`, `identityserver`, `spring`, `logcat`, `ios`, `json_lines`.
#![deny(missing_docs)]

pub mod common;
pub mod event;
pub mod format;
pub mod providers;
pub mod redact;

mod client_records;
mod hydra;
mod identityserver;
mod ios;
mod json_lines;
mod keycloak;
mod logcat;
mod lograge;
mod node_oidc;
mod rails;
mod spring;
#[cfg(test)]
pub(crate) mod test_support;

pub use event::{
    ALL_SERVERS, Event, EventKind, EvidenceLine, Fingerprint, JwtClaims, Lifecycle, ServerKind,
    TimeBasis, Timestamp,
};
pub use format::{
    CONCRETE_FORMATS, Context, DETECT_LINES, FileParser, Format, LineCounts, LineParser, Outcome,
    detect,
};
pub use redact::Redactor;
