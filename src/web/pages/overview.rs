//! The overview page (`GET /`): failures per cause over the last hour, day
//! and week, stacked bar charts drawn on the server as inline SVG, the top
//! clients and servers per cause, and the newest failures.
//!
//! The windows end at "now": the newest failure's time when it is older than
//! the wall clock (old logs still show something), else the wall clock.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;

use super::{PageResult, Row, list_href, ms_text, ok, row};
use crate::diagnose::cause::ALL_CAUSES;
use crate::store::failures::FailureFilter;
use crate::store::labels::{UNKNOWN_SERVER, server_label};
use crate::store::rollups::SLOT_MS;
use crate::store::rollups::slot_floor;
use crate::store::stats::Bucket;
use crate::time::parse_ts;
use crate::web::error::WebError;
use crate::web::state::AppState;

/// Failures in the overview's "newest" table.
const NEWEST: u32 = 20;
/// Clients and servers listed per cause on the overview.
const TOP: usize = 3;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// One color per cause, in `ALL_CAUSES` order (SVG `fill`).
const PALETTE: [&str; 21] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#555555",
];

fn cause_color(cause: &str) -> &'static str {
    ALL_CAUSES
        .iter()
        .position(|c| c.as_str() == cause)
        .and_then(|i| PALETTE.get(i).copied())
        .unwrap_or("#555555")
}

fn cause_rank(cause: &str) -> usize {
    ALL_CAUSES
        .iter()
        .position(|c| c.as_str() == cause)
        .unwrap_or(ALL_CAUSES.len())
}

struct CountRow {
    cause: String,
    color: &'static str,
    href: String,
    hour: u64,
    day: u64,
    week: u64,
}

struct Bar {
    x: String,
    y: String,
    w: String,
    h: String,
    fill: &'static str,
    title: String,
}

struct AxisLabel {
    x: String,
    text: String,
}

struct Chart {
    title: String,
    width: u32,
    height: u32,
    left: u32,
    top: u32,
    base: u32,
    max: u64,
    bars: Vec<Bar>,
    labels: Vec<AxisLabel>,
}

struct Named {
    name: String,
    href: String,
    count: u64,
}

struct CauseTop {
    cause: String,
    href: String,
    total: u64,
    clients: Vec<Named>,
    servers: Vec<Named>,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    now: String,
    now_basis: &'static str,
    total: u64,
    undated: u64,
    counts: Vec<CountRow>,
    spikes: Vec<Spike>,
    totals: (u64, u64, u64),
    charts: Vec<Chart>,
    tops: Vec<CauseTop>,
    rows: Vec<Row>,
    /// Open incidents (all of them) and the first few, shown first.
    open_total: u64,
    incidents: Vec<super::incidents::IncidentRow>,
}

/// A cause that is new or above its own baseline in the last window.
struct Spike {
    cause: String,
    href: String,
    count: u64,
    /// Its usual range per window over the baseline (10th to 90th
    /// percentile).
    low: u64,
    high: u64,
    new: bool,
}

/// The spike window and how many slots before it make the baseline (a day).
const SPIKE_WINDOW_MS: i64 = 15 * 60 * 1000;
const BASELINE_SLOTS: i64 = 96;

/// Causes whose count in the last 15 minutes is new (none in the day
/// before) or above the 90th percentile of their own last day, and at least
/// 3. The baseline is the 96 whole 15-minute slots before the window.
fn spikes(store: &crate::store::Store, until: i64) -> Result<Vec<Spike>, WebError> {
    let since = until - SPIKE_WINDOW_MS;
    let current = store.cause_counts_between(since, until)?;
    let baseline_end = slot_floor(since);
    let baseline_start = baseline_end - SLOT_MS * BASELINE_SLOTS;
    let mut baselines: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (slot, cause, n) in store.slot_counts(baseline_start, baseline_end)? {
        let slots = baselines
            .entry(cause)
            .or_insert_with(|| vec![0; BASELINE_SLOTS as usize]);
        let i = (slot - baseline_start) / SLOT_MS;
        if let Some(v) = usize::try_from(i).ok().and_then(|i| slots.get_mut(i)) {
            *v = n;
        }
    }
    let mut out = Vec::new();
    for (cause, count) in current {
        let mut sorted = baselines.remove(&cause).unwrap_or_default();
        sorted.resize(BASELINE_SLOTS as usize, 0);
        sorted.sort_unstable();
        let pick = |q: usize| sorted.get(sorted.len() * q / 100).copied().unwrap_or(0);
        let (low, high) = (pick(10), pick(90));
        let new = sorted.iter().all(|&n| n == 0);
        if count >= 3 && (new || count > high) {
            out.push(Spike {
                href: list_href(&[("cause", &cause)]),
                cause,
                count,
                low,
                high,
                new,
            });
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.count));
    Ok(out)
}

