//! Duende IdentityServer (and IdentityServer4) logs: the token request
//! validator's rejections, the refresh token service's warnings, and the
//! validation log (`details`) that names the client and grant.
//!
//! Shapes read (catalog 9.2):
//! - Serilog, the Duende templates' `[{Timestamp:HH:mm:ss} {Level}]
//!   {SourceContext}{NewLine}{Message:lj}{NewLine}{Exception}{NewLine}`: a
//!   header line, the message, a blank line (assembled into one record);
//! - Serilog one-line templates: `[09:41:07 ERR] message` (time only: the
//!   date comes from the context) and `[2025-03-11 09:41:07.334 +00:00 ERR]
//!   Category: message`;
//! - NLog `2023-10-12 08:08:13.2505|0|INFO|Category|message` (event id
//!   optional);
//! - log4net's `PatternLayout` `%date [%thread] %-5level %logger - %message`
//!   (`2025-03-11 09:41:07,334 [12] ERROR Category - message`; the thread
//!   is optional);
//! - Serilog compact JSON (CLEF, [`clef`]), one record a line;
//! - ASP.NET console `fail: Category[0]` followed by lines indented six
//!   spaces (scope line `=> … RequestPath:… RequestId:…` included), or its
//!   single-line form.
//!
//! Invariants: records are bounded (lines and bytes); raw lines are held only
//! until the record ends and are redacted before anything is parsed or kept;
//! a record from any other category is skipped without allocation.

mod clef;
mod messages;

use std::borrow::Cow;

use crate::common;
use crate::event::{Event, EvidenceLine, Timestamp};
use crate::parser::{Context, LineParser, Outcome};

use messages::{Origin, Rule};

/// The most lines and bytes one record may gather.
const MAX_RECORD_LINES: usize = 256;
const MAX_RECORD_BYTES: usize = 256 * 1024;

/// Parser state for this format.
#[derive(Debug, Default)]
pub struct IdentityServerParser {
    record: Option<Record>,
    /// A one-line record was just read: an exception printed after it is ours.
    after_single: bool,
    /// The refresh token service's last warning (redacted), waiting for the
    /// validator's `Refresh token validation failed` record it explains.
    refresh_reason: Option<String>,
}

/// A record that spans lines (Serilog two-line template, ASP.NET console).
#[derive(Debug)]
struct Record {
    mel: bool,
    origin: Origin,
    ts: Option<Timestamp>,
    /// Source lines (unredacted until the record ends), only when interesting.
    lines: Vec<(u64, String)>,
    message: String,
    /// The ASP.NET scope line (`=> SpanId:… RequestId:…`).
    scope: Option<String>,
}

impl Record {
    fn interesting(&self) -> bool {
        self.origin != Origin::Other
    }

    fn push(&mut self, line_no: u64, raw: &str, text: &str) -> Outcome {
        if !self.interesting() {
            return Outcome::Skipped;
        }
        if self.lines.len() < MAX_RECORD_LINES && self.message.len() < MAX_RECORD_BYTES {
            self.lines.push((line_no, raw.to_owned()));
            if self.mel && text.starts_with("=> ") {
                self.scope = Some(text.to_owned());
            } else {
                if !self.message.is_empty() {
                    self.message.push('\n');
                }
                self.message.push_str(text);
            }
        }
        Outcome::Parsed
    }
}

/// What a line that starts a record looks like.
enum Header<'t> {
    /// `[09:41:07 Error] Category` (message on the next lines).
    SerilogTwoLine {
        ts: Option<Timestamp>,
        source: &'t str,
    },
    /// `fail: Category[0]` (message on the next, indented lines).
    Mel {
        ts: Option<Timestamp>,
        source: &'t str,
    },
    /// A whole record on one line.
    Single {
        ts: Option<Timestamp>,
        source: Option<&'t str>,
        message: &'t str,
    },
}

impl LineParser for IdentityServerParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        if clef::is_clef(line) {
            self.finish(ctx, out);
            self.after_single = true;
            return self.feed_clef(line_no, line, ctx, out);
        }
        if let Some(header) = header(line, ctx) {
            self.finish(ctx, out);
            self.after_single = false;
            return self.start(line_no, line, header, ctx, out);
        }
        if let Some(rec) = &mut self.record {
            if rec.mel {
                if let Some(text) = line.strip_prefix("      ") {
                    return rec.push(line_no, line, text);
                }
                self.finish(ctx, out);
            } else if line.trim().is_empty() {
                self.finish(ctx, out);
                return Outcome::Skipped;
            } else {
                return rec.push(line_no, line, line);
            }
        }
        if self.after_single && is_exception_line(line) {
            return Outcome::Skipped;
        }
        self.after_single = false;
        Outcome::Unknown
    }

    fn flush<'a>(&mut self, ctx: &Context, out: &mut Vec<Event<'a>>) {
        self.finish(ctx, out);
        self.after_single = false;
    }

    fn oldest_pending_line(&self) -> Option<u64> {
        self.record
            .as_ref()
            .and_then(|r| r.lines.first())
            .map(|(line, _)| *line)
    }
}

