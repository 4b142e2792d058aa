//! Unit tests of what only a scratch database does (`analyze` without
//! `--db`): its page size, and what its connections keep while its events
//! are final.

use rusqlite::params;

use super::failures::Evidence;
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

/// A scratch database (its folder, its path) holding one source and
/// `events` token responses of it, on lines 1, 2, …
fn scratch_with_events(events: i64) -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let store = Store::open_scratch(&path).expect("scratch");
    one_source(&store);
    for line in 1..=events {
        store
            .conn
            .execute(
                "INSERT INTO events (source_id, line, kind, format)
                 VALUES (1, ?1, 'token_response', 'rails')",
                [line],
            )
            .expect("event");
    }
    (dir, path, store)
}

/// A scratch database's failure keeps its JSON in the file beside it (the
/// row holds its place), and reads back whole on the writer and on a
/// reader opened with the writer's files, after an update too; a reader
/// opened without them says where the JSON is instead of misreading it.
#[test]
fn a_scratch_failures_json_is_in_its_file_and_read_back_beside_it() {
    let (_dir, path, mut store) = scratch_with_events(1);
    let mut record = FailureRecord {
        evidence: vec![Evidence {
            file: "a.log".to_owned(),
            line: 1,
            ts: None,
            text: "POST /oauth/token 400 é".to_owned(),
        }],
        ..FailureRecord::bare("f1")
    };
    store.upsert_failure(&record, 1, &[], None).expect("write");
    let column: String = store
        .conn
        .query_row("SELECT evidence FROM failures WHERE id = 'f1'", [], |r| {
            r.get(0)
        })
        .expect("column");
    assert!(!column.starts_with('['), "the row holds a place: {column}");
    assert_eq!(store.failure("f1").expect("read"), Some(record.clone()));
    record.summary = "again".to_owned();
    // No history in a scratch database: every write counts as a change.
    assert!(
        store
            .upsert_failure(&record, 1, &[], None)
            .expect("rewrite")
    );
    let beside = Store::open_scratch_reader(&path, store.evidence_spill()).expect("reader");
    assert_eq!(beside.failure("f1").expect("read"), Some(record));
    let without = Store::open_scratch_reader(&path, None).expect("reader");
    assert!(matches!(
        without.failure("f1"),
        Err(Error::FailureDetailsElsewhere(id)) if id == "f1"
    ));
}

/// A failure written from its rendered JSON, the record itself emptied of
/// what was rendered (as a scratch analysis's diagnosis hands it to the
/// writer), reads back whole, as one written from the whole record does.
#[test]
fn a_failure_written_from_its_rendered_json_reads_back_whole() {
    let (_dir, _path, mut store) = scratch_with_events(2);
    let whole = |id: &str| FailureRecord {
        evidence: vec![Evidence {
            file: "a.log".to_owned(),
            line: 1,
            ts: None,
            text: "POST /oauth/token 400 é".to_owned(),
        }],
        candidates: vec![super::failures::Candidate {
            cause: crate::cause::Cause::CodeExpired,
            why: "the code is old".to_owned(),
        }],
        ..FailureRecord::bare(id)
    };
    store
        .upsert_failure(&whole("f1"), 1, &[], None)
        .expect("write");
    let json = whole("f2").render_json(None).expect("render");
    let mut emptied = whole("f2");
    emptied.forget_rendered();
    assert!(emptied.evidence.is_empty() && emptied.candidates.is_empty());
    store
        .upsert_rendered(&emptied, &json, (2, &[]), None)
        .expect("write rendered");
    assert_eq!(store.failure("f2").expect("read"), Some(whole("f2")));
    let written_whole = store.failure("f1").expect("read").map(|f| f.evidence);
    assert_eq!(
        store.failure("f2").expect("read").map(|f| f.evidence),
        written_whole
    );
}

/// The scratch diagnosis's writer commits its batches in groups: another
/// connection sees each group once its commit is told, and a failure
/// rolls back only the group it happened in.
#[test]
fn writes_in_groups_are_seen_a_group_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let mut store = Store::open_scratch(&path).expect("scratch");
    store
        .conn
        .execute_batch("CREATE TABLE items (n INTEGER NOT NULL)")
        .expect("table");
    let reader = Store::open_scratch_reader(&path, None).expect("reader");
    let rows = |s: &Store| -> i64 {
        s.conn
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .expect("count")
    };
    let mut told = Vec::new();
    let mut seen_when_told = Vec::new();
    let mut seen_while_open = Vec::new();
    store
        .write_in_groups(
            1..=20,
            8,
            &mut |s, n: i64| {
                seen_while_open.push(rows(&reader));
                s.conn.execute("INSERT INTO items (n) VALUES (?1)", [n])?;
                Ok(())
            },
            &mut |k| {
                told.push(k);
                seen_when_told.push(rows(&reader));
            },
        )
        .expect("written");
    assert_eq!(told, [8, 8, 4]);
    assert_eq!(seen_when_told, [8, 16, 20]);
    // Before each item: what the groups committed so far, never the open one's.
    assert_eq!(seen_while_open[7], 0);
    assert_eq!(seen_while_open[8], 8);
    assert_eq!(seen_while_open[19], 16);

    let mut told = Vec::new();
    let failed = store.write_in_groups(
        1..=20,
        8,
        &mut |s, n: i64| {
            if n == 13 {
                return Err(Error::IncompatibleVersion(13));
            }
            s.conn.execute("INSERT INTO items (n) VALUES (?1)", [n])?;
            Ok(())
        },
        &mut |k| told.push(k),
    );
    assert!(failed.is_err());
    assert_eq!(told, [8]);
    assert_eq!(
        rows(&reader),
        28,
        "the first group kept, the second rolled back"
    );
    assert!(store.conn.is_autocommit(), "no transaction left open");
}

/// The last connection to a scratch database closes without copying its
/// write-ahead log into the database (the folder is removed right after),
/// whether the writer or a diagnosis worker closes last, while a kept
/// database's last connection still does: its log is empty or gone, and a
/// new connection finds every row in the database.
#[test]
fn only_a_kept_database_is_checkpointed_when_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal_bytes =
        |db: &str| std::fs::metadata(dir.path().join(format!("{db}-wal"))).map_or(0, |m| m.len());
    for (scratch, writer_last) in [(true, true), (true, false), (false, true), (false, false)] {
        let db = format!("{scratch}-{writer_last}.db");
        let path = dir.path().join(&db);
        let store = match scratch {
            true => Store::open_scratch(&path),
            false => Store::open(&path),
        }
        .expect("open");
        // As `analyze` opens its diagnosis workers: with the scratch
        // database's evidence file, with none beside a kept one (`--db`).
        let reader = Store::open_scratch_reader(&path, store.evidence_spill()).expect("reader");
        one_source(&store);
        assert!(wal_bytes(&db) > 0, "{db}: written through its log");
        match writer_last {
            true => drop((reader, store)),
            false => drop((store, reader)),
        }
        assert_eq!(wal_bytes(&db) > 0, scratch, "{db}: log left after closing");
        let again = Store::open(&path).expect("again");
        let sources: i64 = again
            .conn
            .query_row("SELECT count(*) FROM sources", [], |r| r.get(0))
            .expect("count");
        assert_eq!(sources, 1, "{db}");
    }
}
