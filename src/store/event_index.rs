//! A scratch database's events by client, by kind and time and by request
//! id, kept in memory instead of four of its indexes
//! (`events_by_client_kind`, `events_by_client_ip`, `events_by_kind_time`,
//! `events_by_request`).
//!
//! Building those indexes after a bulk load was the largest single step of
//! an `analyze` of a Keycloak or Hydra log: SQLite scans the whole table
//! once per index and sorts text keys (2.4 s of a Keycloak gigabyte's
//! 7.8 s, benches/README.md). The writer of a bulk load that began on an
//! empty scratch database already holds each event's client, address,
//! kind, time, source and id as it stores it; from the load's first event
//! ([`INDEX_FROM_EVENTS`]; tests start later, those before read back from
//! the table), this keeps them, 52 bytes an event (and 16 for one with a
//! request id; about 130 on a Rails log, its addresses' names included),
//! sorts them four ways when the load ends, and answers the queries those
//! indexes served with event ids, whose rows are then read by id
//! (`index_reads.rs`): by client here ([`EventIndex::newest`],
//! [`EventIndex::all_of`]), by kind and time in `time_order.rs`, by request
//! id in `request_order.rs`.
//!
//! Invariants: an index answers exactly what SQL over the same rows
//! answers (`client_id = ? AND kind IN (…) AND ts_ms BETWEEN ? AND ?
//! [AND ip = ?] ORDER BY ts_ms DESC, id DESC LIMIT ?`, and the queries
//! named in `time_order.rs`): an event without a client is in no answer
//! by client, one without a time in none at all, as `=` and `BETWEEN`
//! never hold for NULL, and neither is kept there. A builder that cannot
//! say which stored row an event became (an event skipped as stored
//! already), or that passed its memory budget, is spoiled: the load then
//! builds the SQL indexes as before. Once installed, an index is the only
//! one the database has for these queries; whatever changes the events
//! afterwards builds the SQL indexes first and drops it (`bulk.rs`,
//! `Store::events_change`).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use grantwatch_parsers::{Event, EventKind};
use rusqlite::Connection;

use super::Result;
use super::chunked::{Chunked, group_starts};
use super::kept::Kept;
use super::request_order::{RequestHasher, RequestKey, RequestOrder};
use super::sampled::Sampled;
use super::time_order::{TimeKey, TimeOrder};

/// The names of the indexes this one stands for.
pub(super) const REPLACED: [&str; 4] = [
    "events_by_client_kind",
    "events_by_client_ip",
    "events_by_kind_time",
    "events_by_request",
];

/// The events a bulk load stores before it keeps their keys in memory
/// (reading those stored so far from the table, `from_table`): none, so
/// every bulk load of a scratch database keeps them from its first event.
/// Building the four indexes in SQL after the read is one core's work
/// while the other waits, even for few events: a tenth of a second of a
/// Rails gigabyte's second (44,000 events; 1.03–1.06 → 0.93–0.97 s), for
/// 7–10 MB more peak memory there (34–36 → 42–45 MB) and 16–19 MB more at
/// 3 GB (38–39 → 55–57 MB, benches/README.md). Tests set a later start to
/// cover `from_table`.
pub(super) const INDEX_FROM_EVENTS: i64 = 0;

/// What an index may hold once sorted before its builder gives up (the
/// keys of about 5 million events, a Keycloak log of 3.3 GB, or fewer
/// with many distinct addresses; a little more while its chunks are joined):
/// beyond it the SQL indexes are built, as before, so memory stays
/// bounded.
pub(super) const BUDGET_BYTES: usize = 256 << 20;

/// A fast hasher for short keys (client ids, addresses), already built
/// for `hashbrown`.
type Fast = foldhash::fast::RandomState;

/// One event as the queries see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    ts: i64,
    id: u32,
    client: u32,
    /// [`NO_ADDRESS`] for an event without one.
    ip: u32,
    kind: u8,
}

const NO_ADDRESS: u32 = u32::MAX;

impl Key {
    fn by_kind(&self) -> (u32, u8, i64, u32) {
        (self.client, self.kind, self.ts, self.id)
    }
}

