//! grantwatch: tells why OAuth 2.0 / OpenID Connect token requests fail, from
//! the logs of the authorization server and of its clients.
//!
//! # Layout
//! The stages follow the flow of data:
//! - `grantwatch_parsers` (the `parsers/` crate): lines to redacted events.
//! - [`ingest`]: files and folders read once (gzip, skipping non-logs).
//! - [`text`]: a log told from binary data, and read past binary runs.
//! - [`tail`]: files, folders and globs followed as they grow and rotate
//!   (whole lines out, with the checkpoint to commit with them).
//! - [`store`]: SQLite: sources with their offsets, events, evidence,
//!   failures and the history of their diagnoses.
//! - [`correlate`]: which events are one failure; client clock offsets.
//! - [`diagnose`]: the rules, one per cause, and the verdict.
//! - [`incidents`]: failures grouped into incidents, their state, and
//!   user agents parsed into release, OS and SDK.
//! - [`time`]: times as the contract writes them and durations as people
//!   read them.
//! - [`report`]: the text and JSON output of the command line.
//! - [`commands`]: `analyze` and `lookup`.
//! - [`config`]: lifetimes and windows of the diagnosis; [`config_file`]:
//!   the `--config` TOML file of `watch`.
//! - [`live`]: what the running daemon sees now (skipped files, read lag,
//!   the database file), shared with the web side.
//! - [`alerts`]: alert rules of the config file, delivered to Alertmanager
//!   and a webhook.
//! - [`web`]: the JSON API and the Prometheus metrics (`serve`).
//! - [`generate`]: realistic logs with known causes, for benchmarks and the
//!   accuracy test (`grantwatch-gen`).
//!
//! `main.rs` only parses the command line and maps errors to exit codes.

#![deny(missing_docs)]

pub(crate) mod alerts;
pub mod cause;
pub mod commands;
pub mod config;
pub mod config_file;
pub(crate) mod correlate;
pub mod daemon;
pub mod diagnose;
pub(crate) mod feed;
pub mod fleet;
pub mod generate;
pub(crate) mod incidents;
pub(crate) mod ingest;
pub mod live;
pub mod memory;
pub mod replay;
pub mod report;
pub mod scratch;
pub mod settings;
pub(crate) mod source;
pub mod store;
pub mod tail;
pub(crate) mod text;
pub mod time;
pub mod watch;
pub mod web;
