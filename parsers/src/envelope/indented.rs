//! A CloudWatch export as `aws logs filter-log-events` (or `get-log-events`)
//! prints it, indented, read line by line: each event object's lines are
//! held from its lone `{` to its `}` and give the event's message as one
//! record, with its time and log stream; the lines of the document's frame
//! (`{`, `"events": [`, `],`, `"searchedLogStreams": [`, its objects,
//! `"nextToken": …`, `}`) are the envelope's and give none.
//!
//! Joined as one JSON block, an export larger than the reassembly holds
//! (400 lines, about 55 events) was never read as a document, and the
//! format detection saw none of its messages: a saved export of a
//! Keycloak log was read as an unknown format, its failures without time
//! or server. Read here, an export of any size is read event by event, and
//! a range reader that starts inside one finds its footing at the next
//! event object.
//!
//! Invariants: a line held is given back exactly once, as an event's, as a
//! frame line, or as a plain line (in file order, before the line that
//! showed it was no event's); at most [`MAX_HELD_LINES`] lines and
//! [`MAX_HELD_BYTES`] bytes are held; a pretty-printed JSON body of an
//! application (an error response) is given back line for line as it came.
//! Only between documents, with nothing held, is this reader at rest, and
//! whether the lines before showed an export ([`IndentedExport::in_export`])
//! is part of how it reads the next.

use serde_json::{Map, Value};

use super::model::Piece;

/// Lines an event object may span: five keys, its braces, room to spare.
pub(super) const MAX_HELD_LINES: usize = 32;
/// Bytes an event object may hold: CloudWatch's largest event is 256 KiB.
pub(super) const MAX_HELD_BYTES: usize = 1024 * 1024;

/// The keys of an event object (`filter-log-events` writes all five,
/// `get-log-events` the middle three).
const EVENT_KEYS: [&str; 5] = [
    "logStreamName",
    "timestamp",
    "message",
    "ingestionTime",
    "eventId",
];
/// The keys of a `searchedLogStreams` object.
const SEARCHED_KEYS: [&str; 2] = ["logStreamName", "searchedCompletely"];
/// Keys of the document's own lines, whose value is a token or a list.
const FRAME_KEYS: [&str; 5] = [
    "\"events\":",
    "\"searchedLogStreams\":",
    "\"nextToken\":",
    "\"nextForwardToken\":",
    "\"nextBackwardToken\":",
];

/// The reader's state, kept by the envelope layer for one file.
#[derive(Debug, Default)]
pub(super) struct IndentedExport {
    held: Option<Held>,
    in_export: bool,
    /// Whether a line was offered before (`start_line`).
    started: bool,
}

/// The lines of an object, from its lone `{`.
#[derive(Debug)]
struct Held {
    lines: Vec<(u64, String)>,
    bytes: usize,
    message_line: Option<u64>,
    /// Whether its lone `{` was seen: a reader that starts inside an
    /// object holds its tail without one.
    opened: bool,
}

/// What became of one line.
#[derive(Debug)]
pub(super) enum Step {
    /// No export's: read as it would be without this reader.
    Pass,
    /// Held until its object ends.
    Held,
    /// Lines of the document's frame, this one among them: no record.
    Frame(u64),
    /// An event object ended with this line: its record, first found at
    /// the message's line, and the lines it spanned.
    Event {
        line_no: u64,
        piece: Piece<'static>,
        lines: u64,
    },
    /// Taken among the lines released to be read as plain lines.
    Released,
}

/// One line's outcome: lines held before that are no export's, to be read
/// as plain lines first and in order, and what became of this one.
#[derive(Debug)]
pub(super) struct Taken {
    pub released: Vec<(u64, String)>,
    pub step: Step,
}

impl IndentedExport {
    /// Whether `line` may concern this reader: a cheap test of its first
    /// byte that lets most lines of a log go by untouched.
    pub(super) fn may_take(&self, line: &str) -> bool {
        self.held.is_some()
            || matches!(
                line.trim_ascii_start().as_bytes().first(),
                Some(b'{' | b'}' | b'[' | b']' | b'"')
            )
    }

    /// Whether a line is held.
    pub(super) fn is_holding(&self) -> bool {
        self.held.is_some()
    }

    /// The first line held, if any.
    pub(super) fn oldest_line(&self) -> Option<u64> {
        self.held
            .as_ref()
            .and_then(|h| h.lines.first())
            .map(|(n, _)| *n)
    }

    /// Whether the lines before showed an export, so that a bracket alone
    /// on its line is its frame's.
    pub(super) fn in_export(&self) -> bool {
        self.in_export
    }

