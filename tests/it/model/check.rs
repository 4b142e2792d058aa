//! What the database says after a model sequence, and how it differs from
//! the model (`super`): read through a read-only connection, so the daemon
//! under test stays the only writer; every check is a plain query.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use super::Expected;

/// A read-only connection to the daemon's database (none before it exists).
fn open(db: &Path) -> Option<rusqlite::Connection> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    conn.busy_timeout(Duration::from_secs(5)).ok()?;
    Some(conn)
}

/// Whether an event of request `id` is stored.
pub(super) fn stored(db: &Path, id: &str) -> bool {
    open(db).is_some_and(|c| {
        c.query_row(
            "SELECT EXISTS (SELECT 1 FROM events WHERE request_id = ?1)",
            [id],
            |r| r.get::<_, bool>(0),
        )
        .unwrap_or(false)
    })
}

/// What the database says, per request id.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Seen {
    /// request id → (event kind → how many events).
    events: HashMap<String, HashMap<String, i64>>,
    /// request id → the causes of its failure rows.
    failures: HashMap<String, Vec<String>>,
    /// Failed events linked to no failure row.
    undiagnosed: i64,
    /// Whether the diagnosis cursor covers the newest event.
    cursor_covers: bool,
}

pub(super) fn seen(db: &Path) -> rusqlite::Result<Seen> {
    let Some(c) = open(db) else {
        return Ok(Seen::default());
    };
    let mut out = Seen::default();
    let mut stmt = c.prepare(
        "SELECT coalesce(request_id, '(none)'), kind, count(*) FROM events GROUP BY 1, 2",
    )?;
    for row in stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
    })? {
        let (id, kind, n) = row?;
        out.events.entry(id).or_default().insert(kind, n);
    }
    let mut stmt = c.prepare("SELECT coalesce(request_id, '(none)'), cause FROM failures")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))? {
        let (id, cause) = row?;
        out.failures.entry(id).or_default().push(cause);
    }
    out.undiagnosed = c.query_row(
        "SELECT count(*) FROM events e WHERE (e.error IS NOT NULL OR e.status >= 400)
         AND NOT EXISTS (SELECT 1 FROM failure_events f WHERE f.event_id = e.id)",
        [],
        |r| r.get(0),
    )?;
    out.cursor_covers = c.query_row(
        "SELECT coalesce((SELECT event_id FROM cursors WHERE name = 'diagnosis'), 0)
                >= coalesce((SELECT max(id) FROM events), 0)",
        [],
        |r| r.get(0),
    )?;
    Ok(out)
}

/// Every way the database differs from the model (empty: it agrees).
pub(super) fn differences(
    model: &BTreeMap<String, Expected>,
    cut: &[String],
    seen: &Seen,
) -> Vec<String> {
    let mut out = Vec::new();
    for (id, e) in model {
        let kinds = seen.events.get(id);
        let causes = seen.failures.get(id).map_or(&[][..], Vec::as_slice);
        if let Some(doubled) = kinds.and_then(|k| k.iter().find(|(_, n)| **n > 1)) {
            out.push(format!("{id}: {} events of kind {}", doubled.1, doubled.0));
        }
        let present = kinds.is_some();
        if !present {
            if e.required {
                out.push(format!("{id}: required, no event stored"));
            }
            if !causes.is_empty() {
                out.push(format!("{id}: failures {causes:?} without an event"));
            }
            continue;
        }
        // A cut request (its record's end truncated away unread) is stored
        // as far as it was read: a Rails record without its `Completed`
        // line has no status, so no failure; at most one either way.
        if cut.contains(id) {
            if causes.len() > 1 {
                out.push(format!("{id}: cut, and failures {causes:?}"));
            }
            continue;
        }
        match e.cause {
            Some(cause) if causes != [cause] => {
                out.push(format!("{id}: failures {causes:?}, expected one {cause}"));
            }
            None if !causes.is_empty() => {
                out.push(format!(
                    "{id}: a successful request with failures {causes:?}"
                ));
            }
            _ => {}
        }
    }
    // A request id never written is allowed only as what a cut line left
    // (none, or the start of a cut line's id), at most once per cut line.
    let is_cut = |id: &str| id == "(none)" || cut.iter().any(|c| c.starts_with(id));
    let (mut cut_events, mut cut_failures) = (0, 0);
    for (id, kinds) in &seen.events {
        if model.contains_key(id) {
            continue;
        }
        if is_cut(id) {
            cut_events += kinds.values().sum::<i64>();
        } else {
            out.push(format!("{id}: stored, never written"));
        }
    }
    for (id, causes) in &seen.failures {
        if model.contains_key(id) {
            continue;
        }
        if is_cut(id) {
            cut_failures += causes.len();
        } else {
            out.push(format!("{id}: failures {causes:?}, never written"));
        }
    }
    if cut_events > cut.len() as i64 || cut_failures > cut.len() {
        out.push(format!(
            "{cut_events} events and {cut_failures} failures of cut lines, {} lines cut",
            cut.len()
        ));
    }
    if seen.undiagnosed != 0 {
        out.push(format!("{} failed events undiagnosed", seen.undiagnosed));
    }
    if !seen.cursor_covers {
        out.push("the diagnosis cursor is behind the newest event".into());
    }
    out.sort();
    out.dedup();
    out
}
