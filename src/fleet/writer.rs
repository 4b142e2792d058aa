//! The writer thread of received streams: takes batches off the queue
//! (several at once when they wait), feeds each record's lines to its
//! stream's parser, and commits events, counts, held lines and batch
//! digests in one transaction before answering every batch of the group.
//!
//! Invariants: a stream's line numbers only grow (committed as the source's
//! `line_no`), so an event is unique by source, line and kind across
//! restarts; the lines a parser holds (from its oldest pending line on) are
//! in `ingest_pending` after every commit, and a stream seen again after a
//! restart first replays them; after a failed commit every stream state is
//! dropped and rebuilt from the store, as a restart would. The same holds
//! for a stream dropped from memory to keep the streams' state under
//! [`FleetOptions::stream_bytes`] and [`FleetOptions::max_streams`]: only a
//! stream not fed since the last commit is dropped, so everything it holds
//! is in the store. A record whose digest was committed within
//! [`RECORD_WINDOW`] is not fed again; its digest is committed with the
//! events it gave.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use grantwatch_parsers::{Context, DETECT_LINES, Event, FileParser, Format, LineCounts, sniff};

use super::batch::{Accepted, DEDUPE_WINDOW, Job, RECORD_WINDOW, record_digests};
use super::metrics::StreamGauges;
use super::options::FleetOptions;
use super::record::{Record, source_path};
use crate::store::Store;
use crate::store::streams::{Digests, RecordKey, StreamCommit};

/// Batches committed together at most (each answered after the commit).
const GROUP_JOBS: usize = 64;

/// Held lines kept per stream at most: past this the oldest are no longer
/// kept for a replay (a record that never completes cannot pin memory).
const MAX_HELD: usize = 50_000;

/// A stream quiet this long has its held unknown lines cut into records
/// (and, with fewer than [`DETECT_LINES`] lines so far, its format
/// detected): longer than a file's [`crate::watch::RUN_QUIET`], since
/// shippers send in batches flushed every second or few, and a record
/// split across two batches must not be cut in two.
const STREAM_RUN_QUIET: Duration = Duration::from_secs(5);

/// How long the thread waits for a batch before looking at quiet streams.
const TICK: Duration = Duration::from_millis(100);

/// A stream's state beyond its held lines (parser, format state, maps),
/// for the streams' memory estimate.
const STREAM_BASE: usize = 16 * 1024;

/// A held line's bytes beyond its text (tuple, `String` header, allocator).
const HELD_OVERHEAD: usize = 48;

/// One received stream's parser state.
struct Stream {
    source_id: i64,
    /// `None` until the format is known: the stream's first
    /// [`DETECT_LINES`] lines (or fewer, once it is quiet) are held, then
    /// the format is detected from them and they are fed.
    parser: Option<FileParser>,
    /// The last line number given out.
    line_no: u64,
    /// Lines from the parser's oldest pending line on.
    held: VecDeque<(u64, String)>,
    /// The bytes of `held` (text and overhead).
    held_bytes: usize,
    /// The last line already in `ingest_pending`.
    persisted_to: u64,
    last_data: Instant,
    counts: LineCounts,
}

/// What one stream adds to the commit being built.
#[derive(Default)]
struct Pending {
    events: Vec<Event<'static>>,
}

/// The writer: stream states over one store connection.
struct Writer<'o> {
    store: Store,
    streams: HashMap<String, Stream>,
    opts: &'o FleetOptions,
    gauges: &'o StreamGauges,
}

impl Stream {
    fn hold(&mut self, line_no: u64, text: String) {
        self.held_bytes += text.capacity() + HELD_OVERHEAD;
        self.held.push_back((line_no, text));
    }

    fn unhold_front(&mut self) {
        if let Some((_, t)) = self.held.pop_front() {
            self.held_bytes = self.held_bytes.saturating_sub(t.capacity() + HELD_OVERHEAD);
        }
    }

