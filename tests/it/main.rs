//! grantwatch's integration tests: one test binary that drives the CLI and
//! the library end to end over `sample_logs/` and temporary files.

mod accuracy;
mod alerts;
mod alerts_delivery;
mod browser;
mod browser_live;
mod classes;
mod cli;
mod converge;
mod corpus;
mod envelopes;
mod exchange;
mod failure_page;
mod faults;
mod fleet;
mod fleet_clients;
mod fleet_delivery;
mod fleet_http;
mod helpers;
mod incidents;
mod incidents_live;
mod incidents_replay;
mod incidents_who;
mod listener;
mod login;
mod model;
mod pages;
mod pasted;
mod quiet;
mod ranges;
mod resources;
mod revisit;
mod samples;
mod tail;
mod watch;
mod web;
