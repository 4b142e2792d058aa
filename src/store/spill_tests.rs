//! Unit tests of the evidence file (`spill.rs`).

use super::*;

fn spill() -> (tempfile::TempDir, EvidenceSpill) {
    let dir = tempfile::tempdir().expect("tempdir");
    let spill = EvidenceSpill::create(&dir.path().join("e")).expect("spill");
    (dir, spill)
}

#[test]
fn lines_come_back_in_line_order_with_the_first_text_of_a_line() {
    let (_dir, spill) = spill();
    let mut batch = SpillBatch::default();
    batch
        .add(
            3,
            [(12, "b"), (10, "a"), (12, "b again"), (11, "é")].into_iter(),
        )
        .expect("add");
    batch.add(4, std::iter::empty()).expect("add");
    batch.add(5, [(1, "")].into_iter()).expect("add");
    spill.write(&mut batch).expect("write");
    assert_eq!(
        spill.lines(3).expect("3"),
        vec![(10, "a".into()), (11, "é".into()), (12, "b".into())]
    );
    assert!(spill.lines(4).expect("4").is_empty());
    assert_eq!(spill.lines(5).expect("5"), vec![(1, String::new())]);
    // Never written, and out of any range.
    assert!(spill.lines(2).expect("2").is_empty());
    assert!(spill.lines(99).expect("99").is_empty());
    assert!(spill.lines(-1).expect("-1").is_empty());
}

#[test]
fn an_id_written_again_finds_only_its_new_lines() {
    let (_dir, spill) = spill();
    let mut first = SpillBatch::default();
    first.add(1, [(1, "old one")].into_iter()).expect("add");
    first.add(2, [(2, "old two")].into_iter()).expect("add");
    spill.write(&mut first).expect("first");
    let mut again = SpillBatch::default();
    again.add(1, [(7, "new one")].into_iter()).expect("add");
    again.add(2, std::iter::empty()).expect("add");
    spill.write(&mut again).expect("again");
    assert_eq!(spill.lines(1).expect("1"), vec![(7, "new one".into())]);
    assert!(spill.lines(2).expect("2").is_empty());
}

/// Records a reader appended before their events had ids are found
/// only once published, under the ids given then; one never published
/// is never found.
#[test]
fn appended_records_are_found_under_the_ids_they_are_published_with() {
    let (_dir, spill) = spill();
    let mut batch = SpillBatch::default();
    batch.add(0, [(4, "four")].into_iter()).expect("add");
    batch.add(0, std::iter::empty()).expect("add");
    batch
        .add(0, [(6, "six"), (5, "five")].into_iter())
        .expect("add");
    let places = spill.append(&mut batch).expect("append");
    assert_eq!(places.len(), 3);
    assert_eq!(places[1], 0, "an event without lines has no record");
    assert!(spill.lines(1).expect("1").is_empty(), "not yet published");
    let mut unpublished = SpillBatch::default();
    unpublished
        .add(0, [(9, "dropped")].into_iter())
        .expect("add");
    spill.append(&mut unpublished).expect("append");
    spill.publish(&[(1, places[0]), (2, places[1]), (3, places[2])]);
    assert_eq!(spill.lines(1).expect("1"), vec![(4, "four".into())]);
    assert!(spill.lines(2).expect("2").is_empty());
    assert_eq!(
        spill.lines(3).expect("3"),
        vec![(5, "five".into()), (6, "six".into())]
    );
    assert!(spill.lines(4).expect("4").is_empty());
}

/// Events handed on after their lines were appended carry the line
/// numbers and no text; the published places give the texts back.
#[test]
fn events_appended_keep_their_line_numbers_and_leave_their_texts_in_the_file() {
    use grantwatch_parsers::{EventKind, EvidenceLine, Format};
    let (_dir, spill) = spill();
    let mut events: Vec<Event<'_>> = [(7, "seven"), (8, "eight")]
        .into_iter()
        .map(|(line, text)| {
            let mut e = Event::new(EventKind::TokenResponse, Format::Keycloak);
            e.evidence.push(EvidenceLine {
                line,
                text: text.into(),
            });
            e
        })
        .collect();
    let places = spill
        .append_events(&mut events, &mut SpillBatch::new(), None)
        .expect("append");
    assert_eq!(events.iter().map(Event::line).collect::<Vec<_>>(), [7, 8]);
    assert!(
        events
            .iter()
            .flat_map(|e| &e.evidence)
            .all(|l| l.text.is_empty())
    );
    spill.publish(&[(1, places[0]), (2, places[1])]);
    assert_eq!(spill.lines(1).expect("1"), vec![(7, "seven".into())]);
    assert_eq!(spill.lines(2).expect("2"), vec![(8, "eight".into())]);
}

/// A record longer than the place packs (16 MiB) is read through its
/// header; an id far from the others takes one page of the index.
#[test]
fn a_long_record_and_a_far_id_come_back() {
    let (_dir, spill) = spill();
    let long = "x".repeat(17 << 20);
    let mut batch = SpillBatch::default();
    batch.add(1, [(9, "short")].into_iter()).expect("add");
    batch
        .add(5_000_000, [(2, long.as_str()), (1, "first")].into_iter())
        .expect("add");
    spill.write(&mut batch).expect("write");
    assert_eq!(
        spill.lines(5_000_000).expect("far"),
        vec![(1, "first".to_string()), (2, long.clone())]
    );
    assert_eq!(spill.lines(1).expect("near"), vec![(9, "short".into())]);
    assert!(spill.lines(4_999_999).expect("unwritten").is_empty());
    let pages = spill
        .index
        .read()
        .expect("index")
        .pages
        .iter()
        .flatten()
        .count();
    assert_eq!(pages, 2);
}

/// Sealed, the file is read through its cache of blocks: every record
/// comes back as written, those several blocks long and those read again
/// included, and nothing more can be appended.
#[test]
fn a_sealed_spill_reads_its_records_through_the_cache_and_takes_no_more() {
    let (_dir, spill) = spill();
    let mut rng = fastrand::Rng::with_seed(14);
    let mut written = Vec::new();
    let mut batch = SpillBatch::default();
    for id in 1..=600 {
        // Mostly short lines, some longer than two blocks.
        let len = if id % 97 == 0 {
            9_000
        } else {
            rng.usize(0..300)
        };
        let text: String = (0..len).map(|_| rng.alphanumeric()).collect();
        batch
            .add(id, [(id as u64, text.as_str())].into_iter())
            .expect("add");
        written.push((id, text));
        if id % 50 == 0 {
            spill.write(&mut batch).expect("write");
        }
    }
    spill.seal();
    for _ in 0..3 {
        for (id, text) in &written {
            let lines = spill.lines(*id).expect("read");
            assert_eq!(lines, vec![(*id as u64, text.clone())], "event {id}");
        }
    }
    let mut more = SpillBatch::default();
    more.add(601, [(1, "late")].into_iter()).expect("add");
    assert!(spill.write(&mut more).is_err());
    assert!(spill.lines(601).expect("601").is_empty());
}