/// Counts per cause per slot: `slots` buckets of `bucket`, the last one
/// holding `now`.
struct Slots {
    bucket: Bucket,
    first_start: i64,
    counts: Vec<BTreeMap<String, u64>>,
}

fn floor_to(ms: i64, width: i64) -> i64 {
    ms - ms.rem_euclid(width)
}

fn slots(
    store: &crate::store::Store,
    bucket: Bucket,
    n: usize,
    now: i64,
) -> Result<Slots, WebError> {
    let width = bucket.width_ms();
    let last = floor_to(now, width);
    let first_start = last - (n as i64 - 1) * width;
    let filter = FailureFilter {
        since_ms: Some(first_start),
        until_ms: Some(last + width),
        ..FailureFilter::default()
    };
    let series = store.cause_series(bucket, &filter)?;
    let mut counts = vec![BTreeMap::new(); n];
    for b in series.series {
        let Some(start) = parse_ts(&b.start) else {
            continue;
        };
        let i = (start - first_start) / width;
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| counts.get_mut(i)) {
            *slot = b.counts;
        }
    }
    Ok(Slots {
        bucket,
        first_start,
        counts,
    })
}

/// A stacked bar chart of `slots`, as SVG shapes.
fn chart(title: &str, slots: &Slots) -> Chart {
    let (width, height, left, top, bottom) = (720u32, 220u32, 40u32, 10u32, 20u32);
    let base = height - bottom;
    let plot_h = f64::from(base - top);
    let n = slots.counts.len().max(1);
    let step = f64::from(width - left) / n as f64;
    let bar_w = (step * 0.8).max(1.0);
    let max = slots
        .counts
        .iter()
        .map(|c| c.values().sum::<u64>())
        .max()
        .unwrap_or(0);
    let width_ms = slots.bucket.width_ms();
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    let label_every = if n > 12 { 3 } else { 1 };
    for (i, counts) in slots.counts.iter().enumerate() {
        let start = slots.first_start + i as i64 * width_ms;
        let start_text = ms_text(Some(start));
        let x = f64::from(left) + step * i as f64 + (step - bar_w) / 2.0;
        let mut y = f64::from(base);
        let mut causes: Vec<(&String, &u64)> = counts.iter().collect();
        causes.sort_by_key(|(c, _)| cause_rank(c));
        for (cause, &count) in causes {
            if count == 0 || max == 0 {
                continue;
            }
            let h = plot_h * count as f64 / max as f64;
            y -= h;
            bars.push(Bar {
                x: format!("{x:.1}"),
                y: format!("{y:.1}"),
                w: format!("{bar_w:.1}"),
                h: format!("{h:.1}"),
                fill: cause_color(cause),
                title: format!("{cause}: {count} ({start_text})"),
            });
        }
        if i % label_every == 0 {
            let text = match slots.bucket {
                Bucket::Hour => start_text.get(11..16).unwrap_or("").to_owned(),
                Bucket::Day => start_text.get(5..10).unwrap_or("").to_owned(),
            };
            labels.push(AxisLabel {
                x: format!("{:.1}", x + bar_w / 2.0),
                text,
            });
        }
    }
    Chart {
        title: title.to_owned(),
        width,
        height,
        left,
        top,
        base,
        max,
        bars,
        labels,
    }
}

fn top_named(counts: &BTreeMap<String, u64>, cause: &str, key: &str, unknown: &str) -> Vec<Named> {
    let mut v: Vec<(&String, &u64)> = counts.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v.into_iter()
        .take(TOP)
        .map(|(name, &count)| Named {
            name: if name.is_empty() {
                unknown.to_owned()
            } else {
                name.clone()
            },
            href: if name.is_empty() {
                list_href(&[("cause", cause)])
            } else {
                list_href(&[("cause", cause), (key, name)])
            },
            count,
        })
        .collect()
}

