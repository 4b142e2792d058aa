//! The failures handed to the writer thread of a diagnosis on every core,
//! by event: what the store will say each event belongs to once they are
//! written, said before they are.
//!
//! The thread that settles the workers' proposals reads on a connection of
//! its own while the store's one writer writes on another thread
//! (`parallel/mod.rs`), so the store does not yet hold the batches it
//! handed over. Its question, which failure an event belongs to, is
//! answered here as the writer's connection would answer it after writing
//! them: `failure_of_event` finds the least failure id linked to the event
//! (the links' index is ordered by event, then failure id; a scratch
//! analysis's links, held in memory, keep the least), and a batch's links
//! are each failure's id with its primary and merged events, never removed
//! while the diagnosis runs.
//!
//! Invariant: [`Handed::failure_of_event`] answers what `failure_of_event`
//! on the writer's connection answers once every batch handed over is
//! written: the least of the ids handed with the event and of the ids the
//! store holds for it (the reader sees each batch as it is committed,
//! which changes no minimum). A link of a batch the writer committed is
//! the store's to tell, so it is forgotten here: only the batches in
//! flight are held, whatever the number of failures.

use std::collections::HashMap;

use crate::diagnose::pipeline::Batch;
use crate::store::{Result, Store};

/// The least failure id handed over with each event, with the number of
/// the batch that handed it.
#[derive(Debug, Default)]
pub(super) struct Handed {
    links: HashMap<i64, (Box<str>, usize)>,
    /// Batches handed over so far: the next one's number.
    batches: usize,
}

impl Handed {
    /// Notes the links of the next batch handed to the writer.
    pub(super) fn add(&mut self, batch: &Batch) {
        let number = self.batches;
        self.batches += 1;
        for d in &batch.pending {
            for &event in std::iter::once(&d.primary).chain(&d.merged) {
                match self.links.get_mut(&event) {
                    Some((id, _)) if **id <= *d.record.id => {}
                    Some(link) => *link = (d.record.id.as_str().into(), number),
                    None => {
                        self.links
                            .insert(event, (d.record.id.as_str().into(), number));
                    }
                }
            }
        }
    }

    /// Forgets the links of the first `written` batches, which the store
    /// holds now.
    pub(super) fn forget_written(&mut self, written: usize) {
        self.links.retain(|_, (_, batch)| *batch >= written);
    }

    /// The failure `event_id` belongs to, as the store will say once what
    /// was handed over is written.
    pub(super) fn failure_of_event(&self, store: &Store, event_id: i64) -> Result<Option<String>> {
        let stored = store.failure_of_event(event_id)?;
        Ok(match (self.links.get(&event_id), stored) {
            (Some((handed, _)), Some(stored)) if stored.as_str() < &**handed => Some(stored),
            (Some((handed, _)), _) => Some(handed.to_string()),
            (None, stored) => stored,
        })
    }
}
