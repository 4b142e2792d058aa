//! A scratch load's events kept out of its table answer every query as
//! the same events stored in a kept database's table do; and whatever
//! cannot stay out of the table puts them into it, under the same ids.

use std::borrow::Cow;

use grantwatch_parsers::{
    Event, EventKind, EvidenceLine, Fingerprint, Format, TimeBasis, Timestamp,
};

use crate::store::failure_signs::FailureSigns;
use crate::store::tests::one_source;
use crate::store::{BatchProgress, Error, EventRow, Store};

const KINDS: [EventKind; 7] = [
    EventKind::TokenResponse,
    EventKind::CodeIssued,
    EventKind::AuthorizeRequest,
    EventKind::RevokeRequest,
    EventKind::ProviderEvent,
    EventKind::ClientError,
    EventKind::Unparsed,
];

/// Events of every kind the queries tell apart, several to a line (by
/// kind and by part), with and without times, errors, descriptions,
/// reasons (login phases in any case among them), codes, challenges,
/// verifiers, refresh tokens and `Date` headers, from a server's and an
/// app's logs.
fn varied_events(n: u64) -> Vec<Event<'static>> {
    let mut rng = fastrand::Rng::with_seed(5);
    (1..=n)
        .map(|i| {
            // Two events a line, told apart by their part: no two alike.
            let line = i / 2 + 1;
            let format = [Format::Keycloak, Format::Rails, Format::Logcat][rng.usize(..3)];
            let mut e = Event::new(KINDS[rng.usize(..KINDS.len())], format);
            e.part = (i % 2) as u32;
            e.evidence.push(EvidenceLine {
                line,
                text: format!("line {line}").into(),
            });
            let pick = |rng: &mut fastrand::Rng, of: &[Option<&'static str>]| {
                of[rng.usize(..of.len())].map(Cow::Borrowed)
            };
            e.client_id = pick(&mut rng, &[Some("app"), Some("web"), None]);
            e.ip = pick(&mut rng, &[Some("10.0.0.1"), Some("10.0.0.2"), None]);
            e.path = pick(&mut rng, &[Some("/oauth/token"), Some("/authorize"), None]);
            e.request_id = pick(&mut rng, &[Some("r1"), Some("r2"), None, None]);
            e.status = [None, Some(200), Some(400), Some(500)][rng.usize(..4)];
            e.error = (rng.u8(..4) == 0).then_some(Cow::Borrowed("invalid_grant"));
            e.error_description = pick(&mut rng, &[Some("Code not valid"), None, None]);
            e.provider_code = (rng.u8(..6) == 0).then_some(Cow::Borrowed("E1"));
            e.provider_reason = pick(
                &mut rng,
                &[
                    Some("Request phase initiated."),
                    Some("callback PHASE INITIATED."),
                    Some("phase initiated."),
                    Some("expired"),
                    None,
                    None,
                ],
            );
            e.code_fp =
                [None, Some(Fingerprint([3; 12])), Some(Fingerprint([4; 12]))][rng.usize(..3)];
            e.refresh_token_fp =
                [None, Some(Fingerprint([1; 12])), Some(Fingerprint([2; 12]))][rng.usize(..3)];
            e.code_challenge = pick(&mut rng, &[Some("ch1"), Some("ch2"), None]);
            e.verifier_s256 = [Some("v1"), Some("v2"), None][rng.usize(..3)].map(String::from);
            e.user_agent = pick(&mut rng, &[Some("okhttp/4 \u{e9}"), None]);
            e.server_date = (rng.u8(..3) == 0)
                .then(|| chrono::DateTime::from_timestamp_millis(999 * rng.i64(0..300)))
                .flatten();
            e.ts = (rng.u8(..8) > 0).then(|| Timestamp {
                utc: chrono::DateTime::from_timestamp_millis(1_000 * rng.i64(0..300))
                    .unwrap_or_default(),
                basis: TimeBasis::Zoned,
            });
            e
        })
        .collect()
}