/// Texts numbered in the order first seen.
#[derive(Debug, Default)]
struct Names {
    numbers: HashMap<Box<str>, u32, Fast>,
    bytes: usize,
}

impl Names {
    fn number(&mut self, name: &str) -> Option<u32> {
        if let Some(&n) = self.numbers.get(name) {
            return Some(n);
        }
        let n = u32::try_from(self.numbers.len())
            .ok()
            .filter(|&n| n < NO_ADDRESS)?;
        self.bytes += name.len() + 48;
        self.numbers.insert(name.into(), n);
        Some(n)
    }

    fn get(&self, name: &str) -> Option<u32> {
        self.numbers.get(name).copied()
    }

    fn len(&self) -> usize {
        self.numbers.len()
    }
}

/// What the index keeps of one stored event, from the event the writer
/// stored or from its row.
struct Stored<'a> {
    id: i64,
    source_id: i64,
    client: Option<&'a str>,
    ip: Option<&'a str>,
    request: Option<&'a str>,
    kind: EventKind,
    ts: Option<i64>,
    /// `status >= 400 OR error IS NOT NULL OR provider_code IS NOT NULL`.
    failing: bool,
}

impl<'a> Stored<'a> {
    fn of(e: &'a Event<'_>, id: i64, source_id: i64) -> Stored<'a> {
        Stored {
            id,
            source_id,
            client: e.client_id.as_deref(),
            ip: e.ip.as_deref(),
            request: e.request_id.as_deref(),
            kind: e.kind,
            ts: e.ts.map(|t| t.utc.timestamp_millis()),
            failing: e.status.is_some_and(|s| s >= 400)
                || e.error.is_some()
                || e.provider_code.is_some(),
        }
    }

    /// A row of `from_table`'s query; `None` for a kind this build does
    /// not know.
    fn of_row(r: &'a rusqlite::Row<'_>) -> rusqlite::Result<Option<Stored<'a>>> {
        let Some(kind) = EventKind::from_name(r.get_ref(4)?.as_str()?) else {
            return Ok(None);
        };
        Ok(Some(Stored {
            id: r.get(0)?,
            source_id: r.get(1)?,
            client: r.get_ref(2)?.as_str_or_null()?,
            ip: r.get_ref(3)?.as_str_or_null()?,
            request: r.get_ref(7)?.as_str_or_null()?,
            kind,
            ts: r.get(5)?,
            failing: r.get::<_, i64>(6)? != 0,
        }))
    }
}

/// The keys of a bulk load's events, gathered as the writer stores them.
#[derive(Debug)]
pub(super) struct EventIndexBuilder {
    clients: Names,
    ips: Names,
    keys: Chunked<Key>,
    times: Chunked<TimeKey>,
    requests: Chunked<RequestKey>,
    request_hasher: RequestHasher,
    /// The sources whose events are held (a give-up forgets one).
    sources: Vec<i64>,
    spoiled: bool,
    budget: usize,
}

impl EventIndexBuilder {
    /// A builder that gives up past `budget` bytes.
    pub(super) fn with_budget(budget: usize) -> EventIndexBuilder {
        EventIndexBuilder {
            clients: Names::default(),
            ips: Names::default(),
            keys: Chunked::default(),
            times: Chunked::default(),
            requests: Chunked::default(),
            request_hasher: RequestHasher::default(),
            sources: Vec::new(),
            spoiled: false,
            budget,
        }
    }

    /// A builder holding every event stored so far (`conn` inside the
    /// load's transaction): for a load that passed
    /// [`INDEX_FROM_EVENTS`] events, the point from which keeping them in
    /// memory is worth it.
    pub(super) fn from_table(conn: &Connection, budget: usize) -> Result<EventIndexBuilder> {
        let mut builder = EventIndexBuilder::with_budget(budget);
        // NULL when the row has no status and no error: not failing.
        let mut stmt = conn.prepare(
            "SELECT id, source_id, client_id, ip, kind, ts_ms,
                    coalesce(status >= 400 OR error IS NOT NULL OR provider_code IS NOT NULL, 0),
                    request_id
             FROM events ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let added = Stored::of_row(r)?.and_then(|stored| builder.add_one(&stored));
            if added.is_none() {
                builder.spoil();
                break;
            }
        }
        builder.check_budget();
        Ok(builder)
    }

