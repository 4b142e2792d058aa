//! The index kept in memory answers every query exactly as SQL over the
//! same events does, in a kept database that has the four indexes.

use std::borrow::Cow;

use grantwatch_parsers::{
    Event, EventKind, EvidenceLine, Fingerprint, Format, TimeBasis, Timestamp,
};

use super::{Chunked, Key, NO_ADDRESS, grouped_by_address, sorted_by_kind};
use crate::store::tests::one_source;
use crate::store::{BatchProgress, Error, EventRow, Store};

const KINDS: [EventKind; 5] = [
    EventKind::TokenResponse,
    EventKind::CodeIssued,
    EventKind::RevokeRequest,
    EventKind::ProviderEvent,
    EventKind::Lifecycle,
];

/// Events of three clients (and none), from a few addresses (and none),
/// of four kinds, at times that tie and are sometimes missing; revokes
/// accepted or refused, by several users, of several tokens; a few request
/// ids shared by a server's events and an app's (whose clocks are sampled).
fn mixed_events(n: u64) -> Vec<Event<'static>> {
    let mut rng = fastrand::Rng::with_seed(7);
    (1..=n)
        .map(|line| {
            let format = [
                Format::Keycloak,
                Format::Keycloak,
                Format::Hydra,
                Format::Logcat,
            ][rng.usize(..4)];
            let mut e = Event::new(KINDS[rng.usize(..KINDS.len())], format);
            e.evidence.push(EvidenceLine {
                line,
                text: format!("line {line}").into(),
            });
            let pick = |rng: &mut fastrand::Rng, of: &[Option<&'static str>]| {
                of[rng.usize(..of.len())].map(Cow::Borrowed)
            };
            e.client_id = pick(&mut rng, &[Some("app"), Some("web"), Some("svc"), None]);
            e.ip = pick(
                &mut rng,
                &[Some("10.0.0.1"), Some("10.0.0.2"), Some("10.0.0.3"), None],
            );
            e.user = pick(&mut rng, &[Some("ann"), Some("bob"), None]);
            e.request_id = pick(&mut rng, &[Some("r1"), Some("r2"), Some("r3"), None, None]);
            e.status = [None, Some(200), Some(400)][rng.usize(..3)];
            e.refresh_token_fp =
                [None, Some(Fingerprint([1; 12])), Some(Fingerprint([2; 12]))][rng.usize(..3)];
            e.error = (rng.u8(..4) == 0).then_some(Cow::Borrowed("invalid_grant"));
            e.provider_code = (rng.u8(..6) == 0).then_some(Cow::Borrowed("E1"));
            e.server_date = (rng.u8(..3) == 0)
                .then(|| chrono::DateTime::from_timestamp_millis(999 * rng.i64(0..300)))
                .flatten();
            e.ts = (rng.u8(..10) > 0).then(|| Timestamp {
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

/// Sources 1 and 2: the first ten events of every thirty in the first.
fn two_sources(store: &Store) {
    one_source(store);
    store
        .conn
        .execute(
            "INSERT INTO sources (id, path, format) VALUES (2, 'b.log', 'keycloak')",
            [],
        )
        .expect("source");
}

fn store_in_two(store: &mut Store, events: &[Event<'static>]) -> Result<(), Error> {
    let progress = BatchProgress::default();
    for chunk in events.chunks(30) {
        let (first, second) = chunk.split_at(chunk.len().min(10));
        store.commit_batch(1, first, &progress)?;
        store.commit_batch(2, second, &progress)?;
    }
    Ok(())
}

/// A scratch database whose bulk loads keep their keys in memory from the
/// `from`th event on (read back from the table then, taken as stored after).
fn scratch_from(path: &std::path::Path, from: i64) -> Store {
    let mut scratch = Store::open_scratch(path).expect("scratch");
    scratch.index_from_events = from;
    scratch
}

/// A kept database and a scratch one loaded in bulk with the same events,
/// which keeps them in memory from the 700th on.
fn both(dir: &std::path::Path, events: &[Event<'static>]) -> (Store, Store) {
    let mut kept = Store::open(&dir.join("k.db")).expect("kept");
    two_sources(&kept);
    store_in_two(&mut kept, events).expect("kept events");
    let mut scratch = scratch_from(&dir.join("s.db"), 700);
    two_sources(&scratch);
    scratch
        .bulk_load(2, |s| store_in_two(s, events))
        .expect("bulk load");
    (kept, scratch)
}

fn has_index(store: &Store, name: &str) -> bool {
    store
        .conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .expect("schema")
        > 0
}

/// That `store` answers from SQLite's indexes: none kept in memory, the
/// four built (`why` says when).
fn assert_sql_indexes(store: &Store, why: &str) {
    assert!(store.event_index().is_none(), "{why}: none in memory");
    for name in super::REPLACED {
        assert!(has_index(store, name), "{why}: {name} built");
    }
}

/// Every client, kind set, address, window and limit: the same rows in
/// the same order, from the index and from SQL.
fn assert_same_answers(kept: &Store, other: &Store) {
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..150 {
        let client = ["app", "web", "svc", "nobody"][rng.usize(..4)];
        let kinds: Vec<EventKind> = KINDS.iter().copied().filter(|_| rng.bool()).collect();
        let ip = [None, Some("10.0.0.1"), Some("10.0.0.3"), Some("10.9.9.9")][rng.usize(..4)];
        let from = 1_000 * rng.i64(-10..300);
        let to = from + 1_000 * rng.i64(-5..200);
        let limit = [1, 3, 50, 1_000][rng.usize(..4)];
        let ask = |s: &Store| {
            ids(&s
                .events_for_client(client, &kinds, ip, (from, to), limit)
                .expect("events for client"))
        };
        assert_eq!(
            ask(other),
            ask(kept),
            "{client} {kinds:?} {ip:?} {from}..{to} {limit}"
        );
        let user = [None, Some("ann")][rng.usize(..2)];
        let token = [None, Some("010101010101010101010101")][rng.usize(..2)];
        let revokes = |s: &Store| {
            ids(&s
                .revokes_for_client(client, (ip, user), token, (from, to), limit)
                .expect("revokes"))
        };
        assert_eq!(
            revokes(other),
            revokes(kept),
            "revokes {client} {ip:?} {user:?} {token:?}"
        );
        let source = rng.i64(1..=3);
        let of_source = |s: &Store| {
            ids(&s
                .events_of_source(source, &kinds, (from, to), limit)
                .expect("events of source"))
        };
        assert_eq!(
            of_source(other),
            of_source(kept),
            "of source {source} {kinds:?}"
        );
        let dates = |s: &Store| {
            s.dates_of_source(source, &kinds, (from, to), limit)
                .expect("dates of source")
        };
        assert_eq!(
            dates(other),
            dates(kept),
            "dates of source {source} {kinds:?}"
        );
        let between = |s: &Store| ids(&s.events_between(&kinds, from, to).expect("between"));
        assert_eq!(
            between(other),
            between(kept),
            "between {kinds:?} {from}..{to}"
        );
        let at = from + 1_000 * rng.i64(-20..100);
        let near = |s: &Store| {
            ids(&s
                .failed_responses_near(at, (from, to), limit)
                .expect("failed responses near"))
        };
        assert_eq!(near(other), near(kept), "near {at} in {from}..{to} {limit}");
        let request = ["r1", "r2", "r3", "r9"][rng.usize(..4)];
        let by_request = |s: &Store| ids(&s.events_by_request(request).expect("by request"));
        assert_eq!(by_request(other), by_request(kept), "request {request}");
    }
    // The clock samples, joined by request id: the same ones (their order
    // is not the answer: the estimate is a median).
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
    assert!(!samples(kept).is_empty(), "apps' requests answered");
    assert_eq!(samples(other), samples(kept), "clock samples");
}

/// Below a start set past the load's events nothing is kept: SQLite
/// builds the indexes.
#[test]
fn a_load_of_few_events_keeps_the_sql_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = mixed_events(300);
    let mut scratch = scratch_from(&dir.path().join("s.db"), 301);
    two_sources(&scratch);
    scratch
        .bulk_load(2, |s| store_in_two(s, &events))
        .expect("bulk load");
    assert_sql_indexes(&scratch, "a load under the threshold");
}

/// By default a scratch load keeps its keys from the first event on, also
/// for a load of few events, and answers as SQL does.
#[test]
fn a_scratch_load_keeps_its_keys_from_the_first_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = mixed_events(300);
    let mut kept = Store::open(&dir.path().join("k.db")).expect("kept");
    two_sources(&kept);
    store_in_two(&mut kept, &events).expect("kept events");
    let mut scratch = Store::open_scratch(&dir.path().join("s.db")).expect("scratch");
    two_sources(&scratch);
    scratch
        .bulk_load(2, |s| store_in_two(s, &events))
        .expect("bulk load");
    assert!(scratch.event_index().is_some(), "kept in memory");
    // `events_by_request` is sparse: few enough rows entered it to keep it
    // live through the load (`bulk.rs`).
    for name in &super::REPLACED[..3] {
        assert!(!has_index(&scratch, name), "{name} not built");
    }
    assert_same_answers(&kept, &scratch);
}

#[test]
fn the_index_answers_as_the_sql_indexes_do() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    // More request ids than a sparse index takes live: `events_by_request`
    // is dropped for the load, and only memory answers by request.
    let events = mixed_events(2_000);
    let (kept, mut scratch) = both(dir.path(), &events);
    assert!(scratch.event_index().is_some(), "kept in memory");
    for name in super::REPLACED {
        assert!(!has_index(&scratch, name), "{name} not built");
        assert!(has_index(&kept, name), "{name} in a kept database");
    }
    assert_same_answers(&kept, &scratch);
    // Once the events are final, revokes come from the client's summary.
    scratch.set_events_final(true);
    assert_same_answers(&kept, &scratch);
    scratch.set_events_final(false);
    // A connection opened beside the writer shares the index and builds
    // nothing.
    let reader = Store::open_scratch_reader(&dir.path().join("s.db"), scratch.evidence_spill())?;
    assert!(reader.event_index().is_some());
    assert_same_answers(&kept, &reader);
    for name in super::REPLACED {
        assert!(!has_index(&reader, name), "{name} not built by the reader");
    }
    Ok(())
}

/// An event stored after the load: the SQL indexes are built and the
/// memory one dropped for every connection, which then answer with it.
#[test]
fn events_stored_after_the_load_bring_the_sql_indexes_back() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = mixed_events(500);
    let (mut kept, mut scratch) = both(dir.path(), &events);
    let reader = Store::open_scratch_reader(&dir.path().join("s.db"), scratch.evidence_spill())?;
    let later = &mixed_events(520)[500..];
    let progress = BatchProgress::default();
    kept.commit_batch(1, later, &progress)?;
    scratch.commit_batch(1, later, &progress)?;
    assert_sql_indexes(&scratch, "events stored after the load");
    assert!(reader.event_index().is_none());
    assert_same_answers(&kept, &scratch);
    assert_same_answers(&kept, &reader);
    Ok(())
}

/// A load whose events cannot all be paired with their rows (one already
/// stored), or that fails, builds the SQL indexes as before.
#[test]
fn a_load_that_cannot_keep_every_event_builds_the_sql_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = mixed_events(200);
    let progress = BatchProgress::default();
    let mut scratch = scratch_from(&dir.path().join("s.db"), 1);
    one_source(&scratch);
    scratch
        .bulk_load(2, |s| {
            s.commit_batch(1, &events, &progress)?;
            s.commit_batch(1, &events[..10], &progress).map(drop)
        })
        .expect("load");
    assert_sql_indexes(&scratch, "a batch stored twice");
    let mut failed = scratch_from(&dir.path().join("f.db"), 1);
    one_source(&failed);
    let load = failed.bulk_load(2, |s| {
        s.commit_batch(1, &events, &progress)?;
        Err::<(), _>(Error::Spill(std::io::Error::other("stopped")))
    });
    assert!(load.is_err());
    assert_sql_indexes(&failed, "a failed load");
}

/// A read in ranges that gives up forgets its source's events inside the
/// load: the index forgets them too, and holds what is stored again.
#[test]
fn a_forgotten_source_is_forgotten_by_the_index() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = mixed_events(800);
    let progress = BatchProgress::default();
    let mut kept = Store::open(&dir.path().join("k.db"))?;
    one_source(&kept);
    kept.commit_batch(1, &events[400..], &progress)?;
    let mut scratch = scratch_from(&dir.path().join("s.db"), 100);
    one_source(&scratch);
    scratch.bulk_load(2, |s| {
        s.commit_batch(1, &events[..400], &progress)?;
        s.forget_source_reading(1)?;
        s.commit_batch(1, &events[400..], &progress).map(drop)
    })?;
    assert!(scratch.event_index().is_some());
    assert_same_answers(&kept, &scratch);
    Ok(())
}