    /// Notes that a line comes, whether offered to [`Self::take`] or not:
    /// `true` for the first line this reader sees, which may be inside an
    /// event object when it is not the file's first (a range of the file
    /// read by a core of its own: the caller decides).
    pub(super) fn start_line(&mut self) -> bool {
        !std::mem::replace(&mut self.started, true)
    }

    /// Where this reader stands for a handover (see
    /// [`crate::handover::RestMark`]): `None` while it holds the tail of
    /// an object it did not see open; else the first line and the number
    /// of lines of the object it holds, if any. Two readers holding the
    /// same lines of the same object read the next lines alike.
    pub(super) fn rest(&self) -> Option<Option<(u64, usize)>> {
        match &self.held {
            None => Some(None),
            Some(held) if held.opened => {
                Some(held.lines.first().map(|(n, _)| (*n, held.lines.len())))
            }
            Some(_) => None,
        }
    }

    /// Reads one line; `first` when it is the first line this reader sees.
    pub(super) fn take(&mut self, line_no: u64, line: &str, first: bool) -> Taken {
        let trimmed = line.trim_ascii();
        if self.held.is_some() {
            return self.take_held(line_no, line, trimmed);
        }
        taken(self.take_idle(line_no, line, trimmed, first))
    }

    /// Everything held, to be read as plain lines (the end of the input).
    pub(super) fn release(&mut self) -> Vec<(u64, String)> {
        self.in_export = false;
        self.held.take().map(|h| h.lines).unwrap_or_default()
    }

    fn take_idle(&mut self, line_no: u64, line: &str, trimmed: &str, first: bool) -> Step {
        if trimmed == "{" {
            self.hold(line_no, line, trimmed, true);
            return Step::Held;
        }
        // A bracket alone is the frame's once an export was seen, or as
        // the first line read: the end of an object or list cut there.
        let bracket = matches!(trimmed, "[" | "]" | "]," | "}" | "},");
        if (bracket && (self.in_export || first)) || is_frame_key_line(trimmed) {
            self.in_export = true;
            return Step::Frame(1);
        }
        if first && is_scalar_key_line(trimmed) {
            // The tail of an object whose `{` came before this reader's
            // first line.
            self.hold(line_no, line, trimmed, false);
            return Step::Held;
        }
        self.in_export = false;
        Step::Pass
    }

    fn hold(&mut self, line_no: u64, line: &str, trimmed: &str, opened: bool) {
        self.held = Some(Held {
            lines: vec![(line_no, line.to_owned())],
            bytes: line.len(),
            message_line: is_message_line(trimmed).then_some(line_no),
            opened,
        });
    }

    fn take_held(&mut self, line_no: u64, line: &str, trimmed: &str) -> Taken {
        let Some(held) = self.held.as_mut() else {
            return taken(Step::Pass);
        };
        // `{` then `"events": [`: the document's own start.
        if held.opened && held.lines.len() == 1 && is_frame_key_line(trimmed) {
            self.held = None;
            self.in_export = true;
            return taken(Step::Frame(2));
        }
        if matches!(trimmed, "}" | "},") {
            return self.close(line_no, line);
        }
        let room = held.lines.len() < MAX_HELD_LINES && held.bytes + line.len() <= MAX_HELD_BYTES;
        if room && is_scalar_key_line(trimmed) {
            if is_message_line(trimmed) {
                held.message_line = Some(line_no);
            }
            held.bytes += line.len();
            held.lines.push((line_no, line.to_owned()));
            return taken(Step::Held);
        }
        // No event object: what was held goes back, and this line is read
        // afresh (it may start an object of its own).
        let released = self.release();
        let step = self.take_idle(line_no, line, trimmed, false);
        Taken { released, step }
    }

