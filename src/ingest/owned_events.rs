//! A reader's batch of events made to outlive the chunk it was read from,
//! for the writer's thread: every borrowed text is copied into one arena
//! the batch owns ([`bumpalo::Bump`]) rather than into a `String` of its
//! own ([`Event::into_owned`]). A Keycloak event's five or six texts were
//! as many allocations on the reader's thread and as many frees on the
//! writer's, which mimalloc takes the slow way for memory another thread
//! allocated: copying and dropping the events were 5% of a Keycloak log's
//! instructions and 4% of a Hydra log's (benches/README.md). The texts are
//! replaced where they lie ([`Event::each_text_mut`]): the events stay in
//! the vector they came in, not copied out and back (608 bytes each).
//!
//! Invariant: the events' borrowed texts point into `_arena` (a text
//! already owned stays in its `String`); `events` is private, lent out only
//! as a slice that borrows the batch, and dropped before `_arena` (fields
//! drop in the order they are declared), so no text outlives its bytes.

use std::borrow::Cow;

use bumpalo::Bump;
use grantwatch_parsers::Event;

/// Events whose borrowed texts live in the arena beside them.
pub(super) struct OwnedEvents {
    /// Declared before `_arena`: dropped first.
    events: Vec<Event<'static>>,
    _arena: Bump,
}

/// Bytes of arena a batch starts with, per event: about a Keycloak event's
/// texts, so that most batches fill one block.
const BYTES_PER_EVENT: usize = 160;

impl OwnedEvents {
    /// `events`, their borrowed texts copied into the batch's arena.
    pub(super) fn copy_of(mut events: Vec<Event<'_>>) -> OwnedEvents {
        let arena = Bump::with_capacity(events.len() * BYTES_PER_EVENT);
        for event in &mut events {
            event.each_text_mut(|text| rehome(&arena, text));
        }
        // SAFETY: the two types differ in the lifetime of the texts alone;
        // `each_text_mut` handed over every text of every event, and each
        // borrowed one now points into `arena` (`rehome`), which the batch
        // keeps and drops after the events (see the module's invariant).
        let events = unsafe { std::mem::transmute::<Vec<Event<'_>>, Vec<Event<'static>>>(events) };
        OwnedEvents {
            events,
            _arena: arena,
        }
    }

    /// The events, for as long as the batch is borrowed.
    pub(super) fn events(&self) -> &[Event<'_>] {
        &self.events
    }

    pub(super) fn len(&self) -> usize {
        self.events.len()
    }
}

/// `text` where the batch keeps it: a borrowed text copied into `arena`,
/// an owned one left in its `String`.
fn rehome<'t>(arena: &Bump, text: &mut Cow<'t, str>) {
    if let Cow::Borrowed(s) = text {
        let copy: &str = arena.alloc_str(s);
        // SAFETY: the copy lives as long as `arena`, whose blocks never
        // move or free while it lives. The longer lifetime is kept only in
        // `OwnedEvents::events`, lent out with the lifetime of a borrow of
        // the batch and dropped before its arena (see the module's
        // invariant).
        *s = unsafe { std::mem::transmute::<&str, &'t str>(copy) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantwatch_parsers::{EventKind, EvidenceLine, Format};

    /// A line's event: texts borrowed from it, one owned, one evidence line.
    fn event_of(line: &str) -> Event<'_> {
        let mut e = Event::new(EventKind::TokenResponse, Format::Keycloak);
        e.client_id = Some(Cow::Borrowed(&line[0..4]));
        e.ip = Some(Cow::Borrowed(&line[5..]));
        e.error = Some(Cow::Owned("invalid_grant".to_owned()));
        e.evidence.push(EvidenceLine {
            line: 7,
            text: Cow::Borrowed(line),
        });
        e
    }

    #[test]
    fn the_batch_keeps_the_events_into_owned_makes_after_their_line_is_gone() {
        let mut lines: Vec<String> = (0..500)
            .map(|i| format!("app{} 10.0.0.{i}", i % 10))
            .collect();
        let events: Vec<Event<'_>> = lines.iter().map(|l| event_of(l)).collect();
        let owned: Vec<Event<'static>> = events.iter().cloned().map(Event::into_owned).collect();
        let batch = OwnedEvents::copy_of(events);
        // The lines' bytes overwritten, then freed: the batch must not
        // have kept any of them.
        for line in &mut lines {
            line.replace_range(.., &"x".repeat(line.len()));
        }
        drop(lines);
        assert_eq!(batch.len(), 500);
        assert_eq!(batch.events(), owned.as_slice());
        // Moved to another thread, as a reader's batch is.
        let back = std::thread::spawn(move || {
            batch
                .events()
                .to_vec()
                .into_iter()
                .map(Event::into_owned)
                .collect::<Vec<_>>()
        })
        .join()
        .expect("the thread reads the batch");
        assert_eq!(back, owned);
    }
}
