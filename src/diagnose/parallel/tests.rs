//! The writer's side decides alone which prepared diagnoses stand: whatever
//! the workers proposed (every failure prepared, some skipped, none), in
//! whatever order their units arrive, the failures written are those of
//! one core.

use std::path::{Path, PathBuf};

use super::*;
use crate::diagnose::pipeline::write_batch;
use crate::ingest::{self, ReadStats, Split};
use crate::store::FailureRecord;

/// A database at `db` holding the events of every sample log, none
/// diagnosed yet: read once into `base.db` beside it, then copied.
fn read_samples(db: &Path) -> Store {
    let base = db.with_file_name("base.db");
    if !base.exists() {
        drop(read_into(&base));
    }
    std::fs::copy(&base, db).expect("copy");
    Store::open(db).expect("open")
}

fn read_into(db: &Path) -> Store {
    read_samples_into(Store::open(db).expect("open"))
}

fn read_samples_into(mut store: Store) -> Store {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_logs");
    let (files, _) = ingest::collect_files(&[root]).expect("sample logs");
    let mut read = ReadStats::default();
    for file in &files {
        ingest::read_file(
            &mut store,
            file,
            &Default::default(),
            None,
            &Split::default(),
            &mut read,
            &mut |_, _| Ok(()),
        )
        .expect("read");
    }
    store
}

fn failures(store: &Store) -> Vec<FailureRecord> {
    let mut all = Vec::new();
    store
        .each_failure_in_time_order(&mut |f| {
            all.push(f);
            Ok::<_, crate::store::Error>(())
        })
        .expect("failures");
    all
}

/// Which prepared diagnoses a fake worker hands over.
#[derive(Clone, Copy, Debug)]
enum Worker {
    /// Every one it prepared.
    Eager,
    /// None: the writer prepares every failure that stands.
    Lazy,
    /// Every other one.
    Patchy,
}

/// Diagnoses the store's events (the database at `db`) with the settling
/// side and its writer alone, fed the units a fake worker proposed, last
/// unit first.
fn settle_with(store: &mut Store, db: &Path, worker: Worker, unit: i64) -> RunStats {
    let settings = DiagnoseSettings::default();
    let last = store.max_event_id().expect("max id");
    let units = usize::try_from((last + unit - 1) / unit).expect("units");
    let bounds = |k: usize| {
        let lo = unit * k as i64;
        (lo, (lo + unit).min(last))
    };
    let clocks = correlate::estimate_clocks(store).expect("clocks");
    let (tx, rx) = mpsc::channel();
    for k in (0..units).rev() {
        let (lo, hi) = bounds(k);
        let mut proposals = propose(store, &settings, &clocks, lo, hi).expect("propose");
        for (i, (_, prepared)) in proposals.iter_mut().enumerate() {
            if matches!(worker, Worker::Lazy) || matches!(worker, Worker::Patchy) && i % 2 == 1 {
                *prepared = None;
            }
        }
        tx.send((k, Ok(proposals))).expect("send");
    }
    drop(tx);
    // Every unit handed out already: the writer only takes them in order.
    let gate = Gate::new(units, units);
    gate.lock().next = units;
    let order = Order {
        units,
        bounds: &bounds,
        after: 0,
    };
    settle_beside_writer(store, db, true, &settings, &gate, &rx, &order).expect("settle")
}

#[test]
fn the_writer_writes_the_failures_of_one_core_whatever_the_workers_proposed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut one = read_samples(&dir.path().join("one.db"));
    let expected = pipeline::run(&mut one, &DiagnoseSettings::default(), 0).expect("run");
    let expected_failures = failures(&one);
    assert!(expected_failures.len() > 20, "{}", expected_failures.len());
    for (i, worker) in [Worker::Eager, Worker::Lazy, Worker::Patchy]
        .into_iter()
        .enumerate()
    {
        for unit in [1, 3, 50] {
            let db = dir.path().join(format!("{i}-{unit}.db"));
            let mut store = read_samples(&db);
            let stats = settle_with(&mut store, &db, worker, unit);
            assert_eq!(
                stats.diagnosed, expected.diagnosed,
                "{worker:?}, units of {unit}"
            );
            assert_eq!(
                failures(&store),
                expected_failures,
                "{worker:?}, units of {unit}"
            );
        }
    }
}

