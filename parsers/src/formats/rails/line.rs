//! The anatomy of one Rails log line: an optional Ruby `Logger::Formatter`
//! prefix (`I, [2025-03-11T09:41:07.318220 #7]  INFO -- : `), optional
//! `ActiveSupport::TaggedLogging` tags (`[a5a054ed-…] `), then the message
//! body (`Started …`, `  Parameters: …`, `Completed …`, SQL lines, …).
//!
//! Shared with the lograge parser, whose lines carry the same prefix and
//! tags. Every function here is allocation-free, only slices at ASCII bytes
//! it found itself, and returns `None`/empty parts on anything unexpected:
//! it sits on the hot path of every line of a 64 MB log.

use memchr::memchr;

use crate::bytes::{first_byte, marks16};

/// A line split into prefix, tags and body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Parts<'a> {
    /// The zone-less time of the Logger prefix
    /// (`2025-03-11T09:41:07.318220`).
    pub logger_time: Option<&'a str>,
    /// The process id of the Logger prefix.
    pub pid: Option<&'a str>,
    /// Every leading `[tag]` group as written, without the space that
    /// follows the last one; empty when the line is untagged.
    pub tags: &'a str,
    /// The message after prefix and tags.
    pub body: &'a str,
}

impl<'a> Parts<'a> {
    /// Splits `line`; never fails (an unprefixed, untagged line is all body).
    pub(crate) fn split(line: &'a str) -> Parts<'a> {
        let (logger_time, pid, rest) = match logger_prefix(line) {
            Some((t, p, rest)) => (Some(t), Some(p), rest),
            None => (None, None, line),
        };
        let (tags, body) = split_tags(rest);
        Parts {
            logger_time,
            pid,
            tags,
            body,
        }
    }

    /// The key that groups the lines of one request: the tags when there
    /// are any (the request id is among them), else the Logger's pid (one
    /// process serves one request at a time in the common setups), else
    /// the empty key of a sequential development log.
    pub(crate) fn key(&self) -> &'a str {
        if !self.tags.is_empty() {
            self.tags
        } else {
            self.pid.unwrap_or("")
        }
    }

    /// The request id among the tags: the first tag that looks like an id
    /// (at least 16 characters of letters, digits, `-`, `_`, `.`, `:`, with
    /// a digit among them), as `X-Request-Id` values and Rails' UUIDs do.
    pub(crate) fn request_id(&self) -> Option<&'a str> {
        tag_list(self.tags).find(|t| looks_like_id(t))
    }
}

/// Ruby `Logger::Formatter`: `"%.1s, [%s #%d] %5s -- %s: %s"`. Returns the
/// time text, the pid and the message.
pub(crate) fn logger_prefix(line: &str) -> Option<(&str, &str, &str)> {
    let b = line.as_bytes();
    if b.len() < 8
        || !matches!(b[0], b'D' | b'I' | b'W' | b'E' | b'F' | b'A' | b'U')
        || &b[1..4] != b", ["
    {
        return None;
    }
    let close = 4 + memchr(b']', b.get(4..64.min(b.len()))?)?;
    let inside = &line[4..close];
    let hash = memchr::memrchr(b'#', inside.as_bytes())?;
    let time = inside[..hash].trim_end();
    let pid = &inside[hash + 1..];
    // `] ` + severity padded to 5 + ` -- ` + progname + `: `.
    let after = &line[close + 1..];
    // A dozen bytes: a window scan, not `memmem::find` (which builds a
    // searcher on every call: 80 instructions a line in the profile).
    let dash = after
        .as_bytes()
        .get(..after.len().min(12))?
        .windows(4)
        .position(|w| w == b" -- ")?;
    let rest = &after[dash + 4..];
    let colon = memchr(b':', rest.as_bytes())?;
    let msg = &rest[colon + 1..];
    Some((time, pid, msg.strip_prefix(' ').unwrap_or(msg)))
}

/// The message after the Logger prefix: `logger_prefix(line)`'s third
/// part, without a `memchr` or slice comparison call per search (each
/// costs its dispatch on bytes that sit within the first few dozen): the
/// test of every line `analyze` skims (see [`crate::quiet`]). Found in a
/// line's start, it is found in the whole line (every search takes the
/// first match in a window that only grows with the line), which lets the
/// skim judge a docker line by the part before its first escape.
pub(crate) fn logger_message(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    if b.len() < 8
        || !matches!(b[0], b'D' | b'I' | b'W' | b'E' | b'F' | b'A' | b'U')
        || b[1] != b','
        || b[2] != b' '
        || b[3] != b'['
    {
        return None;
    }
    let dash = if b.len() >= MARKED_LEN {
        dash_by_marks(b)?
    } else {
        dash_by_bytes(b)?
    };
    let colon = dash + 4 + b[dash + 4..].iter().position(|&c| c == b':')?;
    // Every index above is an ASCII byte found here: a character boundary.
    let msg = line.get(colon + 1..)?;
    Some(msg.strip_prefix(' ').unwrap_or(msg))
}

