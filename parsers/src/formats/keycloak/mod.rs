//! Keycloak server logs: the Quarkus console (`2023-07-11 10:14:04,584 WARN
//! [logger] (thread) message`), the WildFly console (same, time of day only),
//! the JSON console in its `default` shape (`{"timestamp":…,"loggerName":…,
//! "message":…}`) and its `ecs` shape (`--log-console-json-format=ecs`, KC ≥
//! 26.2: `{"@timestamp":…,"log.logger":…,"message":…,"ecs.version":…}`), and
//! bare event lines (`type=CODE_TO_TOKEN_ERROR, realmId=…`, the listener's
//! message pasted or shipped without the JBoss prefix).
//!
//! Only a few messages become events: the `org.keycloak.events` listener
//! lines ([`event_line`]) and the warnings that name a grant's failure
//! ([`warnings`]). Every other line of these shapes, and the stack-trace
//! lines that follow one of them, is [`Outcome::Skipped`].
//!
//! Invariants: the format is decided on the raw line without allocating; an
//! interesting line is redacted first and parsed from the redacted text; a
//! WildFly line without a configured date keeps `ts` empty.

mod event_line;
mod json_header;
mod key_bytes;
#[cfg(test)]
mod skip_tests;
#[cfg(test)]
mod tests;
mod warnings;

use std::borrow::Cow;

use memchr::memmem;

use crate::bytes::first_byte;
use crate::common;
use crate::common::same_second::SameSecond;
use crate::event::{Event, EventKind, EvidenceLine, Timestamp};
use crate::format::Format;
use crate::needle::Needle;
use crate::parser::{Context, LineParser, Outcome, push_or_skip};
use crate::redact::Redacted;

/// Parser state: whether the previous line was Keycloak's, so that the stack
/// trace printed under it can be recognised.
#[derive(Debug, Default)]
pub struct KeycloakParser {
    after_own_line: bool,
    /// The last line fed was taken as a stack trace's line: it kept
    /// `after_own_line` from the lines before it.
    in_trace: bool,
    /// The second the last line's time fell in.
    second: SameSecond,
}

/// The parts of one log record.
#[derive(Debug)]
struct Header<'t> {
    ts: Option<Timestamp>,
    logger: Cow<'t, str>,
    message: Cow<'t, str>,
}

/// What a message is about, decided from its logger and first words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Topic {
    Event,
    Warning,
    Other,
}

const LEVELS: &[&str] = &[
    "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "SEVERE",
];

/// Splits a text console line: `[date ]time LEVEL [logger] (thread) message`
/// (its date and time read through `second`, the last line's).
fn text_header<'t>(line: &'t str, ctx: &Context, second: &mut SameSecond) -> Option<Header<'t>> {
    let (ts, rest) = if line.as_bytes().get(4) == Some(&b'-') {
        let (ts, rest) = second.timestamp(line, ctx)?;
        (Some(ts), rest)
    } else if common::starts_with_time_of_day(line) {
        let rest = &line[line.find(' ')?..];
        (common::time_only(line, ctx).map(|(ts, _)| ts), rest)
    } else {
        return None;
    };
    let rest = rest.trim_start();
    // Bytes searched a word at a time: the spans are short, and a `char`
    // searcher's setup cost more than they (benches/README.md).
    let level_len = first_byte(rest.as_bytes(), b' ')?;
    if !LEVELS.contains(&&rest[..level_len]) {
        return None;
    }
    let rest = rest[level_len..].trim_start().strip_prefix('[')?;
    let close = first_byte(rest.as_bytes(), b']')?;
    let logger = &rest[..close];
    // The `(thread)` is what sets Keycloak's JBoss pattern apart from the
    // many `time LEVEL [name] message` formats of other tools.
    let after = rest[close + 1..].strip_prefix(" (")?;
    // `) ` found by its `)`: a substring search built a searcher per line.
    let bytes = after.as_bytes();
    let message = match memchr::memchr_iter(b')', bytes).find(|&i| bytes.get(i + 1) == Some(&b' '))
    {
        Some(p) => &after[p + 2..],
        None => after.strip_suffix(')').map(|_| "")?,
    };
    Some(Header {
        ts,
        logger: Cow::Borrowed(logger),
        message: Cow::Borrowed(message),
    })
}

// The words a JSON or bare event line is recognised by, looked for in
// every line: each with its searcher built once (see `crate::needle`).
static MESSAGE_KEY: Needle = Needle::new("\"message\":");
static LOGGER_NAME: Needle = Needle::new("\"loggerName\":\"");
static ECS_VERSION: Needle = Needle::new("\"ecs.version\":");
static KEYCLOAK_SERVICE: Needle = Needle::new("\"service.name\":\"Keycloak\"");
static KEYCLOAK_LOGGER: Needle = Needle::new("\"log.logger\":\"org.keycloak.");
static REALM_ID: Needle = Needle::new("realmId=");

