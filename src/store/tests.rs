//! The store's unit tests: opening, migrating, bulk loads, checkpoints,
//! the kept join window, and that SQL stays in `src/store/`.

use super::*;
use grantwatch_parsers::EventKind;
use rusqlite::params;

/// The seam the store keeps: SQL (and the SQLite crate) only under
/// `src/store/`; other stages call the store's typed methods.
#[test]
fn sql_stays_in_the_store() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.expect("walk src");
        let path = entry.path();
        if path.starts_with(src.join("store")) || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("read source");
        if text.contains("rusqlite") || text.contains("raw_connection(") {
            offenders.push(path.display().to_string());
        }
    }
    assert!(offenders.is_empty(), "SQL outside src/store: {offenders:?}");
}

/// A scratch database whose bulk loads never keep their keys in memory:
/// SQLite's indexes are built again after each, as these tests check.
pub(super) fn scratch_with_sql_indexes(path: &std::path::Path) -> Store {
    let mut scratch = Store::open_scratch(path).expect("scratch");
    scratch.keep_index_in_memory_from(i64::MAX);
    scratch
}

pub(super) fn schema_of(store: &Store) -> Vec<(String, String)> {
    store
        .conn
        .prepare("SELECT name, coalesce(sql, '') FROM sqlite_master ORDER BY name")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows")
}

/// A bulk load into a scratch database drops the events' secondary
/// indexes and builds every one of them again, also when the load
/// fails; a kept database keeps its indexes throughout.
#[test]
fn a_bulk_load_gives_back_every_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut scratch = scratch_with_sql_indexes(&dir.path().join("s.db"));
    let before = schema_of(&scratch);
    let during = scratch
        .bulk_load(2, |s| Ok::<_, Error>(schema_of(s)))
        .expect("load");
    let has = |name: &str| during.iter().any(|(n, _)| n == name);
    for dense in [
        "events_by_client_kind",
        "events_by_client_ip",
        "events_by_kind_time",
    ] {
        assert!(!has(dense), "{dense} dropped: {during:?}");
    }
    // Kept: the unique one, the rare events', and the sparse ones until
    // rows enter them (`sparse_indexes_stay_live_until_many_rows_enter_them`).
    for kept in ["events_by_source", "events_phases", "events_failing"] {
        assert!(has(kept), "{kept} kept");
    }
    for sparse in bulk::SPARSE.iter().map(|s| s.name) {
        assert!(has(sparse), "{sparse} live while no row entered it");
    }
    assert_eq!(schema_of(&scratch), before);
    let failed: Result<()> = scratch.bulk_load(2, |_| Err(Error::IncompatibleVersion(0)));
    assert!(failed.is_err());
    assert_eq!(schema_of(&scratch), before);
    assert_eq!(journal_mode(&scratch), "wal");

    let mut kept = Store::open(&dir.path().join("k.db")).expect("kept");
    kept.bulk_load(2, |_| Ok::<_, Error>(())).expect("load");
    assert_eq!(journal_mode(&kept), "wal");
    let before = schema_of(&kept);
    let during = kept
        .bulk_load(2, |s| Ok::<_, Error>(schema_of(s)))
        .expect("load");
    assert_eq!(during, before);
}

/// A bulk load started inside another (each file of an `analyze` of
/// several) is part of it: the indexes stay dropped when the inner one
/// returns, and come back once, when the outer one does.
#[test]
fn a_bulk_load_inside_another_leaves_the_rebuild_to_the_outer_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut scratch = scratch_with_sql_indexes(&dir.path().join("s.db"));
    let before = schema_of(&scratch);
    let (inner, after_inner) = scratch
        .bulk_load(2, |outer| {
            let inner = outer.bulk_load(2, |s| Ok::<_, Error>(schema_of(s)))?;
            assert!(outer.in_bulk_load(), "the outer load still runs");
            Ok::<_, Error>((inner, schema_of(outer)))
        })
        .expect("load");
    let has = |schema: &[(String, String)], name: &str| schema.iter().any(|(n, _)| n == name);
    for schema in [&inner, &after_inner] {
        assert!(!has(schema, "events_by_kind_time"), "{schema:?}");
    }
    assert!(!scratch.in_bulk_load());
    assert_eq!(schema_of(&scratch), before);
    assert_eq!(journal_mode(&scratch), "wal");
}

