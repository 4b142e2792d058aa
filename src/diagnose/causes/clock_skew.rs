//! `clock_skew`: a clock (device, client server, IdP) is off, so a JWT's
//! iat/exp/nbf is outside the window: a client assertion the server refuses,
//! or an ID token the app refuses.
//!
//! Evidence: the assertion's times against the server's time (proven), or a
//! client's ID-token or assertion time check together with the device
//! clock's offset measured from the server's `Date` header (proven, the
//! offset in the summary). A time check with no clock measured points at it
//! (`medium`) and says which log would show the offset. Google's bare
//! `invalid_grant` to a service account's JWT-bearer grant points at it too,
//! at `medium` only: a deleted key gets the same answer (a candidate from
//! `invalid_client_credentials`).

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use super::support::{capitalize, google_jwt_bearer_silence, own_texts, ts};
use super::{Finding, Grants, Rule};
use crate::config::DiagnoseSettings;
use crate::diagnose::case::Case;
use crate::diagnose::cause::{Cause, Confidence};
use crate::time::human_duration;

/// The rule.
pub const RULE: Rule = Rule {
    cause: Cause::ClockSkew,
    meaning: "a clock is off, so a JWT's time check failed",
    needs: "a JWT's iat/exp/nbf against the server's time, or a client's ID-token or assertion time check (with the client's measured clock offset for high)",
    fix: "Synchronise the clock of the machine or device named in the summary (NTP; on phones, automatic date and time); give JWT checks a small leeway.",
    grants: Grants::Any,
    infer: Some(infer),
};

fn infer(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    assertion_times(case, settings)
        .or_else(|| time_check(case, settings))
        .or_else(|| google_jwt_silence(case))
}

/// Google's bare `invalid_grant` to a service account's signed JWT: most
/// often the JWT's iat/exp outside Google's window, i.e. the signing
/// machine's clock; never more than `medium`, since a deleted or disabled
/// key gets the same answer.
fn google_jwt_silence(case: &Case) -> Option<Finding> {
    google_jwt_bearer_silence(case).then(|| {
        Finding::flow(
            Confidence::Medium,
            "Google refused a service account's signed JWT (a JWT-bearer grant) with a bare invalid_grant: it answers so when the JWT's iat or exp is outside its window, which the clock of the machine that signed it being off does; a deleted or disabled service-account key gets the same answer.".into(),
        )
        .missing(Some(
            "the signing machine's clock against a trusted time (or the JWT's iat and exp next to the response's Date header), and whether the key in the service account's JSON key file still exists".into(),
        ))
    })
}

/// The assertion's own times against the server's clock.
fn assertion_times(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    let now = case.time_ms? / 1000;
    let leeway = settings.jwt_leeway_s;
    let x = &case.exchange;
    let what = if let Some(iat) = x.jwt_iat.filter(|&iat| iat > now + leeway) {
        format!(
            "the assertion's iat ({}) is {} after the server's time ({})",
            ts(Some(iat * 1000)),
            human_duration((iat - now) * 1000),
            ts(Some(now * 1000))
        )
    } else if let Some(nbf) = x.jwt_nbf.filter(|&nbf| nbf > now + leeway) {
        format!(
            "the assertion's nbf ({}) is {} after the server's time",
            ts(Some(nbf * 1000)),
            human_duration((nbf - now) * 1000)
        )
    } else {
        let exp = x
            .jwt_exp
            .filter(|&exp| exp < now - leeway && x.jwt_iat.is_some_and(|iat| exp - iat <= 3600))?;
        format!(
            "the assertion expired at {}, {} before the server's time (its iat is {})",
            ts(Some(exp * 1000)),
            human_duration((now - exp) * 1000),
            ts(x.jwt_iat.map(|i| i * 1000))
        )
    };
    Some(Finding::flow(
        Confidence::High,
        format!(
            "{}: the clock of the machine that signed it is off.",
            capitalize(&what)
        ),
    ))
}

/// What a word of a time check says: the text is about a JWT, it names a
/// time claim (a word of its own), or it says a time went wrong.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Says {
    Jwt,
    Claim,
    TimeWrong,
}

/// The words of a time check, in ASCII of any case.
const TIME_CHECK_WORDS: &[(&str, Says)] = &[
    ("id token", Says::Jwt),
    ("id_token", Says::Jwt),
    ("idtoken", Says::Jwt),
    ("jwt", Says::Jwt),
    ("assertion", Says::Jwt),
    ("issued at", Says::Jwt),
    ("iat", Says::Claim),
    ("nbf", Says::Claim),
    ("exp", Says::Claim),
    // Words of a time going wrong, not just of a time (Entra ends every
    // message with a "Timestamp:" line).
    ("expired", Says::TimeWrong),
    ("in the future", Says::TimeWrong),
    ("before", Says::TimeWrong),
    ("not yet", Says::TimeWrong),
    ("not active", Says::TimeWrong),
    ("time range", Says::TimeWrong),
    ("clock", Says::TimeWrong),
    ("skew", Says::TimeWrong),
    ("timestamp check", Says::TimeWrong),
];

