//! Reading files into a scratch database when the store fails beneath the
//! readers: the error names the store, not the log.

use std::path::Path;
use std::sync::Arc;

use grantwatch_parsers::Context;

use super::{Error, ReadStats, Split, read_file};
use crate::store::{EvidenceSpill, Store};

/// A Keycloak log of `lines` refused refreshes, each an event with its
/// line as evidence.
fn keycloak_log(path: &Path, lines: usize) {
    let mut text = String::new();
    for i in 0..lines {
        text.push_str(&format!(
            "2025-03-11 00:{:02}:{:02},000 WARN  [org.keycloak.events] (executor-thread-1) \
             type=\"REFRESH_TOKEN_ERROR\", realmId=\"r\", realmName=\"shop\", \
             clientId=\"shop-mobile\", userId=\"null\", ipAddress=\"203.0.113.{}\", \
             error=\"invalid_token\", reason=\"Token is not active\", grant_type=\"refresh_token\"\n",
            (i / 60) % 60,
            i % 60,
            i % 250
        ));
    }
    std::fs::write(path, text).expect("log");
}

/// A range reader that cannot write the evidence file (a full temporary
/// folder) fails the read as the store's error; it does not report the
/// log as unreadable, which would let `analyze` go on without its events.
#[test]
fn an_evidence_file_that_cannot_be_written_is_a_store_error_not_an_unreadable_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("keycloak.log");
    keycloak_log(&log, 4_000);
    let spill = EvidenceSpill::unwritable(&dir.path().join("broken.evidence")).expect("spill");
    let mut store = Store::open_scratch(&dir.path().join("s.db"))
        .expect("scratch")
        .sharing_spill(Some(Arc::new(spill)));
    let split = Split {
        jobs: 2,
        min_range_bytes: 64 * 1024,
        chunk_bytes: 16 * 1024,
    };
    let mut stats = ReadStats::default();
    let read = read_file(
        &mut store,
        &log,
        &Context::default(),
        None,
        &split,
        &mut stats,
        &mut |_, _| Ok(()),
    );
    match read {
        Err(Error::Store(crate::store::Error::Spill(_))) => {}
        other => panic!("expected the evidence file's error, got {other:?}"),
    }
}
