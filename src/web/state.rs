//! What every handler of the web side shares ([`AppState`]): the database
//! file, a small pool of read-only connections to it, the token, the
//! reader's health, the sign-in throttle and the live feed's producer.
//! `mod.rs` builds the router over it and every handler file reads it; a
//! leaf (what it holds comes from leaves too: `session.rs`, `health.rs`,
//! `throttle.rs`, `hub.rs`), so that the handlers and `mod.rs` do not
//! import each other.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::error::WebError;
use super::health::ReaderHealth;
use super::hub::Hub;
use super::session::Token;
use super::throttle::LoginThrottle;
use crate::live::Live;
use crate::store::Store;

/// How many idle read-only connections are kept for reuse.
const POOL_SIZE: usize = 4;

/// What every handler shares: where the database is, its idle connections,
/// and the token requests must carry (if any).
#[derive(Clone)]
pub struct AppState {
    /// The database file (opened read-only).
    pub db: PathBuf,
    pub(super) token: Option<Token>,
    pool: Arc<Mutex<Vec<Store>>>,
    /// The reader's health, when a reader runs beside the server (`watch`).
    pub health: Option<ReaderHealth>,
    pub(super) login_throttle: Arc<LoginThrottle>,
    /// The running daemon's view (`watch`; `None` for `serve`).
    pub(super) live: Option<Arc<Live>>,
    /// The database file's device and inode when serving started.
    pub(super) db_identity: Option<(u64, u64)>,
    /// The receivers of shipped logs (`watch` only).
    pub(super) fleet: Option<Arc<crate::fleet::Fleet>>,
    /// The one producer of `/api/events` and its channel.
    pub(super) hub: Arc<Hub>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("db", &self.db)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over the database at `db`, without a token.
    pub fn new(db: impl Into<PathBuf>) -> AppState {
        let db = db.into();
        AppState {
            db_identity: crate::live::database_identity(&db),
            db,
            token: None,
            pool: Arc::new(Mutex::new(Vec::new())),
            health: None,
            login_throttle: Arc::default(),
            live: None,
            fleet: None,
            hub: Arc::default(),
        }
    }

    /// Reports the reader's `health` on `/healthz`, `/sources` and
    /// `/metrics`.
    pub fn with_health(mut self, health: ReaderHealth) -> AppState {
        self.health = Some(health);
        self
    }

    /// Shows the running daemon's view (skipped files, read lag) on
    /// `/sources` and `/metrics`.
    pub fn with_live(mut self, live: Arc<Live>) -> AppState {
        self.live = Some(live);
        self
    }

    /// Requires the token (as a bearer token or a session cookie) on every
    /// route but `/healthz`, `/login`, `/logout` and the stylesheet.
    /// Serves `POST /api/ingest` and `POST /v1/logs` into `fleet`.
    pub fn with_fleet(mut self, fleet: Arc<crate::fleet::Fleet>) -> AppState {
        self.fleet = Some(fleet);
        self
    }

    /// Keeps only `capacity` changes for the streams of `/api/events` that
    /// are behind (tests of the `resync` event).
    pub fn with_event_capacity(mut self, capacity: usize) -> AppState {
        self.hub = Arc::new(Hub::with_capacity(capacity));
        self
    }

    /// The producer of `/api/events` of this state.
    pub fn event_hub(&self) -> &Hub {
        &self.hub
    }

    /// Asks for `token` on every route but `/healthz`, the sign-in pages and
    /// the stylesheet (a bearer header, or the session cookie `POST /login`
    /// sets).
    pub fn with_token(mut self, token: &str) -> AppState {
        self.token = Some(Token::new(token));
        self
    }

    /// Runs `query` on a read-only connection, on the blocking pool. The
    /// connection goes back to the pool only when the query succeeded.
    pub async fn read<T, F>(&self, query: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, WebError> + Send + 'static,
    {
        let db = self.db.clone();
        let pool = Arc::clone(&self.pool);
        tokio::task::spawn_blocking(move || {
            let idle = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let store = match idle {
                Some(store) => store,
                None => Store::open_read_only(&db)?,
            };
            let result = query(&store)?;
            let mut idle = pool.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < POOL_SIZE {
                idle.push(store);
            }
            Ok(result)
        })
        .await?
    }
}
