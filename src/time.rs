//! Times as people read them and as the contract writes them: milliseconds
//! since the epoch to RFC 3339 UTC with milliseconds and back, and a
//! duration in the largest unit that reads naturally. Every stage that prints
//! or parses a time uses these, so the CLI, the JSON API, the pages and the
//! alerts write one shape.
//!
//! Invariant: [`format_ts`] writes what [`parse_ts`] reads back exactly.

/// Milliseconds since the epoch as RFC 3339 UTC with milliseconds.
pub fn format_ts(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// RFC 3339 (or a bare date) to milliseconds since the epoch.
pub fn parse_ts(text: &str) -> Option<i64> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(d.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}

/// `9 min 12 s`, `3.4 s`, `250 ms`.
pub fn human_duration(ms: i64) -> String {
    let a = ms.unsigned_abs();
    if a < 1_000 {
        format!("{a} ms")
    } else if a < 60_000 {
        format!("{:.1} s", a as f64 / 1000.0)
    } else if a < 3_600_000 {
        format!("{} min {} s", a / 60_000, (a % 60_000) / 1000)
    } else if a < 172_800_000 {
        format!("{} h {} min", a / 3_600_000, (a % 3_600_000) / 60_000)
    } else {
        format!("{} days", a / 86_400_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_time_reads_back_and_a_bare_date_is_its_midnight() {
        let ms = 1_741_686_067_334;
        let text = format_ts(ms).expect("in range");
        assert_eq!(text, "2025-03-11T09:41:07.334Z");
        assert_eq!(parse_ts(&text), Some(ms));
        assert_eq!(parse_ts("2025-03-11"), Some(1_741_651_200_000));
        assert_eq!(parse_ts("yesterday"), None);
    }

    #[test]
    fn durations_read_in_their_largest_natural_unit() {
        assert_eq!(human_duration(250), "250 ms");
        assert_eq!(human_duration(-3_400), "3.4 s");
        assert_eq!(human_duration(552_000), "9 min 12 s");
        assert_eq!(human_duration(-840_000), "14 min 0 s");
        assert_eq!(human_duration(7_260_000), "2 h 1 min");
        assert_eq!(human_duration(3 * 86_400_000), "3 days");
    }
}
