//! Diagnosing a finished read on every core (`analyze -j N` into a scratch
//! database). The event ids after the last one diagnosed are cut into
//! units of [`Cores::unit_events`]; each of `N - 1` worker threads, on its
//! own connection, takes the next unit and prepares the diagnosis of every
//! failure in it ([`pipeline::prepare`]: grouping, gathering, deciding —
//! nearly all of a diagnosis's cost), skipping those its own earlier
//! diagnoses in the unit took. The calling thread, the last core, on a
//! connection of its own, takes the units in order (preparing the next unit
//! itself when the one it needs is not ready) and decides, as
//! [`pipeline::run`] does one failure after the other, which failures stand
//! and under which id ([`pipeline::settle`]); it prepares on the spot a
//! failure a worker skipped for a diagnosis that did not stand. It hands
//! the settled failures, [`SLICE`] at a time, to the store's one writer on
//! a thread of its own, and is told what the batches not yet written took
//! by [`handed`].
//!
//! Invariants: the failures written, their ids and their events are those
//! [`pipeline::run`] writes from the same `after`, whatever the workers
//! proposed (a prepared diagnosis reads only events, which no longer
//! change, so where it was computed does not matter; whether it stands is
//! decided in id order, on the settling thread, from what was handed over
//! and settled before it, answered as the writer's connection would
//! answer it). Units are handed out at most [`AHEAD`] per core beyond the
//! last one settled, or up to [`AHEAD_WHILE_LIGHT`] while those prepared
//! and not settled hold fewer than [`PREPARED_AHEAD`] diagnoses, and one
//! batch at most waits for the writer, so memory holds a bounded number of
//! diagnoses whatever the number of failures.
//!
//! In a scratch database no event is added or removed meanwhile (the read
//! is over, and nothing else writes it), so every connection here reads
//! with the events final (`Store::set_events_final`), which lets it keep
//! what it read of them (a client's revokes). So does a kept database this
//! analysis found empty and loaded, unless another connection committed
//! while it was diagnosed (then the diagnosis runs again, reading as the
//! events change: `final_unless_written_beside`); any other kept database,
//! which a daemon may write beside, is read as it changes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::config::DiagnoseSettings;
use crate::correlate::{self, Clocks};
use crate::store::{Result, Store};

use super::pipeline::{self, Batch, Prepared, RunStats, SLICE, write_batch_in_transaction};

mod handed;
use handed::Handed;

/// How a diagnosis after a read may use several cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cores {
    /// Worker threads at most; one diagnoses on the calling thread alone.
    pub jobs: usize,
    /// Event ids per unit of work (tests make it small, so that groups
    /// cross unit boundaries).
    pub unit_events: i64,
}

impl Default for Cores {
    /// One core.
    fn default() -> Self {
        Cores {
            jobs: 1,
            unit_events: 1024,
        }
    }
}

/// Units a worker may run ahead of the writer, per worker, whatever they
/// hold.
const AHEAD: usize = 1;

/// Units a worker may run ahead of the writer, per worker, while the units
/// prepared and not yet settled hold fewer than [`PREPARED_AHEAD`]
/// diagnoses. A unit of a Keycloak log holds about thirty failures, one of
/// a Rails log two hundred, each with its rendered JSON: four units ahead
/// for every log kept the worker of a Keycloak diagnosis busier (4–12%
/// shorter) but raised a Rails 3 GB log's peak memory by 5 MB of
/// diagnoses in flight (benches/README.md).
const AHEAD_WHILE_LIGHT: usize = 8;

/// The diagnoses prepared and not yet settled past which a worker runs
/// only [`AHEAD`] units ahead: fewer than the two units in flight of a
/// Rails log's diagnosis with one ahead per worker (about 420), so that its
/// memory stays as it was, and about eight units of a Keycloak log's.
const PREPARED_AHEAD: usize = 256;

/// One unit's failure candidates in id order, each with the diagnosis its
/// worker prepared, or `None` where the worker's own earlier diagnosis took
/// the event.
type Proposals = Vec<(i64, Option<Prepared>)>;