/// Rails events from line `first` on, `n` of them, each with a request id
/// and the first `with_code` of them with a code too.
pub(super) fn rails_events(
    first: u64,
    n: u64,
    with_code: u64,
) -> Vec<grantwatch_parsers::Event<'static>> {
    use grantwatch_parsers::{Event, EvidenceLine, Format};
    (first..first + n)
        .map(|line| {
            let mut e = Event::new(EventKind::TokenResponse, Format::Rails);
            e.request_id = Some(format!("req-{line}").into());
            if line < first + with_code {
                let mut fp = [0; 12];
                fp[..8].copy_from_slice(&line.to_le_bytes());
                e.code_fp = Some(grantwatch_parsers::Fingerprint(fp));
            }
            e.evidence.push(EvidenceLine {
                line,
                text: format!("line {line}").into(),
            });
            e
        })
        .collect()
}

/// During a bulk load a sparse index stays live while few rows enter it
/// and is dropped once more than `LIVE_ROWS` have; either way every
/// index is back afterwards, and the rows are found through it.
#[test]
fn sparse_indexes_stay_live_until_many_rows_enter_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut scratch = scratch_with_sql_indexes(&dir.path().join("s.db"));
    one_source(&scratch);
    let before = schema_of(&scratch);
    let index_exists = |s: &Store, name: &str| schema_of(s).iter().any(|(n, _)| n == name);
    let progress = BatchProgress::default();
    let (request_live, code_live) = scratch
        .bulk_load(2, |s| {
            let n = bulk::LIVE_ROWS + 1;
            s.commit_batch(1, &rails_events(1, n, 10), &progress)?;
            Ok::<_, Error>((
                index_exists(s, "events_by_request"),
                index_exists(s, "events_by_code"),
            ))
        })
        .expect("load");
    assert!(
        !request_live,
        "a request id on every row: dropped for the rebuild"
    );
    assert!(code_live, "ten codes: kept live");
    assert_eq!(schema_of(&scratch), before);
    let plan: String = scratch
        .conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM events WHERE request_id = 'req-7'",
            [],
            |r| r.get(3),
        )
        .expect("plan");
    assert!(plan.contains("events_by_request"), "{plan}");
    let found: i64 = scratch
        .conn
        .query_row(
            "SELECT count(*) FROM events WHERE code_fp IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(found, 10);
}

/// The login phases and the events that may record a failure are read
/// through their partial indexes, in a kept and a scratch database: SQLite
/// uses one only while the query's terms imply its condition, and without
/// them every failure walked 400 lines of events and every response of its
/// join window. A source's events of a few kinds in a window are read
/// through the kinds' time index, not the source's.
#[test]
fn rare_events_are_read_through_their_partial_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kept = Store::open(&dir.path().join("k.db")).expect("kept");
    let scratch = Store::open_scratch(&dir.path().join("s.db")).expect("scratch");
    // A source's events of several kinds in an hour: through the kinds'
    // time index, not the whole source (`events::of_source`).
    let of_source = super::events::of_source(
        &[
            EventKind::ClientError,
            EventKind::TokenResponse,
            EventKind::TokenRequest,
        ],
        50,
    );
    let reads = [
        ("events e", super::events::PHASE_EVENTS, "events_phases"),
        (
            "events e INDEXED BY events_failing",
            super::events::FAILING_EVENTS,
            "events_failing",
        ),
        ("events e", of_source.as_str(), "events_by_kind_time"),
    ];
    let args: [&dyn rusqlite::ToSql; 3] = [&1, &0, &400];
    for store in [&kept, &scratch] {
        for (from, condition, index) in reads {
            let bound = &args[..condition.matches('?').count()];
            let plan: Vec<String> = store
                .conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN SELECT e.id FROM {from} WHERE {condition}"
                ))
                .unwrap_or_else(|e| panic!("{index}: {e}"))
                .query_map(bound, |r| r.get(3))
                .expect("plan")
                .collect::<rusqlite::Result<_>>()
                .expect("rows");
            let step = format!("USING INDEX {index}");
            assert!(plan.iter().any(|s| s.contains(&step)), "{index}: {plan:?}");
        }
    }
}

