//! Field parsers shared by every format: timestamps in the shapes logs write
//! them, HTTP dates, query strings, quoted values, status codes.
//!
//! Each function takes the text of a field and returns `None` on anything it
//! does not recognise; none of them panics on any input.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use nom::bytes::complete::take_while_m_n;
use nom::character::complete::char;
use nom::combinator::map_res;
use nom::{IResult, Parser as _};

use crate::event::{TimeBasis, Timestamp};
use crate::parser::Context;
use crate::percent::percent_decode;

pub(crate) mod same_second;

/// The keys a structured record names its request by (JSON Lines' fields; a
/// record no parser knows, read key by key). The first present wins.
pub(crate) const REQUEST_ID_KEYS: &[&str] = &[
    "request_id",
    "requestId",
    "x_request_id",
    "x-request-id",
    "trace_id",
    "traceId",
    "correlation_id",
];

fn fixed_digits<T: std::str::FromStr>(n: usize) -> impl FnMut(&str) -> IResult<&str, T> {
    move |i| {
        map_res(
            take_while_m_n(n, n, |c: char| c.is_ascii_digit()),
            str::parse,
        )
        .parse(i)
    }
}

/// The value of the `N` ASCII digits that start `b`. Byte tests rather
/// than nom: the timestamp of every line goes through here, and the
/// combinators (a `str::parse` per field, a `String` per fraction) made it
/// a twentieth of a Keycloak log's instructions (benches/README.md).
fn digits<const N: usize>(b: &[u8]) -> Option<u32> {
    let d = b.get(..N)?;
    d.iter().try_fold(0u32, |v, &c| {
        c.is_ascii_digit().then(|| v * 10 + u32::from(c - b'0'))
    })
}

/// `YYYY-MM-DD`, and the rest.
fn date(i: &str) -> Option<(&str, NaiveDate)> {
    let b = i.as_bytes();
    let year = digits::<4>(b)?;
    let month = digits::<2>(b.get(5..)?)?;
    let day = digits::<2>(b.get(8..)?)?;
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    // Four digits: at most 9999, an i32.
    let d = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    Some((&i[10..], d))
}

/// `HH:MM:SS` with an optional `.fraction` or `,fraction` (any precision,
/// read to the nanosecond), and the rest.
fn time_of_day(i: &str) -> Option<(&str, NaiveTime)> {
    let b = i.as_bytes();
    let h = digits::<2>(b)?;
    let m = digits::<2>(b.get(3..)?)?;
    let s = digits::<2>(b.get(6..)?)?;
    if b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (nanos, end) = fraction(b);
    let t = NaiveTime::from_hms_nano_opt(h, m, s.min(59), nanos)?;
    // Every byte before `end` is ASCII: a character boundary.
    Some((&i[end..], t))
}

/// The fraction after the `HH:MM:SS` that starts `b` (`.` or `,` and
/// digits, read to the nanosecond), and where the time ends: 8 when no
/// digit follows.
fn fraction(b: &[u8]) -> (u32, usize) {
    if !matches!(b.get(8), Some(b'.' | b',')) {
        return (0, 8);
    }
    let run = b[9..].iter().take_while(|c| c.is_ascii_digit()).count();
    if run == 0 {
        return (0, 8);
    }
    let kept = run.min(9);
    let value = b[9..9 + kept]
        .iter()
        .fold(0u32, |v, &c| v * 10 + u32::from(c - b'0'));
    (value * 10u32.pow(9 - kept as u32), 9 + run)
}

/// `Z`, `+00:00`, `+0000`, ` +0000`, ` UTC`: seconds east of UTC, and the
/// rest.
fn zone(i: &str) -> Option<(&str, i32)> {
    let i2 = i.strip_prefix(' ').unwrap_or(i);
    if let Some(rest) = i2
        .strip_prefix('Z')
        .or_else(|| i2.strip_prefix("UTC"))
        .or_else(|| i2.strip_prefix("GMT"))
    {
        return Some((rest, 0));
    }
    let b = i2.as_bytes();
    let negative = match b.first()? {
        b'+' => false,
        b'-' => true,
        _ => return None,
    };
    let h = digits::<2>(&b[1..])?;
    let colon = usize::from(b.get(3) == Some(&b':'));
    let m = digits::<2>(b.get(3 + colon..)?)?;
    // Two digits each: small enough for an i32.
    let secs = (h * 3600 + m * 60) as i32;
    Some((&i2[5 + colon..], if negative { -secs } else { secs }))
}

