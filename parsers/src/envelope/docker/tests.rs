//! The fast reading of docker's json-file lines checked against the
//! general JSON path (`shipper::peel_json_value`), which it must agree with
//! on every line it takes. A file of its own: the reading is called by the
//! shipper's path, and the check calls that path back.

use super::*;

/// A piece as the tests compare it: (text, partial, stream, time).
type Seen = (String, bool, Option<Stream>, Option<String>);

/// The one piece `peel_with` makes of `line`, as docker json-file.
fn read_with(
    line: &str,
    peel_with: for<'a> fn(&'a str, &mut Pieces<'a>) -> Option<EnvelopeKind>,
) -> Option<Seen> {
    let mut out = Pieces::new();
    assert_eq!(peel_with(line, &mut out)?, EnvelopeKind::DockerJson);
    let p = out.pop()?;
    Some((
        p.text.into_owned(),
        p.partial,
        p.meta.stream,
        p.meta.time.get().map(|t| t.to_rfc3339()),
    ))
}

/// What the general JSON path makes of `line`.
fn by_value(line: &str) -> Option<Seen> {
    read_with(line, crate::envelope::shipper::peel_json_value)
}

/// What the fast reading by position makes of `line`.
fn by_position(line: &str) -> Option<Seen> {
    read_with(line, peel)
}