impl IdentityServerParser {
    /// A CLEF record: its category is checked before the JSON is parsed.
    fn feed_clef<'a>(
        &mut self,
        line_no: u64,
        line: &str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let origin = messages::origin(clef::source_context(line));
        if origin == Origin::Other {
            return Outcome::Skipped;
        }
        let Some(rec) = clef::parse(line, ctx) else {
            return Outcome::Skipped;
        };
        let Some(rule) = messages::classify(origin, &rec.message) else {
            return Outcome::Skipped;
        };
        let event = self.emit(
            rule,
            rec.ts,
            &rec.message,
            &[(line_no, line)],
            rec.scope.as_deref(),
            ctx,
        );
        out.push(event);
        Outcome::Parsed
    }

    fn start<'a>(
        &mut self,
        line_no: u64,
        line: &str,
        header: Header<'_>,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let (mel, ts, source) = match header {
            Header::Single {
                ts,
                source,
                message,
            } => {
                self.after_single = true;
                let Some(rule) = messages::classify(messages::origin(source), message) else {
                    return Outcome::Skipped;
                };
                let event = self.emit(rule, ts, message, &[(line_no, line)], None, ctx);
                out.push(event);
                return Outcome::Parsed;
            }
            Header::SerilogTwoLine { ts, source } => (false, ts, source),
            Header::Mel { ts, source } => (true, ts, source),
        };
        let origin = messages::origin(Some(source));
        let mut rec = Record {
            mel,
            origin,
            ts,
            lines: Vec::new(),
            message: String::new(),
            scope: None,
        };
        if !rec.interesting() {
            self.record = Some(rec);
            return Outcome::Skipped;
        }
        rec.lines.push((line_no, line.to_owned()));
        self.record = Some(rec);
        Outcome::Parsed
    }

    /// Ends the current record and emits its event, if it has one.
    fn finish<'a>(&mut self, ctx: &Context, out: &mut Vec<Event<'a>>) {
        let Some(rec) = self.record.take() else {
            return;
        };
        if !rec.interesting() {
            return;
        }
        let Some(rule) = messages::classify(rec.origin, &rec.message) else {
            return;
        };
        let lines: Vec<(u64, &str)> = rec.lines.iter().map(|(n, l)| (*n, l.as_str())).collect();
        let event = self.emit(
            rule,
            rec.ts,
            &rec.message,
            &lines,
            rec.scope.as_deref(),
            ctx,
        );
        out.push(event);
    }

    /// Redacts the record, builds its event and attaches evidence.
    fn emit(
        &mut self,
        rule: Rule,
        ts: Option<Timestamp>,
        message: &str,
        lines: &[(u64, &str)],
        scope: Option<&str>,
        ctx: &Context,
    ) -> Event<'static> {
        let red = ctx.redactor.redact(message);
        let mut event = messages::build(rule, &red.text).into_owned();
        red.apply_to(&mut event);
        event.ts = ts;
        if let Some(scope) = scope {
            event.request_id = scope_value(scope, "RequestId:").map(|v| Cow::Owned(v.to_owned()));
            event.path = scope_value(scope, "RequestPath:").map(|v| Cow::Owned(v.to_owned()));
        }
        self.merge_refresh_reason(rule, &mut event);
        for (n, l) in lines {
            let r = ctx.redactor.redact(l);
            event.evidence.push(EvidenceLine {
                line: *n,
                text: Cow::Owned(r.text.into_owned()),
            });
        }
        event
    }

    /// The validator's refresh rejection says only `Refresh token validation
    /// failed. aborting`; the service's warning just before says why. The
    /// reason goes to `provider_reason`, the validator's text to
    /// `provider_debug`.
    fn merge_refresh_reason(&mut self, rule: Rule, event: &mut Event<'static>) {
        match rule {
            Rule::RefreshWarning => {
                self.refresh_reason = event.provider_reason.as_deref().map(str::to_owned);
            }
            Rule::Rejected(_)
                if event.provider_reason.as_deref()
                    == Some("Refresh token validation failed. aborting") =>
            {
                if let Some(reason) = self.refresh_reason.take() {
                    event.provider_debug = event.provider_reason.take();
                    event.provider_reason = Some(Cow::Owned(reason));
                }
            }
            _ => self.refresh_reason = None,
        }
    }
}

/// Recognises the first line of a record in any of the supported shapes.
fn header<'t>(line: &'t str, ctx: &Context) -> Option<Header<'t>> {
    match line.as_bytes().first()? {
        b'[' => serilog_header(line, ctx),
        b't' | b'd' | b'i' | b'w' | b'f' | b'c' => mel_header(line),
        b'0'..=b'9' => nlog_header(line, ctx).or_else(|| log4net_header(line, ctx)),
        _ => None,
    }
}

