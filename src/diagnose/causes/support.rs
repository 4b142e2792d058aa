//! Small helpers several causes' inferences share: times and gaps in words,
//! how an earlier request ended, and the texts a failure's own records carry.

use crate::diagnose::case::Case;
use crate::store::EventRow;
use crate::time::format_ts;
use crate::time::human_duration;
use grantwatch_parsers::EventKind;
use grantwatch_parsers::{GrantType, ServerKind};

/// A time in RFC 3339, or words saying it is not known.
pub fn ts(ms: Option<i64>) -> String {
    ms.and_then(format_ts)
        .unwrap_or_else(|| "an unknown time".into())
}

/// How an earlier request ended, in words.
pub fn outcome(e: &EventRow) -> String {
    if e.kind == EventKind::TokenRequest {
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
        e.server == Some(ServerKind::Hydra)
            && e.provider_debug.as_deref() == Some("invalid_token")
            && e.provider_reason.is_none()
    })
}

/// Google answered a service account's JWT-bearer grant with a bare
/// `invalid_grant` and no words that name a cause. Google gives that answer
/// when the JWT's iat/exp fall outside its window (the signing machine's
/// clock is off) and when the key that signed it was deleted or disabled;
/// its more specific texts (`Invalid JWT: Token must be a short-lived
/// token…`, `Invalid JWT Signature.`) are read from the catalog instead.
pub fn google_jwt_bearer_silence(case: &Case) -> bool {
    case.exchange.grant_type == Some(GrantType::JwtBearer)
        && case.server == Some(ServerKind::Google)
        && case.exchange.error.as_deref() == Some("invalid_grant")
        && own_texts(case).all(|t| crate::diagnose::phrases::said(t).is_empty())
}

/// The strategy of an OmniAuth phase event: `(github) Callback phase
/// initiated.` gives `github`.
pub fn omniauth_strategy(e: &EventRow) -> Option<&str> {
    let words = e.provider_reason.as_deref()?;
    let open = words.find('(')?;
    let close = words[open..].find(')')? + open;
    Some(&words[open + 1..close])
}

/// The strategy last called back in the failure's own log and its callback
/// phases since its last request phase, newest first (one per code the
/// provider redirected with, unless a callback ran twice).
pub fn omniauth_callbacks(case: &Case) -> Option<(&str, Vec<&EventRow>)> {
    let last = case
        .phases
        .iter()
        .rev()
        .find(|e| e.kind == EventKind::CodeIssued)?;
    let name = omniauth_strategy(last)?;
    let since_login = case
        .phases
        .iter()
        .rev()
        .filter(|e| omniauth_strategy(e) == Some(name))
        .take_while(|e| e.kind == EventKind::CodeIssued)
        .collect();
    Some((name, since_login))
}
