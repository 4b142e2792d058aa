//! Printing: the readable `analyze` report (counts by cause, then each
//! failure with its summary, fix and evidence), the JSON Lines of the
//! contract, and the `lookup` story.

use std::io::{self, Write};

use crate::commands::Analysis;
use crate::ingest::ReadStats;
use crate::store::Store;
use crate::store::failures::FailureRecord;
use crate::store::labels::server_label;
use crate::store::story::RequestStory;
use crate::text::BinaryRuns;
use crate::time::format_ts;

/// Errors of printing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing the output failed (a closed pipe, a full disk).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// Reading the failures back failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// A failure could not be serialized.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// How many evidence lines the text report shows per failure.
const EVIDENCE_SHOWN: usize = 6;

/// Writes one JSON object per failure, in time order: a scratch
/// database's as its diagnosis rendered them ([`Store::each_rendered_line`]),
/// a kept one's from their rows.
pub fn json_lines(out: &mut dyn Write, store: &Store) -> Result<(), Error> {
    let mut id = Vec::with_capacity(32);
    let rendered = store.each_rendered_line(&mut |failure, rest| {
        id.clear();
        crate::store::write_failure_id(&mut id, failure);
        out.write_all(&id)?;
        out.write_all(rest)?;
        out.write_all(b"\n")?;
        Ok::<(), Error>(())
    })?;
    if rendered {
        return Ok(());
    }
    store.each_stored_failure_in_time_order(&mut |f| {
        f.write_json(&mut *out)?;
        out.write_all(b"\n")?;
        Ok::<(), Error>(())
    })
}

/// Writes to `err` one line per file left out of the analysis: those that
/// could not be read, and, for `--json` (whose stdout holds only failures),
/// those skipped as not logs and the binary runs skipped inside logs (the
/// text report lists those itself).
pub fn left_out(err: &mut dyn Write, r: &ReadStats, json: bool) -> io::Result<()> {
    for (path, why) in &r.unreadable {
        writeln!(err, "grantwatch: cannot read {}: {why}", path.display())?;
    }
    if json {
        for (path, why) in &r.skipped_files {
            writeln!(err, "grantwatch: skipped {}: {why}", path.display())?;
        }
        for (path, runs) in &r.binary {
            writeln!(err, "grantwatch: {}", binary_note(path, runs))?;
        }
    }
    Ok(())
}

/// "PATH: N binary runs (M lines) skipped".
fn binary_note(path: &std::path::Path, runs: &BinaryRuns) -> String {
    format!(
        "{}: {} binary run{} ({} line{}) skipped, the text around read",
        path.display(),
        runs.runs,
        if runs.runs == 1 { "" } else { "s" },
        runs.lines,
        if runs.lines == 1 { "" } else { "s" }
    )
}