    /// The stream's estimated memory: its held lines, the parser's own
    /// copy of its open records (made of those lines), and the rest.
    fn cost(&self) -> usize {
        STREAM_BASE + 2 * self.held_bytes
    }
}

pub(super) fn run(store: Store, rx: Receiver<Job>, opts: &FleetOptions, gauges: &StreamGauges) {
    let mut w = Writer {
        store,
        streams: HashMap::new(),
        opts,
        gauges,
    };
    loop {
        let first = match rx.recv_timeout(TICK) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut jobs: Vec<Job> = first.into_iter().collect();
        while jobs.len() < GROUP_JOBS {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        if !jobs.is_empty() {
            let result = w.commit_jobs(&jobs);
            answer(jobs, result);
        }
        if let Err(e) = w.quiet(Instant::now()) {
            eprintln!("grantwatch: storing received logs failed: {e}");
            w.streams.clear();
        }
        w.trim(started);
    }
}

/// Sends every batch its answer.
fn answer(jobs: Vec<Job>, result: Result<Vec<Accepted>, String>) {
    // A job's records are dropped, and their charge given back, before its
    // sender hears the answer (and may send more).
    let replies: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            drop(job.charge);
            job.reply
        })
        .collect();
    match result {
        Ok(accepted) => {
            for (reply, a) in replies.into_iter().zip(accepted) {
                let _ = reply.send(Ok(a));
            }
        }
        Err(why) => {
            for reply in replies {
                let _ = reply.send(Err(why.clone()));
            }
        }
    }
}