    /// The object ends at `line`: an event, a searched stream of the frame,
    /// or an application's JSON given back.
    fn close(&mut self, line_no: u64, line: &str) -> Taken {
        let Some(mut held) = self.held.take() else {
            return taken(Step::Pass);
        };
        held.lines.push((line_no, line.to_owned()));
        let lines = held.lines.len() as u64;
        // The braces' lines are `{` and `}`: the keys between them, each
        // without the comma that followed it, make the object again.
        let from = usize::from(held.opened);
        let keys = held.lines[from..held.lines.len() - 1]
            .iter()
            .map(|(_, l)| l.trim_ascii().trim_end_matches(','))
            .collect::<Vec<_>>();
        let text = format!("{{{}}}", keys.join(","));
        let map = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let piece = if held.opened {
            event_piece(&map)
        } else {
            tail_piece(&map)
        };
        if let Some(piece) = piece {
            self.in_export = true;
            let at = held.message_line.unwrap_or(held.lines[0].0);
            return taken(Step::Event {
                line_no: at,
                piece,
                lines,
            });
        }
        let known =
            |keys: &[&str]| !map.is_empty() && map.keys().all(|k| keys.contains(&k.as_str()));
        let searched = known(&SEARCHED_KEYS) && (self.in_export || !held.opened);
        // A cut object's tail without its message (`"eventId": "…"`).
        let tail = !held.opened && known(&EVENT_KEYS);
        if searched || tail {
            self.in_export = true;
            return taken(Step::Frame(lines));
        }
        self.in_export = false;
        Taken {
            released: held.lines,
            step: Step::Released,
        }
    }
}

fn taken(step: Step) -> Taken {
    Taken {
        released: Vec::new(),
        step,
    }
}

/// An event object's record: only CloudWatch's keys, a message and a
/// numeric time, and one of the keys an application's own JSON would not
/// have (a Spring error body has a `timestamp` and a `message` too).
fn event_piece(map: &Map<String, Value>) -> Option<Piece<'static>> {
    let only_event_keys = map.keys().all(|k| EVENT_KEYS.contains(&k.as_str()));
    let ours = ["logStreamName", "ingestionTime", "eventId"]
        .iter()
        .any(|k| map.contains_key(*k));
    let timed = map.get("timestamp").is_some_and(Value::is_number);
    let message = map.get("message").is_some_and(Value::is_string);
    if !(only_event_keys && ours && timed && message) {
        return None;
    }
    super::shipper::cloudwatch_event_piece(map)
}

/// The record of an event object's tail (its `{` and first keys before
/// the reader's first line): only CloudWatch's keys and a message; the
/// time when the tail still holds it.
fn tail_piece(map: &Map<String, Value>) -> Option<Piece<'static>> {
    let only_event_keys = map.keys().all(|k| EVENT_KEYS.contains(&k.as_str()));
    let message = map.get("message").is_some_and(Value::is_string);
    if !(only_event_keys && message) {
        return None;
    }
    super::shipper::cloudwatch_event_piece(map)
}

/// The line of an event's message, whose line its record is given.
fn is_message_line(trimmed: &str) -> bool {
    trimmed.starts_with("\"message\":")
}

/// `"key": value` with a value that is not an object or a list opened on
/// this line.
fn is_scalar_key_line(trimmed: &str) -> bool {
    trimmed.starts_with('"')
        && trimmed.contains("\": ")
        && !trimmed.ends_with('{')
        && !trimmed.ends_with('[')
}