const SERILOG_LEVELS: [&str; 12] = [
    "Verbose",
    "Debug",
    "Information",
    "Warning",
    "Error",
    "Fatal",
    "VRB",
    "DBG",
    "INF",
    "WRN",
    "ERR",
    "FTL",
];

fn serilog_header<'t>(line: &'t str, ctx: &Context) -> Option<Header<'t>> {
    let close = line.find(']')?;
    let inside = &line[1..close];
    let (ts_text, level) = inside.rsplit_once(' ')?;
    let dated = ts_text.as_bytes().get(4) == Some(&b'-');
    let ts = if dated {
        common::timestamp(ts_text, ctx).map(|(t, _)| t)
    } else {
        common::time_only(ts_text, ctx).map(|(t, _)| t)
    };
    // Without an assumed date a time-only stamp gives no `ts`, but the line
    // is still this format.
    let valid = if dated {
        ts.is_some()
    } else {
        common::starts_with_time_of_day(ts_text)
    };
    if !valid || !SERILOG_LEVELS.contains(&level) {
        return None;
    }
    let rest = line[close + 1..].trim_start();
    if is_category(rest) {
        return Some(Header::SerilogTwoLine { ts, source: rest });
    }
    if let Some((cat, msg)) = rest.split_once(": ")
        && is_category(cat)
    {
        return Some(Header::Single {
            ts,
            source: Some(cat),
            message: msg,
        });
    }
    Some(Header::Single {
        ts,
        source: None,
        message: rest,
    })
}

/// A .NET log category: dotted identifier, no spaces.
fn is_category(text: &str) -> bool {
    text.contains('.')
        && !text.ends_with('.')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'`' | b'+'))
}

const MEL_LEVELS: [&str; 6] = ["trce: ", "dbug: ", "info: ", "warn: ", "fail: ", "crit: "];

fn mel_header(line: &str) -> Option<Header<'_>> {
    let rest = MEL_LEVELS.iter().find_map(|l| line.strip_prefix(l))?;
    let open = rest.find('[')?;
    let source = &rest[..open];
    let after = &rest[open + 1..];
    let close = after.find(']')?;
    if !is_category(source) || !after[..close].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let message = after[close + 1..].trim_start();
    if message.is_empty() {
        Some(Header::Mel { ts: None, source })
    } else {
        Some(Header::Single {
            ts: None,
            source: Some(source),
            message,
        })
    }
}

const NLOG_LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

fn nlog_header<'t>(line: &'t str, ctx: &Context) -> Option<Header<'t>> {
    let (ts_text, rest) = line.split_once('|')?;
    let (ts, after) = common::timestamp(ts_text, ctx)?;
    if !after.trim().is_empty() {
        return None;
    }
    let (first, rest) = rest.split_once('|')?;
    // `longdate|event-id|LEVEL|logger|message` or `longdate|LEVEL|logger|message`.
    let (level, rest) = if first.bytes().all(|b| b.is_ascii_digit()) {
        rest.split_once('|')?
    } else {
        (first, rest)
    };
    let (logger, message) = rest.split_once('|')?;
    if !NLOG_LEVELS.contains(&level) {
        return None;
    }
    Some(Header::Single {
        ts: Some(ts),
        source: Some(logger),
        message,
    })
}

const LOG4NET_LEVELS: [&str; 6] = ["DEBUG", "INFO", "WARN", "ERROR", "FATAL", "TRACE"];

/// log4net `%date [%thread] %-5level %logger - %message` (thread optional).
fn log4net_header<'t>(line: &'t str, ctx: &Context) -> Option<Header<'t>> {
    let (ts, rest) = common::timestamp(line, ctx)?;
    let mut rest = rest.trim_start();
    if let Some(thread) = rest.strip_prefix('[') {
        rest = thread.split_once("] ")?.1;
    }
    let (level, rest) = rest.split_once(' ')?;
    if !LOG4NET_LEVELS.contains(&level) {
        return None;
    }
    let (logger, message) = rest.trim_start().split_once(" - ")?;
    if !is_category(logger) {
        return None;
    }
    Some(Header::Single {
        ts: Some(ts),
        source: Some(logger),
        message,
    })
}

/// A .NET exception printed after a one-line record.
fn is_exception_line(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("at ")
        || t.starts_with("--- End of")
        || (!line.starts_with(' ')
            && t.split(':')
                .next()
                .is_some_and(|h| h.ends_with("Exception") && h.contains('.')))
}

/// `RequestId:0HNB…:00000003` / `RequestPath:/connect/token` in a scope line.
fn scope_value<'t>(scope: &'t str, key: &str) -> Option<&'t str> {
    let start = scope.find(key)? + key.len();
    let rest = &scope[start..];
    let end = rest.find([' ', ',']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests;
