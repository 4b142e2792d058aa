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
//! database another process writes gets the same events. Each connection
//! looks for new rows every [`POLL`] on the read pool; a comment line
//! every 15 s keeps proxies from closing an idle stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::Stream;

use super::{AppState, WebError};
use crate::store::failures::format_ts;
use crate::store::feed::Change;

/// How often a connection looks for new changes.
pub const POLL: Duration = Duration::from_millis(100);
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

struct Feed {
    state: AppState,
    seq: i64,
    queue: VecDeque<Event>,
    _client: Client,
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
    let feed = Feed {
        state,
        seq,
        queue: VecDeque::new(),
        _client: Client::new(),
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(event) = feed.queue.pop_front() {
                return Some((Ok(event), feed));
            }
            tokio::time::sleep(POLL).await;
            let after = feed.seq;
            // A store error ends the stream; EventSource reconnects with the
            // last id it got.
            let changes = feed
                .state
                .read(move |store| Ok(store.changes_after(after, BATCH)?))
                .await
                .ok()?;
            for c in &changes {
                feed.seq = c.seq;
                feed.queue.extend(events_of(c));
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