fn assumed(naive: NaiveDateTime, ctx: &Context, basis: TimeBasis) -> Option<Timestamp> {
    let local = ctx.assumed_offset.from_local_datetime(&naive).single()?;
    Some(Timestamp {
        utc: local.with_timezone(&Utc),
        basis,
    })
}

/// A timestamp at the start of `text` in any of the shapes servers write:
/// RFC 3339 (`2025-03-11T09:41:07.318Z`), Rails (`2025-03-11 09:41:07 +0000`),
/// Ruby Logger (`2025-03-11T09:41:07.318220`, no zone), Java
/// (`2023-07-11 10:14:04,584`), NSLog (`2025-03-11 09:41:07.123456+0000`).
/// Returns the timestamp and the rest of the text.
pub fn timestamp<'t>(text: &'t str, ctx: &Context) -> Option<(Timestamp, &'t str)> {
    let (rest, d) = date(text)?;
    let rest = rest.strip_prefix(['T', ' '])?;
    let (rest, t) = time_of_day(rest)?;
    let naive = NaiveDateTime::new(d, t);
    if let Some((after, offset)) = zone(rest) {
        let utc = naive - chrono::Duration::seconds(i64::from(offset));
        let ts = Timestamp {
            utc: Utc.from_utc_datetime(&utc),
            basis: TimeBasis::Zoned,
        };
        return Some((ts, after));
    }
    Some((assumed(naive, ctx, TimeBasis::AssumedZone)?, rest))
}

/// A year-less `MM-DD HH:MM:SS.mmm` (logcat): the year comes from the
/// context (or the current year of the UTC clock is *not* used: without a
/// configured year, 1970 is never guessed and `None` is returned).
pub fn month_day_time<'t>(text: &'t str, ctx: &Context) -> Option<(Timestamp, &'t str)> {
    let year = ctx.assumed_year?;
    let (rest, (m, _, d, _)) = (
        fixed_digits::<u32>(2),
        char('-'),
        fixed_digits::<u32>(2),
        char(' '),
    )
        .parse(text)
        .ok()?;
    let (rest, t) = time_of_day(rest)?;
    let naive = NaiveDateTime::new(NaiveDate::from_ymd_opt(year, m, d)?, t);
    Some((assumed(naive, ctx, TimeBasis::YearInferred)?, rest))
}

/// A date-less `HH:MM:SS,mmm` (WildFly): the date comes from the context.
pub fn time_only<'t>(text: &'t str, ctx: &Context) -> Option<(Timestamp, &'t str)> {
    let date = ctx.assumed_date?;
    let (rest, t) = time_of_day(text)?;
    Some((
        assumed(NaiveDateTime::new(date, t), ctx, TimeBasis::DateInferred)?,
        rest,
    ))
}

/// Whether `text` starts like a date-less `HH:MM:SS` time (for detection,
/// which must work without an assumed date).
pub fn starts_with_time_of_day(text: &str) -> bool {
    time_of_day(text).is_some()
}

/// An HTTP date (`Tue, 11 Mar 2025 09:41:07 GMT`, RFC 7231 IMF-fixdate).
pub fn http_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Splits a URL or request target into its path (without scheme and host)
/// and query string.
pub fn split_url(url: &str) -> (&str, Option<&str>) {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let (before, query) = match without_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (without_fragment, None),
    };
    let path = match before.find("://") {
        Some(p) => {
            let after = &before[p + 3..];
            after.find('/').map_or("/", |slash| &after[slash..])
        }
        None => before,
    };
    (path, query)
}

/// The percent-decoded value of the first `key=` parameter of a query string.
/// `key` holds no `=` (the parsers' keys are constants). Pairs found by
/// a word-at-a-time byte search: `str::split`'s searcher and a
/// `split_once` per pair cost 1,700 instructions a call on a Rails
/// token request's parameters (benches/README.md).
pub fn query_param<'q>(query: &'q str, key: &str) -> Option<Cow<'q, str>> {
    debug_assert!(!key.contains('='), "{key}");
    let mut rest = query;
    loop {
        let amp = crate::bytes::first_byte(rest.as_bytes(), b'&');
        let pair = amp.map_or(rest, |i| &rest[..i]);
        if let Some(value) = pair.strip_prefix(key).and_then(|v| v.strip_prefix('=')) {
            return Some(percent_decode(value));
        }
        rest = &rest[amp? + 1..];
    }
}

