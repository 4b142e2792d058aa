//! `GET /sources`: every file and stream read, with what it was read as
//! (envelope and format, in the words `analyze` reports), its line counts,
//! offset and clock, and what the running daemon skips or reads past. Read
//! only; the counts come from the store, the skipped files from [`crate::live`].

use askama::Template;
use axum::extract::State;

use super::{PageResult, ms_text, ok};
use crate::ingest::FileReport;
use crate::store::sources::SourceDetail;
use crate::web::state::AppState;
use grantwatch_parsers::{Format, LineCounts};

struct SourceView {
    path: String,
    /// "read as Kubernetes CRI around rails", or "looks like … around an
    /// unknown format".
    read_as: String,
    lines_understood: u64,
    lines_read: u64,
    lines_unknown: u64,
    byte_offset: u64,
    clock: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "sources.html")]
struct SourcesPage {
    sources: Vec<SourceView>,
    /// What the reader does (`watch` only): reading, or why not.
    reader: Option<String>,
    /// Files the running daemon does not read: (path, why).
    skipped: Vec<(String, String)>,
    /// Logs with binary runs read past: (path, runs, lines).
    binary: Vec<(String, u64, u64)>,
}

fn clock_text(s: &SourceDetail) -> String {
    let offset = s.clock_offset_ms.map(|ms| {
        let secs = ms as f64 / 1000.0;
        format!("offset {secs:+.3} s")
    });
    match (offset, s.clock_note.as_deref().filter(|n| !n.is_empty())) {
        (Some(o), Some(n)) => format!("{o} ({n})"),
        (Some(o), None) => o,
        (None, Some(n)) => n.to_owned(),
        (None, None) => "—".to_owned(),
    }
}

/// What a source was read as, in the words `analyze` reports it with.
fn read_as(s: &SourceDetail) -> String {
    FileReport {
        path: s.path.clone().into(),
        envelope: s.envelope,
        format: Format::from_name(&s.format).unwrap_or(Format::Mixed),
        lines: s.lines_read,
        counts: LineCounts {
            parsed: s.lines_parsed,
            skipped: s.lines_skipped,
            unknown: s.lines_unknown,
        },
    }
    .read_as()
}

/// `GET /sources`: every source generation with its counts and offsets.
pub async fn sources(State(state): State<AppState>) -> PageResult {
    let details = state.read(|store| Ok(store.source_details()?)).await?;
    let live = state
        .live
        .as_ref()
        .map(|l| l.snapshot())
        .unwrap_or_default();
    ok(&SourcesPage {
        skipped: live
            .skipped
            .iter()
            .map(|(p, why)| (p.display().to_string(), why.clone()))
            .collect(),
        binary: live
            .binary
            .iter()
            .map(|(p, r)| (p.display().to_string(), r.runs, r.lines))
            .collect(),
        sources: details
            .iter()
            .map(|s| SourceView {
                path: s.path.clone(),
                read_as: read_as(s),
                lines_understood: s.lines_parsed + s.lines_skipped,
                lines_read: s.lines_read,
                lines_unknown: s.lines_unknown,
                byte_offset: s.byte_offset,
                clock: clock_text(s),
                updated: ms_text(s.updated_ms),
            })
            .collect(),
        reader: state.health.as_ref().map(|h| h.snapshot().describe()),
    })
}
