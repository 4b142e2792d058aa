//! One failure (`GET /failures/{id}`): the summary, the fix, the confidence,
//! the other candidates and what would settle them, the two redirect URIs
//! side by side with the part that differs marked, the client's clock
//! against the server's, how the diagnosis changed as logs arrived, and the
//! cross-source timeline of evidence lines.
//!
//! The marked difference is computed here on characters (a common prefix,
//! a common suffix, the rest marked), and every piece goes through askama's
//! escaping like any other log text: a `<mark>` wraps escaped text, it never
//! wraps markup taken from a log.

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};

use super::{PageResult, ms_text, ok, or_dash, path_value, request_href};
use crate::diagnose::causes::uri_difference;
use crate::store::failures::{ClockContext, FailureRecord, RedirectPair};
use crate::store::labels::server_label;
use crate::time::human_duration;
use crate::web::error::WebError;
use crate::web::state::AppState;
use grantwatch_parsers::GrantType;

/// A URI split around the part that differs from the other one.
struct MarkedUri {
    before: String,
    differs: String,
    after: String,
}

/// The two redirect URIs of the flow, compared.
struct RedirectView {
    same: bool,
    authorize_ts: Option<String>,
    authorize: MarkedUri,
    token: MarkedUri,
    /// In words (as the summary says it).
    how: String,
}

