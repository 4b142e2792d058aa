//! grantwatch's integration tests: one test binary that drives the CLI and
//! the library end to end over `sample_logs/` and temporary files.

mod accuracy;
mod browser;
mod cli;
mod failure_page;
mod helpers;
mod login;
mod pages;
mod resources;
mod samples;
mod tail;
mod watch;
mod web;
