//! Android logcat: the `brief` (`I/flutter ( 9705): msg`, also what
//! `flutter run` prints), `time` (`05-02 10:15:03.118 I/flutter ( 9705): msg`)
//! and `threadtime` (`05-02 10:15:03.118  4321  4388 D AppAuth : msg`, with or
//! without a year) containers. Messages of every tag go through the shared
//! client records ([`crate::formats::client_records`]); Flutter's `flutter` tag also
//! carries dio `LogInterceptor` blocks; `ActivityManager` /
//! `ActivityTaskManager` / `lowmemorykiller` give the app's cold starts and
//! kills.
//!
//! Invariants: a line that is not in a logcat container is `Unknown`; a
//! logcat line of no OAuth interest is `Skipped` after at most one automaton
//! pass and no allocation; year-less times take `ctx.assumed_year` (no
//! assumed year: the line still parses, with `ts` None). Lines of other tags
//! never end an open dio block: logcat interleaves processes.

use std::borrow::Cow;

use crate::common;
use crate::event::{Event, EventKind, Lifecycle};
use crate::format::Format;
use crate::formats::client_records::{self, DioBlocks, Header};
use crate::parser::{Context, LineParser, Outcome, push_or_skip, redact_and_parse};

/// Parser state for this format: the dio block being read.
#[derive(Debug, Default)]
pub struct LogcatParser {
    dio: DioBlocks,
}

impl LineParser for LogcatParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        if line.starts_with("--------- beginning of ") {
            return Outcome::Skipped;
        }
        let Some(h) = split(line, ctx) else {
            return Outcome::Unknown;
        };
        if is_activity_manager(h.tag) || h.tag == "lowmemorykiller" {
            return self.system_line(line_no, line, h, ctx, out);
        }
        if h.tag == "flutter" && (self.dio.is_open() || DioBlocks::starts_block(h.msg)) {
            let red = ctx.redactor.redact(line);
            if let Some(rh) = split(&red.text, ctx)
                && self
                    .dio
                    .offer(line_no, &red, rh.msg, h.ts, Format::Logcat, out)
            {
                return Outcome::Parsed;
            }
        }
        let split = split as client_records::Split;
        client_records::feed_single(line_no, line, h.msg, ctx, Format::Logcat, split, out)
    }

    fn flush<'a>(&mut self, _ctx: &Context, out: &mut Vec<Event<'a>>) {
        self.dio.flush(out);
    }

    fn oldest_pending_line(&self) -> Option<u64> {
        self.dio.first_line()
    }
}

impl LogcatParser {
    fn system_line<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        h: Header<'_>,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        if process_change(h.msg).is_none() {
            return Outcome::Skipped;
        }
        let arg = (ctx, Format::Logcat, split as client_records::Split);
        push_or_skip(
            out,
            redact_and_parse(line_no, line, ctx, arg, parse_process_change),
        )
    }
}

fn is_activity_manager(tag: &str) -> bool {
    tag == "ActivityManager" || tag == "ActivityTaskManager"
}

fn parse_process_change<'t>(
    line: &'t str,
    arg: client_records::RecordArg<'_>,
) -> Option<Event<'t>> {
    let (ctx, format, _) = arg;
    let h = split(line, ctx)?;
    let (state, package) = process_change(h.msg)?;
    let mut ev = Event::new(EventKind::Lifecycle, format);
    ev.ts = h.ts;
    ev.lifecycle = Some(state);
    // The event has no field for the app; its package is the client software.
    ev.user_agent = Some(Cow::Borrowed(package));
    Some(ev)
}

/// `Start proc 4321:com.example.app/u0a123 for activity {...}` (also the
/// pre-Android-10 `Start proc com.example.app for activity ...: pid=4321`),
/// `Killing 4321:com.example.app/u0a123 (adj 905): ...`, `Process
/// com.example.app (pid 4321) has died`, lmkd `Kill 'com.example.app' (4321)`.
/// System packages are left out: their restarts are noise.
fn process_change(msg: &str) -> Option<(Lifecycle, &str)> {
    let (state, rest) = if let Some(r) = msg.strip_prefix("Start proc ") {
        (Lifecycle::ColdStart, r)
    } else if let Some(r) = msg.strip_prefix("Killing ") {
        (Lifecycle::Terminated, r)
    } else if let Some(r) = msg
        .strip_prefix("Process ")
        .filter(|_| msg.contains(" has died"))
    {
        (Lifecycle::Terminated, r)
    } else if let Some(r) = msg.strip_prefix("Kill '") {
        (Lifecycle::Terminated, r)
    } else {
        return None;
    };
    let token = rest.split([' ', '\'']).next()?;
    let token = token.split_once(':').map_or(token, |(pid, pkg)| {
        if pid.bytes().all(|b| b.is_ascii_digit()) {
            pkg
        } else {
            token
        }
    });
    let package = token.split('/').next()?;
    let system = ["android.", "com.android.", "com.google.android.", "system"]
        .iter()
        .any(|p| package.starts_with(p));
    (!package.is_empty() && package.contains('.') && !system).then_some((state, package))
}

