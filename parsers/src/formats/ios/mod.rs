//! iOS console: `flutter: msg` (Flutter prints, `flutter run` and Xcode),
//! NSLog / os_log `2025-03-11 09:41:07.123456+0000 Runner[1234:56789] msg`,
//! idevicesyslog `Mar 11 09:41:07 iPhone Runner(Flutter)[1234] <Notice>: msg`,
//! and plain Xcode console lines of the shapes iOS OAuth clients print
//! (AppAuth and MSAL NSErrors, `Token exchange error: ...`, `Error fetching
//! fresh tokens: ...`, app delegate lifecycle). Records are shared with
//! logcat ([`crate::formats::client_records`]), dio blocks included; on iOS a
//! multi-line print shows its continuation lines without the `flutter: `
//! prefix, so plain lines are offered to an open block first.
//!
//! Invariants: a logcat line, or a plain line of none of the known shapes,
//! is `Unknown` (plain lines are too common to claim); everything behind a
//! recognised prefix is at least `Skipped`.

use crate::common;
use crate::event::{Event, Timestamp};
use crate::format::Format;
use crate::formats::client_records::{self, DioBlocks, Header};
use crate::parser::{Context, LineParser, Outcome};

/// Parser state for this format: the dio block being read.
#[derive(Debug, Default)]
pub struct IosConsoleParser {
    dio: DioBlocks,
}

impl LineParser for IosConsoleParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let h = split(line, ctx).unwrap_or(Header {
            ts: None,
            tag: "",
            msg: line,
        });
        let plain = h.tag.is_empty();
        if plain && crate::formats::logcat::split(line, ctx).is_some() {
            return Outcome::Unknown;
        }
        if (plain || h.tag == "flutter") && (self.dio.is_open() || DioBlocks::starts_block(h.msg)) {
            let red = ctx.redactor.redact(line);
            let rh = split(&red.text, ctx).map_or(&*red.text, |rh| rh.msg);
            if self
                .dio
                .offer(line_no, &red, rh, h.ts, Format::IosConsole, out)
            {
                return Outcome::Parsed;
            }
        }
        if plain && !is_plain_ios_line(line) {
            return Outcome::Unknown;
        }
        let split = split_or_plain as client_records::Split;
        client_records::feed_single(line_no, line, h.msg, ctx, Format::IosConsole, split, out)
    }

    fn flush<'a>(&mut self, _ctx: &Context, out: &mut Vec<Event<'a>>) {
        self.dio.flush(out);
    }

    fn oldest_pending_line(&self) -> Option<u64> {
        self.dio.first_line()
    }
}

/// Plain (prefix-less) lines this parser claims: the shapes iOS OAuth
/// clients and app delegates print.
fn is_plain_ios_line(line: &str) -> bool {
    const SHAPES: &[&str] = &[
        "Error Domain=",
        "Token exchange error:",
        "Error fetching fresh tokens:",
        "exchange error:",
        "Authorization error:",
        "applicationDidEnterBackground",
        "applicationWillEnterForeground",
        "applicationDidBecomeActive",
        "applicationWillResignActive",
        "applicationWillTerminate",
        "sceneDidEnterBackground",
        "sceneWillEnterForeground",
        "didFinishLaunchingWithOptions",
        "[MSAL]",
    ];
    SHAPES.iter().any(|s| line.contains(s))
}

/// [`split`], with a plain line as its own message.
fn split_or_plain<'t>(line: &'t str, ctx: &Context) -> Option<Header<'t>> {
    Some(split(line, ctx).unwrap_or(Header {
        ts: None,
        tag: "",
        msg: line,
    }))
}

/// Splits a prefixed iOS console line; `None` for a plain line.
fn split<'t>(line: &'t str, ctx: &Context) -> Option<Header<'t>> {
    if line.starts_with("flutter:") {
        return Some(flutter(line, None, ""));
    }
    let b = line.as_bytes();
    if b.len() > 4 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        let (ts, rest) = common::timestamp(line, ctx)?;
        let (process, msg) = process_prefix(rest.strip_prefix(' ')?)?;
        return Some(flutter(msg, Some(ts), process));
    }
    syslog(line, ctx)
}

/// Strips `flutter: ` (exactly one space: dio's header lines are indented).
fn flutter<'t>(msg: &'t str, ts: Option<Timestamp>, process: &'t str) -> Header<'t> {
    match msg.strip_prefix("flutter:") {
        Some(rest) => Header {
            ts,
            tag: "flutter",
            msg: rest.strip_prefix(' ').unwrap_or(rest),
        },
        None => Header {
            ts,
            tag: process,
            msg,
        },
    }
}

/// `Runner[1234:56789] msg` → (`Runner`, `msg`).
fn process_prefix(text: &str) -> Option<(&str, &str)> {
    let open = text.find('[')?;
    let name = &text[..open];
    let close = text[open..].find("] ")? + open;
    let ids = &text[open + 1..close];
    let ok = !name.is_empty()
        && !name.contains(' ')
        && !ids.is_empty()
        && ids
            .bytes()
            .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'x');
    ok.then(|| (name, &text[close + 2..]))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// idevicesyslog: `Mar 11 09:41:07 iPhone Runner(Flutter)[1234] <Notice>: msg`.
fn syslog<'t>(line: &'t str, ctx: &Context) -> Option<Header<'t>> {
    let month = MONTHS.iter().position(|m| line.starts_with(m))? as u32 + 1;
    let rest = line.get(3..)?.strip_prefix(' ')?.trim_start();
    let day_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let day: u32 = rest.get(..day_len)?.parse().ok()?;
    let rest = rest[day_len..].strip_prefix(' ')?;
    let time = rest.get(..8)?;
    if !common::starts_with_time_of_day(time) {
        return None;
    }
    let rest = rest[8..].strip_prefix(' ')?;
    let (_host, rest) = rest.split_once(' ')?;
    let (process, rest) = rest.split_once(' ')?;
    let close = rest.find(">: ")?;
    if !rest.starts_with('<') || !process.ends_with(']') {
        return None;
    }
    let msg = &rest[close + 3..];
    let ts = common::month_day_time(&format!("{month:02}-{day:02} {time}"), ctx).map(|(t, _)| t);
    let name = process.split(['(', '[']).next().unwrap_or(process);
    Some(flutter(msg, ts, name))
}

#[cfg(test)]
mod tests;