/// Whether a line is a JSON console record, `default` or `ecs` (checked on
/// bytes only). An ECS record is Keycloak's when its service is named so
/// (the default) or its logger is Keycloak's: other ECS writers (Spring
/// Boot, Quarkus apps) are not claimed.
fn is_json_console(line: &str) -> bool {
    // The line's start first: a text line is not searched for keys.
    if line.starts_with("{\"timestamp\":\"") {
        return MESSAGE_KEY.is_in(line) && LOGGER_NAME.is_in(line);
    }
    line.starts_with("{\"@timestamp\":\"")
        && MESSAGE_KEY.is_in(line)
        && ECS_VERSION.is_in(line)
        && (KEYCLOAK_SERVICE.is_in(line) || KEYCLOAK_LOGGER.is_in(line))
}

/// A bare listener line: `type=…` with the `realmId=` every event carries
/// (admin events start with `operationType=` and are not events here).
fn is_bare_event(line: &str) -> bool {
    line.starts_with("type=") && REALM_ID.is_in(line)
}

/// The header of a JSON console line (`json_header.rs` reads its fields).
fn json_header<'t>(line: &'t str, ctx: &Context) -> Option<Header<'t>> {
    let [timestamp, logger, message] = json_header::header_fields(line)?;
    Some(Header {
        ts: timestamp
            .as_deref()
            .and_then(|t| common::timestamp(t, ctx))
            .map(|(ts, _)| ts),
        logger: logger.unwrap_or_default(),
        message: message.unwrap_or_default(),
    })
}

/// The logger value of a JSON console line (`loggerName` or ECS
/// `log.logger`), read without parsing it.
fn json_logger(line: &str) -> &str {
    ["\"loggerName\":\"", "\"log.logger\":\""]
        .iter()
        .find_map(|key| {
            let p = memmem::find(line.as_bytes(), key.as_bytes())?;
            let rest = line.get(p + key.len()..)?;
            rest.find('"').map(|end| &rest[..end])
        })
        .unwrap_or("")
}

/// The first characters of the JSON `message` value (escapes untouched).
fn json_message_start(line: &str) -> &str {
    memmem::find(line.as_bytes(), MESSAGE_OPENING.as_bytes())
        .and_then(|p| line.get(p + MESSAGE_OPENING.len()..))
        .unwrap_or("")
}

/// The `message` key and its string's opening quote.
const MESSAGE_OPENING: &str = "\"message\":\"";

/// Whether `message` (from [`json_message_start`]) is the value of the
/// line's own `message` key, the one its JSON reading takes: the key's
/// quote comes right after the object's `{` or a `,` (so it is no escaped
/// quote inside a string), and no `{` but the line's first comes before
/// it (so it is no key of a nested object). A line that says otherwise is
/// read whole.
fn is_top_level_message(line: &str, message: &str) -> bool {
    let Some(before) = line
        .len()
        .checked_sub(message.len() + MESSAGE_OPENING.len())
        .and_then(|key_at| line.as_bytes().get(..key_at))
    else {
        return false;
    };
    matches!(before.last(), Some(b',' | b'{')) && memchr::memrchr(b'{', before) == Some(0)
}

fn topic(logger: &str, message: &str) -> Topic {
    let events = logger == "events" || logger.ends_with(".events");
    if events && message.starts_with("type=") {
        return Topic::Event;
    }
    if warnings::is_warning(logger, message) {
        return Topic::Warning;
    }
    Topic::Other
}

/// A stack trace line under a Keycloak record.
fn is_continuation(line: &str) -> bool {
    line.starts_with('\t')
        || line.starts_with("    at ")
        || line.starts_with("Caused by: ")
        || line.starts_with("Suppressed: ")
        || line.trim_start().starts_with("... ")
        || is_exception_header(line)
}

/// `org.keycloak.authentication.AuthenticationFlowException: …` and the like.
fn is_exception_header(line: &str) -> bool {
    let name = line.split([':', ' ']).next().unwrap_or("");
    name.contains('.')
        && (name.ends_with("Exception") || name.ends_with("Error"))
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'$' || b == b'_')
}