/// The failure events of a join window kept for the next one
/// (`window.rs`) are given back only while nothing was written since:
/// a failure another connection or this one writes into the kept span
/// is in the next answer.
#[test]
fn a_kept_join_window_sees_every_failure_written_after_it() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("w.db");
    let writer = Store::open(&path).expect("writer");
    let reader = Store::open(&path).expect("reader");
    let add = |store: &Store, line: i64, ts: i64, status: i64| {
        store
            .conn
            .execute(
                "INSERT INTO events (source_id, line, kind, format, ts_ms, status)
                 VALUES (1, ?1, 'token_response', 'rails', ?2, ?3)",
                params![line, ts, status],
            )
            .expect("event");
    };
    one_source(&writer);
    add(&writer, 1, 1_000, 400);
    add(&writer, 2, 1_500, 200);
    let kinds = [EventKind::TokenResponse];
    let lines = |rows: Vec<EventRow>| rows.iter().map(|r| r.line).collect::<Vec<_>>();
    let window = |store: &Store, from, to| {
        lines(
            store
                .failure_events_between(&kinds, from, to)
                .expect("window"),
        )
    };
    assert_eq!(window(&reader, 0, 3_000), [1]);
    add(&writer, 3, 2_000, 400);
    assert_eq!(
        window(&reader, 0, 3_000),
        [1, 3],
        "another connection's write"
    );
    add(&reader, 4, 2_500, 401);
    assert_eq!(
        window(&reader, 0, 3_000),
        [1, 3, 4],
        "this connection's write"
    );
    // Inside the span kept: the same rows as read afresh.
    assert_eq!(window(&reader, 1_200, 2_200), [3]);
    assert_eq!(window(&writer, 1_200, 2_200), [3]);
    // The nearest failed responses, from the kept window and as read
    // by a connection that kept none.
    let fresh = Store::open(&path).expect("fresh");
    let near = |store: &Store| {
        lines(
            store
                .failed_responses_near(2_400, (500, 2_900), 2)
                .expect("near"),
        )
    };
    assert_eq!(near(&reader), [4, 3]);
    assert_eq!(near(&fresh), [4, 3]);
}

/// Stores a token response of source 1 (`one_source`) at `line`.
pub(super) fn add_token_response(store: &Store, line: i64) -> Result<usize> {
    Ok(store.conn.execute(
        "INSERT INTO events (source_id, line, kind, format) VALUES (1, ?1, 'token_response', 'rails')",
        [line],
    )?)
}

/// During a scratch database's bulk load the writer holds it alone, its
/// rollback journal a file; afterwards, also after a failed load, it is in
/// WAL mode again and a reader opened beside the writer reads what was
/// loaded while the writer goes on writing (as the diagnosis workers
/// do).
#[test]
fn a_bulk_load_holds_the_database_alone_and_gives_it_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let mut scratch = Store::open_scratch(&path).expect("scratch");
    // Its events are written in SQL here, behind the store's back: the
    // load keeps nothing out of the table.
    scratch.keep_index_in_memory_from(i64::MAX);
    one_source(&scratch);
    let (mode, beside) = scratch
        .bulk_load(2, |s| {
            add_token_response(s, 1)?;
            // Gives up at once instead of after a busy timeout.
            let other = Connection::open(&path)?;
            other.busy_timeout(std::time::Duration::ZERO)?;
            let beside = other
                .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))
                .is_ok();
            Ok::<_, Error>((journal_mode(s), beside))
        })
        .expect("load");
    assert_eq!(mode, "persist");
    assert!(!beside, "another connection read during the bulk load");
    assert_eq!(journal_mode(&scratch), "wal");
    let reader = Store::open_scratch_reader(&path, None).expect("reader");
    assert_eq!(reader.max_event_id().expect("max"), 1);
    let _reading = reader
        .conn
        .execute_batch("BEGIN; SELECT count(*) FROM events;");
    add_token_response(&scratch, 2).expect("a write beside a reader");
    assert_eq!(scratch.max_event_id().expect("max"), 2);
}