/// Diagnoses every failure among the events stored after `after`, as
/// [`pipeline::run`] does, with `cores.jobs` workers reading the database
/// at `db_path` beside `store`'s writer.
pub fn run_on_cores(
    store: &mut Store,
    db_path: &Path,
    settings: &DiagnoseSettings,
    after: i64,
    cores: Cores,
) -> Result<RunStats> {
    if store.is_scratch() || !store.may_load_in_bulk() {
        let events_final = store.is_scratch();
        return run_reading(store, db_path, settings, after, cores, events_final);
    }
    final_unless_written_beside(store, &mut |store, events_final| {
        run_reading(store, db_path, settings, after, cores, events_final)
    })
}

/// Runs `diagnose` with the events final when no other connection may
/// write them: a kept database this analysis found empty and loaded
/// ([`Store::load_in_bulk_while_empty`]) has no other writer unless a
/// process opened it beside (a daemon), which would commit. While the
/// diagnosis runs only this connection commits (the workers hand their
/// diagnoses to it), so SQLite's `data_version` unchanged afterwards says
/// no other did; changed, the diagnosis runs again reading the events as
/// they change. Kept final, a Keycloak gigabyte's failed refreshes read
/// their clients' revokes once instead of 200 rows each (its diagnosis
/// after `analyze --db`: 7.4 s → 6.0–6.5 s, benches/README.md).
pub(super) fn final_unless_written_beside<T>(
    store: &mut Store,
    diagnose: &mut dyn FnMut(&mut Store, bool) -> Result<T>,
) -> Result<T> {
    let before = store.data_version()?;
    let ran = diagnose(store, true)?;
    if store.data_version()? == before {
        return Ok(ran);
    }
    diagnose(store, false)
}