    /// Takes the events of one committed batch of `source_id` and the ids
    /// they were stored under, in order; spoiled when the two do not pair
    /// up (an event was already stored) or the budget is passed.
    pub(super) fn add(&mut self, source_id: i64, events: &[Event<'_>], ids: &[i64]) {
        if self.spoiled {
            return;
        }
        if events.len() != ids.len() {
            self.spoil();
            return;
        }
        for (e, &id) in events.iter().zip(ids) {
            if self.add_one(&Stored::of(e, id, source_id)).is_none() {
                self.spoil();
                return;
            }
        }
        self.check_budget();
    }

    /// Whether the builder gave up.
    pub(super) fn is_spoiled(&self) -> bool {
        self.spoiled
    }

    fn check_budget(&mut self) {
        if self.bytes() > self.budget {
            self.spoil();
        }
    }

    /// `None` when the event cannot be held (an id past `u32`, too many
    /// names); an event no query can find is skipped.
    fn add_one(&mut self, e: &Stored<'_>) -> Option<()> {
        let id = u32::try_from(e.id).ok()?;
        // Rows come source by source: the last one first, not the list.
        if self.sources.last() != Some(&e.source_id) && !self.sources.contains(&e.source_id) {
            self.sources.push(e.source_id);
        }
        self.times
            .extend(TimeKey::new(e.ts, id, e.source_id, e.kind, e.failing)?);
        if let Some(request) = e.request {
            self.requests
                .push(RequestKey::new(&self.request_hasher, request, id));
        }
        let (Some(client), Some(ts)) = (e.client, e.ts) else {
            return Some(());
        };
        let client = self.clients.number(client)?;
        let ip = match e.ip {
            Some(ip) => self.ips.number(ip)?,
            None => NO_ADDRESS,
        };
        self.keys.push(Key {
            ts,
            id,
            client,
            ip,
            kind: e.kind as u8,
        });
        Some(())
    }

    /// The events of `source_id` were deleted (a read in ranges gave up):
    /// forgotten when they were the only ones held, else the builder is
    /// spoiled.
    pub(super) fn forget(&mut self, source_id: i64) {
        if self.sources.iter().all(|&s| s == source_id) {
            *self = EventIndexBuilder {
                spoiled: self.spoiled,
                ..EventIndexBuilder::with_budget(self.budget)
            };
        } else {
            self.spoil();
        }
    }

    /// Gives up, and lets go of what was held.
    fn spoil(&mut self) {
        *self = EventIndexBuilder {
            spoiled: true,
            ..EventIndexBuilder::with_budget(self.budget)
        };
    }

    /// What the index will hold once sorted (the keys, and the address
    /// order's positions).
    fn bytes(&self) -> usize {
        self.keys.len() * (std::mem::size_of::<Key>() + std::mem::size_of::<u32>())
            + self.times.len() * std::mem::size_of::<TimeKey>()
            + self.requests.len() * std::mem::size_of::<RequestKey>()
            + self.clients.bytes
            + self.ips.bytes
    }

    /// The index, sorted three ways (on two threads), unless spoiled.
    pub(super) fn finish(self) -> Option<EventIndex> {
        if self.spoiled {
            return None;
        }
        // Positions are kept in 4 bytes.
        u32::try_from(self.keys.len()).ok()?;
        let clients = self.clients.len();
        let (sorted, (by_kind, by_ip)) = std::thread::scope(|s| {
            let times = s.spawn(|| {
                (
                    TimeOrder::sorted(self.times.into_vec()),
                    RequestOrder::sorted(self.requests.into_vec(), self.request_hasher),
                )
            });
            let by_kind = sorted_by_kind(self.keys, clients);
            let by_ip = grouped_by_address(&by_kind, clients, self.ips.len());
            (times.join().ok(), (by_kind, by_ip))
        });
        let (times, requests) = sorted?;
        Some(EventIndex {
            clients: self.clients,
            ips: self.ips,
            kind_sample: Sampled::of(&by_kind, |k| ((k.client, k.kind), k.ts)),
            ip_sample: Sampled::of(&by_ip, |&p| {
                let k = &by_kind[p as usize];
                ((k.client, k.ip, k.kind), k.ts)
            }),
            by_kind,
            by_ip,
            times,
            requests,
            kept: None,
        })
    }
}

/// The frozen index: every event with a client and a time in (client,
/// kind, time, id) order and in (client, address, kind, time, id) order;
/// every event with a time in (kind, time, id) order; every event with a
/// request id by its hash.
#[derive(Debug)]
pub struct EventIndex {
    clients: Names,
    ips: Names,
    by_kind: Vec<Key>,
    /// Positions in `by_kind`, in (client, address, kind, time, id) order.
    by_ip: Vec<u32>,
    /// Samples of the two orders' keys, for their searches.
    kind_sample: Sampled<((u32, u8), i64)>,
    ip_sample: Sampled<((u32, u32, u8), i64)>,
    /// Every event with a time, by kind and time.
    pub(super) times: TimeOrder,
    /// Every event with a request id, by the id's hash.
    pub(super) requests: RequestOrder,
    /// The events themselves, when the load kept them out of the table
    /// (`kept.rs`).
    pub(super) kept: Option<Kept>,
}

impl EventIndex {
    /// The ids of the events of `client` and one of `kinds` (and from `ip`,
    /// when given) between two times (inclusive), newest first (time, then
    /// id, descending), at most `limit`.
    pub(super) fn newest(
        &self,
        client: &str,
        kinds: &[EventKind],
        ip: Option<&str>,
        (from, to): (i64, i64),
        limit: usize,
    ) -> Vec<i64> {
        let Some(c) = self.clients.get(client) else {
            return Vec::new();
        };
        let address = match ip {
            Some(ip) => match self.ips.get(ip) {
                Some(a) => Some(a),
                None => return Vec::new(),
            },
            None => None,
        };
        let mut kinds: Vec<u8> = kinds.iter().map(|&k| k as u8).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let mut found: Vec<(i64, u32)> = Vec::new();
        for kind in kinds {
            match address {
                Some(a) => {
                    let key = |&p: &u32| &self.by_kind[p as usize];
                    let newest = newest_of(
                        &self.by_ip,
                        &self.ip_sample,
                        |p| {
                            let k = key(p);
                            ((k.client, k.ip, k.kind), k.ts)
                        },
                        (c, a, kind),
                        (from, to),
                        limit,
                    );
                    found.extend(newest.iter().map(key).map(|k| (k.ts, k.id)));
                }
                None => {
                    let newest = newest_of(
                        &self.by_kind,
                        &self.kind_sample,
                        |k| ((k.client, k.kind), k.ts),
                        (c, kind),
                        (from, to),
                        limit,
                    );
                    found.extend(newest.iter().map(|k| (k.ts, k.id)));
                }
            }
        }
        found.sort_unstable_by(|a, b| b.cmp(a));
        found.truncate(limit);
        found.into_iter().map(|(_, id)| i64::from(id)).collect()
    }

