//! The extractor's JSON walk over pruned values against the same walk over
//! whole ones (`json::scan_whole`): on every line of the sample logs and
//! the corpus, on objects made to hold each case the pruning must keep
//! (repeated keys, long arrays, JSON in strings, numbers under read keys),
//! and on generated objects dense with the keys the walk reads.

use super::super::json::{scan, scan_whole};
use super::READ_KEYS;
use crate::test_support::Rng;

fn assert_same(text: &str) {
    assert_eq!(scan(text), scan_whole(text), "{text}");
}

#[test]
fn every_sample_and_corpus_line_gives_what_the_whole_values_give() {
    let lines = crate::test_support::sample_and_corpus_lines();
    let mut with_errors = 0;
    for line in &lines {
        assert_same(line);
        with_errors += usize::from(scan_whole(line).error.is_some());
    }
    // The comparison means something only if many lines hold an error.
    assert!(with_errors > 50, "{with_errors} lines with an error");
}

#[test]
fn the_cases_the_pruning_must_keep() {
    let long_array = |at: usize| {
        let mut items = vec!["\"text\"".to_owned(); 80];
        items[at] = r#"{"error":"invalid_grant"}"#.to_owned();
        format!(r#"{{"items":[{}]}}"#, items.join(","))
    };
    let cases = [
        // A repeated key keeps its last value, whatever the first was.
        r#"{"x":{"error":"invalid_grant"},"x":"plain"}"#.to_owned(),
        r#"{"x":"plain","x":{"error":"invalid_grant"}}"#.to_owned(),
        r#"{"x":{"error":"invalid_grant"},"x":7}"#.to_owned(),
        r#"{"error":"invalid_grant","error":"unauthorized_client"}"#.to_owned(),
        // Only the first 64 items of an array are walked.
        long_array(10),
        long_array(70),
        // JSON in a string under any key; a string's `{` alone.
        r#"{"msg":"Response: {\"error\":\"invalid_grant\",\"error_description\":\"Bad\"}"}"#
            .to_owned(),
        r#"{"msg":"a { b","error":"invalid_grant"}"#.to_owned(),
        // Numbers and text under read keys, at every level.
        r#"{"error":{"message":"invalid_grant","status_code":400,"reason":"expired"}}"#.to_owned(),
        r#"{"error":"invalid_client","error_codes":[7000215],"status":"401"}"#.to_owned(),
        r#"{"error":"invalid_grant","error_code":50126,"hint":"x"}"#.to_owned(),
        r#"{"errors":[{"code":"invalid_grant","description":"used"}],"statusCode":400}"#.to_owned(),
        // Escaped keys (an owned key) and escaped values.
        r#"{"err\u006fr":"invalid_grant","k\"":"v","error_description":"a\nb"}"#.to_owned(),
    ];
    for case in &cases {
        assert_same(case);
        assert_same(&format!("prefix Response: {case} trailer {case}"));
    }
    assert!(scan_whole(&long_array(10)).error.is_some());
    assert!(scan_whole(&long_array(70)).error.is_none());
}

/// The maps are ordered by key, as the pruning assumes (a `serde_json`
/// built with `preserve_order` would order them as written).
#[test]
fn objects_are_ordered_by_key() {
    let value: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":2}"#).expect("json");
    let keys: Vec<&String> = value.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["a", "b"]);
}

/// A random value whose keys are mostly ones the walk reads.
fn value(rng: &mut Rng, depth: usize) -> String {
    const WORDS: [&str; 8] = [
        "invalid_grant",
        "unauthorized_client",
        "expired",
        "Bad Request",
        "400",
        "",
        " a { b ",
        "{\\\"error\\\":\\\"invalid_request\\\"}",
    ];
    match rng.below(if depth > 3 { 4 } else { 7 }) {
        0 => format!("\"{}\"", WORDS[rng.below(WORDS.len())]),
        1 => ["400", "7000215", "-3", "2.5", "1e3"][rng.below(5)].to_owned(),
        2 => ["true", "false", "null"][rng.below(3)].to_owned(),
        3 => format!("\"t{}\"", rng.below(1000)),
        4 | 5 => {
            let fields: Vec<String> = (0..rng.below(6))
                .map(|_| {
                    let key = if rng.below(3) == 0 {
                        "other".to_owned()
                    } else {
                        READ_KEYS[rng.below(READ_KEYS.len())].to_owned()
                    };
                    format!("\"{key}\":{}", value(rng, depth + 1))
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        _ => {
            let items: Vec<String> = (0..rng.below(5)).map(|_| value(rng, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
    }
}

#[test]
fn generated_objects_give_what_the_whole_values_give() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut with_errors = 0;
    for _ in 0..5_000 {
        let text = format!(
            "{{\"error\":{},\"x\":{}}}",
            value(&mut rng, 1),
            value(&mut rng, 0)
        );
        assert_same(&text);
        with_errors += usize::from(scan_whole(&text).error.is_some());
    }
    assert!(with_errors > 500, "{with_errors}");
}