/// The value of `"key"=>"value"` / `"key" => "value"` (Ruby `Hash#inspect`,
/// both the ≤ 3.3 and the 3.4 spacing) or `"key":"value"` / `"key": "value"`
/// (JSON) inside `text`, unescaped for `\"` and `\\`. Only string values.
pub fn quoted_value<'t>(text: &'t str, key: &str) -> Option<Cow<'t, str>> {
    match QUOTED_KEYS.iter().find(|f| f.needle() == key.as_bytes()) {
        Some(finder) => quoted_value_by(text, finder),
        None => quoted_value_by(text, &memchr::memmem::Finder::new(key)),
    }
}

/// The keys the parsers ask of every parameters line, and those the
/// provider hints ask of every error record (`type`, `error_subtype`),
/// each searcher built once: building one cost more than running it over
/// a line, and a Rails token request's parameters are asked seven keys
/// (benches/README.md).
static QUOTED_KEYS: std::sync::LazyLock<Vec<memchr::memmem::Finder<'static>>> =
    std::sync::LazyLock::new(|| {
        [
            "client_id",
            "grant_type",
            "redirect_uri",
            "code_challenge",
            "code_challenge_method",
            "username",
            "token_type_hint",
            "type",
            "error_subtype",
        ]
        .into_iter()
        .map(memchr::memmem::Finder::new)
        .collect()
    });

/// [`quoted_value`] with the key's searcher (`finder.needle()` is the key).
fn quoted_value_by<'t>(text: &'t str, finder: &memchr::memmem::Finder<'_>) -> Option<Cow<'t, str>> {
    // One searcher for every occurrence.
    let key = finder.needle();
    for start in finder.find_iter(text.as_bytes()) {
        let from = start + key.len();
        let before_ok = start > 0 && text.as_bytes()[start - 1] == b'"';
        let after = &text[from..];
        let Some(after) = after.strip_prefix('"') else {
            continue;
        };
        if !before_ok {
            continue;
        }
        let after = after.trim_start();
        let after = after
            .strip_prefix("=>")
            .or_else(|| after.strip_prefix(':'))
            .map(str::trim_start);
        let Some(value) = after.and_then(|a| a.strip_prefix('"')) else {
            continue;
        };
        return Some(unescape_until_quote(value));
    }
    None
}