/// Splits a logcat line into time, tag and message.
pub(crate) fn split<'t>(line: &'t str, ctx: &Context) -> Option<Header<'t>> {
    let b = line.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    if digit(0) && digit(1) && b.get(2) == Some(&b'-') {
        let rest = skip_month_day_time(line)?;
        let ts = common::month_day_time(line, ctx).map(|(ts, _)| ts);
        return after_time(rest, ts);
    }
    if (0..4).all(digit) && b.get(4) == Some(&b'-') {
        let (ts, rest) = common::timestamp(line, ctx)?;
        return after_time(rest, Some(ts));
    }
    brief(line, None)
}

/// `MM-DD HH:MM:SS.mmm` checked by shape (the year may be unknown).
fn skip_month_day_time(line: &str) -> Option<&str> {
    const SHAPE: &[u8] = b"dd-dd dd:dd:dd.ddd";
    let b = line.as_bytes();
    let ok = SHAPE.iter().enumerate().all(|(i, &s)| match (s, b.get(i)) {
        (b'd', Some(c)) => c.is_ascii_digit(),
        (s, Some(&c)) => s == c,
        (_, None) => false,
    });
    ok.then(|| &line[SHAPE.len()..])
}

fn after_time<'t>(rest: &'t str, ts: Option<crate::event::Timestamp>) -> Option<Header<'t>> {
    let rest = rest.strip_prefix(' ')?.trim_start();
    if rest.starts_with(|c: char| c.is_ascii_digit()) {
        threadtime(rest, ts)
    } else {
        brief(rest, ts)
    }
}

/// `4321  4388 D AppAuth : msg` (after the time).
fn threadtime<'t>(rest: &'t str, ts: Option<crate::event::Timestamp>) -> Option<Header<'t>> {
    let after_pid = skip_digits(rest)?.trim_start();
    let after_tid = skip_digits(after_pid)?.trim_start();
    let (level, after_level) = after_tid.split_at_checked(1)?;
    if !is_level(level) {
        return None;
    }
    let body = after_level.strip_prefix(' ')?;
    let (tag, msg) = tag_and_message(body)?;
    Some(Header { ts, tag, msg })
}

fn skip_digits(text: &str) -> Option<&str> {
    let n = text.bytes().take_while(u8::is_ascii_digit).count();
    (n > 0).then(|| &text[n..])
}

/// `I/flutter ( 9705): msg`, `I/flutter: msg`.
fn brief<'t>(text: &'t str, ts: Option<crate::event::Timestamp>) -> Option<Header<'t>> {
    let (level, rest) = text.split_at_checked(1)?;
    if !is_level(level) {
        return None;
    }
    let rest = rest.strip_prefix('/')?;
    let (tag, msg) = match rest.find('(') {
        Some(p) if pid_paren(&rest[p..]).is_some() => {
            let after = pid_paren(&rest[p..])?;
            (rest[..p].trim(), message_after_colon(after)?)
        }
        _ => tag_and_message(rest)?,
    };
    (!tag.is_empty()).then_some(Header { ts, tag, msg })
}

/// `( 9705)` → the text after it.
fn pid_paren(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('(')?;
    let close = inner.find(')')?;
    let pid = inner[..close].trim();
    (!pid.is_empty() && pid.bytes().all(|c| c.is_ascii_digit())).then(|| &inner[close + 1..])
}

fn tag_and_message(body: &str) -> Option<(&str, &str)> {
    let p = body.find(':')?;
    let tag = body[..p].trim();
    (!tag.is_empty()).then_some(())?;
    Some((tag, message_after_colon(&body[p..])?))
}

/// `: msg` → `msg` (exactly one space is the separator; dio's indented
/// header lines keep theirs).
fn message_after_colon(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(':')?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

fn is_level(level: &str) -> bool {
    matches!(level, "V" | "D" | "I" | "W" | "E" | "F" | "A")
}

#[cfg(test)]
mod tests;