/// Every place of every word of [`TIME_CHECK_WORDS`], overlaps included,
/// in one pass: a search per word of a lowercased copy was a hundredth of
/// a Keycloak log's instructions (benches/README.md).
static TIME_CHECK: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(TIME_CHECK_WORDS.iter().map(|(w, _)| w))
        .unwrap_or_else(|e| unreachable!("constant words: {e}"))
});

/// Whether `text` is a JWT time check's complaint: it names an ID token, a
/// JWT, an assertion or a time claim (a word of its own), and a time going
/// wrong.
pub fn is_time_check(text: &str) -> bool {
    let (mut jwt, mut time_wrong) = (false, false);
    for m in TIME_CHECK.find_overlapping_iter(text) {
        match TIME_CHECK_WORDS[m.pattern().as_usize()].1 {
            Says::Jwt => jwt = true,
            Says::Claim => jwt |= is_word(text, m.start(), m.end()),
            Says::TimeWrong => time_wrong = true,
        }
        if jwt && time_wrong {
            return true;
        }
    }
    false
}

/// Whether `text[start..end]` is a word: no letter or digit right before
/// or after it.
fn is_word(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(|c| c.is_ascii_alphanumeric())
        && !after.is_some_and(|c| c.is_ascii_alphanumeric())
}

