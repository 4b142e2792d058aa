//! The header of Keycloak's JSON console lines (Quarkus's `json` format and
//! ECS): time, logger and message. Read in one pass by [`crate::json_scan`],
//! which builds nothing of the dozen other fields; `serde_json` with
//! [`JsonRecord`] is the judge of any line that reader calls unusual.
//! `serde_json` read each such line at about 6,000 instructions, a fifth of
//! reading a Keycloak JSON log (benches/README.md).
//!
//! Invariant: when the one-pass reader gives the three fields, they are the
//! ones [`JsonRecord`] reads from the same line: a field given twice, under
//! its name or its alias, and a value of another type than a string or
//! `null`, are unusual to the reader and refused by `serde_json`.

use std::borrow::Cow;

use serde::Deserialize;

use crate::json_scan::{Scanned, Scanner, Seen, Unusual};

#[derive(Deserialize)]
struct JsonRecord {
    #[serde(default, alias = "@timestamp")]
    timestamp: Option<String>,
    #[serde(default, rename = "loggerName", alias = "log.logger")]
    logger_name: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// A line's time, logger and message, as written.
pub(super) type Fields<'t> = [Option<Cow<'t, str>>; 3];

/// The time, logger and message of a JSON console line; `None` when it is
/// not a JSON object of that shape.
pub(super) fn header_fields(line: &str) -> Option<Fields<'_>> {
    match fields(line) {
        Ok(fields) => Some(fields),
        Err(Unusual) => with_serde(line),
    }
}

/// The fields read in one pass, or [`Unusual`].
fn fields(line: &str) -> Scanned<Fields<'_>> {
    let mut scan = Scanner::new(line);
    let mut fields: Fields<'_> = Default::default();
    let mut seen = Seen::default();
    scan.object(|scan, key| {
        let field = match key {
            "timestamp" | "@timestamp" => 0,
            "loggerName" | "log.logger" => 1,
            "message" => 2,
            _ => return scan.skip_value(),
        };
        fields[field] = seen.once(field as u32, scan.string_or_null())?;
        Ok(())
    })?;
    scan.end()?;
    Ok(fields)
}

/// The fields as `serde_json` reads them.
fn with_serde(line: &str) -> Option<Fields<'static>> {
    let rec: JsonRecord = serde_json::from_str(line).ok()?;
    Some([rec.timestamp, rec.logger_name, rec.message].map(|f| f.map(Cow::Owned)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of the sample logs and the corpus that opens a JSON
    /// object, and lines made from the Keycloak ones by repeating a field
    /// under its alias, giving a field another type, escaping a key and
    /// cutting the line: the one-pass reader's fields, when it gives them,
    /// are `serde_json`'s, and it gives them for the sample logs' own lines.
    #[test]
    fn the_fields_read_in_one_pass_are_serdes() {
        let mut lines = crate::test_support::sample_and_corpus_lines();
        lines.retain(|l| l.starts_with('{'));
        let own: Vec<String> = lines
            .iter()
            .filter(|l| l.contains("org.keycloak"))
            .cloned()
            .collect();
        assert!(own.len() >= 10, "{}", own.len());
        for line in &own {
            assert!(fields(line).is_ok(), "{line}");
        }
        let mut made = Vec::new();
        for line in &own {
            made.push(line.replacen("\"loggerName\":", "\"log.logger\":\"x\",\"loggerName\":", 1));
            made.push(line.replacen("\"@timestamp\":", "\"timestamp\":null,\"@timestamp\":", 1));
            made.push(line.replacen("\"message\":", "\"message\":5,\"other\":", 1));
            made.push(line.replacen("\"message\":", "\"messag\\u0065\":", 1));
            made.push(line.replacen("\"message\":\"", "\"message\":null,\"m\":\"", 1));
            for cut in [1, line.len() / 2, line.len() - 1] {
                made.push(line.get(..cut).unwrap_or(line).to_string());
            }
        }
        for line in lines.iter().chain(&made) {
            if let Ok(read) = fields(line) {
                assert_eq!(Some(read), with_serde(line), "{line}");
            }
        }
    }
}
