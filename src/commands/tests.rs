//! `analyze --db` over a database an earlier run left between storing
//! events and diagnosing them (killed, or stopped by a store error): the
//! next run finds every failure a run from nothing finds.

use std::path::Path;

use super::{AnalyzeOptions, analyze};
use crate::generate::{GenOptions, generate};
use crate::ingest::{self, ReadStats, Split};
use crate::store::Store;

/// A generated Rails log of about 300 kB with its failures.
fn production_log(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("production.log");
    let mut file = std::fs::File::create(&path).expect("create");
    let opts = GenOptions {
        target_bytes: 300_000,
        oauth_share: 0.2,
        failure_share: 0.5,
        seed: 5,
        ..GenOptions::default()
    };
    generate(&opts, &mut file).expect("generate");
    path
}

/// Each failure of `store` as (request id, cause), in time order.
fn failures(store: &Store) -> Vec<(Option<String>, String)> {
    let mut all = Vec::new();
    store
        .each_failure_in_time_order(&mut |f| -> crate::store::Result<()> {
            all.push((f.request_id, f.cause.to_string()));
            Ok(())
        })
        .expect("failures");
    all
}

#[test]
fn a_run_stopped_between_storing_and_diagnosing_is_finished_by_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = production_log(dir.path());
    let db = dir.path().join("kept.db");
    // The first run stops after its reader's commits, before any diagnosis.
    {
        let mut store = Store::open(&db).expect("open");
        ingest::read_file(
            &mut store,
            &log,
            &Default::default(),
            None,
            &Split::default(),
            &mut ReadStats::default(),
            &mut |_, _| Ok(()),
        )
        .expect("read");
    }
    let again = AnalyzeOptions {
        paths: vec![log.clone()],
        db: Some(db),
        ..AnalyzeOptions::default()
    };
    let kept = analyze(&again, &mut |_| {}, &mut |_| {}).expect("second run");
    let fresh = AnalyzeOptions {
        paths: vec![log],
        ..AnalyzeOptions::default()
    };
    let scratch = analyze(&fresh, &mut |_| {}, &mut |_| {}).expect("run from nothing");
    let expected = failures(&scratch.store);
    assert!(expected.len() > 10, "{} failures", expected.len());
    assert_eq!(failures(&kept.store), expected);
}
