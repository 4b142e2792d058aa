//! Hosting platforms' log lines: Heroku (`heroku logs`, log drains written
//! to files), Fly.io (`fly logs`), `aws logs tail` (CloudWatch), and rows
//! copied from the CloudWatch console's log events table.

use super::model::{EnvelopeKind, Meta, Name, Piece, Pieces};
use super::time::{EnvelopeTime, rfc3339_prefix, starts_with_level};

/// `TIME app[web.1]: line`, `TIME heroku[router]: at=info method=POST …`,
/// `TIME app[3d8d9e1a] iad [info] line` (Fly) and `TIME STREAM line`
/// (`aws logs tail`, whose time has six fraction digits and `+00:00`).
pub(super) fn peel<'a>(
    line: &'a str,
    sticky: Option<EnvelopeKind>,
    out: &mut Pieces<'a>,
) -> Option<EnvelopeKind> {
    let (time, rest) = rfc3339_prefix(line)?;
    let rest = rest.strip_prefix(' ')?;
    let (token, text) = rest.split_once(' ').unwrap_or((rest, ""));
    let meta = |unit: &str, pod: Option<&str>| Meta {
        time: EnvelopeTime::At(time),
        unit: Some(Name::from(unit)),
        pod: pod.map(Name::from),
        ..Meta::default()
    };
    if let Some((source, dyno)) = bracketed(token.strip_suffix(':').unwrap_or("")) {
        // Heroku: `app[web.1]:`, `heroku[router]:`, `heroku[web.1]:`.
        out.push(Piece::new(text, meta(source, Some(dyno))));
        return Some(EnvelopeKind::Heroku);
    }
    if let Some((source, machine)) = bracketed(token) {
        // Fly: `app[id] REGION [level] line`.
        let (region, after) = text.split_once(' ')?;
        if region.len() != 3 || !region.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
        let after = after.strip_prefix('[')?;
        let (_level, message) = after.split_once(']')?;
        let message = message.strip_prefix(' ').unwrap_or(message);
        out.push(Piece::new(message, meta(source, Some(machine))));
        return Some(EnvelopeKind::Fly);
    }
    let tail_time = line.as_bytes().get(19..).is_some_and(|r| {
        r.len() > 13
            && r[0] == b'.'
            && &r[7..13] == b"+00:00"
            && r[1..7].iter().all(u8::is_ascii_digit)
    });
    if (tail_time || sticky == Some(EnvelopeKind::CloudWatchTail))
        && !token.is_empty()
        && !starts_with_level(token)
        && !text.is_empty()
    {
        out.push(Piece::new(text, meta(token, None)));
        return Some(EnvelopeKind::CloudWatchTail);
    }
    None
}

/// `| 2022-11-20T17:15:23.858-08:00 | line`: a row of the CloudWatch
/// console's log events table as a person copies it into a ticket (as
/// posted in nextauthjs/next-auth#5864, the first row without the space
/// after its `|`). Read as the `aws logs tail` envelope: the same events,
/// the time the console shows, no stream.
pub(super) fn peel_console_row<'a>(line: &'a str, out: &mut Pieces<'a>) -> Option<EnvelopeKind> {
    let rest = line.strip_prefix('|')?.trim_start_matches(' ');
    let (time, rest) = rfc3339_prefix(rest)?;
    let text = rest.trim_start_matches(' ').strip_prefix('|')?;
    let text = text.strip_prefix(' ').unwrap_or(text);
    out.push(Piece::new(text, Meta::at(time)));
    Some(EnvelopeKind::CloudWatchTail)
}

/// `name[inner]` (a whole token).
fn bracketed(token: &str) -> Option<(&str, &str)> {
    let inner = token.strip_suffix(']')?;
    let (name, id) = inner.split_once('[')?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    (plain(name) && plain(id)).then_some((name, id))
}

/// Whether `text` can only be an application's line, not the rest of one
/// that began with the time before it: it starts like a record of its own
/// (a Ruby Logger letter, a request-id tag, a JSON object, a second time, a
/// `key=value` pair) or like a Rails request line.
pub(super) fn looks_like_a_line_start(text: &str) -> bool {
    let b = text.as_bytes();
    match b.first() {
        Some(b'{') => true,
        Some(b'[') => !text.starts_with("[main]") && b.len() > 3,
        Some(c) if c.is_ascii_digit() => b.len() > 10 && (b[4] == b'-' || b[2] == b':'),
        Some(c) if c.is_ascii_uppercase() => {
            // `I, [2025-…` (Ruby Logger), `Started POST "/oauth/token"`.
            (b.len() > 3 && b[1] == b',' && b[2] == b' ')
                || text.starts_with("Started ")
                || text.starts_with("Completed ")
                || text.starts_with("Processing by ")
        }
        Some(c) if c.is_ascii_lowercase() => {
            text.split_once(' ').map_or(text, |(w, _)| w).contains('=')
        }
        _ => false,
    }
}