/// A connection told to checkpoint only after `pages` pages does not
/// checkpoint at SQLite's default of 1,000 (`watch` leaves those
/// checkpoints to the diagnosis thread's connection), and still bounds
/// the WAL of its own commits to about `pages`.
#[test]
fn a_writer_that_checkpoints_late_still_bounds_the_wal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.db");
    let mut writer = Store::open(&path).expect("writer");
    writer.checkpoint_after_pages(1_500).expect("pragma");
    let wal_pages = || {
        let bytes = std::fs::metadata(dir.path().join("w.db-wal")).map_or(0, |m| m.len());
        bytes.saturating_sub(32) / (4096 + 24)
    };
    one_source(&writer);
    let mut most = 0;
    for batch in 0..400 {
        let tx = writer.conn.transaction().expect("tx");
        wide_events(&tx, batch * 40..(batch + 1) * 40);
        tx.commit().expect("commit");
        most = most.max(wal_pages());
    }
    assert!(most > 1_200, "the writer checkpointed early: {most} pages");
    // One batch writes a few dozen pages past the bound before the
    // checkpoint at its commit.
    assert!(most < 1_500 + 100, "the WAL grew to {most} pages");
}

/// Source 1, which the tests' events come from.
pub(super) fn one_source(store: &Store) {
    store
        .conn
        .execute(
            "INSERT INTO sources (id, path, format) VALUES (1, 'a.log', 'rails')",
            [],
        )
        .expect("source");
}

/// Token responses of source 1 at `lines`, each with 400 bytes of
/// description: pages for the WAL to hold.
fn wide_events(conn: &Connection, lines: std::ops::Range<i64>) {
    for line in lines {
        conn.execute(
            "INSERT INTO events (source_id, line, kind, format, error_description)
             VALUES (1, ?1, 'token_response', 'rails', ?2)",
            params![line, "x".repeat(400)],
        )
        .expect("event");
    }
}

/// A WAL file grown past the bound is checkpointed and cut to nothing,
/// and what it held is in the database; one under it is left alone.
#[test]
fn a_grown_wal_is_cut_back_once_checkpointed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.db");
    let mut writer = Store::open(&path).expect("writer");
    writer.checkpoint_after_pages(100_000).expect("pragma");
    let wal_bytes = || std::fs::metadata(dir.path().join("w.db-wal")).map_or(0, |m| m.len());
    one_source(&writer);
    wide_events(&writer.conn, 0..2_000);
    let mut other = Store::open(&path).expect("other");
    let grown = wal_bytes();
    assert!(grown > 1_000_000, "the WAL holds {grown} bytes");
    assert!(!other.truncate_wal_over(grown).expect("left"));
    assert_eq!(wal_bytes(), grown);
    assert!(other.truncate_wal_over(1_000_000).expect("cut"));
    assert_eq!(wal_bytes(), 0);
    drop(writer);
    drop(other);
    let reopened = Store::open(&path).expect("reopen");
    assert_eq!(reopened.max_event_id().expect("max"), 2_000);
}

/// Opening a database of this version only reads it: beside a writer
/// in the middle of a transaction (the analysis's follower and
/// diagnosis workers open theirs so) it neither waits for the write
/// lock nor checks every foreign key.
#[test]
fn opening_an_up_to_date_database_beside_a_writer_does_not_wait() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.db");
    let writer = Store::open(&path).expect("writer");
    writer
        .conn
        .execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO sources (id, path, format) VALUES (1, 'a.log', 'rails');",
        )
        .expect("write");
    let began = std::time::Instant::now();
    let other = Store::open(&path).expect("open beside a writer");
    assert!(
        began.elapsed() < std::time::Duration::from_secs(1),
        "waited {:?}",
        began.elapsed()
    );
    assert_eq!(other.schema_version().expect("version"), schema::VERSION);
    writer.conn.execute_batch("COMMIT").expect("commit");
}

pub(super) fn journal_mode(store: &Store) -> String {
    store
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode")
}

#[test]
fn on_disk_databases_use_wal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("g.db")).expect("open");
    let mode: String = store
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
}

#[test]
fn reopening_keeps_the_schema_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("g.db");
    drop(Store::open(&path).expect("first"));
    let store = Store::open(&path).expect("second");
    let v: u32 = store
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("v");
    assert_eq!(v, schema::VERSION);
}