/// Reads a double-quoted string body up to its closing quote, resolving `\"`
/// and `\\` (other escapes are kept as written).
pub fn unescape_until_quote(body: &str) -> Cow<'_, str> {
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Cow::Borrowed(&body[..i]),
            b'\\' => break,
            _ => i += 1,
        }
    }
    if i >= bytes.len() {
        return Cow::Borrowed(body);
    }
    let mut out = String::from(&body[..i]);
    let mut chars = body[i..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('/') => out.push('/'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The year of a timestamp (for carrying a year from one source to another).
pub fn year_of(ts: &Timestamp) -> i32 {
    ts.utc.year()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::default()
    }

    #[test]
    fn rfc3339_with_zone() {
        let (ts, rest) = timestamp("2025-03-11T09:41:07.318Z rest", &ctx()).expect("ts");
        assert_eq!(ts.basis, TimeBasis::Zoned);
        assert_eq!(ts.utc.to_rfc3339(), "2025-03-11T09:41:07.318+00:00");
        assert_eq!(rest, " rest");
    }

    #[test]
    fn rails_started_time_with_offset() {
        let (ts, _) = timestamp("2022-06-03 06:35:40 +0900", &ctx()).expect("ts");
        assert_eq!(ts.utc.to_rfc3339(), "2022-06-02T21:35:40+00:00");
        assert_eq!(ts.basis, TimeBasis::Zoned);
    }

    #[test]
    fn logger_prefix_time_without_zone_is_assumed() {
        let (ts, rest) = timestamp("2025-03-11T09:41:07.318220 #7]", &ctx()).expect("ts");
        assert_eq!(ts.basis, TimeBasis::AssumedZone);
        assert_eq!(rest, " #7]");
    }

    #[test]
    fn java_comma_millis() {
        let (ts, rest) = timestamp("2023-07-11 10:14:04,584 WARN", &ctx()).expect("ts");
        assert_eq!(ts.utc.timestamp_subsec_millis(), 584);
        assert_eq!(rest, " WARN");
    }

    #[test]
    fn nslog_offset_without_colon() {
        let (ts, _) = timestamp("2025-03-11 09:41:07.123456+0100 App[1:2]", &ctx()).expect("ts");
        assert_eq!(ts.utc.to_rfc3339(), "2025-03-11T08:41:07.123456+00:00");
    }

    #[test]
    fn logcat_needs_a_year() {
        assert!(month_day_time("05-02 10:15:03.118  4321", &ctx()).is_none());
        let c = Context {
            assumed_year: Some(2025),
            ..ctx()
        };
        let (ts, _) = month_day_time("05-02 10:15:03.118  4321", &c).expect("ts");
        assert_eq!(ts.basis, TimeBasis::YearInferred);
        assert_eq!(ts.utc.to_rfc3339(), "2025-05-02T10:15:03.118+00:00");
    }

    #[test]
    fn http_dates() {
        let d = http_date("Tue, 11 Mar 2025 09:41:07 GMT").expect("date");
        assert_eq!(d.to_rfc3339(), "2025-03-11T09:41:07+00:00");
    }

    #[test]
    fn urls_and_queries() {
        let (path, q) = split_url(
            "https://auth.example.com/oauth/authorize?client_id=a&redirect_uri=com.example%3A%2Fcb",
        );
        assert_eq!(path, "/oauth/authorize");
        assert_eq!(
            query_param(q.unwrap_or(""), "redirect_uri").as_deref(),
            Some("com.example:/cb")
        );
        assert_eq!(split_url("/oauth/token").0, "/oauth/token");
    }

    proptest::proptest! {
        /// The first pair whose key is `key`, as splitting on `&` and then
        /// on the first `=` finds it.
        #[test]
        fn query_param_finds_what_splitting_finds(
            query in "([a-c]{0,2}=?[a-c=%2F]{0,3}&?){0,6}",
            key in "[a-c]{0,2}",
        ) {
            let split = query.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k == key).then(|| percent_decode(v))
            });
            proptest::prop_assert_eq!(query_param(&query, &key), split);
        }
    }

    #[test]
    fn quoted_values_in_ruby_and_json() {
        let old = r#"{"grant_type"=>"refresh_token", "client_id"=>"abc"}"#;
        let new = r#"{"grant_type" => "refresh_token", "client_id" => "abc"}"#;
        let json = r#"{"grant_type": "refresh_token","client_id":"a\"bc"}"#;
        assert_eq!(quoted_value(old, "client_id").as_deref(), Some("abc"));
        assert_eq!(
            quoted_value(new, "grant_type").as_deref(),
            Some("refresh_token")
        );
        assert_eq!(quoted_value(json, "client_id").as_deref(), Some("a\"bc"));
        assert_eq!(quoted_value(json, "missing"), None);
    }

    /// Only a key between quotes and followed by `=>` or `:` counts: not
    /// the key inside another key, unquoted, as a value, or followed by
    /// something else; the first that counts wins.
    #[test]
    fn a_quoted_value_is_found_only_under_its_whole_quoted_key() {
        let cases = [
            (r#"{"xclient_id"=>"no", "client_id"=>"yes"}"#, Some("yes")),
            (r#"client_id=no "client_id"=>"yes""#, Some("yes")),
            (r#"{"a"=>"client_id", "client_id"=>"yes"}"#, Some("yes")),
            (r#"{"client_id", "client_id": "yes"}"#, Some("yes")),
            (r#"{"client_id"=>1, "client_id"=>"yes"}"#, Some("yes")),
            (r#"{"client_id_x"=>"no"}"#, None),
            (r#"""client_id"=>"yes""#, Some("yes")),
            (r#""client_id"#, None),
            (r#""client_id""#, None),
            (r#""client_id"=>"#, None),
            (r#""é"=>"x", "client_id"=>"ü""#, Some("ü")),
        ];
        for (text, want) in cases {
            assert_eq!(quoted_value(text, "client_id").as_deref(), want, "{text}");
        }
    }

    /// The byte-level date, time and zone readers against the nom
    /// combinators they replaced (kept here as the reference), on inputs
    /// near and far from a timestamp: same instant, same basis, same rest.
    mod against_nom {
        use super::super::*;
        use nom::bytes::complete::tag;
        use nom::character::complete::digit1;
        use nom::combinator::{opt, recognize};
        use nom::sequence::preceded;
        use proptest::prelude::*;

        fn date(i: &str) -> IResult<&str, NaiveDate> {
            map_res(
                (
                    fixed_digits::<i32>(4),
                    char('-'),
                    fixed_digits::<u32>(2),
                    char('-'),
                    fixed_digits::<u32>(2),
                ),
                |(y, _, m, _, d)| NaiveDate::from_ymd_opt(y, m, d).ok_or("bad date"),
            )
            .parse(i)
        }

        fn time_of_day(i: &str) -> IResult<&str, NaiveTime> {
            let (rest, (h, _, m, _, s)) = (
                fixed_digits::<u32>(2),
                char(':'),
                fixed_digits::<u32>(2),
                char(':'),
                fixed_digits::<u32>(2),
            )
                .parse(i)?;
            let (rest, frac) = opt(preceded(
                nom::branch::alt((char('.'), char(','))),
                recognize(digit1),
            ))
            .parse(rest)?;
            let nanos = frac.map_or(0, |f: &str| {
                let digits: String = f.chars().take(9).collect();
                let scale = 10u32.pow(9 - digits.len() as u32);
                digits.parse::<u32>().unwrap_or(0) * scale
            });
            match NaiveTime::from_hms_nano_opt(h, m, s.min(59), nanos) {
                Some(t) => Ok((rest, t)),
                None => Err(nom::Err::Error(nom::error::Error::new(
                    i,
                    nom::error::ErrorKind::Verify,
                ))),
            }
        }

        fn zone(i: &str) -> IResult<&str, i32> {
            let i2 = i.strip_prefix(' ').unwrap_or(i);
            if let Some(rest) = i2
                .strip_prefix('Z')
                .or_else(|| i2.strip_prefix("UTC"))
                .or_else(|| i2.strip_prefix("GMT"))
            {
                return Ok((rest, 0));
            }
            let (rest, (sign, h, _, m)) = (
                nom::branch::alt((char('+'), char('-'))),
                fixed_digits::<i32>(2),
                opt(tag(":")),
                fixed_digits::<i32>(2),
            )
                .parse(i2)?;
            let secs = h * 3600 + m * 60;
            Ok((rest, if sign == '-' { -secs } else { secs }))
        }

        fn reference<'t>(text: &'t str, ctx: &Context) -> Option<(Timestamp, &'t str)> {
            let (rest, d) = date(text).ok()?;
            let rest = rest.strip_prefix(['T', ' '])?;
            let (rest, t) = time_of_day(rest).ok()?;
            let naive = NaiveDateTime::new(d, t);
            if let Ok((after, offset)) = zone(rest) {
                let utc = naive - chrono::Duration::seconds(i64::from(offset));
                let ts = Timestamp {
                    utc: Utc.from_utc_datetime(&utc),
                    basis: TimeBasis::Zoned,
                };
                return Some((ts, after));
            }
            Some((assumed(naive, ctx, TimeBasis::AssumedZone)?, rest))
        }

        fn check(text: &str) {
            let ctx = Context {
                assumed_offset: chrono::FixedOffset::east_opt(3_600).expect("offset"),
                ..Context::default()
            };
            assert_eq!(timestamp(text, &ctx), reference(text, &ctx), "{text:?}");
            assert_eq!(
                super::super::time_of_day(text),
                time_of_day(text).ok(),
                "{text:?}"
            );
            assert_eq!(super::super::zone(text), zone(text).ok(), "{text:?}");
        }

        /// A timestamp's shapes, with every byte possibly replaced.
        fn near_a_timestamp() -> impl Strategy<Value = String> {
            let shape = "[0-9]{4}-[0-1][0-9]-[0-3][0-9][T ][0-2][0-9]:[0-6][0-9]:[0-6][0-9]\
                         ([.,][0-9]{0,12})?( ?(Z|UTC|GMT|[+-][0-9]{2}:?[0-9]{2}))?.{0,3}";
            (
                proptest::string::string_regex(shape).expect("regex"),
                proptest::collection::vec((any::<prop::sample::Index>(), "[0-9:.,T +Z-é]"), 0..3),
            )
                .prop_map(|(s, edits)| {
                    let mut chars: Vec<char> = s.chars().collect();
                    for (at, with) in edits {
                        if !chars.is_empty() {
                            let i = at.index(chars.len());
                            chars.splice(i..=i, with.chars());
                        }
                    }
                    chars.into_iter().collect()
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4_000))]
            #[test]
            fn same_answers_near_a_timestamp(text in near_a_timestamp()) {
                check(&text);
            }

            #[test]
            fn same_answers_on_any_text(text in "[0-9:.,T +ZUTCGM-é]{0,32}") {
                check(&text);
            }
        }

        #[test]
        fn same_answers_on_the_shapes_logs_write() {
            for text in [
                "2025-03-11T09:41:07.318Z rest",
                "2025-03-11 09:41:07 +0000",
                "2025-03-11T09:41:07.318220",
                "2023-07-11 10:14:04,584 INFO",
                "2025-03-11 09:41:07.123456+0000",
                "2025-03-11T09:41:07.1234567891234-05:30x",
                "2025-02-30 09:41:07",
                "2025-03-11 24:00:00",
                "2025-03-11 23:59:60.5",
                "2025-03-11 09:41:07.",
                "2025-03-11 09:41:07+05:",
                "2025-03-11 09:41:07 UTC",
            ] {
                check(text);
            }
        }
    }
}