impl Writer<'_> {
    /// Feeds and commits a group of batches; on a store error every stream
    /// state is dropped (rebuilt from the store when its lines come again).
    fn commit_jobs(&mut self, jobs: &[Job]) -> Result<Vec<Accepted>, String> {
        match self.try_commit_jobs(jobs) {
            Ok(a) => Ok(a),
            Err(e) => {
                eprintln!("grantwatch: storing received logs failed: {e}");
                self.streams.clear();
                Err(e.to_string())
            }
        }
    }

    fn try_commit_jobs(&mut self, jobs: &[Job]) -> crate::store::Result<Vec<Accepted>> {
        let now = Instant::now();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let since_ms = now_ms - DEDUPE_WINDOW.as_millis() as i64;
        let records_since_ms = now_ms - RECORD_WINDOW.as_millis() as i64;
        let mut seen_now: HashSet<[u8; 16]> = HashSet::new();
        let mut records_now: HashSet<(i64, [u8; 16])> = HashSet::new();
        let mut accepted = Vec::with_capacity(jobs.len());
        let mut pending: HashMap<String, Pending> = HashMap::new();
        let mut digests = Vec::new();
        let mut new_records = Vec::new();
        for job in jobs {
            let repeated = match &job.digest {
                Some(d) => seen_now.contains(d) || self.store.batch_seen(d, since_ms)?,
                None => false,
            };
            if repeated {
                accepted.push(Accepted {
                    records: 0,
                    deduplicated: job.records.len() as u64,
                    events: 0,
                    duplicate: true,
                });
                continue;
            }
            self.open_streams(job.records.iter(), now)?;
            // Records stored before (a retry cut otherwise, or sent again
            // after a restart) are skipped one by one.
            let mut keep = vec![true; job.records.len()];
            if let Some(d) = job.digest {
                seen_now.insert(d);
                digests.push(d);
                let keyed: Vec<Option<RecordKey<'_>>> = record_digests(&job.records)
                    .into_iter()
                    .zip(&job.records)
                    .map(|(rd, r)| {
                        let s = self.streams.get(&r.stream)?;
                        Some((s.source_id, r.time.as_str(), rd?))
                    })
                    .collect();
                let stored = self.stored_digests(&keyed, records_since_ms)?;
                for (i, key) in keyed.into_iter().enumerate() {
                    let Some(key) = key else { continue };
                    if records_now.contains(&(key.0, key.2)) || stored.contains(&(key.0, key.2)) {
                        keep[i] = false;
                    } else {
                        records_now.insert((key.0, key.2));
                        new_records.push(key);
                    }
                }
            }
            let skipped = keep.iter().filter(|k| !**k).count() as u64;
            let mut events = 0;
            for (r, _) in job.records.iter().zip(&keep).filter(|(_, k)| **k) {
                let Some(stream) = self.streams.get_mut(&r.stream) else {
                    continue;
                };
                let out = pending.entry(r.stream.clone()).or_default();
                let before = out.events.len();
                if let Some(format) =
                    feed(stream, &r.body, now, &self.opts.context, &mut out.events)
                {
                    self.store
                        .set_stream_format(stream.source_id, format.as_str())?;
                }
                events += (out.events.len() - before) as u64;
            }
            let fed = job.records.len() as u64 - skipped;
            accepted.push(Accepted {
                records: fed,
                deduplicated: skipped,
                events,
                duplicate: fed == 0,
            });
        }
        let seen = Digests {
            batches: &digests,
            records: &new_records,
            batches_since_ms: since_ms,
            records_since_ms,
        };
        self.commit(pending, &seen, now_ms)?;
        Ok(accepted)
    }

    /// The digests stored since `since_ms` among the time ranges of each
    /// stream's records in `keys` (one range read per stream).
    fn stored_digests(
        &self,
        keys: &[Option<RecordKey<'_>>],
        since_ms: i64,
    ) -> crate::store::Result<HashSet<(i64, [u8; 16])>> {
        let mut ranges: HashMap<i64, (&str, &str)> = HashMap::new();
        for (source, time, _) in keys.iter().flatten() {
            let r = ranges.entry(*source).or_insert((time, time));
            r.0 = r.0.min(time);
            r.1 = r.1.max(time);
        }
        let mut out = HashSet::new();
        for (source, (lo, hi)) in ranges {
            for d in self.store.records_seen(source, lo, hi, since_ms)? {
                out.insert((source, d));
            }
        }
        Ok(out)
    }

    /// Builds the states of the streams of `records` not followed yet: the
    /// stored row and its held lines (replayed), or a new row whose format
    /// is detected once its first lines are in.
    fn open_streams<'r>(
        &mut self,
        records: impl Iterator<Item = &'r Record>,
        group_start: Instant,
    ) -> crate::store::Result<()> {
        for r in records {
            if self.streams.contains_key(&r.stream) {
                continue;
            }
            self.make_room(group_start);
            let path = source_path(&r.stream);
            let known = self
                .store
                .source_by_path(&path)?
                .filter(|s| s.inode.is_none());
            let source = match known {
                Some(s) => s,
                None => self.store.stream_source(&path, DETECTING)?,
            };
            let replay = self.store.stream_pending(source.id)?;
            let mut stream = Stream {
                source_id: source.id,
                parser: None,
                line_no: source.line_no,
                held: VecDeque::with_capacity(replay.len()),
                held_bytes: 0,
                persisted_to: source.line_no,
                last_data: Instant::now(),
                counts: LineCounts::default(),
            };
            for (line, text) in replay {
                stream.hold(line, text);
            }
            if let Some(format) = Format::from_name(&source.format) {
                // Lines held when the last run stopped: fed again, so their
                // records complete; events already stored are ignored.
                let mut events = Vec::new();
                start_parser(&mut stream, format, &self.opts.context, &mut events);
                stream.counts = stream
                    .parser
                    .as_ref()
                    .map(FileParser::counts)
                    .unwrap_or_default();
                if !events.is_empty() {
                    self.store.commit_streams(
                        &[StreamCommit {
                            source_id: source.id,
                            events: &events,
                            counts: LineCounts::default(),
                            line_no: stream.line_no,
                            pending_from: 0,
                            new_pending: Vec::new(),
                        }],
                        &Digests::default(),
                        chrono::Utc::now().timestamp_millis(),
                    )?;
                }
            }
            self.streams.insert(r.stream.clone(), stream);
        }
        Ok(())
    }

    /// At [`FleetOptions::max_streams`], drops the stream quiet longest
    /// among those not fed since the last commit (everything it holds is in
    /// the store then: it is rebuilt, held lines replayed, when it sends
    /// again). Streams fed in the group being built are never dropped.
    fn make_room(&mut self, group_start: Instant) {
        if self.streams.len() < self.opts.max_streams {
            return;
        }
        let quietest = self
            .streams
            .iter()
            .filter(|(_, s)| s.last_data < group_start)
            .min_by_key(|(_, s)| s.last_data)
            .map(|(name, _)| name.clone());
        if let Some(name) = quietest {
            self.streams.remove(&name);
            self.gauges.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops the state of the quietest streams not fed since `fed_since`
    /// (all they hold is committed) while the streams' estimated memory is
    /// over [`FleetOptions::stream_bytes`], and reports the gauges.
    fn trim(&mut self, fed_since: Instant) {
        let gauges = self.gauges;
        let mut total: usize = self.streams.values().map(Stream::cost).sum();
        if total > self.opts.stream_bytes {
            let mut idle: Vec<(Instant, String, usize)> = self
                .streams
                .iter()
                .filter(|(_, s)| s.last_data < fed_since)
                .map(|(name, s)| (s.last_data, name.clone(), s.cost()))
                .collect();
            idle.sort_unstable_by_key(|(t, ..)| *t);
            for (_, name, cost) in idle {
                if total <= self.opts.stream_bytes {
                    break;
                }
                self.streams.remove(&name);
                total -= cost;
                gauges.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        gauges.live.store(self.streams.len(), Ordering::Relaxed);
        gauges.bytes.store(total, Ordering::Relaxed);
    }

    /// Commits what the streams in `pending` produced, with their held
    /// lines, and the batches' and records' digests.
    fn commit(
        &mut self,
        pending: HashMap<String, Pending>,
        seen: &Digests<'_>,
        now_ms: i64,
    ) -> crate::store::Result<u64> {
        let mut parts = Vec::with_capacity(pending.len());
        for (name, p) in pending {
            let Some(s) = self.streams.get_mut(&name) else {
                continue;
            };
            let counts = s
                .parser
                .as_ref()
                .map(FileParser::counts)
                .unwrap_or_default();
            let added = LineCounts {
                parsed: counts.parsed.saturating_sub(s.counts.parsed),
                skipped: counts.skipped.saturating_sub(s.counts.skipped),
                unknown: counts.unknown.saturating_sub(s.counts.unknown),
            };
            s.counts = counts;
            let from = oldest_held(s);
            while s.held.front().is_some_and(|(l, _)| *l < from) {
                s.unhold_front();
            }
            while s.held.len() > MAX_HELD {
                s.unhold_front();
            }
            parts.push((name, p.events, added, from));
        }
        let commits: Vec<StreamCommit<'_, '_>> = parts
            .iter()
            .filter_map(|(name, events, added, from)| {
                let s = self.streams.get(name)?;
                Some(StreamCommit {
                    source_id: s.source_id,
                    events,
                    counts: *added,
                    line_no: s.line_no,
                    pending_from: *from,
                    new_pending: s
                        .held
                        .iter()
                        .filter(|(l, _)| *l > s.persisted_to)
                        .map(|(l, t)| (*l, t.as_str()))
                        .collect(),
                })
            })
            .collect();
        let stored = self.store.commit_streams(&commits, seen, now_ms)?;
        drop(commits);
        for (name, ..) in &parts {
            if let Some(s) = self.streams.get_mut(name) {
                s.persisted_to = s.line_no;
            }
        }
        Ok(stored)
    }

    /// Detects the format of new streams quiet for a moment with fewer
    /// than [`DETECT_LINES`] lines, cuts held runs of streams quiet for a
    /// moment into records, and flushes the open records of streams quiet
    /// for `flush_after`, as `watch` does with a quiet file.
    fn quiet(&mut self, now: Instant) -> crate::store::Result<()> {
        let mut pending: HashMap<String, Pending> = HashMap::new();
        let run_quiet = STREAM_RUN_QUIET.min(self.opts.flush_after);
        for (name, s) in &mut self.streams {
            let idle = now.saturating_duration_since(s.last_data);
            let mut events = Vec::new();
            if s.parser.is_none() {
                if idle < run_quiet || s.held.is_empty() {
                    continue;
                }
                let format = detect(s);
                self.store.set_stream_format(s.source_id, format.as_str())?;
                start_parser(s, format, &self.opts.context, &mut events);
            }
            let Some(parser) = s.parser.as_mut() else {
                continue;
            };
            if parser.oldest_pending_line().is_some() {
                if idle >= self.opts.flush_after {
                    parser.flush(&mut events);
                } else if idle >= run_quiet {
                    parser.release(&mut events);
                }
            }
            if !events.is_empty() || s.held.front().is_some_and(|(l, _)| *l < oldest_held(s)) {
                pending.insert(name.clone(), Pending { events });
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        self.commit(pending, &Digests::default(), now_ms)?;
        Ok(())
    }
}

/// The format of a stream's source row until its format is detected.
const DETECTING: &str = "detecting";

/// The first line a stream still needs: its parser's oldest pending line,
/// or, before the format is known, its first held line.
fn oldest_held(s: &Stream) -> u64 {
    match &s.parser {
        Some(p) => p.oldest_pending_line().unwrap_or(s.line_no + 1),
        None => s.held.front().map_or(s.line_no + 1, |(l, _)| *l),
    }
}

/// The format of a stream from its held first lines.
fn detect(s: &Stream) -> Format {
    let sample: Vec<&str> = s
        .held
        .iter()
        .take(DETECT_LINES)
        .map(|(_, t)| t.as_str())
        .collect();
    sniff(&sample, None).format
}

/// Starts the parser of `s` and feeds it the held lines (a replay after a
/// restart, or the lines its format was detected from).
fn start_parser(s: &mut Stream, format: Format, base: &Context, out: &mut Vec<Event<'static>>) {
    let head: String = s
        .held
        .iter()
        .take(DETECT_LINES)
        .map(|(_, t)| t.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let ctx = crate::source::with_year_at(base, &head, Some(chrono::Utc::now()));
    let mut parser = FileParser::new(format, ctx);
    let mut events = Vec::new();
    for (line_no, text) in &s.held {
        parser.feed(*line_no, text, &mut events);
        out.extend(events.drain(..).map(Event::into_owned));
    }
    s.parser = Some(parser);
}

/// Feeds one record's lines to its stream, numbering them (held until
/// the stream's format is known).
fn feed(
    s: &mut Stream,
    body: &str,
    now: Instant,
    base: &Context,
    out: &mut Vec<Event<'static>>,
) -> Option<Format> {
    s.last_data = now;
    let mut detected = None;
    let mut events = Vec::new();
    for line in body.split('\n') {
        s.line_no += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        match s.parser.as_mut() {
            Some(parser) => {
                parser.feed(s.line_no, line, &mut events);
                out.extend(events.drain(..).map(Event::into_owned));
                if parser.oldest_pending_line().is_some() {
                    s.hold(s.line_no, line.to_owned());
                }
            }
            None => {
                s.hold(s.line_no, line.to_owned());
                if s.held.len() >= DETECT_LINES {
                    let format = detect(s);
                    start_parser(s, format, base, out);
                    detected = Some(format);
                }
            }
        }
    }
    detected
}
