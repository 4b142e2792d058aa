//! Taking one envelope layer off a line ([`peel`]): the first byte picks
//! which parsers to try (`{`/`[` a shipper's JSON, `<` syslog, a digit a
//! time-led line, a letter syslog or a Fluent Bit tag, `|` a row copied
//! from the CloudWatch console), so that a line no
//! envelope knows costs one or two byte comparisons. A shape an
//! application's own prefix could imitate (a bare RFC 3339 time) is taken
//! only when it cannot be the start of the application's line
//! ([`bare_time`]) or once the file showed it (`sticky`). `joiner.rs` calls
//! it layer after layer; [`rules_out`] answers from a line's start alone,
//! for a line not decoded yet.

use super::model::{EnvelopeKind, Meta, Piece, Pieces};
use super::time::{rfc3339_prefix, starts_with_level};
use super::{cloud, container, shipper, syslog};
use crate::parser::Context;

/// Takes one envelope layer off `line`, pushing the line(s) it carried to
/// `out` (a document of records carries many). `sticky` is the envelope the
/// file showed last, which lets ambiguous shapes through. Returns which
/// envelope it was, or `None` (and pushes nothing) when none fits.
pub fn peel<'a>(
    line: &'a str,
    sticky: Option<EnvelopeKind>,
    ctx: &Context,
    out: &mut Pieces<'a>,
) -> Option<EnvelopeKind> {
    let first = *line.as_bytes().first()?;
    let kind = match first {
        b'{' | b'[' => shipper::peel_json(line, ctx, out),
        b'<' => syslog::peel(line, ctx, out),
        b'0'..=b'9' => peel_time_led(line, sticky, ctx, out),
        // A syslog line led by a letter starts with its month (`Mar 11 `).
        b'A'..=b'Z' if line.as_bytes().get(3) == Some(&b' ') => syslog::peel(line, ctx, out),
        b'a'..=b'z' => shipper::peel_fluent_file(line, out),
        b'|' => cloud::peel_console_row(line, out),
        _ => None,
    };
    // Named lines start `[pod/` (kubectl) or with a lower-case compose name:
    // an application's own `I, [` or `INFO` never needs the search for `|`.
    if kind.is_none() && matches!(first, b'[' | b'a'..=b'z' | b'0'..=b'9') {
        return container::peel_named(line, sticky, out);
    }
    kind
}

/// Whether no line that starts with `head` is in an envelope [`peel`]
/// knows: its first byte leads to no parser (the dispatch above), so the
/// rest of the line need not be known. `false` says nothing.
pub(super) fn rules_out(head: &str) -> bool {
    match head.as_bytes() {
        [b'A'..=b'Z', _, _, fourth, ..] => *fourth != b' ',
        [
            b'{' | b'[' | b'<' | b'|' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z',
            ..,
        ]
        | [] => false,
        _ => true,
    }
}

/// Lines that start with a digit: a time (CRI, kubectl, Heroku, Fly, aws
/// logs tail, foreman, journal short-iso), an octet count (syslog over TCP),
/// or a Fluent Bit tag.
fn peel_time_led<'a>(
    line: &'a str,
    sticky: Option<EnvelopeKind>,
    ctx: &Context,
    out: &mut Pieces<'a>,
) -> Option<EnvelopeKind> {
    container::peel_cri(line, out)
        .or_else(|| cloud::peel(line, sticky, out))
        .or_else(|| syslog::peel(line, ctx, out))
        .or_else(|| container::peel_foreman(line, out))
        .or_else(|| bare_time(line, sticky, out))
}

/// An RFC 3339 time, one space, the line: `kubectl logs --timestamps`
/// (RFC3339Nano) and CloudWatch's S3 export. Many applications start their
/// own lines with such a time, so it is taken only when what follows cannot
/// be the rest of the application's line: not a level word, not padded, not
/// another bracket of the same line. With a nanosecond fraction, or once the
/// file showed this envelope, the guard is relaxed to the level check alone.
fn bare_time<'a>(
    line: &'a str,
    sticky: Option<EnvelopeKind>,
    out: &mut Pieces<'a>,
) -> Option<EnvelopeKind> {
    let (time, rest) = rfc3339_prefix(line)?;
    let rest = rest.strip_prefix(' ')?;
    let fraction = fraction_digits(line);
    let trusted = sticky == Some(EnvelopeKind::Timestamped) || fraction >= 7;
    if rest.starts_with(' ') || rest.is_empty() || starts_with_level(rest) {
        return None;
    }
    if !trusted && !cloud::looks_like_a_line_start(rest) {
        return None;
    }
    out.push(Piece::new(rest, Meta::at(time)));
    Some(EnvelopeKind::Timestamped)
}

/// Digits after the seconds' `.` of a leading RFC 3339 time.
fn fraction_digits(line: &str) -> usize {
    line.get(19..)
        .and_then(|r| r.strip_prefix('.'))
        .map_or(0, |r| r.bytes().take_while(u8::is_ascii_digit).count())
}