/// A line of the document's frame: `"events": [`, `"nextToken": "…",`.
fn is_frame_key_line(trimmed: &str) -> bool {
    let Some(key) = FRAME_KEYS.iter().find(|k| trimmed.starts_with(**k)) else {
        return false;
    };
    let value = trimmed[key.len()..].trim_ascii().trim_end_matches(',');
    if key.ends_with("s\":") {
        // The two lists, opened here or empty.
        return value == "[" || value == "[]";
    }
    value.len() >= 2
        && value.starts_with('"')
        && value.ends_with('"')
        && !value[1..value.len() - 1].contains('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each line of `text` became: `P` pass, `H` held, `F` frame,
    /// `E` event (its record's line and text), `R` released lines.
    fn steps(text: &str) -> Vec<String> {
        let mut reader = IndentedExport::default();
        let mut got = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let first = reader.start_line();
            let t = reader.take(i as u64 + 1, line, first);
            for (n, _) in &t.released {
                got.push(format!("R{n}"));
            }
            got.push(match t.step {
                Step::Pass => "P".to_owned(),
                Step::Held => "H".to_owned(),
                Step::Frame(n) => format!("F{n}"),
                Step::Event { line_no, piece, .. } => format!("E{line_no}:{}", piece.text),
                Step::Released => "-".to_owned(),
            });
        }
        for (n, _) in reader.release() {
            got.push(format!("R{n}"));
        }
        got
    }

    const EXPORT: &str = r#"{
    "events": [
        {
            "logStreamName": "web/1",
            "timestamp": 1741680000123,
            "message": "first, with \"quotes\"",
            "ingestionTime": 1741680000500,
            "eventId": "1"
        },
        {
            "logStreamName": "web/1",
            "timestamp": 1741680001123,
            "message": "second",
            "ingestionTime": 1741680001500,
            "eventId": "2"
        }
    ],
    "searchedLogStreams": [
        {
            "logStreamName": "web/1",
            "searchedCompletely": true
        }
    ],
    "nextToken": "Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCrI"
}"#;

    #[test]
    fn every_line_of_an_export_is_an_event_or_its_frame() {
        let got = steps(EXPORT).join(" | ");
        let want = "H | F2 | H | H | H | H | H | H | E6:first, with \"quotes\" | \
                    H | H | H | H | H | H | E13:second | F1 | F1 | H | H | H | F4 | F1 | F1 | F1";
        assert_eq!(got, want);
    }

    #[test]
    fn an_event_gives_its_time_and_stream() {
        let mut reader = IndentedExport::default();
        let mut event = None;
        for (i, line) in EXPORT.lines().enumerate() {
            let first = reader.start_line();
            if let Step::Event { piece, .. } = reader.take(i as u64 + 1, line, first).step {
                event.get_or_insert(piece);
            }
        }
        let piece = event.expect("an event");
        let time = piece.meta.time.get().expect("a time");
        assert_eq!(time.timestamp_millis(), 1_741_680_000_123);
        assert_eq!(piece.meta.unit.as_deref(), Some("web/1"));
    }

    #[test]
    fn an_applications_pretty_json_is_given_back_line_for_line() {
        let body = "Response: 400\n{\n  \"error\": \"invalid_grant\",\n  \"error_description\": \"bad\"\n}\nnext line";
        assert_eq!(
            steps(body),
            ["P", "H", "H", "H", "R2", "R3", "R4", "R5", "-", "P"]
        );
        // A nested object ends the hold at once; the `}` after it is no
        // frame's (no export was seen).
        let nested = "{\n  \"error\": {\n    \"code\": 1\n  }\n}";
        assert_eq!(steps(nested), ["H", "R1", "P", "P", "P", "P"]);
        // A Spring error body has a time and a message, and is no event.
        let spring = "{\n\"timestamp\": 1741680000123,\n\"message\": \"x\",\n\"status\": 400\n}";
        assert_eq!(
            steps(spring),
            ["H", "H", "H", "H", "R1", "R2", "R3", "R4", "R5", "-"]
        );
    }

    #[test]
    fn a_reader_that_starts_inside_an_export_reads_the_tail_it_meets() {
        // From the first event's message: the tail holds it (without its
        // time), the next event is read whole, the frame follows.
        let from_message: Vec<&str> = EXPORT.lines().skip(5).collect();
        let got = steps(&from_message.join("\n")).join(" | ");
        let want = "H | H | H | E1:first, with \"quotes\" | H | H | H | H | H | H | E8:second | \
                    F1 | F1 | H | H | H | F4 | F1 | F1 | F1";
        assert_eq!(got, want);
        // A tail without the message is the frame's; so is a bracket read
        // first.
        let from_event_id: Vec<&str> = EXPORT.lines().skip(7).take(3).collect();
        assert_eq!(steps(&from_event_id.join("\n")), ["H", "F2", "H", "R3"]);
        let from_bracket: Vec<&str> = EXPORT.lines().skip(15).take(2).collect();
        assert_eq!(steps(&from_bracket.join("\n")), ["F1", "F1"]);
        // Read later, the same lines are no export's.
        let mut reader = IndentedExport::default();
        reader.start_line();
        assert!(matches!(
            reader.take(2, "\"eventId\": \"1\"", false).step,
            Step::Pass
        ));
    }

    #[test]
    fn a_reader_holding_an_object_it_saw_open_may_hand_over_one_holding_its_tail_may_not() {
        let mut opened = IndentedExport::default();
        for (i, line) in EXPORT.lines().take(5).enumerate() {
            let first = opened.start_line();
            opened.take(i as u64 + 1, line, first);
        }
        assert_eq!(opened.rest(), Some(Some((3, 3))), "lines 3 to 5 held");
        let mut tail = IndentedExport::default();
        let first = tail.start_line();
        tail.take(5, EXPORT.lines().nth(4).unwrap_or_default(), first);
        assert_eq!(tail.rest(), None);
    }

    #[test]
    fn a_hold_is_bounded() {
        let mut text = String::from("{\n");
        for k in 0..MAX_HELD_LINES {
            text.push_str(&format!("\"k{k}\": {k},\n"));
        }
        let got = steps(&text);
        let released = got.iter().filter(|s| s.starts_with('R')).count();
        assert_eq!(released, MAX_HELD_LINES, "{got:?}");
        assert!(got.iter().all(|s| !s.starts_with('E')));
    }
}