/// [`run_on_cores`], every connection reading with `events_final`.
fn run_reading(
    store: &mut Store,
    db_path: &Path,
    settings: &DiagnoseSettings,
    after: i64,
    cores: Cores,
    events_final: bool,
) -> Result<RunStats> {
    let last = store.max_event_id()?;
    let unit = cores.unit_events.max(1);
    let span = u64::try_from(last - after).unwrap_or(0);
    let units = usize::try_from(span.div_ceil(unit.unsigned_abs())).unwrap_or(usize::MAX);
    if cores.jobs < 2 || units < 2 {
        // On one core too: without, every kept window and warning's answer
        // asked SQLite whether the database changed, a lock taken and
        // released each time (two thirds of a small Keycloak burst's
        // diagnosis, benches/README.md).
        store.set_events_final(events_final);
        let ran = pipeline::run(store, settings, after);
        store.set_events_final(false);
        return ran;
    }
    let bounds = move |k: usize| {
        let lo = after.saturating_add(unit.saturating_mul(k as i64));
        (lo, lo.saturating_add(unit).min(last))
    };
    let gate = Gate::new(AHEAD * cores.jobs, AHEAD_WHILE_LIGHT * cores.jobs);
    let spill = store.evidence_spill();
    let (tx, rx) = mpsc::channel::<(usize, Result<Proposals>)>();
    std::thread::scope(|scope| {
        // The writer is the last core.
        for _ in 1..cores.jobs {
            let tx = tx.clone();
            let gate = &gate;
            let spill = spill.clone();
            scope.spawn(move || {
                let mut store = match Store::open_scratch_reader(db_path, spill) {
                    Ok(s) => s,
                    Err(e) => return drop(tx.send((0, Err(e)))),
                };
                store.set_events_final(events_final);
                let mut clocks = None;
                while let Some(k) = gate.take(units) {
                    let clocks = match &clocks {
                        Some(c) => c,
                        None => match correlate::estimate_clocks(&store) {
                            Ok(c) => clocks.insert(c),
                            Err(e) => return drop(tx.send((k, Err(e)))),
                        },
                    };
                    let (lo, hi) = bounds(k);
                    let proposals = propose(&store, settings, clocks, lo, hi);
                    if let Ok(p) = &proposals {
                        gate.prepared(prepared_in(p));
                    }
                    if tx.send((k, proposals)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Workers wait on the gate: stop them on any way out of here.
        let _stop = StopOnDrop(&gate);
        let order = Order {
            units,
            bounds: &bounds,
            after,
        };
        let settled =
            settle_beside_writer(store, db_path, events_final, settings, &gate, &rx, &order);
        store.set_events_final(false);
        settled
    })
}

/// Settles the units on a connection of its own, opened on `db_path`,
/// while `store`'s writer writes on a thread of its own: writing the
/// failures was nearly half of the settling thread's time, while the
/// workers waited at the gate for it (benches/README.md).
fn settle_beside_writer(
    store: &mut Store,
    db_path: &Path,
    events_final: bool,
    settings: &DiagnoseSettings,
    gate: &Gate,
    rx: &mpsc::Receiver<(usize, Result<Proposals>)>,
    order: &Order<'_>,
) -> Result<RunStats> {
    let spill = store.evidence_spill();
    let after = order.after;
    let written = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (to_writer, batches) = mpsc::sync_channel::<Batch>(WRITER_QUEUE);
        let written = &written;
        let writer = scope.spawn(move || write_in_order(store, &batches, after, written));
        let settled = Store::open_scratch_reader(db_path, spill).and_then(|mut reader| {
            reader.set_events_final(events_final);
            let writer = Writer {
                to: &to_writer,
                written,
            };
            settle_in_order(&reader, settings, gate, rx, order, &writer)
        });
        drop(to_writer);
        let wrote = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        settled.and(wrote)
    })
}

/// Batches settled ahead of the writer thread at most.
const WRITER_QUEUE: usize = 1;

/// Batches the writer thread commits at once. Each commit wrote every
/// page the batch touched to the write-ahead log, and a batch's failure
/// ids, hashes in no order, touch most leaves of the two indexes keyed by
/// them: committing a batch at a time was a third of the writer thread's
/// time on a Keycloak gigabyte (benches/README.md; a kept database's
/// tables, since a scratch analysis holds its failures in memory). The
/// settling thread answers for the batches not yet committed ([`Handed`]),
/// so this bounds only what it holds: the links of at most this many
/// batches and the one in the queue.
const BATCHES_PER_COMMIT: usize = 8;

/// The writer thread: writes the batches in the order handed over,
/// counting those written (committed).
fn write_in_order(
    store: &mut Store,
    batches: &mpsc::Receiver<Batch>,
    after: i64,
    written: &AtomicUsize,
) -> Result<RunStats> {
    let mut total = RunStats {
        last_event_id: after,
        ..RunStats::default()
    };
    store.write_in_groups(
        batches,
        BATCHES_PER_COMMIT,
        &mut |store, batch| {
            add(&mut total, write_batch_in_transaction(store, &batch)?);
            Ok(())
        },
        &mut |committed| {
            written.fetch_add(committed, Ordering::Release);
        },
    )?;
    Ok(total)
}

/// The settling thread's way to the writer thread.
struct Writer<'w> {
    to: &'w mpsc::SyncSender<Batch>,
    /// Batches committed so far, [`BATCHES_PER_COMMIT`] at a time (the
    /// last group may hold fewer).
    written: &'w AtomicUsize,
}

/// The units to settle: how many, the event ids of each, and where the
/// diagnosis starts.
struct Order<'b> {
    units: usize,
    bounds: &'b dyn Fn(usize) -> (i64, i64),
    after: i64,
}

/// The settling side: takes the units in order, settles their diagnoses
/// and hands them to the writer thread [`SLICE`] at a time. A writer that
/// stopped (on an error, which its join tells) ends the settling.
fn settle_in_order(
    store: &Store,
    settings: &DiagnoseSettings,
    gate: &Gate,
    rx: &mpsc::Receiver<(usize, Result<Proposals>)>,
    order: &Order<'_>,
    writer: &Writer<'_>,
) -> Result<()> {
    let clocks = correlate::estimate_clocks(store)?;
    let mut tally = Tally::default();
    let mut waiting: BTreeMap<usize, Proposals> = BTreeMap::new();
    let mut assigned = HashMap::new();
    let mut handed = Handed::default();
    let mut batch = new_batch(&clocks, order.after);
    for k in 0..order.units {
        let mut prepare_here = |j: usize| {
            let (lo, hi) = (order.bounds)(j);
            let proposals = propose(store, settings, &clocks, lo, hi)?;
            gate.prepared(prepared_in(&proposals));
            Ok(proposals)
        };
        let proposals = unit_proposals(k, order.units, &mut waiting, gate, rx, &mut prepare_here)?;
        gate.merged(k, prepared_in(&proposals));
        for (event_id, prepared) in proposals {
            batch.last_event_id = event_id;
            let written = |event| handed.failure_of_event(store, event);
            if pipeline::already_taken(&written, &assigned, event_id)? {
                tally.discarded += usize::from(prepared.is_some());
                continue;
            }
            let prepared = match prepared {
                Some(p) => p,
                None => match store.event(event_id)? {
                    Some(event) => {
                        tally.again += 1;
                        pipeline::prepare(store, settings, &clocks, &event)?
                    }
                    None => continue,
                },
            };
            batch
                .pending
                .push(pipeline::settle(&written, &mut assigned, prepared)?);
            if batch.pending.len() == SLICE {
                let full = std::mem::replace(&mut batch, new_batch(&clocks, event_id));
                handed.forget_written(writer.written.load(Ordering::Acquire));
                handed.add(&full);
                if writer.to.send(full).is_err() {
                    return Ok(());
                }
                // Handed over: `handed` now says which events these took.
                assigned.clear();
            }
        }
    }
    // The last batch, empty or not: it moves the diagnosis cursor.
    if writer.to.send(batch).is_err() {
        return Ok(());
    }
    if *TRACE {
        eprintln!(
            "diagnosis: {} units; {} prepared diagnoses did not stand, {} failures prepared again",
            order.units, tally.discarded, tally.again
        );
    }
    Ok(())
}

/// Unit `k`'s proposals: those a worker sent, the channel read first (it
/// may hold unit k); while unit k is not there, this thread prepares the
/// next unit the gate hands it ([`Gate::try_take`]: it is one of the
/// cores), and when the gate hands it none, it waits for the workers, or
/// prepares unit k itself when every worker is gone without it (one
/// panicked). `prepare` prepares a unit and tells the gate.
///
/// The channel is read before a unit is taken: units left in it while
/// this thread took unit after unit itself held the gate's window shut,
/// and the worker of a Hydra gigabyte's diagnosis waited at the gate 34–60
/// ms of its 0.2–0.3 s, a Keycloak one's 199 ms (benches/README.md).
fn unit_proposals(
    k: usize,
    units: usize,
    waiting: &mut BTreeMap<usize, Proposals>,
    gate: &Gate,
    rx: &mpsc::Receiver<(usize, Result<Proposals>)>,
    prepare: &mut dyn FnMut(usize) -> Result<Proposals>,
) -> Result<Proposals> {
    loop {
        if let Some(p) = waiting.remove(&k) {
            return Ok(p);
        }
        if let Ok((j, got)) = rx.try_recv() {
            waiting.insert(j, got?);
            continue;
        }
        if let Some(j) = gate.try_take(units) {
            let proposals = prepare(j)?;
            waiting.insert(j, proposals);
            continue;
        }
        match rx.recv() {
            Ok((j, got)) => {
                waiting.insert(j, got?);
            }
            Err(_) => return prepare(k),
        }
    }
}

/// What the writer did with the workers' proposals (told on stderr with
/// `GRANTWATCH_TRACE_RANGES=1`, so a test sees both kinds of correction
/// happen).
#[derive(Default)]
struct Tally {
    /// Prepared diagnoses dropped: their event was taken by a failure of
    /// an earlier unit.
    discarded: usize,
    /// Failures a worker skipped that stood after all.
    again: usize,
}

/// Whether the writer's corrections are told on stderr.
static TRACE: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    std::env::var_os("GRANTWATCH_TRACE_RANGES").is_some_and(|v| v != "0")
});