/// The top clients and servers of each cause over the UTC days from six
/// days before `now`'s to `now`'s (the daily rollup's buckets), most
/// failures first.
fn tops(store: &crate::store::Store, now: i64) -> Result<Vec<CauseTop>, WebError> {
    let since_day = now - now.rem_euclid(DAY_MS) - 6 * DAY_MS;
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut clients: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut servers: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for c in store.day_label_counts(since_day, now + 1)? {
        // Keyed by the labels' text: ties sort by name.
        let cause = c.cause.as_str();
        *totals.entry(cause.to_owned()).or_insert(0) += c.count;
        *clients
            .entry(cause.to_owned())
            .or_default()
            .entry(c.client)
            .or_insert(0) += c.count;
        *servers
            .entry(cause.to_owned())
            .or_default()
            .entry(server_label(c.server).to_owned())
            .or_insert(0) += c.count;
    }
    let mut tops: Vec<CauseTop> = totals
        .into_iter()
        .map(|(cause, total)| CauseTop {
            href: list_href(&[("cause", &cause)]),
            total,
            clients: clients
                .get(&cause)
                .map(|m| top_named(m, &cause, "client", "(no client id)"))
                .unwrap_or_default(),
            servers: servers
                .get(&cause)
                .map(|m| top_named(m, &cause, "server", UNKNOWN_SERVER))
                .unwrap_or_default(),
            cause,
        })
        .collect();
    tops.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.cause.cmp(&b.cause)));
    Ok(tops)
}

fn overview_page(store: &crate::store::Store) -> Result<OverviewPage, WebError> {
    let wall = chrono::Utc::now().timestamp_millis();
    // "Now" is the newest failure's time when it is older than the wall
    // clock, so that old logs still show something. Failures dated after
    // the wall clock (a skewed clock, a guessed year) do not count.
    let (now, now_basis) = match store.latest_failure_ms(wall)? {
        Some(l) if l < wall => (l, "the newest failure's time, older than the wall clock"),
        _ => (wall, "the wall clock"),
    };
    // `until` is exclusive: the failure at `now` belongs to every window.
    let until = now + 1;
    let hour = store.cause_counts_between(until - HOUR_MS, until)?;
    let spikes = spikes(store, until)?;
    let day = store.cause_counts_between(until - DAY_MS, until)?;
    let week = store.cause_counts_between(until - WEEK_MS, until)?;
    let mut counts: Vec<CountRow> = week
        .iter()
        .map(|(cause, &w)| CountRow {
            cause: cause.clone(),
            color: cause_color(cause),
            href: list_href(&[("cause", cause)]),
            hour: hour.get(cause).copied().unwrap_or(0),
            day: day.get(cause).copied().unwrap_or(0),
            week: w,
        })
        .collect();
    counts.sort_by(|a, b| b.week.cmp(&a.week).then_with(|| a.cause.cmp(&b.cause)));
    let totals = counts
        .iter()
        .fold((0, 0, 0), |t, c| (t.0 + c.hour, t.1 + c.day, t.2 + c.week));
    let tops = tops(store, now)?;
    let charts = vec![
        chart(
            "Failures per hour, last 24 hours",
            &slots(store, Bucket::Hour, 24, now)?,
        ),
        chart(
            "Failures per day, last 7 days",
            &slots(store, Bucket::Day, 7, now)?,
        ),
    ];
    let total = store.total_failures()?;
    let newest = store.newest_failures(NEWEST)?;
    let (open_total, incidents) = super::incidents::open_incidents(store, now)?;
    let undated = store.undated_failures()?;
    Ok(OverviewPage {
        now: ms_text(Some(now)),
        now_basis,
        total,
        undated,
        counts,
        spikes,
        totals,
        charts,
        tops,
        rows: newest.iter().map(row).collect(),
        open_total,
        incidents,
    })
}

/// `GET /`: counts per cause, charts, top clients and servers, newest
/// failures.
pub async fn overview(State(state): State<AppState>) -> PageResult {
    let page = state.read(overview_page).await?;
    ok(&page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_a_color() {
        assert_eq!(PALETTE.len(), ALL_CAUSES.len());
        assert_eq!(cause_color("unknown"), PALETTE[20]);
    }

    #[test]
    fn chart_bars_stack_within_the_plot() {
        let mut a = BTreeMap::new();
        a.insert("code_reused".to_owned(), 3);
        a.insert("clock_skew".to_owned(), 1);
        let s = Slots {
            bucket: Bucket::Hour,
            first_start: 0,
            counts: vec![a, BTreeMap::new()],
        };
        let c = chart("t", &s);
        assert_eq!(c.max, 4);
        assert_eq!(c.bars.len(), 2);
        let top: f64 = c
            .bars
            .iter()
            .map(|b| b.y.parse::<f64>().expect("y"))
            .fold(f64::MAX, f64::min);
        assert!((top - f64::from(c.top)).abs() < 0.2, "{top}");
    }
}
