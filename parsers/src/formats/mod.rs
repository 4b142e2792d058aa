//! One module per log format. Each implements [`crate::parser::LineParser`]
//! and names its own [`crate::format::Format`]; none imports the registry,
//! so a format can be read, tested and changed on its own.
//!
//! `client_records` is not a format: it holds the client-side record
//! grammars (dio blocks, AppAuth/MSAL/flutter errors, redirect URLs) that the
//! logcat, iOS console and JSON-lines formats share.

pub(crate) mod client_records;
pub(crate) mod hydra;
pub(crate) mod identityserver;
pub(crate) mod ios;
pub(crate) mod json_lines;
pub(crate) mod keycloak;
pub(crate) mod logcat;
pub(crate) mod logfmt;
pub(crate) mod lograge;
pub(crate) mod node_oidc;
pub(crate) mod rails;
pub(crate) mod rails_event;
pub(crate) mod spring;
