//! The sign-in throttle: a token bucket of attempts per client address,
//! so that a person mistyping is never slowed down and a program guessing
//! the token gets one or two tries a second. `login.rs` asks it before
//! looking at a token; [`super::AppState`] holds the one of a server. A
//! leaf, so that the sign-in pages and the state do not import each other.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Sign-in attempts a client may make at once.
pub const LOGIN_BURST: f64 = 10.0;
/// Sign-in attempts a client gets back per second.
pub const LOGIN_PER_SECOND: f64 = 1.0;
/// Addresses remembered before full buckets are forgotten.
const THROTTLE_MAX_CLIENTS: usize = 10_000;

/// A token bucket of sign-in attempts per client address.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl LoginThrottle {
    /// Takes one attempt from `client`'s bucket; `false` when it is empty.
    pub(super) fn allow(&self, client: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= THROTTLE_MAX_CLIENTS {
            // Forget the clients whose bucket is full again: they lose
            // nothing by it.
            buckets.retain(|_, (left, at)| {
                *left + now.saturating_duration_since(*at).as_secs_f64() * LOGIN_PER_SECOND
                    < LOGIN_BURST
            });
        }
        let (left, at) = buckets.entry(client).or_insert((LOGIN_BURST, now));
        let refilled = (*left
            + now.saturating_duration_since(*at).as_secs_f64() * LOGIN_PER_SECOND)
            .min(LOGIN_BURST);
        *at = now;
        if refilled >= 1.0 {
            *left = refilled - 1.0;
            true
        } else {
            *left = refilled;
            false
        }
    }
}