#[test]
fn analyze_on_cores_writes_what_one_core_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut one = read_samples(&dir.path().join("one.db"));
    pipeline::run(&mut one, &DiagnoseSettings::default(), 0).expect("run");
    for (jobs, unit) in [(2, 1), (3, 7), (2, 8192)] {
        let db = dir.path().join(format!("cores-{jobs}-{unit}.db"));
        let mut store = read_samples(&db);
        let cores = Cores {
            jobs,
            unit_events: unit,
        };
        run_on_cores(&mut store, &db, &DiagnoseSettings::default(), 0, cores).expect("run");
        assert_eq!(failures(&store), failures(&one), "{cores:?}");
    }
}

/// A scratch database keeps its evidence lines in a file beside it: every
/// event's lines are those a kept database's table gives, and the
/// diagnosis on several cores, whose workers read that file on their own
/// connections, writes the failures (evidence lines and all) of one core
/// over a kept database.
#[test]
fn a_scratch_database_gives_the_evidence_and_failures_of_a_kept_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut kept = read_samples(&dir.path().join("kept.db"));
    let db = dir.path().join("scratch.db");
    let mut scratch = read_samples_into(Store::open_scratch(&db).expect("scratch"));
    assert!(scratch.evidence_spill().is_some());
    let last = kept.max_event_id().expect("max id");
    assert_eq!(scratch.max_event_id().expect("max id"), last);
    let mut lines = 0;
    for id in 1..=last {
        let expected = kept.evidence(id).expect("kept");
        lines += expected.len();
        assert_eq!(
            scratch.evidence(id).expect("scratch"),
            expected,
            "event {id}"
        );
    }
    assert!(lines > 100, "{lines} evidence lines");
    pipeline::run(&mut kept, &DiagnoseSettings::default(), 0).expect("run");
    let cores = Cores {
        jobs: 2,
        unit_events: 7,
    };
    run_on_cores(&mut scratch, &db, &DiagnoseSettings::default(), 0, cores).expect("run");
    let expected = failures(&kept);
    assert!(expected.iter().all(|f| !f.evidence.is_empty()));
    assert_eq!(failures(&scratch), expected);
}

/// A kept database is diagnosed with its events final, and again reading
/// them as they change when another connection committed meanwhile (a
/// daemon writing beside); this connection's own commits (the diagnoses
/// it writes) do not count.
#[test]
fn events_are_final_unless_another_connection_wrote_meanwhile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("kept.db");
    let mut store = Store::open(&db).expect("open");
    let mut finals = Vec::new();
    final_unless_written_beside(&mut store, &mut |store, events_final| {
        finals.push(events_final);
        store.advance_diagnosis_cursor(1)
    })
    .expect("diagnose");
    assert_eq!(finals, [true]);

    let beside = Store::open(&db).expect("beside");
    let mut finals = Vec::new();
    final_unless_written_beside(&mut store, &mut |_, events_final| {
        finals.push(events_final);
        if events_final {
            beside.advance_diagnosis_cursor(2)?;
        }
        Ok(())
    })
    .expect("diagnose");
    assert_eq!(finals, [true, false]);
}

/// A failure with id `id` standing on `primary` and `merged`.
fn diagnosed(id: &str, primary: i64, merged: &[i64]) -> pipeline::Diagnosed {
    let record = FailureRecord::bare(id);
    pipeline::Diagnosed {
        json: record.render_json(None).expect("render"),
        record,
        primary,
        merged: merged.to_vec(),
        time_ms: None,
    }
}

