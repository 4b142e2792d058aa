//! What a connection keeps of each client's revokes while the events are
//! final (`revokes.rs`): a few numbers per revoke, and the conditions a
//! failed refresh puts on them, exact on a row and by hash on a summary.
//! A leaf, so that the store's handle can hold it.
//!
//! Invariant: [`Ask::may_admit`] holds for a summary whenever
//! [`Ask::admits`] holds for its row; the other way it may be wrong only on
//! a hash collision, which the caller checks on the row.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::events::EventRow;

/// One revoke as the summary keeps it (48 bytes).
#[derive(Debug, Clone, Copy)]
pub(super) struct Revoke {
    pub(super) ts_ms: i64,
    pub(super) id: i64,
    /// [`hash`] of the address, user and token; 0 where the row has none.
    pub(super) ip: u64,
    pub(super) user: u64,
    pub(super) token: u64,
    /// No status, or one under 400.
    pub(super) accepted: bool,
}

/// The texts a summary hashes: a revoke's address, user and refresh-token
/// fingerprint.
pub(super) struct RevokeTexts<'a> {
    pub(super) ip: Option<&'a str>,
    pub(super) user: Option<&'a str>,
    pub(super) token: Option<&'a str>,
}

impl Revoke {
    /// The summary of revoke `id` at `ts_ms` with `status` and `texts`.
    pub(super) fn of(id: i64, ts_ms: i64, status: Option<i64>, texts: RevokeTexts<'_>) -> Revoke {
        let hashed = |text: Option<&str>| text.map_or(0, hash);
        Revoke {
            ts_ms,
            id,
            ip: hashed(texts.ip),
            user: hashed(texts.user),
            token: hashed(texts.token),
            accepted: status.is_none_or(|s| s < 400),
        }
    }
}

/// Revokes one connection keeps at most, all clients together (12 MB): a
/// client whose summary would pass it is read from SQL.
pub(super) const SUMMARY_BUDGET: usize = 250_000;

/// The summaries one connection keeps, by client (`None`: too many
/// revokes, read from SQL).
#[derive(Debug, Default)]
pub(super) struct RevokeSummaries {
    by_client: RefCell<HashMap<String, Option<Vec<Revoke>>>>,
    /// Revokes kept, all clients together.
    held: Cell<usize>,
}

impl RevokeSummaries {
    /// Forgets every summary.
    pub(super) fn clear(&self) {
        self.by_client.borrow_mut().clear();
        self.held.set(0);
    }

    /// Revokes a new summary may still hold within [`SUMMARY_BUDGET`].
    pub(super) fn room(&self) -> usize {
        SUMMARY_BUDGET.saturating_sub(self.held.get())
    }

    /// Clients whose revokes were read (with or without a summary).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_client.borrow().len()
    }

    /// Whether `client`'s revokes were read.
    pub(super) fn has(&self, client: &str) -> bool {
        self.by_client.borrow().contains_key(client)
    }

    /// Keeps `client`'s summary (`None`: too many revokes for one).
    pub(super) fn insert(&self, client: &str, summary: Option<Vec<Revoke>>) {
        self.held
            .set(self.held.get() + summary.as_ref().map_or(0, Vec::len));
        self.by_client
            .borrow_mut()
            .insert(client.to_string(), summary);
    }

    /// The ids, newest first, of the revokes of `client` between two times
    /// (inclusive) that may meet `ask`, among the newest `looked_at` of
    /// them (time, then id); `None` when the client has no summary.
    pub(super) fn choose(
        &self,
        client: &str,
        ask: &Ask<'_>,
        (from_ms, to_ms): (i64, i64),
        looked_at: usize,
    ) -> Option<Vec<i64>> {
        let by_client = self.by_client.borrow();
        let revokes = by_client.get(client)?.as_ref()?;
        let end = revokes.partition_point(|r| r.ts_ms <= to_ms);
        Some(
            revokes[..end]
                .iter()
                .rev()
                .take_while(|r| r.ts_ms >= from_ms)
                .take(looked_at)
                .filter(|r| ask.may_admit(r))
                .map(|r| r.id)
                .collect(),
        )
    }
}

/// What a failed refresh asks of the revokes (see
/// `Store::revokes_for_client`), with the [`hash`] of each text, taken once:
/// a Keycloak failure compares its texts with tens of summaries, and
/// hashing them again for each was a hundredth of its log's instructions
/// (benches/README.md).
pub(super) struct Ask<'a> {
    device: Option<(&'a str, u64)>,
    user: Option<(&'a str, u64)>,
    token: Option<(&'a str, u64)>,
}

impl<'a> Ask<'a> {
    /// The question of a refresh from `device` (or by `user`) with
    /// `token`'s fingerprint; `None` asks nothing of that part.
    pub(super) fn new(
        device: Option<&'a str>,
        user: Option<&'a str>,
        token: Option<&'a str>,
    ) -> Ask<'a> {
        let hashed = |text: Option<&'a str>| text.map(|t| (t, hash(t)));
        Ask {
            device: hashed(device),
            user: hashed(user),
            token: hashed(token),
        }
    }

    /// The exact conditions, on a row.
    pub(super) fn admits(&self, e: &EventRow) -> bool {
        let text = |part: Option<(&'a str, u64)>| part.map(|(t, _)| t);
        let accepted = e.status.is_none_or(|s| s < 400);
        let from_device = self.device.is_none()
            || e.ip.as_deref() == text(self.device)
            || self.user.is_some() && e.user_name.as_deref() == text(self.user);
        let same_token = self.token.is_none()
            || e.refresh_token_fp.is_none()
            || e.refresh_token_fp.as_deref() == text(self.token);
        accepted && from_device && same_token
    }

    /// The conditions on a summary: true whenever [`Ask::admits`] is for
    /// its row (and, on a hash collision, sometimes when it is not).
    pub(super) fn may_admit(&self, r: &Revoke) -> bool {
        // `hash` is never 0, so an equal hash is a value the row has.
        let from_device = self.device.is_none_or(|(_, d)| r.ip == d)
            || self.user.is_some_and(|(_, u)| r.user == u);
        let same_token = self.token.is_none_or(|(_, t)| r.token == 0 || r.token == t);
        r.accepted && from_device && same_token
    }
}

/// The hash a summary keeps of a text: never 0, which stands for none.
pub(super) fn hash(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish().max(1)
}
