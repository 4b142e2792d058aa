//! Unit tests of what only a scratch database does (`analyze` without
//! `--db`): its page size, and what its connections keep while its events
//! are final.

use rusqlite::params;

use super::tests::{journal_mode, one_source};
use super::*;

/// A scratch database is made with its larger pages (set before the WAL,
/// which would keep the default), and its readers find them; a kept
/// database keeps SQLite's default.
#[test]
fn a_scratch_database_has_its_own_page_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page_size = |s: &Store| -> i64 {
        s.conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("size")
    };
    let scratch = Store::open_scratch(&dir.path().join("s.db")).expect("scratch");
    assert_eq!(page_size(&scratch), 8_192);
    assert_eq!(journal_mode(&scratch), "wal");
    let reader = Store::open_scratch_reader(&dir.path().join("s.db"), None).expect("reader");
    assert_eq!(page_size(&reader), 8_192);
    let kept = Store::open(&dir.path().join("k.db")).expect("kept");
    assert_eq!(page_size(&kept), 4_096);
}

/// While the events are final, a request's events asked for again come
/// from the memo and equal the query's; once they are not, an event
/// added since is seen.
#[test]
fn a_request_asked_for_again_gives_what_the_query_gives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open_scratch(&dir.path().join("s.db")).expect("scratch");
    one_source(&store);
    let request = |store: &Store, line: i64, rid: &str| {
        store
            .conn
            .execute(
                "INSERT INTO events (source_id, line, kind, format, request_id)
                 VALUES (1, ?1, 'token_response', 'rails', ?2)",
                params![line, rid],
            )
            .expect("event");
    };
    request(&store, 1, "r1");
    request(&store, 2, "r2");
    request(&store, 3, "r1");
    let asked = |s: &Store, rid: &str| -> Vec<i64> {
        s.events_by_request(rid)
            .expect("asked")
            .iter()
            .map(|e| e.id)
            .collect()
    };
    store.set_events_final(true);
    for _ in 0..2 {
        assert_eq!(asked(&store, "r1"), [1, 3]);
        assert_eq!(asked(&store, "r1"), [1, 3]);
        assert_eq!(asked(&store, "r2"), [2]);
    }
    store.set_events_final(false);
    request(&store, 4, "r2");
    assert_eq!(asked(&store, "r2"), [2, 4]);
}