/// A worker's side: the failure events with ids in `(lo, hi]`, each
/// prepared unless an earlier diagnosis of the unit took it.
fn propose(
    store: &Store,
    settings: &DiagnoseSettings,
    clocks: &Clocks,
    lo: i64,
    hi: i64,
) -> Result<Proposals> {
    let mut proposals = Vec::new();
    let mut taken = HashMap::new();
    store.reading(|| {
        pipeline::each_failure_event(store, (lo, hi), &mut |event| {
            if taken.contains_key(&event.id) {
                proposals.push((event.id, None));
                return Ok(true);
            }
            let prepared = pipeline::prepare(store, settings, clocks, &event)?;
            for e in prepared.taken() {
                taken.insert(e, ());
            }
            proposals.push((event.id, Some(prepared)));
            Ok(true)
        })
    })?;
    Ok(proposals)
}

/// How many diagnoses a unit's proposals hold.
fn prepared_in(proposals: &Proposals) -> usize {
    proposals.iter().filter(|(_, p)| p.is_some()).count()
}

/// A batch to fill, starting after `after`.
fn new_batch(clocks: &Clocks, after: i64) -> Batch {
    Batch {
        pending: Vec::new(),
        clocks: clocks.clone(),
        last_event_id: after,
    }
}

/// Adds one written batch's counts.
fn add(total: &mut RunStats, batch: RunStats) {
    total.diagnosed += batch.diagnosed;
    total.changed += batch.changed;
    total.last_event_id = batch.last_event_id;
}

