//! Unit tests of a batch's checkpoint ([`BatchProgress`]): batches of one
//! file merged into one commit leave what they leave one after the other.

use super::tests::{one_source, rails_events};
use super::*;

/// Two batches of one file committed at once, the second's checkpoint
/// absorbed into the first's (the daemon's committer does so while a
/// diagnosis holds the write lock), leave the source's row and its events
/// as committing them one after the other does.
#[test]
fn two_batches_merged_commit_what_they_commit_one_after_the_other() {
    let first = BatchProgress {
        dev: Some(1),
        inode: Some(7),
        head_hash: Some("aa".into()),
        byte_offset: 500,
        line_no: 20,
        read_line_no: 25,
        counts: grantwatch_parsers::LineCounts {
            parsed: 3,
            skipped: 15,
            unknown: 2,
        },
        lines_cut: 1,
        envelope: Some("cri"),
    };
    let second = BatchProgress {
        byte_offset: 900,
        line_no: 22,
        read_line_no: 0,
        counts: grantwatch_parsers::LineCounts {
            parsed: 1,
            skipped: 1,
            unknown: 0,
        },
        lines_cut: 0,
        envelope: None,
        ..first.clone()
    };
    let state = |store: &Store| -> Vec<String> {
        let mut rows = Vec::new();
        let mut source = store
            .conn
            .prepare(
                "SELECT dev, inode, head_hash, byte_offset, line_no, read_line_no, lines_parsed,
                        lines_skipped, lines_unknown, lines_cut, envelope FROM sources",
            )
            .expect("prepare");
        let mut q = source.query([]).expect("query");
        while let Some(r) = q.next().expect("row") {
            let values: Vec<String> = (0..11)
                .map(|i| {
                    format!(
                        "{:?}",
                        r.get::<_, rusqlite::types::Value>(i).expect("value")
                    )
                })
                .collect();
            rows.push(values.join(", "));
        }
        let mut events = store
            .conn
            .prepare("SELECT e.line, e.request_id, v.text FROM events e JOIN evidence v ON v.event_id = e.id ORDER BY e.id")
            .expect("prepare");
        let found = events
            .query_map([], |r| {
                Ok(format!(
                    "{}, {:?}, {:?}",
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?
                ))
            })
            .expect("query");
        rows.extend(found.map(|r| r.expect("row")));
        rows
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut apart = Store::open(&dir.path().join("apart.db")).expect("open");
    one_source(&apart);
    apart
        .commit_batch(1, &rails_events(1, 3, 1), &first)
        .expect("first");
    apart
        .commit_batch(1, &rails_events(21, 2, 0), &second)
        .expect("second");
    let mut merged = Store::open(&dir.path().join("merged.db")).expect("open");
    one_source(&merged);
    let mut events = rails_events(1, 3, 1);
    events.extend(rails_events(21, 2, 0));
    let mut progress = first.clone();
    progress.absorb(second);
    merged.commit_batch(1, &events, &progress).expect("merged");
    let (apart, merged) = (state(&apart), state(&merged));
    assert_eq!(merged, apart);
    // What the comparison rests on: the counts added up, the later
    // position, the earlier envelope kept, the highest line read.
    assert_eq!(
        apart[0],
        "Integer(1), Integer(7), Text(\"aa\"), Integer(900), Integer(22), Integer(25), \
         Integer(4), Integer(16), Integer(2), Integer(1), Text(\"cri\")"
    );
    assert_eq!(apart.len(), 6);
}
