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
//! dropped and rebuilt from the store, as a restart would.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use grantwatch_parsers::{DETECT_LINES, Event, FileParser, Format, LineCounts, sniff};

use super::{Accepted, DEDUPE_WINDOW, FleetOptions, Job, source_path};
use crate::store::Store;
use crate::store::streams::StreamCommit;

/// Batches committed together at most (each answered after the commit).
const GROUP_JOBS: usize = 64;

/// Held lines kept per stream at most: past this the oldest are no longer
/// kept for a replay (a record that never completes cannot pin memory).
const MAX_HELD: usize = 50_000;

/// How long the thread waits for a batch before looking at quiet streams.
const TICK: Duration = Duration::from_millis(100);

/// One received stream's parser state.
struct Stream {
    source_id: i64,
    parser: FileParser,
    /// The last line number given out.
    line_no: u64,
    /// Lines from the parser's oldest pending line on.
    held: VecDeque<(u64, String)>,
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
}

pub(super) fn run(store: Store, rx: Receiver<Job>, queued: &AtomicUsize, opts: &FleetOptions) {
    let mut w = Writer {
        store,
        streams: HashMap::new(),
        opts,
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
        let bytes: usize = jobs.iter().map(|j| j.bytes).sum();
        if !jobs.is_empty() {
            let result = w.commit_jobs(&jobs);
            queued.fetch_sub(bytes, Ordering::AcqRel);
            answer(jobs, result);
        }
        if let Err(e) = w.quiet(Instant::now()) {
            eprintln!("grantwatch: storing received logs failed: {e}");
            w.streams.clear();
        }
    }
}