/// `analyze --json` writes a kept database's failures with their
/// candidates and evidence as stored, and a scratch database's lines as
/// their diagnosis rendered them: both the same bytes as the record read
/// back and written whole, for text that JSON must escape, a server no log
/// named, a grant type kept as logged, and a failure diagnosed again (its
/// last diagnosis printed, at its new time).
#[test]
fn a_stored_failure_writes_the_bytes_of_its_record() {
    use crate::cause::{Cause, Confidence};
    use failure_record::{Candidate, Evidence, FailureContext};
    use grantwatch_parsers::{GrantType, ServerKind};
    let dir = tempfile::tempdir().expect("tempdir");
    let record = |id: &str, server: Option<ServerKind>, grant: GrantType| FailureRecord {
        id: id.to_owned(),
        ts: Some("2025-03-11T09:41:07.318Z".to_owned()),
        server,
        request_id: Some("req \"1\"".to_owned()),
        client_id: None,
        grant_type: Some(grant),
        error: Some("invalid_grant".to_owned()),
        http_status: Some(400),
        cause: Cause::CodeReused,
        confidence: Confidence::Medium,
        candidates: vec![Candidate {
            cause: Cause::CodeExpired,
            why: "it said \u{201c}expired\u{201d}\tthen </script>\u{1}".to_owned(),
        }],
        summary: "résumé \\ \"quoted\"\n".to_owned(),
        fix: "fix".to_owned(),
        evidence: vec![Evidence {
            file: "C:\\logs\\a.log".to_owned(),
            line: 7,
            ts: None,
            text: "{\"error\":\"invalid_grant\"}\u{7f}\u{1b}[0m 日本".to_owned(),
        }],
        missing: None,
        context: FailureContext::default(),
    };
    for scratch in [true, false] {
        let path = dir.path().join(format!("{scratch}.db"));
        let mut store = if scratch {
            Store::open_scratch(&path).expect("scratch")
        } else {
            Store::open(&path).expect("kept")
        };
        one_source(&store);
        wide_events(&store.conn, 1..3);
        let custom = GrantType::from_name("urn:example:grant");
        store
            .upsert_failure(&record("a", None, custom), 1, &[], Some(1))
            .expect("first");
        store
            .upsert_failure(
                &record("b", Some(ServerKind::Keycloak), GrantType::RefreshToken),
                2,
                &[],
                Some(2),
            )
            .expect("second");
        let again = FailureRecord {
            summary: "diagnosed again".to_owned(),
            ..record("a", None, GrantType::from_name("urn:example:grant"))
        };
        store
            .upsert_failure(&again, 1, &[], Some(3))
            .expect("again");
        let mut whole = Vec::new();
        store
            .each_failure_in_time_order::<Error>(&mut |f| {
                whole.push(serde_json::to_string(&f)?);
                Ok(())
            })
            .expect("records");
        let mut stored = Vec::new();
        store
            .each_stored_failure_in_time_order::<Error>(&mut |f| {
                let mut bytes = Vec::new();
                f.write_json(&mut bytes)?;
                stored.push(String::from_utf8(bytes).expect("JSON is UTF-8"));
                Ok(())
            })
            .expect("stored");
        assert_eq!(whole.len(), 2);
        assert!(whole[1].contains("diagnosed again"), "{whole:?}");
        assert_eq!(stored, whole, "scratch: {scratch}");
        let mut rendered = Vec::new();
        let printed = store
            .each_rendered_line::<Error>(&mut |id, rest| {
                let mut line = Vec::new();
                failure_record::write_failure_id(&mut line, id);
                line.extend_from_slice(rest);
                rendered.push(String::from_utf8(line).expect("JSON is UTF-8"));
                Ok(())
            })
            .expect("rendered");
        assert_eq!(printed, scratch);
        if scratch {
            assert_eq!(rendered, whole);
        }
    }
}

/// `Store::reading` runs its reads in one snapshot: a commit beside it is
/// seen after it returns, not inside it; inside a transaction already
/// open it runs as it is.
#[test]
fn reads_inside_reading_see_one_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.db");
    let mut writer = Store::open(&path).expect("writer");
    one_source(&writer);
    add_token_response(&writer, 1).expect("insert");
    let reader = Store::open(&path).expect("reader");
    let (before, inside) = reader
        .reading(|| {
            let before = reader.max_event_id()?;
            add_token_response(&writer, 2)?;
            Ok((before, reader.max_event_id()?))
        })
        .expect("reading");
    assert_eq!(
        (before, inside),
        (1, 1),
        "a commit beside it was seen inside"
    );
    assert_eq!(reader.max_event_id().expect("max"), 2);
    writer
        .write(|s| s.reading(|| s.max_event_id()))
        .expect("inside a write");
}
