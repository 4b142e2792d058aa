//! Which record of a file line each event was read from, for the lines
//! that hold several: a CloudWatch document (`aws logs filter-log-events`)
//! or an OpenTelemetry file exporter's batch is one line holding many log
//! records, and the store keeps one event per line and kind unless
//! [`Event::part`] tells them apart (three refused grants in one such line
//! were one failure).
//!
//! The events of such a line are numbered per kind in the order the parser
//! gives them out, whenever that is (an unknown record is read when the
//! next one arrives, or at the end): the same lines fed in the same order,
//! after a restart, number them the same. A line that is one record is not
//! counted: its events keep part 0, as every event stored before had.
//!
//! Invariant: only the last [`KEPT_LINES`] lines of several records are
//! remembered; an event of an older one keeps part 0.

use std::collections::VecDeque;

use crate::event::{Event, EventKind};

/// Lines of several records remembered at once. An event is given out
/// within a few lines of its own (a record is held until the next one).
const KEPT_LINES: usize = 64;

/// The recent lines of several records, and how many events of each kind
/// each has given out.
#[derive(Debug, Default)]
pub(super) struct Parts {
    lines: VecDeque<(u64, Vec<(EventKind, u32)>)>,
}

impl Parts {
    /// Line `line_no` holds several records.
    pub(super) fn several_in(&mut self, line_no: u64) {
        if self.lines.iter().any(|(line, _)| *line == line_no) {
            return;
        }
        if self.lines.len() == KEPT_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back((line_no, Vec::new()));
    }

    /// Numbers `events`, just given out, that were read from such a line.
    pub(super) fn number(&mut self, events: &mut [Event<'_>]) {
        if self.lines.is_empty() {
            return;
        }
        for event in events {
            let line = event.line();
            let Some((_, kinds)) = self.lines.iter_mut().find(|(l, _)| *l == line) else {
                continue;
            };
            let at = match kinds.iter().position(|(kind, _)| *kind == event.kind) {
                Some(at) => at,
                None => {
                    kinds.push((event.kind, 0));
                    kinds.len() - 1
                }
            };
            event.part = kinds[at].1;
            kinds[at].1 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EvidenceLine;
    use crate::format::Format;

    fn event(kind: EventKind, line: u64) -> Event<'static> {
        let mut e = Event::new(kind, Format::JsonLines);
        e.evidence.push(EvidenceLine {
            line,
            text: "x".into(),
        });
        e
    }

    /// Events of a line of several records are numbered per kind, in the
    /// order given out, across calls; a one-record line's stay at 0.
    #[test]
    fn the_events_of_a_line_of_several_records_are_numbered_per_kind() {
        let mut parts = Parts::default();
        parts.several_in(7);
        let mut first = vec![
            event(EventKind::ClientError, 7),
            event(EventKind::TokenResponse, 7),
            event(EventKind::ClientError, 6),
        ];
        parts.number(&mut first);
        let mut later = vec![event(EventKind::ClientError, 7)];
        parts.number(&mut later);
        let got: Vec<u32> = first.iter().chain(&later).map(|e| e.part).collect();
        assert_eq!(got, [0, 0, 0, 1]);
    }

    /// Past [`KEPT_LINES`] lines of several records, the oldest is
    /// forgotten: its events keep part 0.
    #[test]
    fn only_the_recent_lines_are_remembered() {
        let mut parts = Parts::default();
        for line in 1..=(KEPT_LINES as u64 + 1) {
            parts.several_in(line);
        }
        let mut events = vec![
            event(EventKind::ClientError, 1),
            event(EventKind::ClientError, 1),
        ];
        parts.number(&mut events);
        assert_eq!(events.iter().map(|e| e.part).collect::<Vec<_>>(), [0, 0]);
        let mut recent = vec![
            event(EventKind::ClientError, 2),
            event(EventKind::ClientError, 2),
        ];
        parts.number(&mut recent);
        assert_eq!(recent.iter().map(|e| e.part).collect::<Vec<_>>(), [0, 1]);
    }
}