/// Past its budget a builder gives up and lets go of what it held: the
/// load then builds the SQL indexes.
#[test]
fn a_builder_past_its_budget_gives_up() {
    let events = mixed_events(1_000);
    let ids: Vec<i64> = (1..=1_000).collect();
    let mut small = super::EventIndexBuilder::with_budget(10_000);
    small.add(1, &events[..100], &ids[..100]);
    small.add(1, &events[100..], &ids[100..]);
    assert!(small.finish().is_none());
    let mut roomy = super::EventIndexBuilder::with_budget(1 << 20);
    roomy.add(1, &events[..100], &ids[..100]);
    roomy.add(1, &events[100..], &ids[100..]);
    let index = roomy.finish().expect("within its budget");
    assert!(!index.all_of("app", EventKind::RevokeRequest).is_empty());
}

/// The counting passes order positions as a stable sort by (client,
/// address) does, on keys in the index's order with many clients, many
/// addresses and events without one.
#[test]
fn positions_grouped_by_address_are_a_stable_sort_by_client_and_address() {
    let mut rng = fastrand::Rng::with_seed(17);
    for (n, clients, addresses) in [
        (0u32, 0u32, 0u32),
        (1, 1, 0),
        (500, 3, 40),
        (20_000, 50, 3_000),
    ] {
        let mut keys: Vec<Key> = (0..n)
            .map(|id| Key {
                ts: rng.i64(..1_000),
                id,
                client: rng.u32(..clients.max(1)),
                ip: match rng.u32(..=addresses) {
                    a if a == addresses => NO_ADDRESS,
                    a => a,
                },
                kind: rng.u8(..4),
            })
            .collect();
        keys.sort_unstable_by_key(Key::by_kind);
        let mut sorted: Vec<u32> = (0..keys.len() as u32).collect();
        sorted.sort_by_key(|&p| (keys[p as usize].client, keys[p as usize].ip));
        let grouped = grouped_by_address(&keys, clients.max(1) as usize, addresses as usize);
        assert_eq!(grouped, sorted, "{n} keys");
    }
}

/// Keys taken out of their chunks grouped by client and kind, each group
/// then sorted, come out as one sort of them all: with few clients (the
/// counting sort) and with more clients than keys (one sort), times that
/// tie and go back.
#[test]
fn keys_sorted_by_kind_are_one_sort_of_them_all() {
    let mut rng = fastrand::Rng::with_seed(19);
    for (n, clients) in [(0u32, 1u32), (1, 1), (500, 3), (40_000, 50), (300, 1_000)] {
        let keys: Vec<Key> = (0..n)
            .map(|id| Key {
                ts: rng.i64(..1_000),
                id,
                client: rng.u32(..clients),
                ip: NO_ADDRESS,
                kind: rng.u8(..super::KINDS as u8),
            })
            .collect();
        let mut chunked = Chunked::default();
        chunked.extend(keys.iter().copied());
        let mut expected = keys;
        expected.sort_unstable_by_key(Key::by_kind);
        assert_eq!(
            sorted_by_kind(chunked, clients as usize),
            expected,
            "{n} keys, {clients} clients"
        );
    }
}
