//! The committer against another writer holding the write lock, as a
//! diagnosis pass does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use grantwatch_parsers::{Event, EventKind, EvidenceLine, Format};

use super::{BatchProgress, Committer, Store};

fn events(first: u64, n: u64) -> Vec<Event<'static>> {
    (first..first + n)
        .map(|line| {
            let mut e = Event::new(EventKind::TokenResponse, Format::Rails);
            e.evidence.push(EvidenceLine {
                line,
                text: format!("line {line}").into(),
            });
            e.request_id = Some(format!("req-{line}").into());
            e
        })
        .collect()
}

/// A diagnosis pass holds the write lock: the batches handed over
/// meanwhile do not wait for it; they are committed, in order and with
/// the last checkpoint, once it is free.
#[test]
fn batches_handed_over_while_another_writer_holds_the_lock_are_held_not_waited_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("w.db");
    let mut other = Store::open(&db).expect("open");
    let source = other
        .new_generation("a.log", "rails", (1, 2), "h")
        .expect("source");
    let mut committer = Committer::start(&db, |_| Ok(())).expect("start");
    let (locked_tx, locked) = mpsc::channel();
    let released = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&released);
    let holder = std::thread::spawn(move || {
        other.write(|_| {
            let _ = locked_tx.send(());
            std::thread::sleep(Duration::from_secs(2));
            flag.store(true, Ordering::SeqCst);
            Ok(())
        })
    });
    locked.recv().expect("locked");
    for k in 0..5u64 {
        let progress = BatchProgress {
            byte_offset: 100 * (k + 1),
            line_no: 10 * (k + 1),
            ..BatchProgress::default()
        };
        committer
            .send(source.id, events(10 * k + 1, 10), progress)
            .expect("send");
    }
    assert!(
        !released.load(Ordering::SeqCst),
        "the sends waited for the lock"
    );
    assert_eq!(committer.held.as_ref().map(|b| b.events.len()), Some(40));
    holder.join().expect("holder").expect("write");
    committer.wait().expect("wait");
    let store = Store::open(&db).expect("open");
    assert_eq!(store.max_event_id().expect("max"), 50);
    let stored = store.source_by_id(source.id).expect("row").expect("source");
    assert_eq!((stored.byte_offset, stored.line_no), (500, 50));
}
