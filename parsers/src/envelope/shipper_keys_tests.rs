//! The one-pass key search against a substring search for each key.

use proptest::prelude::*;

use super::*;

/// Lines of the sample logs that start with `{`, and their every cut.
fn sample_json_lines() -> Vec<String> {
    let samples = [
        include_str!("../../../sample_logs/hydra/hydra-v2.3.json.log"),
        include_str!("../../../sample_logs/hydra/hydra-v26.json.log"),
    ];
    samples
        .iter()
        .flat_map(|text| text.lines())
        .filter(|line| line.starts_with('{'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_one_pass_answers_as_the_searches_on_sample_lines_and_their_cuts() {
    let mut lines = sample_json_lines();
    assert!(!lines.is_empty());
    // Each key placed at every offset of a long line, so that it starts
    // in a block, across a block's end and in the padded rest.
    let filler = "x".repeat(100);
    for key in KEYS {
        for at in 0..filler.len() {
            lines.push(format!("{{{}{key}:1}}", &filler[..at]));
            // The key without its closing quote, and with another letter.
            let open = &key[..key.len() - 1];
            lines.push(format!("{{{}{open}:1}}", &filler[..at]));
            lines.push(format!("{{{}\"z{}", &filler[..at], &key[2..]));
        }
    }
    for line in &lines {
        let cuts = (0..=line.len()).filter(|&i| line.is_char_boundary(i));
        for end in cuts {
            let text = &line[..end];
            assert_eq!(holds_key(text), holds_key_by_search(text), "{text:?}");
        }
    }
}

/// The answer is not a constant: each key is found, and a line with none
/// is not.
#[test]
fn each_key_is_found_and_a_line_without_one_is_not() {
    for key in KEYS {
        assert!(holds_key(&format!("{{\"a\":1,{key}:\"v\"}}")), "{key}");
    }
    assert!(!holds_key(
        r#"{"level":"info","msg":"completed handling request","logs":1}"#
    ));
    assert!(!holds_key(""));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]
    /// Lines made of the keys' pieces, quotes, letters and other bytes, of
    /// every length up to a few blocks.
    #[test]
    fn the_one_pass_answers_as_the_searches(
        parts in prop::collection::vec(
            prop_oneof![
                prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
                prop::sample::select(KEYS.to_vec()).prop_map(|k| k[..k.len() - 1].to_owned()),
                prop::sample::select(KEYS.to_vec()).prop_map(|k| k[1..].to_owned()),
                "[\"a-zA-Z_:,{} é]{0,20}",
            ],
            0..12,
        )
    ) {
        let line = parts.concat();
        prop_assert_eq!(holds_key(&line), holds_key_by_search(&line), "{:?}", line);
    }
}
