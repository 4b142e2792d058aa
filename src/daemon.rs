//! The `watch` daemon as a library function: [`run`] reads the logs on a
//! thread of its own and serves the database over HTTP, together, until
//! `shutdown` resolves or either side ends; [`serve`] is the HTTP side alone
//! (`grantwatch serve`).
//!
//! Invariants:
//! - Never blind: a store error (the write lock held by another process
//!   past the busy timeout, a full disk, an I/O error) pauses reading, never
//!   ends it. The reader drops its state and starts again from what the
//!   database committed, as a restart would (so it resumes exactly where
//!   the last commit stopped), after a backoff of [`MIN_BACKOFF`] doubling
//!   up to [`MAX_BACKOFF`]. Meanwhile `/healthz` answers 503 with the
//!   reason, and `/sources` and `/metrics` show it ([`ReaderHealth`]).
//! - One [`Live`] view (skipped files, binary runs, read lag) is shared by
//!   every watcher the retries open and by the web side.
//! - Only errors no retry can mend end reading (a database newer than this
//!   binary, a bad glob); then the server stops too and [`run`] returns the
//!   error (exit status 2), so a supervisor sees it.
//! - On shutdown the reader finishes its round (each round's batches are
//!   committed as they go) and the server lets requests in flight finish.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::live::Live;
use crate::settings::WatchSetup;
use crate::watch::{self, WatchOptions, Watcher};
use crate::web::{self, AppState, health::ReaderHealth};

/// The first wait after a failed attempt.
pub const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What the daemon runs: the files to read and where to serve.
pub type Settings = WatchSetup;