#[test]
fn read_by_position_as_the_json_value_reads_it() {
    // Lines as docker's jsonlog writer escapes them: `"`, `\`, control
    // characters, and `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`.
    let t = r#""time":"2025-03-11T08:00:00.123456789Z"}"#;
    let lines = [
        format!(r#"{{"log":"plain line\n","stream":"stdout",{t}"#),
        format!(r#"{{"log":"Started POST \"/oauth/token\" for 10.0.0.1\n","stream":"stderr",{t}"#),
        format!(r#"{{"log":"a=1\u0026b=\u003cx\u003e tab\there\r\n","stream":"stdout",{t}"#),
        format!(r#"{{"log":"two\nlines\n","stream":"stdout",{t}"#),
        format!(r#"{{"log":"16 KiB piece, no newline","stream":"stdout",{t}"#),
        format!(r#"{{"log":"back\\slash \/ and é ☃\n","stream":"stdout",{t}"#),
        format!(r#"{{"log":"ends in an escaped newline \u000a","stream":"stdout",{t}"#),
        format!(r#"{{"log":"","stream":"stdout",{t}"#),
        format!(r#"{{"log":"\n","stream":"stdout",{t}"#),
        r#"{"log":"offset time\n","stream":"stdout","time":"2025-03-11T08:00:00+02:00"}"#
            .to_string(),
        r#"{"log":"30 February\n","stream":"stdout","time":"2025-02-30T08:00:00Z"}"#.to_string(),
    ];
    for line in &lines {
        let fast = by_position(line);
        assert!(
            fast.is_some(),
            "docker's own shape is read by position: {line}"
        );
        assert_eq!(fast, by_value(line), "{line}");
    }
}

#[test]
fn off_the_exact_shape_left_to_the_json_value() {
    let t = r#""time":"2025-03-11T08:00:00Z"}"#;
    for line in [
        // A surrogate pair, a raw control character, a bad escape.
        format!(r#"{{"log":"\ud83d\ude00\n","stream":"stdout",{t}"#),
        format!("{{\"log\":\"raw\ttab\\n\",\"stream\":\"stdout\",{t}"),
        format!(r#"{{"log":"bad \x escape\n","stream":"stdout",{t}"#),
        // Labels (`attrs`), another key order, another stream, spaces.
        r#"{"log":"x\n","stream":"stdout","attrs":{"tag":"web"},"time":"2025-03-11T08:00:00Z"}"#
            .to_string(),
        format!(r#"{{"stream":"stdout","log":"x\n",{t}"#),
        format!(r#"{{"log":"x\n","stream":"stdin",{t}"#),
        format!(r#"{{"log":"x\n","stream":"stdout",{t} "#),
        r#"{"log":"cut short"#.to_string(),
    ] {
        assert_eq!(by_position(&line), None, "{line}");
    }
    // The ones that are docker all the same are read by the general path.
    let line = format!(r#"{{"log":"\ud83d\ude00\n","stream":"stdout",{t}"#);
    let mut out = Pieces::new();
    assert_eq!(
        crate::envelope::peel(&line, None, &crate::parser::Context::default(), &mut out),
        Some(EnvelopeKind::DockerJson)
    );
    assert_eq!(out[0].text, "😀");
}

/// What the quiet path reads of `line`: `whole_line`'s text, and
/// `quiet_scan`'s (whole text, or the start before the first escape).
fn quiet_reads(line: &str) -> (Option<String>, Option<(String, bool)>) {
    let mut scratch = Vec::new();
    let whole = whole_line(line, &mut scratch).map(|(t, _)| t.to_string());
    let scan = quiet_scan(line).map(|s| (s.text.to_string(), s.whole));
    (whole, scan)
}

/// The lazy reading gives a text exactly for the lines `peel` takes as one
/// whole piece, and then that piece's text; the scan's start is the start
/// of that text, and the whole of it when only the newline is escaped.
#[test]
fn the_quiet_path_reads_what_peel_reads() {
    let t = r#""time":"2025-03-11T08:00:00.123456789Z"}"#;
    let lines = [
        // Escapes as docker writes a Rails line, and the final newline alone.
        format!(
            r#"{{"log":"I, [x #9] DEBUG -- : SELECT \"p\".* WHERE \"p\".\"id\" = $1 \u003e \u0026\n","stream":"stdout",{t}"#
        ),
        format!(r#"{{"log":"I, [x #9]  INFO -- : plain\n","stream":"stderr",{t}"#),
        // The log holds docker's own tail, escaped: still one string.
        format!(
            r#"{{"log":"x\",\"stream\":\"stdout\",\"time\":\"2025\"}}\n","stream":"stdout",{t}"#
        ),
        // A Windows line end, a newline escaped as \u000a, non-ASCII.
        format!(r#"{{"log":"crlf\r\n","stream":"stdout",{t}"#),
        format!(r#"{{"log":"u-newline\u000a","stream":"stdout",{t}"#),
        format!(r#"{{"log":"é ☃ \\ \/ \t\n","stream":"stdout",{t}"#),
        format!(r#"{{"log":"\n","stream":"stdout",{t}"#),
        // 16 KiB pieces (no final newline): peel takes them as partial.
        format!(r#"{{"log":"a piece \"quoted\"","stream":"stdout",{t}"#),
        format!(r#"{{"log":"","stream":"stdout",{t}"#),
        format!(r#"{{"log":"newline inside\n but not last","stream":"stdout",{t}"#),
    ];
    for line in &lines {
        let piece = by_position(line).expect("docker's own shape");
        let (whole, scan) = quiet_reads(line);
        if piece.1 {
            assert_eq!((&whole, &scan), (&None, &None), "a piece is joined: {line}");
            continue;
        }
        assert_eq!(whole.as_deref(), Some(piece.0.as_str()), "{line}");
        let (start, complete) = scan.expect("scanned");
        assert!(piece.0.starts_with(&start), "{line}");
        if complete {
            assert_eq!(start, piece.0, "{line}");
        }
    }
    // Only the final newline escaped: the scan gives the whole text.
    let (_, scan) = quiet_reads(&lines[1]);
    assert_eq!(scan, Some(("I, [x #9]  INFO -- : plain".to_string(), true)));
    // Otherwise the part before the first escape.
    let (_, scan) = quiet_reads(&lines[0]);
    assert_eq!(
        scan,
        Some(("I, [x #9] DEBUG -- : SELECT ".to_string(), false))
    );
}

/// Lines off the exact shape are left to `peel` (which reads them by the
/// JSON value, or not at all): the quiet path never guesses.
#[test]
fn the_quiet_path_leaves_lines_off_the_shape() {
    let t = r#""time":"2025-03-11T08:00:00Z"}"#;
    for line in [
        // The log string ends early: the tail at the end is text after it.
        r#"{"log":"a","stream":"stdout","time":"x"} b\n","stream":"stdout","time":"2025-03-11T08:00:00Z"}"#.to_string(),
        // An escape that swallows the closing quote.
        format!(r#"{{"log":"ends in a backslash \","stream":"stdout",{t}"#),
        // A surrogate pair, a raw tab, a bad escape, a \u cut by the end.
        format!(r#"{{"log":"\ud83d\ude00\n","stream":"stdout",{t}"#),
        format!("{{\"log\":\"raw\ttab\\n\",\"stream\":\"stdout\",{t}"),
        format!(r#"{{"log":"bad \x escape\n","stream":"stdout",{t}"#),
        format!(r#"{{"log":"cut \u00","stream":"stdout",{t}"#),
        // Labels, another order, another stream, a backslash in the time.
        r#"{"log":"x\n","stream":"stdout","attrs":{"tag":"web"},"time":"2025-03-11T08:00:00Z"}"#
            .to_string(),
        format!(r#"{{"stream":"stdout","log":"x\n",{t}"#),
        format!(r#"{{"log":"x\n","stream":"stdin",{t}"#),
        r#"{"log":"x\n","stream":"stdout","time":"2025\u002d03"}"#.to_string(),
        format!(r#"{{"log":"x\n","stream":"stdout",{t} "#),
    ] {
        assert_eq!(quiet_reads(&line), (None, None), "{line}");
    }
}

/// The bytes the escapes decode to are reported, so that a needle an
/// escape completes (`\/oauth\/`) is searched for in the decoded text.
#[test]
fn the_scan_reports_what_escapes_decode_to() {
    let t = r#""time":"2025-03-11T08:00:00Z"}"#;
    let line = format!(r#"{{"log":"POST \/oauth\/token \"x\" \u0026\n","stream":"stdout",{t}"#);
    let scan = quiet_scan(&line).expect("docker");
    let mut expected = ByteSet::default();
    expected.add(b"/\"&\n");
    assert_eq!(scan.made, expected);
    let plain = format!(r#"{{"log":"plain\n","stream":"stdout",{t}"#);
    let mut newline = ByteSet::default();
    newline.add(b"\n");
    assert_eq!(quiet_scan(&plain).expect("docker").made, newline);
}

/// Pieces of a `log` string: raw text, escapes of every kind (a quote, a
/// backslash, a backslash before a quote, `\u`), bytes off the shape (a
/// raw quote, a control byte, a bad escape, a surrogate).
const STRING_PIECES: [&str; 14] = [
    "a",
    "é",
    r#"\""#,
    r#"\\"#,
    r#"\\\""#,
    r#"\\\\""#,
    r#"\n"#,
    r#"\u003e"#,
    r#"\t"#,
    r#"\/"#,
    "\"",
    "\u{1}",
    r#"\x"#,
    r#"\ud83d"#,
];

/// What follows the pieces: docker's final newline and tail, its tail
/// alone (a 16 KiB piece), a tail off the shape.
const STRING_ENDS: [&str; 4] = [
    r#"\n","stream":"stdout","time":"2025-03-11T08:00:00.123456789Z"}"#,
    r#"\n","stream":"stderr","time":"2025-03-11T08:00:00Z"}"#,
    r#"","stream":"stdout","time":"2025-03-11T08:00:00Z"}"#,
    r#"\n","stream":"stdin","time":"2025-03-11T08:00:00Z"}"#,
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
    /// The AVX2 scan, which takes a block's escaped quotes at once, reads
    /// every line as the scan that takes each escape one at a time: the
    /// same text, whole or not, the same decoded bytes, and the same lines
    /// left to `peel`. Mostly raw text between the escapes, so that each
    /// falls at every place of a block and across two.
    #[test]
    fn the_block_scan_reads_as_the_one_at_a_time_scan(
        picks in proptest::collection::vec((0..STRING_PIECES.len() * 3, 0..4usize), 0..60),
        end in 0..STRING_ENDS.len(),
    ) {
        let mut line = String::from(r#"{"log":""#);
        for (pick, raw) in picks {
            line.push_str(STRING_PIECES.get(pick).copied().unwrap_or("x"));
            line.push_str(&"b".repeat(raw));
        }
        line.push_str(STRING_ENDS[end]);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt") {
            let seen = |s: Option<Scan<'_>>| s.map(|s| (s.text.to_string(), s.whole, s.made));
            // SAFETY: the CPU has AVX2 and POPCNT, asked just above.
            let by_blocks = seen(unsafe { quiet_scan_avx2(&line) });
            let one_at_a_time = seen(quiet_scan_by(&line, Specials::new));
            proptest::prop_assert_eq!(by_blocks, one_at_a_time, "{}", line);
        }
    }
}
