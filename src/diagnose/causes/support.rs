//! Small helpers several causes' inferences share: times and gaps in words,
//! how an earlier request ended, and the texts a failure's own records carry.

use crate::correlate::human_duration;
use crate::diagnose::case::Case;
use crate::store::EventRow;
use crate::store::failures::format_ts;

/// A time in RFC 3339, or words saying it is not known.
pub fn ts(ms: Option<i64>) -> String {
    ms.and_then(format_ts)
        .unwrap_or_else(|| "an unknown time".into())
}

/// How an earlier request ended, in words.
pub fn outcome(e: &EventRow) -> String {
    if e.kind == "token_request" {
        return "sent by the same app".into();
    }
    match (e.status, &e.error) {
        (Some(s), _) => format!("status {s}"),
        (None, Some(err)) => format!("error {err}"),
        (None, None) => "successfully".into(),
    }
}

/// `, 310 ms earlier` (or `, in the same second` for logs that only have
/// whole seconds).
pub fn earlier_by(gap_ms: Option<i64>) -> String {
    match gap_ms {
        Some(0) => ", in the same second".into(),
        Some(g) => format!(", {} earlier", human_duration(g)),
        None => String::new(),
    }
}

/// `s` with its first letter in upper case.
pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// The specific texts of the failure's own records: descriptions, reasons
/// and debug texts (not the generic error code).
pub fn own_texts(case: &Case) -> impl Iterator<Item = &str> {
    case.own_events().flat_map(|e| {
        [&e.error_description, &e.provider_reason, &e.provider_debug]
            .into_iter()
            .flatten()
            .map(String::as_str)
    })
}

/// Hydra (fosite) logs an expired code or refresh token as an invalid_grant
/// with no hint and the bare debug text `invalid_token` (catalog §3.2).
pub fn hydra_bare_invalid_token(case: &Case) -> bool {
    case.own_events().any(|e| {
        e.server.as_deref() == Some("hydra")
            && e.provider_debug.as_deref() == Some("invalid_token")
            && e.provider_reason.is_none()
    })
}
