//! The one-pass reader against `serde_json` (`json::parse_with_serde`):
//! on every JSON line of the sample logs and the corpus, and on lines made
//! from them by cutting, by giving a value another type, by repeating a
//! field and by inserting bytes, a record it reads is the one `serde_json`
//! reads.

use super::super::json::parse_with_serde;
use super::*;

/// Every line that opens a JSON object in the sample logs and the corpus.
fn json_lines() -> Vec<String> {
    let mut lines = crate::test_support::sample_and_corpus_lines();
    lines.retain(|l| l.starts_with('{'));
    lines
}

/// Whether the reader gave a record, asserting it is `serde_json`'s.
fn agrees(line: &str) -> bool {
    match parse(line) {
        Ok(rec) => {
            assert_eq!(Some(rec), parse_with_serde(line), "{line}");
            true
        }
        Err(Unusual) => false,
    }
}

/// Where each value of the line starts and ends (after each `":`).
fn values(line: &str) -> Vec<(usize, usize)> {
    line.match_indices("\":")
        .filter_map(|(at, _)| {
            let start = at + 2;
            let mut stream = serde_json::Deserializer::from_str(&line[start..])
                .into_iter::<serde::de::IgnoredAny>();
            stream.next()?.ok()?;
            Some((start, start + stream.byte_offset()))
        })
        .collect()
}

const OTHER_VALUES: [&str; 19] = [
    "null",
    "1",
    "-1",
    "-0",
    "01",
    "1.5",
    "1e400",
    "99999999999999999999",
    "true",
    "\"x\"",
    "\"\\u0041\"",
    "\"a\\nb\\\"c\\/\"",
    "{}",
    "[]",
    "[1,[2,{\"a\":null}]]",
    "{\"a\":[1,{\"b\":null}],\"status\":1}",
    "\"200\"",
    "\" 404 \"",
    "70000",
];

#[test]
fn reads_every_sample_and_corpus_json_line_as_serde_does() {
    let lines = json_lines();
    assert!(lines.len() > 40, "only {} JSON lines found", lines.len());
    let hydra = lines.iter().filter(|l| l.contains("\"audience\"")).count();
    let read = lines.iter().filter(|l| agrees(l)).count();
    // Every Hydra line is read without serde; the corpus's other JSON
    // lines may hold escapes the reader leaves to serde.
    assert!(
        read >= hydra && hydra >= 40,
        "{read} read, {hydra} Hydra lines"
    );
}

#[test]
fn a_cut_line_is_refused_or_read_as_serde_does() {
    for line in json_lines() {
        for cut in (0..line.len()).filter(|&i| line.is_char_boundary(i)) {
            agrees(&line[..cut]);
        }
    }
}

#[test]
fn a_value_of_another_type_is_read_as_serde_does() {
    let mut read = 0;
    let mut refused = 0;
    for line in json_lines().iter().filter(|l| l.contains("\"audience\"")) {
        for (start, end) in values(line) {
            for other in OTHER_VALUES {
                let changed = format!("{}{other}{}", &line[..start], &line[end..]);
                if agrees(&changed) {
                    read += 1;
                } else {
                    refused += 1;
                }
            }
        }
    }
    // Both ways are taken: the test would pass vacuously otherwise.
    assert!(
        read > 1000 && refused > 1000,
        "{read} read, {refused} refused"
    );
}

#[test]
fn a_repeated_field_is_left_to_serde() {
    for line in json_lines().iter().filter(|l| l.contains("\"audience\"")) {
        for (start, end) in values(line) {
            let Some(key_start) = line[..start - 2].rfind('"') else {
                continue;
            };
            let field = &line[key_start..end];
            // The field again, right after itself.
            let repeated = format!("{},{field}{}", &line[..end], &line[end..]);
            agrees(&repeated);
            // Fields the reader reads, wherever they sit in a Hydra line.
            let known = ["msg", "time", "path", "error", "status_code", "trace_id"]
                .map(|k| format!("\"{k}\":"));
            if known.iter().any(|k| field.starts_with(k)) {
                assert_eq!(parse(&repeated), Err(Unusual), "{repeated}");
            }
        }
    }
}

#[test]
fn an_inserted_byte_is_refused_or_read_as_serde_does() {
    let inserts = [
        "\"", "\\", ",", "}", "{", "]", " ", "\t", "\u{1}", "0", "-", ".", "é",
    ];
    for line in json_lines().iter().filter(|l| l.contains("\"audience\"")) {
        let places = line
            .char_indices()
            .filter(|(_, c)| matches!(c, '"' | ':' | ',' | '{' | '}' | '\\' | '0'..='9'))
            .map(|(i, _)| i);
        for at in places {
            for insert in inserts {
                agrees(&format!("{}{insert}{}", &line[..at], &line[at..]));
            }
        }
    }
}

#[test]
fn escapes_and_white_space_are_read_as_serde_does() {
    let lines = [
        r#" { "msg" : "a\"b\\c\/d\n\t" , "time":"t" , "error" : { "message" : "invalid_grant" } } "#,
        r#"{"msg":"x","error":"invalid_grant","hint":"h","debug":null,"description":"d","status_code":"400"}"#,
        r#"{"http_request":{"headers":{"x-request-id":"r","user-agent":null},"path":"/oauth2/token"},"http_response":{"status":401}}"#,
        r#"{"http_request":null,"http_response":null,"otel":{"trace_id":"abc"},"error":null}"#,
    ];
    for line in lines {
        assert!(agrees(line), "{line}");
    }
    // A `\u` escape is serde's to decode.
    let unicode = r#"{"msg":"\u0041","error":{"message":"invalid_grant"}}"#;
    assert_eq!(parse(unicode), Err(Unusual));
    assert_eq!(
        super::super::json::parse(unicode),
        parse_with_serde(unicode)
    );
}
