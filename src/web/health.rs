//! The reader's health as the web side reports it: `/healthz`
//! (`healthz.rs`), the reader line of `/sources` and the
//! `grantwatch_reader_*` series of `/metrics`.
//!
//! The reader ([`crate::daemon`]) writes it after every round and every
//! failed attempt; handlers only take a snapshot. A leaf that
//! [`super::AppState`] holds, so that the handlers reading the state
//! and the state do not import each other.

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the reader is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReaderState {
    /// Opening the database and the files.
    Starting,
    /// Reading: rounds complete.
    Reading,
    /// Not reading: the last attempt failed with `reason`; the next one is
    /// on its way (with backoff).
    Retrying {
        /// The error of the last attempt.
        reason: String,
    },
    /// Stopped for good (shutdown, or an error no retry can mend).
    Stopped {
        /// Why.
        reason: String,
    },
}

#[derive(Debug)]
struct Inner {
    state: ReaderState,
    /// When the last round completed.
    last_round: Option<Instant>,
    /// When reading last stopped being healthy (for how long it is not).
    since: Instant,
    /// Failed attempts since start.
    failures: u64,
}

/// The reader's state, shared between the reader thread and the handlers.
#[derive(Clone, Debug)]
pub struct ReaderHealth {
    inner: Arc<Mutex<Inner>>,
}

/// A copy of the health at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The state.
    pub state: ReaderState,
    /// Seconds since the last completed round (`None`: none yet).
    pub lag_seconds: Option<f64>,
    /// Seconds in the current state.
    pub state_seconds: f64,
    /// Failed attempts since start.
    pub failures: u64,
}

impl Default for ReaderHealth {
    fn default() -> Self {
        ReaderHealth::new()
    }
}

impl ReaderHealth {
    /// A reader that is starting.
    pub fn new() -> ReaderHealth {
        ReaderHealth {
            inner: Arc::new(Mutex::new(Inner {
                state: ReaderState::Starting,
                last_round: None,
                since: Instant::now(),
                failures: 0,
            })),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn set(&self, state: ReaderState) {
        self.with(|i| {
            if i.state != state {
                i.state = state;
                i.since = Instant::now();
            }
        });
    }

    /// A round completed.
    pub fn round_done(&self) {
        self.with(|i| i.last_round = Some(Instant::now()));
        self.set(ReaderState::Reading);
    }

    /// An attempt failed; another follows.
    pub fn retrying(&self, reason: String) {
        self.with(|i| i.failures += 1);
        self.set(ReaderState::Retrying { reason });
    }

    /// The reader ended.
    pub fn stopped(&self, reason: String) {
        self.set(ReaderState::Stopped { reason });
    }

    /// The health now.
    pub fn snapshot(&self) -> Snapshot {
        self.with(|i| Snapshot {
            state: i.state.clone(),
            lag_seconds: i.last_round.map(|t| t.elapsed().as_secs_f64()),
            state_seconds: i.since.elapsed().as_secs_f64(),
            failures: i.failures,
        })
    }
}

impl Snapshot {
    /// Whether reading goes on.
    pub fn is_reading(&self) -> bool {
        self.state == ReaderState::Reading
    }

    /// One line for people: the state, with the reason and for how long.
    pub fn describe(&self) -> String {
        let lag = self.lag_seconds.map_or("no round yet".to_owned(), |s| {
            format!("last round {s:.1} s ago")
        });
        match &self.state {
            ReaderState::Starting => format!("starting ({lag})"),
            ReaderState::Reading => format!("reading ({lag})"),
            ReaderState::Retrying { reason } => format!(
                "not reading for {:.0} s, retrying: {reason} ({lag})",
                self.state_seconds
            ),
            ReaderState::Stopped { reason } => format!("stopped: {reason} ({lag})"),
        }
    }

    /// The metric series of the reader, in the exposition format.
    pub fn metrics(&self) -> String {
        let mut out = String::new();
        out += "# HELP grantwatch_reader_up Whether the reader is reading (1) or not (0).\n";
        out += "# TYPE grantwatch_reader_up gauge\n";
        out += &format!("grantwatch_reader_up {}\n", u8::from(self.is_reading()));
        out += "# HELP grantwatch_reader_failures_total Failed reading attempts (store errors) since start.\n";
        out += "# TYPE grantwatch_reader_failures_total counter\n";
        out += &format!("grantwatch_reader_failures_total {}\n", self.failures);
        if let Some(lag) = self.lag_seconds {
            out += "# HELP grantwatch_reader_round_age_seconds Seconds since the reader last completed a round.\n";
            out += "# TYPE grantwatch_reader_round_age_seconds gauge\n";
            out += &format!("grantwatch_reader_round_age_seconds {lag}\n");
        }
        out
    }
}