    /// The ids of every event of `client` and `kind`, oldest first (time,
    /// then id).
    pub(super) fn all_of(&self, client: &str, kind: EventKind) -> Vec<i64> {
        let Some(c) = self.clients.get(client) else {
            return Vec::new();
        };
        window(
            &self.by_kind,
            |k| ((k.client, k.kind), k.ts),
            (c, kind as u8),
            (i64::MIN, i64::MAX),
        )
        .iter()
        .map(|k| i64::from(k.id))
        .collect()
    }
}

/// Where every connection of one scratch analysis finds the installed
/// index: beside the evidence file they share (`spill.rs`), since the
/// connections that share one are exactly those that read the database.
#[derive(Debug, Default)]
pub(super) struct EventIndexSlot(RwLock<Option<Arc<EventIndex>>>);

impl EventIndexSlot {
    pub(super) fn get(&self) -> Option<Arc<EventIndex>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn set(&self, index: Option<EventIndex>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = index.map(Arc::new);
    }
}

/// Kinds of event ([`EventKind`] as `u8` is below this).
const KINDS: usize = EventKind::Unparsed as usize + 1;

/// `keys` (clients numbered below `clients`) in (client, kind, time, id)
/// order, exactly sized: held until the analysis ends. Grouped by client
/// and kind first, as they are taken out of their chunks (a counting
/// sort), then each group sorted by time and id with a sort that merges
/// the runs it finds: a range's events arrive nearly in time order. With
/// a copy out of the chunks and one sort of every key, the index's finish
/// took the thread the diagnosis waits for twice the instructions on the
/// first 300 MB of a Keycloak gigabyte (302.7 M against 154.5 M,
/// benches/README.md). With more groups than keys (a log of countless
/// client ids) their counters would cost more than the keys: one sort of
/// every key then.
fn sorted_by_kind(keys: Chunked<Key>, clients: usize) -> Vec<Key> {
    let groups = clients.saturating_mul(KINDS);
    if groups > keys.len() {
        let mut all = keys.into_vec();
        all.sort_unstable_by_key(Key::by_kind);
        return all;
    }
    let (mut grouped, starts) =
        keys.into_grouped(groups, |k| k.client as usize * KINDS + usize::from(k.kind));
    for (&start, &end) in starts.iter().zip(&starts[1..]) {
        // Stable or not, the same order: no two keys share an id.
        grouped[start..end].sort_by_key(|k| (k.ts, k.id));
    }
    grouped
}

/// The positions of `keys` (in (client, kind, time, id) order, clients
/// numbered below `clients` and addresses below `addresses` or
/// [`NO_ADDRESS`]) in (client, address, kind, time, id) order, 4 bytes a
/// key instead of a copy: what a stable sort of the positions by (client,
/// address) gives. Two counting passes instead: by address, carrying each
/// position's client, then by client, whose groups start where its keys
/// do. A sort that compared two keys far apart in memory for each step was
/// 65 ms of a Keycloak gigabyte's 1.56 million keys, on the thread the
/// diagnosis waits for (benches/README.md).
fn grouped_by_address(keys: &[Key], clients: usize, addresses: usize) -> Vec<u32> {
    let address = |k: &Key| match k.ip {
        NO_ADDRESS => addresses,
        ip => ip as usize,
    };
    // Where each address's group starts, then where its next item goes.
    let mut next = group_starts(addresses + 1, keys.iter().map(address));
    let mut by_address = vec![0u64; keys.len()];
    for (p, k) in keys.iter().enumerate() {
        let slot = &mut next[address(k)];
        by_address[*slot] = u64::from(k.client) << 32 | p as u64;
        *slot += 1;
    }
    let mut next = group_starts(clients, keys.iter().map(|k| k.client as usize));
    let mut out = vec![0u32; keys.len()];
    for packed in by_address {
        let slot = &mut next[(packed >> 32) as usize];
        out[*slot] = packed as u32;
        *slot += 1;
    }
    out
}

/// The last `limit` of [`window`]'s items: one search for the window's
/// end (through `sample`, taken of `sorted` by `group_and_time`), the start looked for only among the
/// `limit` items before it (a client's newest events are asked for with a
/// small limit, and every probe of a search is a miss of the cache).
fn newest_of<'s, T, G: Ord + Copy>(
    sorted: &'s [T],
    sample: &Sampled<(G, i64)>,
    group_and_time: impl Fn(&T) -> (G, i64),
    wanted: G,
    (from, to): (i64, i64),
    limit: usize,
) -> &'s [T] {
    if from > to {
        return &[];
    }
    let end = sample.count_at_most(sorted, &group_and_time, (wanted, to));
    let last = &sorted[end.saturating_sub(limit)..end];
    &last[last.partition_point(|k| group_and_time(k) < (wanted, from))..]
}

/// The items of `sorted` whose group is `wanted` and whose time is in
/// `from..=to`: `sorted` is ordered by `group_and_time`.
fn window<T, G: Ord + Copy>(
    sorted: &[T],
    group_and_time: impl Fn(&T) -> (G, i64),
    wanted: G,
    (from, to): (i64, i64),
) -> &[T] {
    if from > to {
        return &[];
    }
    let start = sorted.partition_point(|k| group_and_time(k) < (wanted, from));
    let end = sorted.partition_point(|k| group_and_time(k) <= (wanted, to));
    &sorted[start..end.max(start)]
}

#[cfg(test)]
#[path = "event_index_tests.rs"]
mod tests;