/// Splits `a` and `b` into a common prefix, the differing middles and a
/// common suffix, on character boundaries; the suffix never overlaps the
/// prefix.
fn mark_difference(a: &str, b: &str) -> (MarkedUri, MarkedUri) {
    let (ac, bc): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let prefix = ac.iter().zip(&bc).take_while(|(x, y)| x == y).count();
    let suffix = ac[prefix..]
        .iter()
        .rev()
        .zip(bc[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let split = |c: &[char]| MarkedUri {
        before: c[..prefix].iter().collect(),
        differs: c[prefix..c.len() - suffix].iter().collect(),
        after: c[c.len() - suffix..].iter().collect(),
    };
    (split(&ac), split(&bc))
}

fn redirect_view(pair: &RedirectPair) -> RedirectView {
    let (authorize, token) = mark_difference(&pair.authorize, &pair.token);
    let same = pair.authorize == pair.token;
    RedirectView {
        same,
        authorize_ts: pair.authorize_ts.clone(),
        authorize,
        token,
        how: if same {
            "Both requests sent the same redirect_uri.".to_owned()
        } else {
            let how = uri_difference(&pair.authorize, &pair.token);
            let mut chars = how.chars();
            chars
                .next()
                .map(|c| format!("{}{}.", c.to_uppercase(), chars.as_str()))
                .unwrap_or_default()
        },
    }
}

/// The client's clock against the server's, in words.
struct ClockView {
    file: String,
    offset: String,
    note: String,
    samples: usize,
    nearest: Option<(String, String)>,
}

/// `+9 min 11 s` / `-2.0 s` / `0 ms`: client minus server.
fn signed_duration(ms: i64) -> String {
    let sign = match ms.signum() {
        1 => "+",
        -1 => "-",
        _ => "",
    };
    format!("{sign}{}", human_duration(ms))
}

/// `9 min 11 s ahead of` / `2.0 s behind` / `in step with`.
fn offset_words(ms: i64) -> String {
    match ms {
        0 => "in step with".to_owned(),
        ms if ms > 0 => format!("{} ahead of", human_duration(ms)),
        ms => format!("{} behind", human_duration(ms)),
    }
}

fn clock_view(clock: &ClockContext) -> ClockView {
    ClockView {
        file: clock.file.clone(),
        offset: signed_duration(clock.offset_ms),
        note: clock.note.clone(),
        samples: clock.samples,
        nearest: clock
            .nearest
            .as_ref()
            .map(|(ms, at)| (offset_words(*ms), at.clone())),
    }
}

/// One change of the diagnosis.
struct HistoryRow {
    at: String,
    cause: String,
    confidence: String,
}

#[derive(Template)]
#[template(path = "failure.html")]
struct FailurePage {
    f: FailureRecord,
    facts: Vec<(&'static str, String)>,
    request_href: Option<String>,
    redirect: Option<RedirectView>,
    clock: Option<ClockView>,
    history: Vec<HistoryRow>,
    incident_href: Option<String>,
}

fn facts(f: &FailureRecord) -> Vec<(&'static str, String)> {
    vec![
        ("Time", or_dash(f.ts.as_deref())),
        ("Server", server_label(f.server).to_owned()),
        ("Client", or_dash(f.client_id.as_deref())),
        ("Request id", or_dash(f.request_id.as_deref())),
        (
            "Grant type",
            or_dash(f.grant_type.as_ref().map(GrantType::as_str)),
        ),
        ("Error", or_dash(f.error.as_deref())),
        (
            "HTTP status",
            f.http_status
                .map_or_else(|| "—".to_owned(), |s| s.to_string()),
        ),
        ("Failure id", f.id.clone()),
    ]
}

/// `GET /failures/{id}`: one failure with its evidence, or a 404 page.
pub async fn failure(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> PageResult {
    let id = path_value(id)?;
    let (f, history, who) = state
        .read(move |store| {
            let f = store
                .failure(&id)?
                .ok_or_else(|| WebError::NotFound("no failure with this id".into()))?;
            Ok((f, store.diagnosis_history(&id)?, store.failure_who(&id)?))
        })
        .await?;
    let history = history
        .into_iter()
        .map(|(at, cause, confidence)| HistoryRow {
            at: ms_text(Some(at)),
            cause,
            confidence,
        })
        .collect();
    let mut facts = facts(&f);
    // Who and what the logs name (user agents parsed: app, OS, SDK).
    if let Some(w) = &who {
        for (label, value) in [
            ("User", &w.user),
            ("Device", &w.device),
            ("Session", &w.session),
            ("IP", &w.ip),
            ("User agent", &w.user_agent),
            ("Release", &w.release),
            ("OS", &w.os),
            ("SDK", &w.sdk),
        ] {
            if let Some(v) = value {
                facts.push((label, v.clone()));
            }
        }
    }
    ok(&FailurePage {
        incident_href: who.map(|w| format!("/incidents/{}", w.incident_id)),
        facts,
        request_href: f.request_id.as_deref().map(request_href),
        redirect: f.context.redirect_uris.as_ref().map(redirect_view),
        clock: f.context.clock.as_ref().map(clock_view),
        history,
        f,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(a: &str, b: &str) -> [String; 6] {
        let (x, y) = mark_difference(a, b);
        [x.before, x.differs, x.after, y.before, y.differs, y.after]
    }

    #[test]
    fn the_difference_is_what_is_left_between_prefix_and_suffix() {
        assert_eq!(
            marked("https://app.example.com/cb/", "https://app.example.com/cb"),
            [
                "https://app.example.com/cb",
                "/",
                "",
                "https://app.example.com/cb",
                "",
                ""
            ]
        );
        assert_eq!(
            marked("com.acme:/oauth2redirect", "com.acme://oauth2redirect"),
            [
                "com.acme:/",
                "",
                "oauth2redirect",
                "com.acme:/",
                "/",
                "oauth2redirect"
            ]
        );
        assert_eq!(
            marked("http://localhost:3000/cb", "http://localhost:3001/cb"),
            [
                "http://localhost:300",
                "0",
                "/cb",
                "http://localhost:300",
                "1",
                "/cb"
            ]
        );
        assert_eq!(marked("é/x", "é/x")[0], "é/x");
    }

    #[test]
    fn offsets_read_as_ahead_or_behind() {
        assert_eq!(offset_words(0), "in step with");
        assert!(offset_words(551_972).ends_with("ahead of"));
        assert!(offset_words(-2_000).ends_with("behind"));
        assert!(signed_duration(551_972).starts_with("+9 min"));
        assert_eq!(signed_duration(-2_000), "-2.0 s");
    }
}
