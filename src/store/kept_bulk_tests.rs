//! Unit tests of the bulk load of a kept database (`analyze --db` into a
//! file that holds no events yet): when it is allowed, and what a load
//! stopped midway leaves for the next open to mend.

use super::tests::{add_token_response, journal_mode, one_source, schema_of};
use super::*;

fn synchronous(store: &Store) -> i64 {
    store
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .expect("synchronous")
}

/// A kept database with no events is loaded as a scratch one (its dense
/// indexes dropped meanwhile, all back afterwards, in WAL mode and synced
/// to disk as opened); one that holds events keeps its indexes live.
#[test]
fn only_a_kept_database_without_events_is_loaded_in_bulk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.db");
    let mut kept = Store::open(&path).expect("kept");
    let before = schema_of(&kept);
    assert!(kept.load_in_bulk_while_empty().expect("empty"));
    let (during, sync_during) = kept
        .bulk_load(2, |s| {
            one_source(s);
            add_token_response(s, 1)?;
            Ok::<_, Error>((schema_of(s), synchronous(s)))
        })
        .expect("load");
    assert!(
        !during.iter().any(|(n, _)| n == "events_by_client_kind"),
        "{during:?}"
    );
    assert_eq!(sync_during, 0, "nothing synced while loading");
    assert_eq!(schema_of(&kept), before);
    assert_eq!(journal_mode(&kept), "wal");
    assert_eq!(synchronous(&kept), 1, "NORMAL again");
    drop(kept);

    let mut again = Store::open(&path).expect("reopen");
    assert!(!again.load_in_bulk_while_empty().expect("empty"));
    let during = again
        .bulk_load(2, |s| Ok::<_, Error>(schema_of(s)))
        .expect("load");
    assert_eq!(during, before);
}

/// A bulk load stopped after dropping indexes (the process killed) leaves
/// a kept database without them: the next open builds every one again,
/// as the schema has it.
#[test]
fn indexes_a_stopped_bulk_load_dropped_are_built_again_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.db");
    let store = Store::open(&path).expect("kept");
    let before = schema_of(&store);
    one_source(&store);
    add_token_response(&store, 1).expect("event");
    drop(store);
    let conn = rusqlite::Connection::open(&path).expect("raw");
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("names");
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        conn.execute_batch(&format!("DROP INDEX \"{name}\""))
            .expect("drop");
    }
    drop(conn);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(schema_of(&store), before);
    assert_eq!(store.max_event_id().expect("events"), 1);
}

/// A kept database another connection has open cannot be taken alone: it
/// is loaded with its indexes live, and the load goes on.
#[test]
fn a_kept_database_open_elsewhere_is_loaded_with_its_indexes_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.db");
    let mut kept = Store::open(&path).expect("kept");
    let before = schema_of(&kept);
    let other = Store::open(&path).expect("beside");
    assert_eq!(other.max_event_id().expect("read"), 0);
    assert!(kept.load_in_bulk_while_empty().expect("empty"));
    let during = kept
        .bulk_load(2, |s| {
            one_source(s);
            add_token_response(s, 1)?;
            Ok::<_, Error>(schema_of(s))
        })
        .expect("load");
    assert_eq!(during, before);
    assert_eq!(journal_mode(&kept), "wal");
    assert_eq!(other.max_event_id().expect("read"), 1);
}

/// A catch-up's indexes already built again by another connection's open
/// (the fleet receivers reopening meanwhile) do not fail its end.
#[test]
fn a_catch_up_ends_whoever_built_its_indexes_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.db");
    let mut kept = Store::open(&path).expect("kept");
    let before = schema_of(&kept);
    assert!(kept.begin_catch_up().expect("begin"));
    assert_ne!(schema_of(&kept), before, "indexes set aside");
    drop(Store::open(&path).expect("another open"));
    kept.end_catch_up(2).expect("end");
    assert_eq!(schema_of(&kept), before);
}