/// Lines at least this long are read by [`dash_by_marks`]: the bracket's
/// 64 bytes and the 16 after it.
const MARKED_LEN: usize = 80;

/// Where ` -- ` starts in a line that starts `X, [`: after the first `]`
/// of its first 64 bytes, a `#` before that bracket, within a dozen bytes
/// after it. A byte at a time: [`dash_by_marks`] is the same test on a
/// long line.
fn dash_by_bytes(b: &[u8]) -> Option<usize> {
    let close = 4 + first_byte(&b[4..b.len().min(64)], b']')?;
    // The pid sits just before the bracket: look for its `#` from there.
    b[4..close].iter().rposition(|&c| c == b'#')?;
    let after = close + 1;
    let window = b.len().min(after + 12);
    (after..window.saturating_sub(3))
        .find(|&i| b[i] == b' ' && b[i + 1] == b'-' && b[i + 2] == b'-' && b[i + 3] == b' ')
}

/// [`dash_by_bytes`] on a line of [`MARKED_LEN`] bytes or more, sixteen
/// bytes a compare: the brackets and hashes of the first 64 bytes as bit
/// masks, then the spaces and dashes of the 16 after the bracket, where a
/// ` -- ` starting at place `i` is a bit set in all four masks shifted by
/// its offsets. A skim of a Rails line cost 237 instructions with the
/// byte loops, 117 with the masks (benches/README.md).
fn dash_by_marks(b: &[u8]) -> Option<usize> {
    let marks64 = |needle: u8| {
        (0..4).fold(0u64, |m, i| {
            m | u64::from(marks16(&b[16 * i..], needle)) << (16 * i)
        })
    };
    // Places 4 to 63, as `b[4..64]`.
    let brackets = marks64(b']') & !0xf;
    if brackets == 0 {
        return None;
    }
    let close = brackets.trailing_zeros() as usize;
    // A `#` in `b[4..close]`.
    if marks64(b'#') & !0xf & ((1u64 << close) - 1) == 0 {
        return None;
    }
    // `after + 16 <= 80`: the line holds the sixteen bytes read, and its
    // dozen-byte window is whole, so ` -- ` may start at places 0 to 8.
    let after = close + 1;
    let spaces = marks16(&b[after..], b' ');
    let dashes = marks16(&b[after..], b'-');
    let starts = spaces & (dashes >> 1) & (dashes >> 2) & (spaces >> 3) & 0x1ff;
    (starts != 0).then(|| after + starts.trailing_zeros() as usize)
}

/// Splits leading `[tag] [tag] ` groups from the message. A group must be
/// closed within 128 bytes and be followed by a space or the end.
pub(crate) fn split_tags(rest: &str) -> (&str, &str) {
    let b = rest.as_bytes();
    let mut end = 0;
    while b.get(end) == Some(&b'[') {
        let window = &b[end + 1..b.len().min(end + 130)];
        let Some(close) = memchr(b']', window) else {
            break;
        };
        let after = end + 1 + close + 1;
        match b.get(after) {
            Some(b' ') => {
                // Empty tags (`[]`) are not Rails tags.
                if close == 0 {
                    break;
                }
                end = after + 1;
            }
            None if close > 0 => {
                end = after;
                break;
            }
            _ => break,
        }
    }
    if end == 0 {
        return ("", rest);
    }
    let tags = rest[..end].trim_end_matches(' ');
    (tags, &rest[end..])
}

/// The tags of a tag text, without brackets.
fn tag_list(tags: &str) -> impl Iterator<Item = &str> {
    tags.split("] ")
        .map(|t| t.trim_start_matches('[').trim_end_matches(']'))
        .filter(|t| !t.is_empty())
}

fn looks_like_id(tag: &str) -> bool {
    // `[2025-03-11T09:41:07.019Z]` is another format's timestamp.
    let dated = tag.as_bytes().get(4) == Some(&b'-') && tag.as_bytes().get(7) == Some(&b'-');
    !dated
        && tag.len() >= 16
        && tag.len() <= 200
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        && tag.bytes().any(|b| b.is_ascii_digit())
}

