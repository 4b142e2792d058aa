//! `GET /api/events`: server-sent events for the dashboard's live updates
//! and for programs: `failure` (a failure stored for the first time),
//! `rediagnosis` (a stored failure's cause or confidence changed), and with
//! each of them `incident` (the incident it is in changed). Each event's
//! data is a JSON object (`seq`, `at`, `failure_id`, `incident_id`,
//! `cause`) and its id the change's number, so a client that reconnects
//! with `Last-Event-ID` (EventSource does) gets what it missed, up to the
//! last 10,000 changes.
//!
//! The feed is the `live_changes` table, written in the transaction that
//! stores the diagnosis: the web side only reads, and `serve` over a
//! database another process writes gets the same events. One producer per
//! server (its channel in [`Hub`](super::hub::Hub)) reads new rows every
//! [`POLL`] (sooner when this process's store committed a change) and
//! publishes them on a `tokio::sync::broadcast` channel; each connection
//! only receives. So N open streams cost one query per poll, not N. The
//! poller runs while at least one stream is open.
//!
//! Invariants:
//! - A connection sees every change after the one it started from, once,
//!   in order: it subscribes first, then reads what was committed since its
//!   start from the table (the changes published before it subscribed),
//!   then takes the channel's changes, skipping those it already sent.
//! - Memory is bounded: the channel keeps the last
//!   [`CAPACITY`](super::hub::CAPACITY) changes. A connection that falls
//!   further behind gets one `resync` event (its page reloads what it
//!   shows) and goes on from the oldest change kept.
//! - A comment line every 15 s keeps proxies from closing an idle stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::Stream;
use tokio::sync::broadcast;

use super::error::WebError;
use super::state::AppState;
use crate::store::feed::Change;
use crate::time::format_ts;

/// How often the producer looks for new changes (a commit of this
/// process wakes it sooner).
pub const POLL: Duration = Duration::from_millis(50);
/// Changes read per look.
const BATCH: u32 = 200;

/// Open event streams of this process (`grantwatch_live_clients`).
static CLIENTS: AtomicUsize = AtomicUsize::new(0);

/// How many event streams are open now.
pub fn clients() -> usize {
    CLIENTS.load(Ordering::Relaxed)
}

/// Counts a stream while it is open.
struct Client;

impl Client {
    fn new() -> Client {
        CLIENTS.fetch_add(1, Ordering::Relaxed);
        Client
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        CLIENTS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The producer: publishes the changes after `seq` as they are committed,
/// until no stream listens.
async fn produce(state: AppState, mut seq: i64) {
    let mut committed = crate::store::feed::committed();
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = committed.changed() => {}
        }
        loop {
            if state.hub.stop_if_idle() {
                return;
            }
            let after = seq;
            state.hub.count_read();
            // A store error (the file briefly locked, replaced) is retried
            // at the next poll: the streams stay open.
            let Ok(changes) = state
                .read(move |store| Ok(store.changes_after(after, BATCH)?))
                .await
            else {
                break;
            };
            let full = changes.len() == BATCH as usize;
            for c in changes {
                seq = c.seq;
                state.hub.publish(c);
            }
            if !full {
                break;
            }
        }
    }
}

fn events_of(c: &Change) -> [Event; 2] {
    let data = serde_json::json!({
        "seq": c.seq,
        "at": format_ts(c.at_ms),
        "failure_id": c.failure_id,
        "incident_id": c.incident_id,
        "cause": c.cause,
    })
    .to_string();
    let id = c.seq.to_string();
    [
        Event::default().event(&c.kind).id(&id).data(&data),
        Event::default().event("incident").id(id).data(data),
    ]
}

/// The `resync` event of a connection that fell more than
/// [`CAPACITY`](super::hub::CAPACITY) changes behind: what it shows must be
/// read again.
fn resync(missed: u64) -> Event {
    Event::default()
        .event("resync")
        .data(serde_json::json!({ "missed": missed }).to_string())
}

struct Feed {
    state: AppState,
    /// The last change sent.
    seq: i64,
    /// Still reading what was committed before the channel's changes.
    catching_up: bool,
    receiver: broadcast::Receiver<Arc<Change>>,
    queue: VecDeque<Event>,
    _client: Client,
}

impl Feed {
    fn push(&mut self, c: &Change) {
        if c.seq > self.seq {
            self.seq = c.seq;
            self.queue.extend(events_of(c));
        }
    }

    /// The next events to send; `None` ends the stream.
    async fn fill(&mut self) -> Option<()> {
        if self.catching_up {
            let after = self.seq;
            // A store error ends the stream; EventSource reconnects with
            // the last id it got.
            let changes = self
                .state
                .read(move |store| Ok(store.changes_after(after, BATCH)?))
                .await
                .ok()?;
            self.catching_up = changes.len() == BATCH as usize;
            for c in &changes {
                self.push(c);
            }
            return Some(());
        }
        match self.receiver.recv().await {
            Ok(c) => self.push(&c),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                self.queue.push_back(resync(missed));
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
        Some(())
    }
}

/// `GET /api/events`.
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, WebError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let seq = match resume {
        Some(seq) => seq,
        None => state.read(|store| Ok(store.last_change()?)).await?,
    };
    let receiver = state.hub.subscribe(|| {
        tokio::spawn(produce(state.clone(), seq));
    });
    let feed = Feed {
        state,
        seq,
        // What was published before this stream subscribed is read from
        // the table (see the module doc).
        catching_up: true,
        receiver,
        queue: VecDeque::new(),
        _client: Client::new(),
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(event) = feed.queue.pop_front() {
                return Some((Ok(event), feed));
            }
            feed.fill().await?;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