fn ids(rows: &[EventRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

fn store_all(store: &mut Store, events: &[Event<'static>]) -> Result<(), Error> {
    for chunk in events.chunks(37) {
        store.commit_batch(1, chunk, &BatchProgress::default())?;
    }
    Ok(())
}

/// A kept database with `events` in its table, and a scratch one that
/// loaded them in bulk (keeping them out of its table, unless `load` put
/// them in).
fn both(
    dir: &std::path::Path,
    events: &[Event<'static>],
    load: impl FnOnce(&mut Store) -> Result<(), Error>,
) -> (Store, Store) {
    let mut table = Store::open(&dir.join("k.db")).expect("kept");
    one_source(&table);
    store_all(&mut table, events).expect("kept events");
    let mut scratch = Store::open_scratch(&dir.join("s.db")).expect("scratch");
    one_source(&scratch);
    scratch.bulk_load(2, load).expect("bulk load");
    (table, scratch)
}

fn rows_in_table(store: &Store) -> i64 {
    store
        .conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .expect("count")
}

/// Every query of the events, kept and in the table: the same rows in
/// the same order (whole rows, for those read by id).
fn assert_same_answers(table: &Store, kept: &Store, events: usize) {
    assert_same_of_source(table, kept, events, 1);
}

/// [`assert_same_answers`] for the events of source `source`.
fn assert_same_of_source(table: &Store, kept: &Store, events: usize, source: i64) {
    assert_eq!(table.max_event_id().ok(), kept.max_event_id().ok());
    for id in 0..=events as i64 + 1 {
        assert_eq!(table.event(id).ok(), kept.event(id).ok(), "event {id}");
        let lines = |s: &Store| s.evidence(id).expect("evidence");
        assert_eq!(lines(table), lines(kept), "evidence of {id}");
    }
    for fp in [
        "030303030303030303030303",
        "010101010101010101010101",
        "none",
    ] {
        let code = |s: &Store| ids(&s.events_by_code(fp).expect("by code"));
        assert_eq!(code(table), code(kept), "code {fp}");
        let refresh = |s: &Store| ids(&s.events_by_refresh(fp).expect("by refresh"));
        assert_eq!(refresh(table), refresh(kept), "refresh {fp}");
    }
    for value in ["ch1", "ch2", "v1", "v2", "none"] {
        let challenge = |s: &Store| ids(&s.events_by_challenge(value).expect("challenge"));
        assert_eq!(challenge(table), challenge(kept), "challenge {value}");
        let verifier = |s: &Store| ids(&s.events_by_verifier(value).expect("verifier"));
        assert_eq!(verifier(table), verifier(kept), "verifier {value}");
    }
    let mut rng = fastrand::Rng::with_seed(13);
    for _ in 0..100 {
        let after = rng.i64(-1..events as i64);
        let until = after + rng.i64(-3..200);
        let limit = [1, 7, 1_000][rng.usize(..3)];
        let page = |s: &Store| {
            ids(&s
                .failure_candidates_page((after, until), limit)
                .expect("candidates"))
        };
        assert_eq!(
            page(table),
            page(kept),
            "candidates {after}..={until} {limit}"
        );
        // Of the candidates, the failure events, in both stores.
        let failures = |s: &Store| {
            ids(&s
                .failure_events_page((after, until), limit)
                .expect("failure events"))
        };
        let filtered: Vec<i64> = table
            .failure_candidates_page((after, until), u32::MAX)
            .expect("candidates")
            .iter()
            .filter(|e| FailureSigns::of(e).is_failure())
            .take(limit as usize)
            .map(|e| e.id)
            .collect();
        assert_eq!(
            failures(table),
            filtered,
            "failures {after}..={until} {limit}"
        );
        assert_eq!(
            failures(kept),
            filtered,
            "failures {after}..={until} {limit}"
        );
        let from = 1_000 * rng.i64(-10..300);
        let to = from + 1_000 * rng.i64(-5..40);
        let kinds: Vec<EventKind> = KINDS.iter().copied().filter(|_| rng.bool()).collect();
        let window = |s: &Store| ids(&s.failure_events_between(&kinds, from, to).expect("window"));
        assert_eq!(window(table), window(kept), "window {kinds:?} {from}..{to}");
        let line = rng.u64(0..events as u64 / 2 + 3);
        let span = rng.u64(0..5);
        let near = |s: &Store| {
            ids(&s
                .events_of_source_between_lines(source, line, line + span)
                .expect("lines"))
        };
        assert_eq!(near(table), near(kept), "lines {line}+{span}");
        let phases = |s: &Store| {
            ids(&s
                .phase_events_between_lines(source, line, line + 20 * span)
                .expect("phases"))
        };
        assert_eq!(phases(table), phases(kept), "phases {line}+{}", 20 * span);
    }
    let samples = |s: &Store| {
        let mut all: Vec<(i64, i64)> = s
            .clock_samples()
            .expect("clock samples")
            .iter()
            .map(|c| (c.source_id, c.delta_ms))
            .collect();
        all.sort_unstable();
        all
    };
    assert_eq!(samples(table), samples(kept), "clock samples");
}

#[test]
fn kept_events_answer_as_the_table_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = varied_events(1_500);
    let (table, mut kept) = both(dir.path(), &events, |s| store_all(s, &events));
    assert_eq!(rows_in_table(&kept), 0, "kept out of the table");
    assert!(kept.keeps_events());
    assert_same_answers(&table, &kept, events.len());
    kept.set_events_final(true);
    assert_same_answers(&table, &kept, events.len());
    // A connection opened beside the writer reads the same kept events.
    let reader = Store::open_scratch_reader(&dir.path().join("s.db"), kept.evidence_spill())
        .expect("reader");
    assert_same_answers(&table, &reader, events.len());
}

/// A read in ranges that gives up forgets its source's events: the kept
/// ones go into the table first, under their ids, and the load goes on
/// inserting.
#[test]
fn a_forgotten_source_puts_the_kept_events_into_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = varied_events(600);
    let (table, scratch) = both(dir.path(), &events, |s| {
        store_all(s, &events[..300])?;
        s.forget_source_reading(1)?;
        store_all(s, &events)
    });
    assert!(!scratch.keeps_events());
    assert_eq!(rows_in_table(&scratch), 600);
    assert_same_answers(&table, &scratch, events.len());
}

/// A file read again in the same load may give events stored already:
/// the kept ones go into the table, whose unique index skips them.
#[test]
fn a_file_read_again_puts_the_kept_events_into_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = varied_events(400);
    let progress = BatchProgress {
        dev: Some(1),
        inode: Some(1),
        head_hash: Some("h".into()),
        ..BatchProgress::default()
    };
    let read = |s: &mut Store, events: &[Event<'static>]| -> Result<Vec<i64>, Error> {
        let source = s.source_for_file("a.log", "rails", (1, 1), "h")?;
        s.commit_batch(source.id, events, &progress)
    };
    let mut table = Store::open(&dir.path().join("k.db")).expect("kept");
    read(&mut table, &events).expect("table");
    let mut scratch = Store::open_scratch(&dir.path().join("s.db")).expect("scratch");
    scratch
        .bulk_load(2, |s| {
            read(s, &events)?;
            assert!(read(s, &events[..100])?.is_empty(), "stored already");
            Ok::<_, Error>(())
        })
        .expect("load");
    assert!(!scratch.keeps_events());
    assert_eq!(rows_in_table(&scratch), 400);
    let source = table
        .source_by_path("a.log")
        .expect("source")
        .expect("a.log")
        .id;
    assert_same_of_source(&table, &scratch, events.len(), source);
}

/// Events stored after the load: the kept ones go into the table first,
/// and every connection answers from it.
#[test]
fn events_stored_after_the_load_put_the_kept_ones_into_the_table() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = varied_events(520);
    let (mut table, mut scratch) =
        both(dir.path(), &events[..500], |s| store_all(s, &events[..500]));
    let reader = Store::open_scratch_reader(&dir.path().join("s.db"), scratch.evidence_spill())?;
    let progress = BatchProgress::default();
    table.commit_batch(1, &events[500..], &progress)?;
    scratch.commit_batch(1, &events[500..], &progress)?;
    assert!(!scratch.keeps_events() && !reader.keeps_events());
    assert_eq!(rows_in_table(&scratch), 520);
    assert_same_answers(&table, &scratch, events.len());
    assert_same_answers(&table, &reader, events.len());
    Ok(())
}