/// What the settling thread is told of the batches handed to the writer
/// thread is what the writer's connection says once it wrote them, also
/// for an event two failures took (the least id is the one the store
/// finds), and after the batches written are forgotten.
#[test]
fn the_handed_batches_answer_as_the_store_does_once_they_are_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("handed.db");
    let mut writer = read_samples(&db);
    let reader = Store::open(&db).expect("reader");
    let batches = [
        vec![diagnosed("bb", 1, &[2]), diagnosed("dd", 5, &[])],
        vec![diagnosed("aa", 3, &[2, 6])],
        vec![diagnosed("cc", 4, &[1, 3])],
    ];
    let mut handed = Handed::default();
    for pending in &batches {
        handed.add(&Batch {
            pending: pending
                .iter()
                .map(|d| diagnosed(&d.record.id, d.primary, &d.merged))
                .collect(),
            ..Batch::default()
        });
    }
    let told: Vec<_> = (1..=8)
        .map(|e| handed.failure_of_event(&reader, e).expect("handed"))
        .collect();
    for (i, pending) in batches.into_iter().enumerate() {
        write_batch(
            &mut writer,
            &Batch {
                pending,
                ..Batch::default()
            },
        )
        .expect("write");
        // The first batch is in the store now: forgetting it changes
        // nothing the settling thread is told.
        if i == 0 {
            handed.forget_written(1);
            for e in 1..=8 {
                assert_eq!(
                    handed.failure_of_event(&reader, e).expect("handed"),
                    told[e as usize - 1],
                    "event {e}"
                );
            }
        }
    }
    let stored: Vec<_> = (1..=8)
        .map(|e| writer.failure_of_event(e).expect("stored"))
        .collect();
    assert_eq!(told, stored);
    let some = |id: &str| Some(id.to_owned());
    assert_eq!(
        stored,
        [
            some("bb"),
            some("aa"),
            some("aa"),
            some("cc"),
            some("dd"),
            some("aa"),
            None,
            None
        ]
    );
}

/// The gate hands out units up to its window ahead of the writer whatever
/// they hold, and up to its wider window only while the units prepared
/// and not yet taken hold fewer than `PREPARED_AHEAD` diagnoses; the
/// writer's taking a unit gives its diagnoses back.
#[test]
fn the_gate_runs_wide_while_few_diagnoses_wait() {
    let gate = Gate::new(2, 5);
    let units = 20;
    let taken: Vec<usize> = std::iter::from_fn(|| gate.try_take(units)).collect();
    assert_eq!(taken, [0, 1, 2, 3, 4], "the wide window, nothing prepared");
    let gate = Gate::new(2, 5);
    assert_eq!(gate.try_take(units), Some(0));
    gate.prepared(PREPARED_AHEAD);
    assert_eq!(gate.try_take(units), Some(1), "within the narrow window");
    assert_eq!(gate.try_take(units), None, "heavy: the narrow window only");
    gate.merged(0, PREPARED_AHEAD - 1);
    assert_eq!(gate.lock().prepared, 1);
    let taken: Vec<usize> = std::iter::from_fn(|| gate.try_take(units)).collect();
    assert_eq!(
        taken,
        [2, 3, 4, 5],
        "light again: the wide window past unit 0"
    );
}

/// The settling side takes a unit a worker already sent before it
/// prepares one of its own; with the channel empty it prepares the units
/// the gate hands it, and unit k itself once every worker is gone without
/// it. Taking units first (the order before) prepared units 1–3 here
/// while unit 0 waited in the channel.
#[test]
fn the_settling_side_takes_the_units_sent_before_preparing_its_own() {
    let proposals = |k: usize| -> Proposals { vec![(k as i64 * 10, None)] };
    let ids = |p: &Proposals| p.iter().map(|(id, _)| *id).collect::<Vec<_>>();
    let units = 10;
    let gate = Gate::new(4, 4);
    assert_eq!(gate.try_take(units), Some(0), "a worker's unit");
    let (tx, rx) = mpsc::channel();
    tx.send((0, Ok(proposals(0)))).expect("send");
    let mut waiting = BTreeMap::new();
    let mut prepared_here = Vec::new();
    let mut prepare = |j: usize| {
        prepared_here.push(j);
        Ok(proposals(j))
    };
    let got = unit_proposals(0, units, &mut waiting, &gate, &rx, &mut prepare).expect("unit 0");
    assert_eq!(ids(&got), [0]);
    assert_eq!(
        gate.try_take(units),
        Some(1),
        "a worker that never sends it"
    );
    drop(tx);
    let got = unit_proposals(1, units, &mut waiting, &gate, &rx, &mut prepare).expect("unit 1");
    assert_eq!(ids(&got), [10]);
    assert_eq!(prepared_here, [2, 3, 1], "the gate's units, then unit 1");
    assert_eq!(waiting.keys().copied().collect::<Vec<_>>(), [2, 3]);
}