/// Whether the message is a lograge line (`method=… path=…`, or a JSON
/// object): those belong to the lograge parser, never to the Rails one.
pub(crate) fn is_lograge_body(body: &str) -> bool {
    body.starts_with("method=")
        || (body.starts_with('{') && memchr::memmem::find(body.as_bytes(), b"\"method\"").is_some())
}

/// Message shapes only Rails writes, recognised anywhere (strictly, so that
/// other formats' "Started …" or "Completed …" lines are not claimed).
pub(crate) fn is_rails_request_line(body: &str) -> bool {
    match body.as_bytes().first() {
        Some(b'S') => Started::parse(body).is_some(),
        Some(b'C') => completed_status(body).is_some(),
        Some(b'P') => body.starts_with("Processing by ") && memchr(b'#', body.as_bytes()).is_some(),
        Some(b' ') => body.starts_with("  Parameters: {"),
        Some(b'R') => body.starts_with("Redirected to "),
        Some(b'r') => body.starts_with("rescue_from handled "),
        _ => false,
    }
}

/// Message shapes that belong to a Rails request once we know the file is
/// a Rails log (SQL and render lines, `↳` source lines, exceptions and
/// their backtraces, CSRF and filter-chain notices).
pub(crate) fn is_rails_detail_line(body: &str) -> bool {
    const HEADS: [&str; 12] = [
        "  ",
        "\u{1b}[",
        "\u{21b3}",
        "Rendered ",
        "Rendering ",
        "Filter chain halted",
        "Can't verify CSRF",
        "No template found",
        "Sent data ",
        "Sent file ",
        "Read fragment ",
        "Write fragment ",
    ];
    body.is_empty()
        || HEADS.iter().any(|h| body.starts_with(h))
        || is_exception_line(body)
        || memchr::memmem::find(body.as_bytes(), b":in ").is_some()
}

/// `ActionController::RoutingError (No route matches …):`
fn is_exception_line(body: &str) -> bool {
    let head = body.split(' ').next().unwrap_or("");
    head.len() > 3
        && head.as_bytes()[0].is_ascii_uppercase()
        && memchr::memmem::find(head.as_bytes(), b"::").is_some()
        && head
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'.')
}

/// The parts of a `Started GET "/path?query" for 1.2.3.4 at 2025-03-11
/// 09:41:07 +0000` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Started<'a> {
    pub method: &'a str,
    /// Path and query, as logged (`request.filtered_path`).
    pub target: &'a str,
    pub ip: &'a str,
    /// The time text with its zone.
    pub time: &'a str,
}