/// The kinds' names in the order `events_by_source` sorts them.
#[test]
fn kinds_sort_by_name() {
    let mut names = super::KINDS_BY_NAME.to_vec();
    names.sort_unstable();
    assert_eq!(names, super::KINDS_BY_NAME);
    for name in names {
        assert!(EventKind::from_name(name).is_some(), "{name} is a kind");
    }
}

/// An event whose place does not fit the kept order (a line of more
/// than 255 records): the kept events go into the table, which answers.
#[test]
fn an_event_that_does_not_fit_puts_the_kept_events_into_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut events = varied_events(300);
    events[250].part = 256;
    let (table, scratch) = both(dir.path(), &events, |s| store_all(s, &events));
    assert!(!scratch.keeps_events());
    assert_eq!(rows_in_table(&scratch), 300);
    assert_same_answers(&table, &scratch, events.len());
}

/// Removing or merging a failure takes its links with it. A scratch
/// analysis (whose events are kept out of the table, so that no foreign
/// key is checked and no cascade runs) holds its failures beside its
/// tables and is never revisited: it refuses both, and still says which
/// failure each event belongs to.
#[test]
fn a_removed_or_merged_failure_takes_its_links_along() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = varied_events(50);
    let (mut table, mut kept) = both(dir.path(), &events, |s| store_all(s, &events));
    assert!(kept.keeps_events());
    let record = |id: &str| crate::store::FailureRecord {
        error: Some("invalid_grant".to_owned()),
        http_status: Some(400),
        confidence: crate::cause::Confidence::Medium,
        summary: "s".to_owned(),
        fix: "f".to_owned(),
        ..crate::store::FailureRecord::bare(id)
    };
    for store in [&mut table, &mut kept] {
        store.upsert_failure(&record("f1"), 1, &[2, 3], None)?;
        store.upsert_failure(&record("f2"), 4, &[5], None)?;
        store.upsert_failure(&record("f3"), 6, &[7], None)?;
    }
    table.remove_failure("f2")?;
    table.regroup("f1", 1, &[6])?;
    // f2 removed, f3 (whose primary is event 6) merged into f1, whose own
    // links the caller then writes again: no link is left.
    for event in 1..=7 {
        assert_eq!(table.failure_of_event(event)?, None, "event {event}");
    }
    assert!(matches!(
        kept.remove_failure("f2"),
        Err(Error::ScratchRevisited)
    ));
    assert!(matches!(
        kept.regroup("f1", 1, &[6]),
        Err(Error::ScratchRevisited)
    ));
    let linked: Vec<Option<String>> = (1..=7)
        .map(|e| kept.failure_of_event(e))
        .collect::<Result<_, _>>()?;
    let named = ["f1", "f1", "f1", "f2", "f2", "f3", "f3"];
    assert_eq!(linked, named.map(|id| Some(id.to_owned())));
    Ok(())
}