/// Sends every batch its answer.
fn answer(jobs: Vec<Job>, result: Result<Vec<Accepted>, String>) {
    match result {
        Ok(accepted) => {
            for (job, a) in jobs.into_iter().zip(accepted) {
                let _ = job.reply.send(Ok(a));
            }
        }
        Err(why) => {
            for job in jobs {
                let _ = job.reply.send(Err(why.clone()));
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
        let mut seen_now: HashSet<[u8; 16]> = HashSet::new();
        let mut accepted = Vec::with_capacity(jobs.len());
        let mut pending: HashMap<String, Pending> = HashMap::new();
        let mut digests = Vec::new();
        for job in jobs {
            let repeated = match &job.digest {
                Some(d) => seen_now.contains(d) || self.store.batch_seen(d, since_ms)?,
                None => false,
            };
            if repeated {
                accepted.push(Accepted {
                    records: job.records.len() as u64,
                    events: 0,
                    duplicate: true,
                });
                continue;
            }
            if let Some(d) = job.digest {
                seen_now.insert(d);
                digests.push(d);
            }
            self.open_streams(&job.records)?;
            let mut events = 0;
            for r in &job.records {
                let Some(stream) = self.streams.get_mut(&r.stream) else {
                    continue;
                };
                let out = pending.entry(r.stream.clone()).or_default();
                let before = out.events.len();
                feed(stream, &r.body, now, &mut out.events);
                events += (out.events.len() - before) as u64;
            }
            accepted.push(Accepted {
                records: job.records.len() as u64,
                events,
                duplicate: false,
            });
        }
        self.commit(pending, &digests, now_ms, since_ms)?;
        Ok(accepted)
    }

    /// Builds the states of the streams of `records` not followed yet: the
    /// stored row (and its held lines, replayed) or a new one, its format
    /// detected from the first lines that arrived.
    fn open_streams(&mut self, records: &[super::Record]) -> crate::store::Result<()> {
        let mut fresh: HashMap<&str, Vec<&str>> = HashMap::new();
        for r in records {
            if self.streams.contains_key(&r.stream) {
                continue;
            }
            let sample = fresh.entry(r.stream.as_str()).or_default();
            if sample.len() < DETECT_LINES {
                sample.extend(r.body.split('\n').take(DETECT_LINES - sample.len()));
            }
        }
        for (name, sample) in fresh {
            let path = source_path(name);
            let known = self
                .store
                .source_by_path(&path)?
                .filter(|s| s.inode.is_none());
            let (format, source) = match known {
                Some(s) => (Format::from_name(&s.format).unwrap_or(Format::Mixed), s),
                None => {
                    let sniffed = sniff(&sample, self.opts.context.envelope.forced());
                    let s = self.store.stream_source(&path, sniffed.format.as_str())?;
                    (sniffed.format, s)
                }
            };
            let head = sample.join("\n");
            let ctx =
                crate::ingest::with_year_at(&self.opts.context, &head, Some(chrono::Utc::now()));
            let mut stream = Stream {
                source_id: source.id,
                parser: FileParser::new(format, ctx),
                line_no: source.line_no,
                held: VecDeque::new(),
                persisted_to: source.line_no,
                last_data: Instant::now(),
                counts: LineCounts::default(),
            };
            // Lines held when the last run stopped: fed again, so their
            // records complete; events already stored are ignored.
            let replay = self.store.stream_pending(source.id)?;
            if !replay.is_empty() {
                let mut events = Vec::new();
                for (line_no, text) in &replay {
                    stream.parser.feed(*line_no, text, &mut events);
                }
                let owned: Vec<Event<'static>> =
                    events.into_iter().map(Event::into_owned).collect();
                stream.held = replay.into_iter().collect();
                stream.counts = stream.parser.counts();
                self.store.commit_streams(
                    &[StreamCommit {
                        source_id: source.id,
                        events: &owned,
                        counts: LineCounts::default(),
                        line_no: stream.line_no,
                        pending_from: 0,
                        new_pending: Vec::new(),
                    }],
                    &[],
                    chrono::Utc::now().timestamp_millis(),
                    0,
                )?;
            }
            self.streams.insert(name.to_owned(), stream);
        }
        Ok(())
    }

    /// Commits what the streams in `pending` produced, with their held
    /// lines, and the batches' digests.
    fn commit(
        &mut self,
        pending: HashMap<String, Pending>,
        digests: &[[u8; 16]],
        now_ms: i64,
        since_ms: i64,
    ) -> crate::store::Result<u64> {
        let mut parts = Vec::with_capacity(pending.len());
        for (name, p) in pending {
            let Some(s) = self.streams.get_mut(&name) else {
                continue;
            };
            let counts = s.parser.counts();
            let added = LineCounts {
                parsed: counts.parsed.saturating_sub(s.counts.parsed),
                skipped: counts.skipped.saturating_sub(s.counts.skipped),
                unknown: counts.unknown.saturating_sub(s.counts.unknown),
            };
            s.counts = counts;
            let from = s.parser.oldest_pending_line().unwrap_or(s.line_no + 1);
            while s.held.front().is_some_and(|(l, _)| *l < from) {
                s.held.pop_front();
            }
            while s.held.len() > MAX_HELD {
                s.held.pop_front();
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
        let stored = self
            .store
            .commit_streams(&commits, digests, now_ms, since_ms)?;
        drop(commits);
        for (name, ..) in &parts {
            if let Some(s) = self.streams.get_mut(name) {
                s.persisted_to = s.line_no;
            }
        }
        Ok(stored)
    }

    /// Cuts held runs of streams quiet for a moment into records, and
    /// flushes the open records of streams quiet for `flush_after`, as
    /// `watch` does with a quiet file.
    fn quiet(&mut self, now: Instant) -> crate::store::Result<()> {
        let mut pending: HashMap<String, Pending> = HashMap::new();
        for (name, s) in &mut self.streams {
            if s.parser.oldest_pending_line().is_none() {
                continue;
            }
            let idle = now.saturating_duration_since(s.last_data);
            let mut events = Vec::new();
            if idle >= self.opts.flush_after {
                s.parser.flush(&mut events);
            } else if idle >= crate::watch::RUN_QUIET {
                s.parser.release(&mut events);
            } else {
                continue;
            }
            let owned = events.into_iter().map(Event::into_owned).collect();
            pending.insert(name.clone(), Pending { events: owned });
        }
        if pending.is_empty() {
            return Ok(());
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        self.commit(pending, &[], now_ms, 0)?;
        Ok(())
    }
}

/// Feeds one record's lines to its stream, numbering them.
fn feed(s: &mut Stream, body: &str, now: Instant, out: &mut Vec<Event<'static>>) {
    s.last_data = now;
    let mut events = Vec::new();
    for line in body.split('\n') {
        s.line_no += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        s.parser.feed(s.line_no, line, &mut events);
        out.extend(events.drain(..).map(Event::into_owned));
        if s.parser.oldest_pending_line().is_some() {
            s.held.push_back((s.line_no, line.to_owned()));
        }
    }
}
