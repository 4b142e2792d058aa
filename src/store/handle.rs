//! The store's handle, [`Store`]: one connection and what kind of database
//! it opened. Its methods live beside the tables they touch (`events.rs`,
//! `failures.rs`, …) and its opening and transactions in `mod.rs`; the
//! struct is here, in a leaf, so that those files and `mod.rs` do not import
//! each other.

use std::cell::Cell;
use std::sync::Arc;

use rusqlite::Connection;

use super::event_index::EventIndexBuilder;
use super::kept::KeptBuilder;
use super::revoke_summary::RevokeSummaries;
use super::spill::EvidenceSpill;
use super::window::{FailureWindow, NearMemo, RequestMemo};

/// One connection to the database.
#[derive(Debug)]
pub struct Store {
    pub(super) conn: Connection,
    /// A scratch database (`analyze` without `--db`), read by nothing but
    /// the one analysis that fills it: it keeps none of what the daemon
    /// alone reads (incidents, the live feed, the diagnosis history, the
    /// rollups), and a bulk load may drop its indexes while it runs
    /// ([`Store::bulk_load`]).
    pub(super) scratch: bool,
    /// A kept database that held no events when `analyze --db` opened it
    /// ([`Store::load_in_bulk_while_empty`]): loaded in bulk as a scratch
    /// one is.
    pub(super) bulk_when_kept: bool,
    /// The failure events of the last join window read, for the next one
    /// (`window.rs`).
    pub(super) failure_window: FailureWindow,
    /// Where a scratch database's evidence lines are, instead of its
    /// `evidence` table (`spill.rs`): shared by its writer and every
    /// connection the analysis opens beside it.
    pub(super) spill: Option<Arc<EvidenceSpill>>,
    /// No connection adds or removes events any more
    /// ([`Store::set_events_final`]): what was read of them may be kept.
    pub(super) events_final: bool,
    /// Each client's revokes, kept while the events are final
    /// (`revokes.rs`).
    pub(super) revokes: RevokeSummaries,
    /// The bulk load running on this connection, if any (`bulk.rs`).
    pub(super) bulk: Option<BulkLoad>,
    /// The events of the last request id asked for, kept while the events
    /// are final: one failure asks for its request's events several times
    /// (to anchor, to group and to gather it).
    pub(super) last_request: RequestMemo,
    /// What each event near failures was found to belong to, while this
    /// connection sees the same database (`nearest.rs`).
    pub(super) near: NearMemo,
    /// SQLite's `data_version` while [`Store::reading`] holds a read
    /// transaction: other connections' commits are not seen until it
    /// ends, so it cannot change meanwhile (`Store::seen`).
    pub(super) snapshot_version: Cell<Option<i64>>,
    /// The events a bulk load stores before it keeps their keys in memory
    /// (`event_index.rs`; tests lower it).
    pub(super) index_from_events: i64,
}

/// How many partial indexes a bulk load keeps live while few rows enter
/// them (`bulk.rs`, `SPARSE`).
pub(super) const SPARSE_INDEXES: usize = 6;

/// What a running bulk load watches (`bulk.rs`): the rows each sparse
/// index took, and the SQL of those it dropped since; and, for a scratch
/// database loaded from empty, its events' keys once there are enough of
/// them (`event_index.rs`).
#[derive(Debug, Default)]
pub(super) struct BulkLoad {
    pub(super) entered: [u64; SPARSE_INDEXES],
    pub(super) dropped: Vec<String>,
    /// From which event id the keys are kept in memory; `None` when they
    /// are not (a kept database, or one that held events).
    pub(super) index_from: Option<i64>,
    pub(super) index: Option<EventIndexBuilder>,
    /// The load's events kept out of the table, when it keeps its index
    /// keys from the first event (`kept.rs`).
    pub(super) kept: Option<KeptBuilder>,
}
