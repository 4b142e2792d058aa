//! The scanner against `serde_json` and a byte loop: what it accepts,
//! `serde_json` accepts, with the same strings.

use super::*;

/// Whether the scanner passes over all of `text` as one value.
fn skips(text: &str) -> bool {
    let mut scan = Scanner::new(text);
    scan.skip_value().and_then(|()| scan.end()).is_ok()
}

#[test]
fn first_special_finds_what_a_byte_loop_finds() {
    let near = [
        b'"', b'\\', 0x1f, 0x20, 0x00, 0x21, 0x5b, 0x5d, b'#', 0xa2, 0xdc, 0x9f, 0x80, 0xff, b'a',
    ];
    for len in 0..40 {
        for seed in 0..96usize {
            let hay: Vec<u8> = (0..len)
                .map(|i| near[(i * 7 + seed * 13 + i * i * seed) % near.len()])
                .collect();
            let expected = hay.iter().position(|&b| is_special(b));
            assert_eq!(first_special(&hay), expected, "{hay:?}");
        }
    }
}

#[test]
fn strings_decode_as_serde_decodes_them() {
    let texts = [
        r#""""#,
        r#""plain text, 123""#,
        r#""a\"b\\c\/d\be\ff\ng\rh\ti""#,
        r#""\\\\\"\"""#,
        r#""é ünïcödé ✓""#,
        r#""ends in escape\n""#,
        r#""Value is sensitive. Set \"log.leak_sensitive_values = true\" or \"LOG_LEAK_SENSITIVE_VALUES=true\".""#,
    ];
    for text in texts {
        let expected: String = serde_json::from_str(text).expect("valid JSON");
        let read = Scanner::new(text).string().expect("read");
        assert_eq!(read, expected, "{text}");
        assert_eq!(matches!(read, Cow::Borrowed(_)), !text.contains('\\'));
        // An escaped string is allocated once, with room for the rest of
        // the text (a string grown escape by escape would have another
        // capacity).
        if let Cow::Owned(owned) = &read {
            assert_eq!(owned.capacity(), text.len() - 1, "{text}");
        }
    }
    // A short escaped string at the start of a long line is given room for
    // a few kilobytes, not for the rest of the line; a long one is read
    // whole past that room.
    let line = format!("\"a\\\"b\",{}", " 1".repeat(50_000));
    match Scanner::new(&line).string().expect("read") {
        Cow::Owned(owned) => {
            assert_eq!(owned, "a\"b");
            assert!(owned.capacity() <= ROOM_AT_MOST, "{}", owned.capacity());
        }
        Cow::Borrowed(_) => panic!("an escaped string is copied"),
    }
    let long = format!("\"{}\\\"{}\"", "a".repeat(100), "b".repeat(100_000));
    let expected: String = serde_json::from_str(&long).expect("valid JSON");
    assert_eq!(Scanner::new(&long).string().expect("read"), expected);
}

#[test]
fn what_is_not_read_plainly_is_unusual() {
    for text in [
        r#""\u0041""#,
        "\"tab\tinside\"",
        "\"nul\u{0}\"",
        r#""\x""#,
        r#""unterminated"#,
        r#""ends in backslash\"#,
        "0123",
        "1.5",
        "1e3",
        "-",
        "1234567890123456789",
        "tru",
        "nul",
        "[1,]",
        r#"{"a":1,}"#,
        r#"{"a" 1}"#,
        r#"{"\u0061":1}"#,
        r#"{"a\n":1}"#,
        "{} x",
        "",
    ] {
        assert!(!skips(text), "{text}");
    }
}

#[test]
fn what_it_passes_over_serde_accepts() {
    for text in [
        "{}",
        "[]",
        " { \"a\" : [ 1 , -2 , 0 , -0 , true , false , null , \"s\" ] } ",
        r#"{"a":{"b":{"c":[{},[],{"d":"\"\\"}]}}}"#,
        "123456789012345678",
        "\"\u{7f}\u{80}\u{10ffff}\"",
    ] {
        assert!(skips(text), "{text}");
        assert!(
            serde_json::from_str::<serde_json::Value>(text).is_ok(),
            "{text}"
        );
    }
}

#[test]
fn nesting_past_the_limit_is_unusual() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(skips(&deep(MAX_DEPTH)));
    assert!(!skips(&deep(MAX_DEPTH + 1)));
    assert!(!skips(&deep(100_000)));
}

/// Generated JSON texts and their one-byte edits: whatever the scanner
/// passes over, `serde_json` parses.
#[test]
fn its_acceptance_implies_serde_s() {
    let pieces = [
        "{", "}", "[", "]", ":", ",", "\"", "\\", "\"a\"", "\"b\"", "1", "-", "0", "null", "true",
        " ", "\n", ".", "e", "\u{1}", "é",
    ];
    let mut accepted = 0;
    for seed in 0..200_000usize {
        let len = 1 + seed % 9;
        let text: String = (0..len)
            .map(|i| pieces[(seed / (i + 1) + i * 31 + seed * i * 7) % pieces.len()])
            .collect();
        if skips(&text) {
            accepted += 1;
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                "{text:?}"
            );
        }
    }
    assert!(accepted > 100, "only {accepted} accepted");
}
