//! `watch` started on an empty database beside a large backlog: the
//! backlog is stored as `analyze` loads a file, with the events' dense
//! indexes dropped ([`Store::begin_catch_up`]) and the diagnosis paused,
//! then the indexes are built once and the diagnosis catches up. Storing
//! every event of a Keycloak gigabyte into eleven live B-trees made it
//! catch up at 29 MB/s (benches/README.md).
//!
//! Invariants:
//! - Decided once, after the first round, from what is left to read then:
//!   only a database that held no events at the start, only a backlog of
//!   at least `WatchOptions::bulk_catch_up_bytes`. The first round's
//!   events are stored with the indexes live, and not diagnosed before the
//!   decision: the backlog's diagnosis after the catch-up starts from
//!   nothing, as `analyze --db` into an empty database does.
//! - While it runs, no diagnosis pass runs (none would find events by the
//!   dropped indexes); the web side reads failures, which it does not
//!   touch. It ends when every file is read to its end (or the daemon
//!   stops): the committer builds the indexes, then the diagnosis thread
//!   diagnoses the backlog on every core, as `analyze` does after its read
//!   (`Background::resume_after_catch_up`), and goes on with its passes.
//! - A daemon killed meanwhile has the indexes built again when it opens
//!   the database (`Store::open`), resumes every file from its checkpoint
//!   and diagnoses from its cursor, as after any crash.

use std::time::Instant;

use crate::diagnose::background::Background;

use super::Result;
use super::committer::Committer;

/// Where a daemon is with its first catch-up.
#[derive(Debug)]
pub(super) enum CatchUp {
    /// The first round has not ended yet.
    Undecided { threshold: u64 },
    /// Storing the backlog with the indexes dropped, since then.
    InBulk { since: Instant, bytes: u64 },
    /// Over, or never begun.
    Done,
}

impl CatchUp {
    /// At the start: a database that holds events is never caught up in
    /// bulk; one that holds none has the diagnosis paused until the first
    /// round decides.
    pub(super) fn new(empty_database: bool, threshold: u64, diagnosis: &Background) -> CatchUp {
        if empty_database {
            diagnosis.pause();
            CatchUp::Undecided { threshold }
        } else {
            CatchUp::Done
        }
    }

    /// Whether the backlog is being stored in bulk (the diagnosis waits).
    pub(super) fn in_bulk(&self) -> bool {
        matches!(self, CatchUp::InBulk { .. })
    }

    /// After a round (`behind`: some file is not read to its end; `left`
    /// tells the bytes still to read, asked after the first round only:
    /// it lists every followed file): begins after the first round when
    /// the backlog left is large, ends once nothing is behind.
    pub(super) fn after_round(
        &mut self,
        committer: &mut Committer,
        diagnosis: &Background,
        left: &dyn Fn() -> u64,
        behind: bool,
    ) -> Result<()> {
        match *self {
            CatchUp::Undecided { threshold } => {
                let left = left();
                *self = if left >= threshold && committer.run(|store| store.begin_catch_up())? {
                    eprintln!(
                        "grantwatch: catching up {} MB of backlog with the events' indexes set aside; \
                         failures are diagnosed once it is read",
                        left / 1_000_000
                    );
                    CatchUp::InBulk {
                        since: Instant::now(),
                        bytes: left,
                    }
                } else {
                    diagnosis.resume();
                    CatchUp::Done
                };
                Ok(())
            }
            CatchUp::InBulk { .. } if !behind => self.end(committer, diagnosis, true),
            _ => Ok(()),
        }
    }

    /// Ends a catch-up in bulk (every file read, `read_all`, or the daemon
    /// stopping): builds the indexes, then lets the diagnosis run; a daemon
    /// stopping before its first round ended lets it run too.
    pub(super) fn end(
        &mut self,
        committer: &mut Committer,
        diagnosis: &Background,
        read_all: bool,
    ) -> Result<()> {
        let (since, bytes) = match *self {
            CatchUp::InBulk { since, bytes } => (since, bytes),
            // Stopped before the first round ended: the diagnosis, paused
            // until then, runs its last pass.
            CatchUp::Undecided { .. } => {
                *self = CatchUp::Done;
                diagnosis.resume();
                return Ok(());
            }
            CatchUp::Done => return Ok(()),
        };
        let read = since.elapsed();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        committer.run(move |store| store.end_catch_up(cores))?;
        *self = CatchUp::Done;
        diagnosis.resume_after_catch_up();
        let built = since.elapsed().saturating_sub(read).as_secs_f64();
        if read_all {
            eprintln!(
                "grantwatch: caught up: {} MB read in {:.1} s, indexes built in {built:.1} s; diagnosing",
                bytes / 1_000_000,
                read.as_secs_f64(),
            );
        } else {
            eprintln!(
                "grantwatch: catch-up stopped after {:.1} s, indexes built in {built:.1} s; \
                 diagnosing what was read (the next start reads the rest)",
                read.as_secs_f64(),
            );
        }
        Ok(())
    }
}