impl LineParser for KeycloakParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        self.in_trace = false;
        let shape = if is_json_console(line) {
            let message = json_message_start(line);
            self.after_own_line = true;
            match topic(json_logger(line), message) {
                Topic::Other => return Outcome::Skipped,
                // The type first: nearly every line's may give an event,
                // which the letters tell before the line's prefix is read.
                Topic::Event
                    if event_line::gives_no_event_in_json(message)
                        && is_top_level_message(line, message) =>
                {
                    return Outcome::Skipped;
                }
                Topic::Event | Topic::Warning => {}
            }
            Shape::Json
        } else if is_bare_event(line) {
            self.after_own_line = false;
            if event_line::gives_no_event(line) {
                return Outcome::Skipped;
            }
            Shape::Bare
        } else if let Some(header) = text_header(line, ctx, &mut self.second) {
            self.after_own_line = true;
            match topic(&header.logger, &header.message) {
                Topic::Other => return Outcome::Skipped,
                Topic::Event if event_line::gives_no_event(&header.message) => {
                    return Outcome::Skipped;
                }
                Topic::Event | Topic::Warning => {}
            }
            Shape::Text(header)
        } else if self.after_own_line && is_continuation(line) {
            self.in_trace = true;
            return Outcome::Skipped;
        } else {
            self.after_own_line = false;
            return Outcome::Unknown;
        };
        parse_record(line_no, line, shape, ctx, out)
    }

    fn flush<'a>(&mut self, _ctx: &Context, _out: &mut Vec<Event<'a>>) {}

    /// Out of a stack trace, `after_own_line` is what the last line set.
    fn at_rest(&self) -> bool {
        !self.in_trace
    }
}

/// The three ways a record is written.
#[derive(Debug)]
enum Shape<'a> {
    /// With the header read from the line as it came.
    Text(Header<'a>),
    Json,
    /// The listener's message alone: no time, no logger.
    Bare,
}

/// Redacts the line, reads its header from the redacted text and pushes
/// the event of its message to `out`. A line with nothing to redact (nearly
/// every one) gives an event that borrows the line itself, filled where it
/// lies in `out` ([`push_event_of`]); copying every field of every event
/// here was 0.7–1.6% of analysing a Keycloak gigabyte (benches/README.md).
fn parse_record<'a>(
    line_no: u64,
    line: &'a str,
    shape: Shape<'a>,
    ctx: &Context,
    out: &mut Vec<Event<'a>>,
) -> Outcome {
    // The redactor also replaces the code id of `OAuth2CodeParser`
    // warnings (`Code '<id>' …`), so nothing below sees it.
    let Redacted { text, secrets } = ctx.redactor.redact(line);
    let pushed = match (&text, shape) {
        // Nothing redacted: the text is the line, whose header is read.
        (Cow::Borrowed(_), Shape::Text(header)) => push_event_of(header, out),
        (Cow::Borrowed(_), Shape::Bare) => push_event_of(bare_header(line), out),
        // The fields borrow from the redacted text, which the evidence takes.
        (_, shape) => {
            let header = match shape {
                Shape::Json => json_header(&text, ctx),
                Shape::Text(_) => text_header(&text, ctx, &mut SameSecond::default()),
                Shape::Bare => Some(bare_header(&text)),
            };
            push_or_skip(out, header.and_then(event_of).map(Event::into_owned)) == Outcome::Parsed
        }
    };
    let Some(event) = out.last_mut().filter(|_| pushed) else {
        return Outcome::Skipped;
    };
    Redacted {
        text: Cow::Borrowed(""),
        secrets,
    }
    .apply_to(event);
    event.add_only_line(EvidenceLine {
        line: line_no,
        text,
    });
    Outcome::Parsed
}

/// [`event_of`], pushed to `out`: a listener line's event made where it
/// lies in `out` and filled there ([`event_line::parse_into`]), dropped
/// again when the line gives none.
fn push_event_of<'a>(header: Header<'a>, out: &mut Vec<Event<'a>>) -> bool {
    let (Cow::Borrowed(logger), Cow::Borrowed(message)) = (&header.logger, &header.message) else {
        return push_or_skip(out, event_of(header).map(Event::into_owned)) == Outcome::Parsed;
    };
    let (logger, message): (&'a str, &'a str) = (logger, message);
    if topic(logger, message) != Topic::Event {
        return push_or_skip(out, event_of(header)) == Outcome::Parsed;
    }
    out.push(Event::new(EventKind::Unparsed, Format::Keycloak));
    let filled = out.last_mut().is_some_and(|event| {
        event.ts = header.ts;
        event_line::parse_into(message, event)
    });
    if !filled {
        out.pop();
    }
    filled
}

/// The header of a line that is the listener's message alone.
fn bare_header(text: &str) -> Header<'_> {
    Header {
        ts: None,
        logger: Cow::Borrowed("org.keycloak.events"),
        message: Cow::Borrowed(text),
    }
}

/// The event of a header's message, stamped with its time: borrowing the
/// header's text where it is borrowed, else copied.
fn event_of(header: Header<'_>) -> Option<Event<'_>> {
    let mut event = match (header.logger, header.message) {
        (Cow::Borrowed(logger), Cow::Borrowed(message)) => message_event(logger, message)?,
        (logger, message) => message_event(&logger, &message)?.into_owned(),
    };
    event.ts = header.ts;
    Some(event)
}

fn message_event<'t>(logger: &'t str, message: &'t str) -> Option<Event<'t>> {
    match topic(logger, message) {
        Topic::Event => event_line::parse(message),
        Topic::Warning => warnings::parse(logger, message),
        Topic::Other => None,
    }
}
