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
    with_events(&store, events);
    (dir, path, store)
}

/// Adds one source and `events` token responses of it to `store`.
fn with_events(store: &Store, events: i64) {
    one_source(store);
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
}

/// A scratch analysis's failures, held in memory, answer as a kept
/// database's tables do, after failures written again under their ids:
/// which failure each event belongs to (the least id of those that took
/// it), the report's lines in time order (an undated failure at time 0,
/// ties by id) and the count of each cause.
#[test]
fn a_scratch_analysis_answers_as_the_tables_do() {
    let (_dir, _path, mut scratch) = scratch_with_events(9);
    let kept_dir = tempfile::tempdir().expect("tempdir");
    let mut kept = Store::open(&kept_dir.path().join("k.db")).expect("kept");
    with_events(&kept, 9);
    let failure = |id: &str, cause| FailureRecord {
        cause,
        summary: format!("{id} failed"),
        ..FailureRecord::bare(id)
    };
    use crate::cause::Cause::{CodeExpired, CodeReused, RedirectUriMismatch};
    let writes: [(FailureRecord, i64, &[i64], Option<i64>); 7] = [
        (failure("f5", CodeReused), 1, &[2], Some(300)),
        (failure("f2", CodeExpired), 2, &[3], None),
        (failure("f9", CodeExpired), 4, &[], Some(100)),
        (failure("f5", RedirectUriMismatch), 1, &[5], Some(50)),
        (failure("f3", CodeReused), 6, &[1, 7], Some(100)),
        (failure("f0", CodeReused), 8, &[], Some(0)),
        (failure("f8", CodeExpired), 9, &[3], Some(100)),
    ];
    for store in [&mut scratch, &mut kept] {
        for (rec, primary, merged, ts_ms) in &writes {
            store
                .upsert_failure(rec, *primary, merged, *ts_ms)
                .expect("write");
        }
    }
    let links = |s: &Store| -> Vec<Option<String>> {
        (1..=10)
            .map(|e| s.failure_of_event(e).expect("link"))
            .collect()
    };
    let lines = |s: &Store| -> String {
        let mut out = Vec::new();
        crate::report::json_lines(&mut out, s).expect("lines");
        String::from_utf8(out).expect("utf-8")
    };
    assert_eq!(links(&scratch), links(&kept));
    assert_eq!(links(&scratch)[0].as_deref(), Some("f3"));
    assert_eq!(links(&scratch)[2].as_deref(), Some("f2"));
    assert_eq!(lines(&scratch), lines(&kept));
    assert_eq!(
        lines(&scratch)
            .lines()
            .map(|l| &l[7..9])
            .collect::<Vec<_>>(),
        ["f0", "f2", "f5", "f3", "f8", "f9"]
    );
    assert_eq!(
        scratch.cause_counts().expect("counts"),
        kept.cause_counts().expect("counts")
    );
    assert_eq!(
        scratch.failures_in_time_order().expect("failures"),
        kept.failures_in_time_order().expect("failures")
    );
}

/// A scratch analysis's failure is held in memory and its JSON in the file
/// beside the database, not in its tables: it reads back whole on the
/// writer and on a reader opened with the writer's files, after an update
/// too, and its events are known to belong to it there; a connection
/// opened without those files finds nothing.
#[test]
fn a_scratch_failure_is_held_beside_the_tables_and_read_back_beside_them() {
    let (_dir, path, mut store) = scratch_with_events(2);
    let mut record = FailureRecord {
        evidence: vec![Evidence {
            file: "a.log".to_owned(),
            line: 1,
            ts: None,
            text: "POST /oauth/token 400 é".to_owned(),
        }],
        ..FailureRecord::bare("f1")
    };
    store.upsert_failure(&record, 1, &[2], None).expect("write");
    let rows = |s: &Store, table: &str| -> i64 {
        s.conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    };
    assert_eq!(rows(&store, "failures"), 0);
    assert_eq!(rows(&store, "failure_events"), 0);
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
    for event in [1, 2] {
        assert_eq!(
            beside.failure_of_event(event).expect("link").as_deref(),
            Some("f1")
        );
    }
    let without = Store::open_scratch_reader(&path, None).expect("reader");
    assert_eq!(without.failure("f1").expect("read"), None);
    assert_eq!(without.failure_of_event(1).expect("link"), None);
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
