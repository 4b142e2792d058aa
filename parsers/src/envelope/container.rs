//! Container runtimes and process managers: Kubernetes CRI files,
//! `kubectl logs --prefix`, `docker compose logs` / overmind, foreman.
//! (docker's json-file driver is a JSON record: see `shipper`.)

use super::model::{EnvelopeKind, Meta, Name, Piece, Pieces, Stream};
use super::time::{EnvelopeTime, Stamp, rfc3339_stamp, rfc3339_stamp_len};

/// `2025-03-11T08:00:00.123456789Z stdout F line` (CRI, as the kubelet
/// writes `/var/log/pods/…/0.log`). `P` marks a line the runtime split
/// (over 16 KiB); the pieces up to the next `F` are one line.
pub(super) fn peel_cri<'a>(line: &'a str, out: &mut Pieces<'a>) -> Option<EnvelopeKind> {
    let CriLine { stamp, fields } = cri_parts(line)?;
    out.push(Piece {
        text: fields.text.into(),
        meta: Meta {
            time: EnvelopeTime::Written(stamp),
            stream: Some(fields.stream),
            ..Meta::default()
        },
        partial: fields.partial,
    });
    Some(EnvelopeKind::Cri)
}

/// The application's line of a whole CRI line (tag `F`): the text of the
/// piece [`peel_cri`] makes of it, checked as that does (time and all),
/// for the quiet path, which needs nothing else of it: the time is only
/// measured, not read. `None` when `peel_cri` takes no whole piece from
/// `line`.
pub(super) fn whole_cri_text(line: &str) -> Option<&str> {
    let end = rfc3339_stamp_len(line)?;
    // The kubelet's own way, ten bytes that settle stream and tag at once.
    let head = line.as_bytes().get(end..end + WHOLE_HEAD_LEN);
    if head.is_some_and(|h| h == b" stdout F " || h == b" stderr F ") {
        return line.get(end + WHOLE_HEAD_LEN..);
    }
    after_stamp(line, end)
        .filter(|cri| !cri.partial)
        .map(|cri| cri.text)
}

/// ` stdout F `: what lies between the time and the text of a whole
/// line with one tag.
const WHOLE_HEAD_LEN: usize = 10;

/// The fields of a CRI line.
struct CriLine<'a> {
    stamp: Stamp,
    fields: CriFields<'a>,
}

/// The fields of a CRI line after its time.
struct CriFields<'a> {
    stream: Stream,
    /// Tag `P`: a piece of a split line.
    partial: bool,
    text: &'a str,
}

fn cri_parts(line: &str) -> Option<CriLine<'_>> {
    let (stamp, end) = rfc3339_stamp(line)?;
    let fields = after_stamp(line, end)?;
    Some(CriLine { stamp, fields })
}

/// The stream, tag and text of a CRI line whose time ends at `end`.
fn after_stamp(line: &str, end: usize) -> Option<CriFields<'_>> {
    // Byte tests by position: this runs on every line of a node's log.
    let rest = line.as_bytes().get(end..)?.strip_prefix(b" ")?;
    let (stream, at) = match rest.get(..7)? {
        b"stdout " => (Stream::Stdout, end + 8),
        b"stderr " => (Stream::Stderr, end + 8),
        _ => return None,
    };
    let rest = line.get(at..)?;
    // The tag field is `F` or `P`, possibly with more `:`-separated tags.
    let (tags, text) = match rest.as_bytes() {
        [_, b' ', ..] => (&rest[..1], &rest[2..]),
        _ => match memchr::memchr(b' ', rest.as_bytes()) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        },
    };
    let partial = match tags.as_bytes() {
        [b'F'] | [b'F', b':', ..] => false,
        [b'P'] | [b'P', b':', ..] => true,
        _ => return None,
    };
    Some(CriFields {
        stream,
        partial,
        text,
    })
}

/// Lines led by a name: `kubectl logs --prefix` (`[pod/NAME/CONTAINER] `)
/// and `docker compose logs` / overmind (`name-1  | `). Compose service
/// names are lower case (compose refuses others), which keeps an
/// application's `INFO | …` layout from being taken for one.
pub(super) fn peel_named<'a>(
    line: &'a str,
    _sticky: Option<EnvelopeKind>,
    out: &mut Pieces<'a>,
) -> Option<EnvelopeKind> {
    if let Some(rest) = line.strip_prefix("[pod/") {
        let (name, text) = rest.split_once("] ")?;
        let (pod, container) = name.split_once('/')?;
        out.push(Piece::new(
            text,
            Meta {
                pod: Some(Name::from(pod)),
                container: Some(Name::from(container)),
                ..Meta::default()
            },
        ));
        return Some(EnvelopeKind::KubectlPrefix);
    }
    let (name, text) = bar_split(line)?;
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
        || !name.as_bytes()[0].is_ascii_alphanumeric()
    {
        return None;
    }
    out.push(Piece::new(
        text,
        Meta {
            pod: Some(Name::from(name)),
            ..Meta::default()
        },
    ));
    Some(EnvelopeKind::Compose)
}

/// `name   | text`: a name without spaces, padding, `|`, one space. The
/// text may be empty (`name  |`).
fn bar_split(line: &str) -> Option<(&str, &str)> {
    // A name is at most 64 bytes plus its padding: look no further.
    let head_len = line.len().min(96);
    let bar = memchr::memchr(b'|', &line.as_bytes()[..head_len])?;
    let head = &line[..bar];
    let name = head.trim_end_matches(' ');
    if name.is_empty() || name.len() == head.len() || name.contains(' ') || name.len() > 64 {
        return None;
    }
    let text = &line[bar + 1..];
    let text = text.strip_prefix(' ').unwrap_or(text);
    if !text.is_empty() && !line[bar + 1..].starts_with(' ') {
        return None;
    }
    Some((name, text))
}

/// `12:00:01 web.1  | line` (foreman, honcho): a time of day, the process
/// name, padding, `|`.
pub(super) fn peel_foreman<'a>(line: &'a str, out: &mut Pieces<'a>) -> Option<EnvelopeKind> {
    let bytes = line.as_bytes();
    if bytes.len() < 12 || bytes[2] != b':' || bytes[5] != b':' || bytes[8] != b' ' {
        return None;
    }
    if !line[..8]
        .bytes()
        .filter(|b| *b != b':')
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (name, text) = bar_split(&line[9..])?;
    out.push(Piece::new(
        text,
        Meta {
            pod: Some(Name::from(name)),
            ..Meta::default()
        },
    ));
    Some(EnvelopeKind::Foreman)
}
