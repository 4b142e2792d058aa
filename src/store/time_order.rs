//! A scratch database's events in (kind, time, id) order, kept in memory
//! by its bulk load instead of the index `events_by_kind_time`
//! (`event_index.rs` holds it beside the orders by client).
//!
//! Invariants: each query answers exactly what SQL over the same rows
//! answers with that index, in the same order (the query is named on each
//! method); an event without a time is in no answer, as `BETWEEN` never
//! holds for NULL, and is not kept.

use grantwatch_parsers::EventKind;

/// One event as the queries by kind and time see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TimeKey {
    ts: i64,
    id: u32,
    source: u32,
    kind: u8,
    /// What `failed_responses_near` asks of a row: `status >= 400 OR
    /// error IS NOT NULL OR provider_code IS NOT NULL`.
    failing: bool,
}

impl TimeKey {
    /// The key of a stored event: `Some(None)` when it has no time (no
    /// query finds it), `None` when its id or source does not fit.
    pub(super) fn new(
        ts: Option<i64>,
        id: u32,
        source_id: i64,
        kind: EventKind,
        failing: bool,
    ) -> Option<Option<TimeKey>> {
        let source = u32::try_from(source_id).ok()?;
        Some(ts.map(|ts| TimeKey {
            ts,
            id,
            source,
            kind: kind as u8,
            failing,
        }))
    }

    fn order(&self) -> (u8, i64, u32) {
        (self.kind, self.ts, self.id)
    }
}

/// The kept events, sorted by kind, time and id.
#[derive(Debug, Default)]
pub(super) struct TimeOrder(Vec<TimeKey>);

impl TimeOrder {
    pub(super) fn sorted(mut keys: Vec<TimeKey>) -> TimeOrder {
        keys.sort_unstable_by_key(TimeKey::order);
        TimeOrder(keys)
    }

    /// The keys of `kind` with a time in `from..=to`, oldest first.
    fn window(&self, kind: EventKind, (from, to): (i64, i64)) -> &[TimeKey] {
        if from > to {
            return &[];
        }
        let kind = kind as u8;
        let start = self.0.partition_point(|k| (k.kind, k.ts) < (kind, from));
        let end = self.0.partition_point(|k| (k.kind, k.ts) <= (kind, to));
        &self.0[start..end.max(start)]
    }

    /// The distinct kinds of `kinds`, in a fixed order.
    fn distinct(kinds: &[EventKind]) -> Vec<EventKind> {
        let mut distinct = kinds.to_vec();
        distinct.sort_unstable_by_key(|&k| k as u8);
        distinct.dedup();
        distinct
    }

    /// `kind IN (kinds) AND ts_ms BETWEEN from AND to AND source_id = source
    /// ORDER BY ts_ms DESC, id DESC LIMIT limit`.
    pub(super) fn newest_of_source(
        &self,
        source: i64,
        kinds: &[EventKind],
        window: (i64, i64),
        limit: usize,
    ) -> Vec<i64> {
        let mut found: Vec<(i64, u32)> = Vec::new();
        for kind in TimeOrder::distinct(kinds) {
            let of_source = self
                .window(kind, window)
                .iter()
                .rev()
                .filter(|k| i64::from(k.source) == source)
                .take(limit);
            found.extend(of_source.map(|k| (k.ts, k.id)));
        }
        found.sort_unstable_by(|a, b| b.cmp(a));
        found.truncate(limit);
        found.into_iter().map(|(_, id)| i64::from(id)).collect()
    }

    /// `kind IN (kinds) AND ts_ms BETWEEN from AND to ORDER BY ts_ms, id`.
    pub(super) fn between(&self, kinds: &[EventKind], window: (i64, i64)) -> Vec<i64> {
        let mut found: Vec<(i64, u32)> = TimeOrder::distinct(kinds)
            .into_iter()
            .flat_map(|kind| self.window(kind, window).iter().map(|k| (k.ts, k.id)))
            .collect();
        found.sort_unstable();
        found.into_iter().map(|(_, id)| i64::from(id)).collect()
    }

    /// `kind = 'token_response' AND ts_ms BETWEEN from AND to AND
    /// (status >= 400 OR error IS NOT NULL OR provider_code IS NOT NULL)
    /// ORDER BY abs(ts_ms - at), ts_ms, id LIMIT limit`.
    pub(super) fn failed_near(&self, at: i64, window: (i64, i64), limit: usize) -> Vec<i64> {
        let distance = |ts: i64| (i128::from(ts) - i128::from(at)).abs();
        let mut found: Vec<(i128, i64, u32)> = self
            .window(EventKind::TokenResponse, window)
            .iter()
            .filter(|k| k.failing)
            .map(|k| (distance(k.ts), k.ts, k.id))
            .collect();
        found.sort_unstable();
        found.truncate(limit);
        found.into_iter().map(|(_, _, id)| i64::from(id)).collect()
    }
}