/// Why the daemon ended.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token is blank.
    #[error("the token is empty: give a non-empty --token or GRANTWATCH_TOKEN")]
    EmptyToken,
    /// The listen address is unusable.
    #[error(transparent)]
    Listen(#[from] web::ListenError),
    /// Binding the listener failed.
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The server failed.
    #[error("serving failed: {0}")]
    Serve(std::io::Error),
    /// Reading ended with an error no retry can mend.
    #[error("reading stopped: {0}")]
    Reader(#[from] watch::Error),
    /// The receivers of shipped logs could not start.
    #[error(transparent)]
    Fleet(#[from] crate::fleet::StartError),
    /// The reading thread panicked.
    #[error("the reading thread stopped unexpectedly")]
    ReaderPanicked,
}

/// Whether a retry may mend `e`: store errors are (a lock, a full disk),
/// on the reader's connection or the diagnosis thread's; a bad spec or a
/// database this binary cannot use are not.
fn is_transient(e: &watch::Error) -> bool {
    use crate::store::Error as S;
    match e {
        watch::Error::Store(S::NewerThanBinary { .. } | S::IncompatibleVersion(_)) => false,
        watch::Error::Store(_) => true,
        watch::Error::Specs(_) => false,
        // A thread that could not start or panicked: a fresh start may do.
        watch::Error::Thread(_) => true,
    }
}

/// Reads `settings`' files and serves its database until `shutdown`
/// resolves (then `Ok`), or until either side ends on its own (then the
/// error). An error opening the files that no retry can mend is returned
/// before anything listens.
pub fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let db = settings.options.db.clone();
    // Opened here first so that a bad spec is one line and exit 2 before
    // anything listens; a transient error is left to the reader's retries.
    // One view for the web side, whichever watcher the retries open.
    let live = Live::shared();
    let first = match Watcher::open(settings.options.clone()) {
        Ok(w) => Some(w.with_live(Arc::clone(&live))),
        Err(e) if is_transient(&e) => {
            eprintln!("grantwatch: cannot start reading yet ({e}); retrying");
            None
        }
        Err(e) => return Err(e.into()),
    };
    // The receivers of shipped logs: a writer connection of their own.
    let fleet = crate::fleet::Fleet::start(&db, settings.fleet.clone())?;
    let health = ReaderHealth::new();
    let stop = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(tokio::sync::Notify::new());
    let reader = {
        let (stop, ended, health) = (stop.clone(), ended.clone(), health.clone());
        let options = settings.options.clone();
        let live = Arc::clone(&live);
        std::thread::spawn(move || {
            let result = read_loop(&options, first, &stop, &health, &live);
            let why = match &result {
                Ok(()) => "shutdown".to_owned(),
                Err(e) => e.to_string(),
            };
            health.stopped(why);
            ended.notify_one();
            result
        })
    };
    // Alerts run beside the reader, over the committed database.
    let alerts = settings.alerting.clone().map(|config| {
        let (stop, db) = (stop.clone(), settings.options.db.clone());
        std::thread::spawn(move || {
            if let Err(e) = crate::alerts::deliver::run(&db, &config, &stop) {
                eprintln!("grantwatch: alerts stopped: {e}");
            }
        })
    });
    let until = async move {
        tokio::select! {
            () = shutdown => {}
            () = ended.notified() => {}
        }
    };
    let served = serve_with(
        db,
        &settings.listen,
        settings.token.as_deref(),
        Some((health, live, Arc::clone(&fleet))),
        until,
    );
    // Batches already queued are committed and answered before the end.
    fleet.stop();
    stop.store(true, Ordering::Relaxed);
    if let Some(alerts) = alerts {
        let _ = alerts.join();
    }
    let read = reader.join().map_err(|_| Error::ReaderPanicked)?;
    served?;
    read?;
    Ok(())
}

/// The reader: rounds until `stop`, starting again from the database after
/// each transient error, with backoff.
fn read_loop(
    options: &WatchOptions,
    mut watcher: Option<Watcher>,
    stop: &AtomicBool,
    health: &ReaderHealth,
    live: &Arc<Live>,
) -> Result<(), watch::Error> {
    let mut backoff = MIN_BACKOFF;
    let mut told: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        let attempt = match watcher.take() {
            Some(w) => Ok(w),
            None => Watcher::open(options.clone()).map(|w| w.with_live(Arc::clone(live))),
        };
        let ran = attempt.and_then(|w| {
            w.run(stop, &mut |_| {
                health.round_done();
                backoff = MIN_BACKOFF;
            })
        });
        let e = match ran {
            Ok(()) => return Ok(()),
            Err(e) if !is_transient(&e) => return Err(e),
            Err(e) => e,
        };
        let reason = e.to_string();
        if told.as_ref() != Some(&reason) {
            eprintln!(
                "grantwatch: reading paused: {reason}; retrying (resumes from the last commit)"
            );
            told = Some(reason.clone());
        }
        health.retrying(reason);
        sleep_unless(stop, backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    Ok(())
}

/// Sleeps `wait`, waking early when `stop` is set.
fn sleep_unless(stop: &AtomicBool, wait: Duration) {
    let until = Instant::now() + wait;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Serves the database at `db` (no reader) until SIGINT or SIGTERM.
pub fn serve(db: PathBuf, listen: &str, token: Option<&str>) -> Result<(), Error> {
    serve_with(db, listen, token, None, web::shutdown_signal())
}

/// Serves `db` on a runtime of its own until `shutdown` resolves; with a
/// reader, its health and its view of the files too.
fn serve_with(
    db: PathBuf,
    listen: &str,
    token: Option<&str>,
    reader: Option<(ReaderHealth, Arc<Live>, Arc<crate::fleet::Fleet>)>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    if token.is_some_and(|t| t.trim().is_empty()) {
        return Err(Error::EmptyToken);
    }
    let addrs = web::listen_addrs(listen, token.map(str::trim))?;
    let mut state = AppState::new(db.clone());
    if let Some(token) = token {
        state = state.with_token(token.trim());
    }
    let mut fleet = None;
    if let Some((health, live, f)) = reader {
        state = state
            .with_health(health)
            .with_live(live)
            .with_fleet(Arc::clone(&f));
        fleet = Some(f);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addrs[..])
            .await
            .map_err(|e| Error::Bind(listen.to_owned(), e))?;
        let local = listener.local_addr().map_err(Error::Serve)?;
        // Polled once before the address is announced: the signal handlers
        // are installed on the first poll, and a SIGTERM sent right after
        // the announcement must stop the daemon gracefully (exit 0), not
        // kill it by the default action (the model test found this).
        let mut shutdown = Box::pin(shutdown);
        tokio::select! {
            biased;
            () = &mut shutdown => return Ok(()),
            () = std::future::ready(()) => {}
        }
        if let Some((fleet, addr)) = fleet
            .as_ref()
            .and_then(|f| Some((f, f.options().syslog.clone()?)))
        {
            let bound = crate::fleet::syslog::start(Arc::clone(fleet), &addr)
                .await
                .map_err(|e| Error::Bind(addr.clone(), e))?;
            eprintln!("grantwatch: receiving syslog on {bound} (TCP and UDP)");
        }
        eprintln!(
            "grantwatch: serving {} on http://{local} (Ctrl-C to stop)",
            db.display()
        );
        web::serve_until(listener, state, shutdown)
            .await
            .map_err(Error::Serve)
    })
}