impl<'a> Started<'a> {
    pub(crate) fn parse(body: &'a str) -> Option<Started<'a>> {
        let rest = body.strip_prefix("Started ")?;
        let space = memchr(b' ', rest.as_bytes())?;
        let method = &rest[..space];
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let rest = rest[space + 1..].strip_prefix('"')?;
        // The last `" for ` and the first ` at ` after it, found from the
        // quotes and spaces around them: `memmem::rfind` and `split_once`
        // built a searcher per call, 1,100 instructions a `Started` line.
        let end = memchr::memrchr_iter(b'"', rest.as_bytes())
            .find(|&q| rest.as_bytes()[q..].starts_with(b"\" for "))?;
        let target = &rest[..end];
        let tail = &rest[end + 6..];
        let at = memchr::memchr_iter(b' ', tail.as_bytes())
            .find(|&sp| tail.as_bytes()[sp..].starts_with(b" at "))?;
        let (ip, time) = (&tail[..at], &tail[at + 4..]);
        Some(Started {
            method,
            target,
            ip,
            time,
        })
    }
}

/// The status of a `Completed 400 Bad Request in 14ms (…)` message.
pub(crate) fn completed_status(body: &str) -> Option<u16> {
    let rest = body.strip_prefix("Completed ")?;
    let digits = rest.get(..3)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || rest.as_bytes().get(3) != Some(&b' ') {
        return None;
    }
    digits.parse().ok()
}

/// The exception class of a `rescue_from handled Class (message) - trace`
/// message (Rails 8.1+).
pub(crate) fn rescued_class(body: &str) -> Option<&str> {
    let rest = body.strip_prefix("rescue_from handled ")?;
    let class = rest.split([' ', '(']).next()?;
    (!class.is_empty()).then_some(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `RailsParser::skim_head` relies on: a prefix found in a line's
    /// start is found in every longer line, whatever follows.
    #[test]
    fn a_logger_prefix_found_in_a_lines_start_is_found_in_the_line() {
        let lines = [
            "I, [2025-03-11T09:00:00.004000 #9] DEBUG -- : [req]   Product Load (0.4ms)  SELECT \"p\".*",
            "E, [2025-03-11T09:00:00.004000 #12]  ERROR -- : boom",
            "W, [x #1] WARN -- app: y",
            "I, [2025-03-11T09:00:00.004000 #9]  INFO -- ",
            "I, [no hash here]  INFO -- : x",
            "I, [2025-03-11T09:00:00.004000 #9]                INFO -- : too far",
        ];
        let tails = ["", ":", " -- : x", "]", "#1] INFO -- : z", &"y".repeat(80)];
        let mut found = 0;
        for line in lines {
            for cut in 0..=line.len() {
                let head = &line[..cut];
                if logger_message(head).is_none() {
                    continue;
                }
                found += 1;
                for tail in tails {
                    let longer = format!("{head}{tail}");
                    assert!(logger_message(&longer).is_some(), "{head:?} + {tail:?}");
                }
            }
        }
        assert!(found > 0);
        assert!(logger_message(lines[3]).is_none());
        assert!(logger_message(lines[5]).is_none());
    }

    #[test]
    fn logger_prefix_and_tag() {
        let line = "I, [2025-03-11T09:41:07.318220 #7]  INFO -- : [a5a054ed-3f1e-4c7e-9b51-6b0a2f7c9d11] Started POST \"/oauth/token\" for 198.51.100.7 at 2025-03-11 09:41:07 +0000";
        let p = Parts::split(line);
        assert_eq!(p.logger_time, Some("2025-03-11T09:41:07.318220"));
        assert_eq!(p.pid, Some("7"));
        assert_eq!(p.tags, "[a5a054ed-3f1e-4c7e-9b51-6b0a2f7c9d11]");
        assert_eq!(p.request_id(), Some("a5a054ed-3f1e-4c7e-9b51-6b0a2f7c9d11"));
        let s = Started::parse(p.body).expect("started");
        assert_eq!(s.method, "POST");
        assert_eq!(s.target, "/oauth/token");
        assert_eq!(s.ip, "198.51.100.7");
        assert_eq!(s.time, "2025-03-11 09:41:07 +0000");
    }

    #[test]
    fn severities_progname_and_several_tags() {
        let p = Parts::split(
            "W, [2025-03-11T09:41:07.318220 #12]  WARN -- web: [www] [0e1d7c2a-77b0-4e2b-a1a8-5f1e2a9c3d40]   Parameters: {}",
        );
        assert_eq!(p.pid, Some("12"));
        assert_eq!(p.body, "  Parameters: {}");
        assert_eq!(p.request_id(), Some("0e1d7c2a-77b0-4e2b-a1a8-5f1e2a9c3d40"));
        let d = Parts::split("D, [2025-03-11T09:41:07.318220 #7] DEBUG -- :   User Load (0.4ms)");
        assert_eq!(d.body, "  User Load (0.4ms)");
        assert_eq!(d.key(), "7");
    }

    #[test]
    fn started_lines_split_like_the_searcher_based_reading() {
        // The byte scans must find what `rfind("\" for ")` and
        // `split_once(" at ")` found: the last `" for `, the first ` at `.
        for (body, target, ip, time) in [
            (
                "Started GET \"/a\" for b\" for 10.0.0.1 at 2025-03-11 09:41:07 +0000",
                "/a\" for b",
                "10.0.0.1",
                "2025-03-11 09:41:07 +0000",
            ),
            (
                "Started POST \"/oauth/token?x=\"q\"\" for ::1 at x at y",
                "/oauth/token?x=\"q\"",
                "::1",
                "x at y",
            ),
            ("Started GET \"\" for  at ", "", "", ""),
            ("Started GET \"/é\" for 1.2.3.4 at é", "/é", "1.2.3.4", "é"),
        ] {
            let s = Started::parse(body).expect(body);
            assert_eq!((s.target, s.ip, s.time), (target, ip, time), "{body}");
        }
        for body in [
            "Started GET \"/a\" for 10.0.0.1",
            "Started GET \"/a\"for 10.0.0.1 at t",
            "Started GET \"/a for 10.0.0.1 at t",
            "Started get \"/a\" for 10.0.0.1 at t",
        ] {
            assert_eq!(Started::parse(body), None, "{body}");
        }
    }

    #[test]
    fn the_quick_prefix_test_agrees_with_the_prefix_split() {
        let lines = [
            "I, [2025-03-11T09:41:07.318220 #7]  INFO -- : [abc] Started GET",
            "D, [2025-03-11T09:41:07.318220 #12345] DEBUG -- app: x",
            "I, [2025-03-11T09:41:07.318220 #7]  INFO -- no colon",
            "I, [2025-03-11T09:41:07.318220 7]  INFO -- : no hash",
            "I, [2025-03-11T09:41:07.318220 #7]  INFO - : one dash",
            "I, [2025-03-11T09:41:07.318220 #7] but the dashes come far too late -- : x",
            "I, [no close bracket within sixty-four bytes #7 .......................]  INFO -- : x",
            "I, [#]  -- :",
            "I, []  -- :",
            "X, [2025-03-11T09:41:07 #7]  INFO -- : x",
            "I, [2025-03-11T09:41:07 #7]",
            "I, [",
            "W, [t #1] -- :",
            "I, [é #7]  INFO -- : ünïcode",
            "plain line",
        ];
        for line in lines {
            assert_eq!(
                logger_message(line),
                logger_prefix(line).map(|p| p.2),
                "{line:?}"
            );
        }
        // Every cut of a real prefix, and the bracket at each place in a word.
        let full = "I, [2025-03-11T09:41:07.318220 #7]  INFO -- : [abc] body";
        for end in 0..=full.len() {
            let line = &full[..end];
            assert_eq!(
                logger_message(line),
                logger_prefix(line).map(|p| p.2),
                "{line:?}"
            );
        }
    }

    /// Lines long enough for the masks (and one byte short of them), the
    /// prefix's pieces moved about: the masks answer what the byte loops
    /// of `logger_prefix` answer.
    mod marks_as_bytes {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4_000))]
            #[test]
            fn the_masks_find_what_the_split_finds(
                head in "[DIWX], \\[",
                inside in "[0-9T:.#\\] -]{0,66}",
                gap in "[ A-Z]{0,14}",
                dashes in "( -- | - | --|-- )",
                progname in "[a-z:]{0,3}",
                tail in "[ a-z:\\]#-]{0,100}",
            ) {
                let line = format!("{head}{inside}]{gap}{dashes}{progname}: {tail}");
                for cut in [line.len(), MARKED_LEN, MARKED_LEN - 1, 64] {
                    let Some(line) = line.get(..cut.min(line.len())) else {
                        continue;
                    };
                    prop_assert_eq!(
                        logger_message(line),
                        logger_prefix(line).map(|p| p.2),
                        "{:?}", line
                    );
                }
            }
        }

        /// The hand-picked lines of the byte loops' test, each made long
        /// enough for the masks.
        #[test]
        fn long_lines_agree_with_the_split() {
            let tail = "y".repeat(MARKED_LEN);
            for line in [
                "I, [2025-03-11T09:41:07.318220 #7]  INFO -- : [abc] Started GET",
                "I, [2025-03-11T09:41:07.318220 7]  INFO -- : no hash",
                "I, [2025-03-11T09:41:07.318220 #7] but the dashes come far too late -- : x",
                "I, [no close bracket within sixty-four bytes #7 .......................]  INFO -- : x",
                "I, [#]  -- :",
                "I, []  -- :",
                "I, [2025-03-11T09:41:07.318220 #7]         -- : nine spaces",
                "I, [2025-03-11T09:41:07.318220 #7]          -- : ten spaces",
                "I, [é #7]  INFO -- : ünïcode",
            ] {
                let long = format!("{line}{tail}");
                assert!(long.len() >= MARKED_LEN);
                // ` -- ` at the window's last place is read, one further not.
                if line.ends_with("nine spaces") {
                    assert!(logger_message(&long).is_some());
                }
                if line.ends_with("ten spaces") {
                    assert!(logger_message(&long).is_none());
                }
                assert_eq!(
                    logger_message(&long),
                    logger_prefix(&long).map(|p| p.2),
                    "{long:?}"
                );
            }
        }
    }

    #[test]
    fn the_logger_prefix_needs_its_dashes_within_a_dozen_bytes() {
        let far = "I, [2025-03-11T09:41:07.318220 #7]  INFO           -- : x";
        assert_eq!(logger_prefix(far), None);
        let near = "I, [2025-03-11T09:41:07.318220 #7] INFO -- app: x";
        assert_eq!(
            logger_prefix(near),
            Some(("2025-03-11T09:41:07.318220", "7", "x"))
        );
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for line in [
            "",
            "I",
            "I, [",
            "I, [x]",
            "[",
            "[]",
            "[] x",
            "[abc",
            "I, [é #1] ",
            "Started ",
            "Started GET \"",
            "Completed 4",
            "rescue_from handled ",
        ] {
            let p = Parts::split(line);
            let _ = (
                p.request_id(),
                Started::parse(p.body),
                completed_status(p.body),
            );
            let _ = rescued_class(p.body);
        }
    }
}
