//! One request id's whole story, as the CLI's `request` command, the
//! `/requests/{id}` page and `/api/requests/{id}` tell it: its failures and
//! every event of that id with its evidence lines.

use super::events::EvidenceRow;
use super::{EventRow, FailureRecord, Result, Store};

/// The whole story of one request id.
#[derive(Debug, serde::Serialize)]
pub struct RequestStory {
    /// The request id.
    pub request_id: String,
    /// Failures of this request.
    pub failures: Vec<FailureRecord>,
    /// Every event of this request id, in time order, with its evidence.
    pub events: Vec<StoryEvent>,
}

/// An event with its evidence lines.
#[derive(Debug, serde::Serialize)]
pub struct StoryEvent {
    /// The event.
    #[serde(flatten)]
    pub event: EventRow,
    /// Its redacted lines.
    pub lines: Vec<EvidenceRow>,
}

impl Store {
    /// Looks up one request id.
    pub fn request_story(&self, request_id: &str) -> Result<RequestStory> {
        let failures = self.failures_for_request(request_id)?;
        let mut events = Vec::new();
        for event in self.events_by_request(request_id)? {
            let lines = self.evidence(event.id)?;
            events.push(StoryEvent { event, lines });
        }
        Ok(RequestStory {
            request_id: request_id.to_owned(),
            failures,
            events,
        })
    }
}