/// A time check's complaint, with the device clock's offset when a log
/// shows it.
fn time_check(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    let said = own_texts(case).find(|t| is_time_check(t))?;
    // The offset measured right before the failure wins over the log's
    // median: a device clock can be changed by hand mid-log.
    let threshold = settings.skew_threshold_s * 1000;
    if let Some((offset, at)) = case.nearby_offset {
        return (offset.abs() >= threshold).then(|| {
            Finding::flow(
                Confidence::High,
                format!(
                    "The token's times were refused (\"{said}\"), and the app's clock was {} {} the server's (its log time against the server's Date header at {}).",
                    human_duration(offset),
                    if offset > 0 { "ahead of" } else { "behind" },
                    ts(Some(at))
                ),
            )
        });
    }
    if let Some(clock) = &case.client_clock {
        return (clock.offset_ms.abs() >= threshold).then(|| {
            Finding::flow(
                Confidence::High,
                format!(
                    "The token's times were refused (\"{said}\"), and the app's clock is {} ({} samples against the server's Date header).",
                    clock.note, clock.samples
                ),
            )
        });
    }
    Some(
        Finding::flow(
            Confidence::Medium,
            format!(
                "A JWT time check failed (\"{said}\"): a clock off by more than the check's leeway does this; no log read shows how far the clock was off."
            ),
        )
        .missing(Some(
            "a log with the server's Date header next to the client's own time (an HTTP log of the app), to measure its clock offset".into(),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::ClockEstimate;
    use crate::diagnose::causes::testing::{T0, case, client_error, failed};
    use grantwatch_parsers::{GrantType, ServerKind};

    #[test]
    fn an_assertion_from_the_future_is_proven() {
        let mut e = failed(GrantType::ClientCredentials);
        e.jwt_iat = Some(T0 / 1000 + 600);
        let f = infer(&case(e), &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::High);
        assert!(f.summary.contains("10 min 0 s after"), "{}", f.summary);
    }

    #[test]
    fn an_assertion_within_the_leeway_says_nothing() {
        let mut e = failed(GrantType::ClientCredentials);
        e.jwt_iat = Some(T0 / 1000 + 30);
        assert!(infer(&case(e), &DiagnoseSettings::default()).is_none());
    }

    fn google_jwt_failure() -> crate::store::EventRow {
        let mut e = client_error(Some("invalid_grant"), None);
        e.grant_type = Some(GrantType::JwtBearer);
        e.server = Some(ServerKind::Google);
        e
    }

    #[test]
    fn googles_bare_answer_to_a_service_account_jwt_is_a_clock_at_medium() {
        let v = crate::diagnose::decide(&case(google_jwt_failure()), &DiagnoseSettings::default());
        assert_eq!(
            (v.cause, v.confidence),
            (Cause::ClockSkew, Confidence::Medium)
        );
        assert!(
            v.candidates
                .iter()
                .any(|c| c.cause == Cause::InvalidClientCredentials),
            "{:?}",
            v.candidates
        );
        assert!(v.missing.is_some_and(|m| m.contains("clock")));
    }

    #[test]
    fn googles_bare_answer_to_other_grants_or_servers_says_nothing_of_clocks() {
        let mut code = google_jwt_failure();
        code.grant_type = Some(GrantType::AuthorizationCode);
        assert!(infer(&case(code), &DiagnoseSettings::default()).is_none());
        let mut other = google_jwt_failure();
        other.server = Some(ServerKind::Keycloak);
        assert!(infer(&case(other), &DiagnoseSettings::default()).is_none());
        let mut worded = google_jwt_failure();
        worded.error_description = Some("Invalid JWT Signature.".into());
        assert!(infer(&case(worded), &DiagnoseSettings::default()).is_none());
    }

    #[test]
    fn time_checks_are_told_from_other_complaints() {
        for yes in [
            "Issued at time is more than 10 minutes before or after the current time",
            "ID Token expired",
            "\"iat\" claim timestamp check failed (too far in the future)",
            "jwt issued in the future",
            "Client assertion is not within its valid time range.",
            "The token is not yet valid (nbf)",
        ] {
            assert!(is_time_check(yes), "{yes}");
        }
        for no in [
            "The refresh token expired",
            "Code is expired",
            "Invalid ID Token",
            "Session not active",
            "exponential backoff",
            "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.\r\nTimestamp: 2019-06-26 08:26:25Z",
        ] {
            assert!(!is_time_check(no), "{no}");
        }
    }

    /// The rule as a search per word of a lowercased copy, as it was
    /// written first.
    fn is_time_check_per_word(text: &str) -> bool {
        let t = text.to_ascii_lowercase();
        let has = |w: &&str| t.contains(*w);
        let claim = |name: &&str| {
            t.match_indices(*name).any(|(at, _)| {
                let before = t[..at].chars().next_back();
                let after = t[at + name.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric())
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric())
            })
        };
        let about_jwt = [
            "id token",
            "id_token",
            "idtoken",
            "jwt",
            "assertion",
            "issued at",
        ]
        .iter()
        .any(has)
            || ["iat", "nbf", "exp"].iter().any(claim);
        let about_time = [
            "expired",
            "in the future",
            "before",
            "not yet",
            "not active",
            "time range",
            "clock",
            "skew",
            "timestamp check",
        ]
        .iter()
        .any(has);
        about_jwt && about_time
    }

    /// Texts of the words in any case, cut, glued to letters, digits,
    /// spaces and non-ASCII letters: one pass gives what a search per word
    /// gives.
    #[test]
    fn one_pass_tells_what_a_search_per_word_tells() {
        let pieces = [
            "ID Token",
            "id_token",
            "JWT",
            "Assertion",
            "issued at",
            "iat",
            "NBF",
            "exp",
            "Exp",
            "expired",
            "in the future",
            "Before",
            "not yet",
            "clock",
            "SKEW",
            "timestamp check",
            "time range",
            "not active",
            "x",
            "9",
            " ",
            "é",
            "\"",
            "ia",
            "t",
            "ex",
            "p",
            "_",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut below = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut yes, mut no) = (0, 0);
        for _ in 0..20_000 {
            let text: String = (0..below(7)).map(|_| pieces[below(pieces.len())]).collect();
            let want = is_time_check_per_word(&text);
            assert_eq!(is_time_check(&text), want, "{text:?}");
            if want { yes += 1 } else { no += 1 }
        }
        assert!(yes > 1_000 && no > 1_000, "{yes} time checks, {no} not");
    }

    fn app_time_check() -> Case {
        case(client_error(None, Some("ID Token expired")))
    }

    #[test]
    fn a_time_check_with_the_clock_offset_measured_is_proven() {
        let mut c = app_time_check();
        c.nearby_offset = Some((-540_000, T0 - 20_000));
        let f = infer(&c, &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::High);
        assert!(f.summary.contains("9 min 0 s behind"), "{}", f.summary);
    }

    #[test]
    fn a_time_check_with_no_clock_measured_is_medium() {
        let f = infer(&app_time_check(), &DiagnoseSettings::default()).expect("finding");
        assert_eq!(f.confidence, Confidence::Medium);
        assert!(f.missing.is_some_and(|m| m.contains("Date header")));
    }

    #[test]
    fn a_clock_in_sync_rules_it_out() {
        let mut c = app_time_check();
        c.client_clock = Some(ClockEstimate {
            offset_ms: 800,
            samples: 4,
            note: "in sync with the server (within 2 s)".into(),
        });
        assert!(infer(&c, &DiagnoseSettings::default()).is_none());
    }
}
