//! `analyze --json`'s report written in blocks on two threads
//! (`json_report.rs`) is, byte for byte, the report written on one: over a
//! generated Rails log's failures and every cut of them that ends a block,
//! a pair of blocks, or neither.

use grantwatch::commands::{AnalyzeOptions, analyze};
use grantwatch::generate::{GenOptions, generate};
use grantwatch::json_report::{BLOCK, write_blocks};
use grantwatch::report::{Error, json_lines};

#[test]
fn the_report_on_two_threads_is_the_report_on_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gen_opts = GenOptions {
        target_bytes: 3 << 20,
        oauth_share: 0.5,
        failure_share: 0.5,
        seed: 5,
        ..GenOptions::default()
    };
    let mut log = Vec::new();
    generate(&gen_opts, &mut log).expect("generate");
    let path = dir.path().join("gen.log");
    std::fs::write(&path, log).expect("write log");
    let opts = AnalyzeOptions {
        paths: vec![path],
        ..Default::default()
    };
    let analysis = analyze(&opts, &mut |_| {}, &mut |_| {}).expect("analyze");
    let store = &analysis.store;
    let ids = store
        .stored_failure_ids_in_time_order()
        .expect("ids")
        .expect("a scratch database");
    assert!(ids.len() > 3 * BLOCK, "only {} failures", ids.len());

    let written = |ids: &[String], threads: usize| {
        let mut out = Vec::new();
        write_blocks::<Error>(&mut out, store, ids, threads).expect("report");
        String::from_utf8(out).expect("UTF-8")
    };
    let cuts = [
        0,
        1,
        BLOCK,
        BLOCK + 1,
        2 * BLOCK,
        2 * BLOCK + 1,
        3 * BLOCK + 7,
    ];
    for cut in cuts.into_iter().chain([ids.len()]) {
        let one = written(&ids[..cut], 1);
        assert_eq!(one.lines().count(), cut);
        assert_eq!(written(&ids[..cut], 2), one, "{cut} failures");
    }

    // The whole report, as `analyze --json` writes it, in time order.
    let mut report = Vec::new();
    json_lines(&mut report, store, 2).expect("report");
    let report = String::from_utf8(report).expect("UTF-8");
    assert_eq!(report, written(&ids, 1));
    let times: Vec<serde_json::Value> = report
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["ts"].clone())
        .collect();
    let times: Vec<&str> = times.iter().filter_map(|t| t.as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "not in time order");
}