/// Writes the readable report.
pub fn text(out: &mut dyn Write, analysis: &Analysis) -> Result<(), Error> {
    let r = &analysis.read;
    writeln!(
        out,
        "Read {} file{} ({} bytes, {} lines: {} about OAuth, {} unrecognised{}) in {:.2} s; diagnosed in {:.2} s.",
        r.files,
        if r.files == 1 { "" } else { "s" },
        r.bytes,
        r.lines.parsed + r.lines.skipped + r.lines.unknown,
        r.lines.parsed,
        r.lines.unknown,
        if r.lines_cut > 0 {
            format!(", {} cut at 1 MiB", r.lines_cut)
        } else {
            String::new()
        },
        analysis.read_time.as_secs_f64(),
        analysis.diagnose_time.as_secs_f64()
    )?;
    for (path, why) in &r.skipped_files {
        writeln!(out, "Skipped {}: {why}.", path.display())?;
    }
    for file in &r.per_file {
        writeln!(out, "  {}", file.describe())?;
    }
    for (path, runs) in &r.binary {
        writeln!(out, "In {}.", binary_note(path, runs))?;
    }
    for (path, _) in &r.unreadable {
        writeln!(out, "Could not read {} (see stderr).", path.display())?;
    }
    let counts = analysis.store.cause_counts()?;
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    if total == 0 {
        let unread: Vec<_> = r.per_file.iter().filter(|f| f.mostly_unknown()).collect();
        if unread.is_empty() {
            writeln!(out, "\nNo failed token requests found.")?;
        } else {
            writeln!(
                out,
                "\nNo failed token requests found, but {} of {} files were mostly not understood:",
                unread.len(),
                r.per_file.len()
            )?;
            for file in unread {
                writeln!(out, "  {}", file.describe())?;
            }
            writeln!(
                out,
                "Try --format or --envelope, or send us a few lines of such a file."
            )?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "\n{} failed token request{} by cause:",
        total,
        if total == 1 { "" } else { "s" }
    )?;
    for (cause, n) in counts {
        writeln!(out, "  {n:>6}  {cause}")?;
    }
    analysis.store.each_failure_in_time_order(&mut |f| {
        failure(out, &f)?;
        Ok::<(), Error>(())
    })
}

/// Writes one failure, readable.
pub fn failure(out: &mut dyn Write, f: &FailureRecord) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "== {}  {} ({} confidence)  [{}]",
        f.ts.as_deref().unwrap_or("time unknown"),
        f.cause,
        f.confidence,
        f.id
    )?;
    let mut facts = vec![format!("server {}", server_label(f.server))];
    facts.extend(f.client_id.as_ref().map(|c| format!("client {c}")));
    facts.extend(f.grant_type.as_ref().map(|g| format!("grant {g}")));
    facts.extend(f.http_status.map(|s| format!("HTTP {s}")));
    facts.extend(f.error.as_ref().map(|e| format!("error {e}")));
    facts.extend(f.request_id.as_ref().map(|r| format!("request {r}")));
    writeln!(out, "   {}", facts.join(", "))?;
    writeln!(out, "   Why: {}", f.summary)?;
    writeln!(out, "   Fix: {}", f.fix)?;
    for c in &f.candidates {
        writeln!(out, "   Also possible: {} ({})", c.cause, c.why)?;
    }
    if let Some(m) = &f.missing {
        writeln!(out, "   Would settle it: {m}")?;
    }
    for e in f.evidence.iter().take(EVIDENCE_SHOWN) {
        writeln!(out, "   {}:{}  {}", e.file, e.line, truncate(&e.text, 240))?;
    }
    if f.evidence.len() > EVIDENCE_SHOWN {
        writeln!(
            out,
            "   ... {} more evidence lines (see --json)",
            f.evidence.len() - EVIDENCE_SHOWN
        )?;
    }
    Ok(())
}

/// Writes the story of one request id, readable.
pub fn story(out: &mut dyn Write, s: &RequestStory) -> io::Result<()> {
    writeln!(
        out,
        "Request {}: {} event{}, {} failure{}.",
        s.request_id,
        s.events.len(),
        if s.events.len() == 1 { "" } else { "s" },
        s.failures.len(),
        if s.failures.len() == 1 { "" } else { "s" }
    )?;
    writeln!(out, "\nTimeline:")?;
    for e in &s.events {
        let ev = &e.event;
        writeln!(
            out,
            "  {}  {} ({}{}){}",
            ev.ts_ms
                .and_then(format_ts)
                .unwrap_or_else(|| "time unknown".into()),
            ev.kind.as_str(),
            ev.format.as_str(),
            ev.server
                .map(|s| format!(", {}", s.as_str()))
                .unwrap_or_default(),
            ev.status.map(|s| format!(" HTTP {s}")).unwrap_or_default()
        )?;
        for l in &e.lines {
            writeln!(
                out,
                "      {}:{}  {}",
                l.file,
                l.line,
                truncate(&l.text, 240)
            )?;
        }
    }
    for f in &s.failures {
        failure(out, f)?;
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}