/// Hands out units in order, at most a window ahead of the last one the
/// writer took: a wider one while the units prepared and not yet taken
/// hold few diagnoses.
struct Gate {
    state: Mutex<GateState>,
    turned: Condvar,
}

#[derive(Default)]
struct GateState {
    /// The next unit to hand out.
    next: usize,
    /// Units the writer has taken.
    merged: usize,
    /// Units handed out at most beyond those the writer took.
    window: usize,
    /// The same while fewer than [`PREPARED_AHEAD`] diagnoses are prepared
    /// and not taken.
    wide: usize,
    /// Diagnoses prepared in units the writer has not taken.
    prepared: usize,
    /// No more units: the writer is done or failed.
    stopped: bool,
}

impl Gate {
    fn new(window: usize, wide: usize) -> Gate {
        Gate {
            state: Mutex::new(GateState {
                window,
                wide: wide.max(window),
                ..GateState::default()
            }),
            turned: Condvar::new(),
        }
    }

    /// The next unit, waiting while it is too far ahead of the writer;
    /// `None` when all are handed out or the gate is stopped.
    fn take(&self, units: usize) -> Option<usize> {
        let mut state = self.lock();
        loop {
            if state.stopped || state.next >= units {
                return None;
            }
            if state.within_reach() {
                state.next += 1;
                return Some(state.next - 1);
            }
            state = self
                .turned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The next unit, if one is left and within the window, without
    /// waiting.
    fn try_take(&self, units: usize) -> Option<usize> {
        let mut state = self.lock();
        let open = !state.stopped && state.next < units && state.within_reach();
        open.then(|| {
            state.next += 1;
            state.next - 1
        })
    }

    /// A unit handed out was prepared, with `diagnoses` diagnoses.
    fn prepared(&self, diagnoses: usize) {
        self.lock().prepared += diagnoses;
    }

    /// The writer has taken unit `k`, which held `diagnoses` diagnoses.
    fn merged(&self, k: usize, diagnoses: usize) {
        let mut state = self.lock();
        state.merged = k + 1;
        state.prepared = state.prepared.saturating_sub(diagnoses);
        drop(state);
        self.turned.notify_all();
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.turned.notify_all();
    }

    /// The state, even if a worker panicked holding it (two counters and
    /// a flag cannot be left half-changed).
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl GateState {
    /// Whether the next unit may be handed out now.
    fn within_reach(&self) -> bool {
        self.next < self.merged + self.window
            || (self.prepared < PREPARED_AHEAD && self.next < self.merged + self.wide)
    }
}

/// Stops the gate when the writer's side ends, however it ends.
struct StopOnDrop<'g>(&'g Gate);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[cfg(test)]
mod tests;
