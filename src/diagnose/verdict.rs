//! The decision for one case and the failure record it makes: the
//! providers' words and the inference rules weighed per cause
//! ([`decide`]), the failure's stable id ([`failure_id`]) and its stored
//! form with evidence lines and context ([`record`]). The weighing is the
//! module's own documentation (`diagnose/mod.rs`).

use grantwatch_parsers::hex::lower_hex;
use grantwatch_parsers::{GrantType, ServerKind};
use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::case::Case;
use super::causes::{self, Basis, Finding, PRIORITY, fits_grant, meaning, priority};
use super::phrases;
use crate::cause::{Cause, Confidence};
use crate::config::DiagnoseSettings;
use crate::store::failures::{Candidate, ClockContext, Evidence, FailureContext, RedirectPair};
use crate::store::{EventRow, FailureRecord, Result, Store};
use crate::time::format_ts;

/// The decision for one case.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The cause.
    pub cause: Cause,
    /// How sure.
    pub confidence: Confidence,
    /// One sentence with the values.
    pub summary: String,
    /// The fix.
    pub fix: String,
    /// Other causes still possible, with why.
    pub candidates: Vec<Candidate>,
    /// What would settle it.
    pub missing: Option<String>,
    /// Events beyond the failure's own that the summary cites.
    pub supporting: Vec<i64>,
}

/// What the providers' words in a failure's events give.
struct Readings {
    /// The best finding per cause.
    found: BTreeMap<Cause, Finding>,
    /// Texts that name one cause and leave others open.
    open: Vec<OpenReading>,
}

/// A cause a text leaves open, the cause the text names and how surely.
type OpenReading = (Cause, Cause, Confidence);

/// Findings from the providers' own words in the failure's events. A phrase
/// found in a description, sub-code, reason or debug text is the provider's
/// specific words; found only in the OAuth `error` code it is a generic
/// code, which ranks below them. The server need not be known: a
/// description is read whoever wrote it.
fn phrase_findings(case: &Case) -> Readings {
    let mut found: BTreeMap<Cause, Finding> = BTreeMap::new();
    let mut open: Vec<OpenReading> = Vec::new();
    for e in case.own_events() {
        let fields = [
            (&e.provider_code, Basis::Words),
            (&e.provider_reason, Basis::Words),
            (&e.provider_debug, Basis::Words),
            (&e.error_description, Basis::Words),
            (&e.error, Basis::Code),
        ];
        for (value, basis) in fields {
            let Some(value) = value else { continue };
            for ph in phrases::said(value) {
                if let Some((named, at)) = ph.names
                    && !open.contains(&(ph.cause, named, at))
                {
                    open.push((ph.cause, named, at));
                }
                let better = found
                    .get(&ph.cause)
                    .is_none_or(|f| (f.confidence, f.basis) < (ph.confidence, basis));
                if better {
                    found.insert(
                        ph.cause,
                        Finding {
                            basis,
                            ..Finding::flow(
                                ph.confidence,
                                format!("{} says \"{}\": {}.", ph.source, value, meaning(ph.cause)),
                            )
                        },
                    );
                }
            }
        }
    }
    Readings { found, open }
}

/// A text that names one cause and leaves others open does not choose among
/// them against the logs: where the flow shows (at `medium` or better) a
/// cause the text leaves open, the cause the text names drops to `low`,
/// unless the logs show that one too or other words name it more surely
/// than the text does. (Auth0's "Unknown or invalid refresh token." is most
/// often an expired token; after a logged revocation it is the revocation.)
fn open_readings_yield(
    findings: &mut BTreeMap<Cause, Finding>,
    open: &[OpenReading],
    inferred: &[Cause],
) {
    for &(left_open, named, named_at) in open {
        let shown = inferred.contains(&left_open)
            && findings
                .get(&left_open)
                .is_some_and(|f| f.confidence >= Confidence::Medium);
        if !shown || inferred.contains(&named) {
            continue;
        }
        if let Some(f) = findings.get_mut(&named)
            && f.basis == Basis::Words
            && f.confidence <= named_at
        {
            f.confidence = Confidence::Low;
        }
    }
}

/// Combines what the provider said with what the logs show for one cause.
fn combine(inferred: Finding, said: Option<Finding>) -> Finding {
    let Some(said) = said else {
        return inferred;
    };
    // A low reading (a text's other candidate, not what it names) agrees
    // with nothing: the inference stands as it is.
    if said.confidence == Confidence::Low {
        return inferred;
    }
    if said.basis.is_weak() && inferred.basis.is_weak() {
        // A generic code and a status code agreeing are still only generic
        // (an `invalid_client` body comes with its 401).
        let confidence = said.confidence.max(inferred.confidence);
        return Finding {
            confidence,
            ..inferred
        };
    }
    // The provider's words and the logs agree: certain, and the summary
    // keeps both.
    Finding {
        confidence: Confidence::High,
        basis: said.basis.max(inferred.basis),
        summary: format!("{} {}", inferred.summary, said.summary),
        missing: None,
        ..inferred
    }
}

/// The causes still open for a failure of `grant` that nothing specific
/// explains: what the server answers the same way.
fn open_causes(grant: Option<&GrantType>) -> &'static [Cause] {
    match grant {
        Some(GrantType::AuthorizationCode) => &[
            Cause::CodeExpired,
            Cause::CodeReused,
            Cause::RedirectUriMismatch,
            Cause::PkceVerifierMismatch,
            Cause::ClientMismatch,
            Cause::MalformedGrant,
        ],
        Some(GrantType::RefreshToken) => &[
            Cause::RefreshTokenReused,
            Cause::RefreshTokenRevoked,
            Cause::RefreshTokenExpired,
            Cause::ClientMismatch,
            Cause::MalformedGrant,
        ],
        _ => &[Cause::MalformedGrant, Cause::InvalidClientCredentials],
    }
}

/// Decides the cause of `case`.
///
/// Ranking: the surest finding wins; at equal confidence the better founded
/// (the provider's specific words, then the flow, then a generic code or a
/// status code), then the cause a server checks first. A finding that
/// rests on a status code or a generic code alone lists the other causes the
/// same answer could mean.
pub fn decide(case: &Case, settings: &DiagnoseSettings) -> Verdict {
    let Readings {
        found: mut findings,
        open,
    } = phrase_findings(case);
    let mut inferred_causes: Vec<Cause> = Vec::new();
    for rule in PRIORITY {
        let Some(inferred) = rule.infer.and_then(|infer| infer(case, settings)) else {
            continue;
        };
        inferred_causes.push(rule.cause);
        let said = findings.remove(&rule.cause);
        findings.insert(rule.cause, combine(inferred, said));
    }
    open_readings_yield(&mut findings, &open, &inferred_causes);
    let superseded: Vec<Cause> = findings
        .values()
        .flat_map(|f| f.supersedes.iter().copied())
        .collect();
    for cause in superseded {
        if let Some(f) = findings.get_mut(&cause) {
            f.confidence = Confidence::Low;
        }
    }
    findings.retain(|cause, _| fits_grant(*cause, case.exchange.grant_type.as_ref()));
    let mut ranked: Vec<(Cause, Finding)> = findings.into_iter().collect();
    ranked.sort_by(|(ca, fa), (cb, fb)| {
        (fb.confidence, fb.basis)
            .cmp(&(fa.confidence, fa.basis))
            .then(priority(*ca).cmp(&priority(*cb)))
    });
    let mut ranked = ranked.into_iter();
    let Some((cause, top)) = ranked.next() else {
        return unknown_verdict(case);
    };
    let mut candidates: Vec<Candidate> = ranked
        .map(|(c, f)| Candidate {
            cause: c,
            why: f.summary,
        })
        .collect();
    if top.basis.is_weak() {
        let server = case.server.map(ServerKind::as_str).unwrap_or("the server");
        for c in open_causes(case.exchange.grant_type.as_ref()) {
            if *c != cause && !candidates.iter().any(|k| k.cause == *c) {
                candidates.push(Candidate {
                    cause: *c,
                    why: format!("{server} gives the same answer when {}", meaning(*c)),
                });
            }
        }
    }
    let missing = if top.confidence == Confidence::High {
        None
    } else {
        top.missing.clone().or_else(|| Some(missing_log(case)))
    };
    Verdict {
        cause,
        confidence: top.confidence,
        summary: top.summary,
        fix: causes::rule(cause).map_or("", |r| r.fix).to_owned(),
        candidates,
        missing,
        supporting: top.supporting,
    }
}

/// Which log would help when the failure's own logs do not settle it.
fn missing_log(case: &Case) -> String {
    let has_server = case.own_events().any(|e| !e.is_client_side());
    let has_client = case.own_events().any(|e| e.is_client_side());
    if !has_server {
        "the authorization server's log of this request (its request log or event log at the same time)".into()
    } else if case.exchange.grant_type == Some(GrantType::AuthorizationCode) && case.flow.is_none()
    {
        "the server's log of the authorize request that issued this code (it is not in the logs read)".into()
    } else if !has_client {
        "the client's log around this request (app log with its HTTP requests and lifecycle)".into()
    } else {
        "a server log with the specific error (debug level, or the response body)".into()
    }
}

fn unknown_verdict(case: &Case) -> Verdict {
    let grant = case.exchange.grant_type.as_ref();
    let open = open_causes(grant);
    let server = case.server.map(ServerKind::as_str).unwrap_or("the server");
    Verdict {
        cause: Cause::Unknown,
        confidence: Confidence::Low,
        summary: format!(
            "The token request{} failed with {}{}, and nothing in the logs read tells why.",
            grant.map(|g| format!(" ({g})")).unwrap_or_default(),
            case.exchange.error.as_deref().unwrap_or("an error"),
            case.exchange
                .status
                .map(|s| format!(" (HTTP {s})"))
                .unwrap_or_default()
        ),
        fix: "Add the missing log named below and analyze again.".into(),
        candidates: open
            .iter()
            .map(|c| Candidate {
                cause: *c,
                why: format!("{server} gives the same answer when {}", meaning(*c)),
            })
            .collect(),
        missing: Some(missing_log(case)),
        supporting: Vec::new(),
    }
}

/// A stable id for a failure from its primary event's place: the file
/// generation (source row) it was read from, its line and kind. A new
/// failure on the same line of a truncated, rotated or rewritten file is in
/// another generation, so it never takes an older failure's id; a restart
/// reads into the same generation, so the id stays. A later record of a
/// line that holds several adds its place in the line.
pub fn failure_id(primary: &EventRow) -> String {
    let mut key = format!(
        "{}:{}:{}:{}",
        primary.file,
        primary.source_id,
        primary.line,
        primary.kind.as_str()
    );
    // A later record of a line that holds several (a CloudWatch document):
    // its own id. The first record's, and a one-record line's, is the id
    // it always had.
    if primary.part > 0 {
        key.push_str(&format!(":{}", primary.part));
    }
    lower_hex(&Sha256::digest(key.as_bytes())[..8])
}

/// Collects the evidence lines of the failure and the events that support
/// its verdict, in time order, once each.
fn evidence(store: &Store, case: &Case, verdict: &Verdict) -> Result<Vec<Evidence>> {
    let mut ids: Vec<(Option<i64>, i64)> = Vec::new();
    let mut add = |e: &EventRow| {
        if !ids.iter().any(|(_, id)| *id == e.id) {
            ids.push((e.ts_ms, e.id));
        }
    };
    case.own_events().for_each(&mut add);
    case.request_events.iter().for_each(&mut add);
    for id in &verdict.supporting {
        // Supporting events were gathered into the case: no need to read them
        // again.
        match case.context_event(*id) {
            Some(e) => add(e),
            None => {
                if let Some(e) = store.event(*id)? {
                    add(&e);
                }
            }
        }
    }
    ids.sort();
    let order: Vec<i64> = ids.iter().map(|(_, id)| *id).collect();
    let mut lines = store.evidence_of(&order)?;
    // Events in time order, each event's lines in line order.
    lines.sort_by_key(|(event, line)| (order.iter().position(|id| id == event), line.line));
    let ts_of = |event: i64| {
        ids.iter()
            .find(|(_, id)| *id == event)
            .and_then(|(ts, _)| *ts)
    };
    let mut out: Vec<Evidence> = Vec::new();
    for (event, line) in lines {
        if !out
            .iter()
            .any(|o| o.file == line.file && o.line == line.line)
        {
            out.push(Evidence {
                ts: ts_of(event).and_then(format_ts),
                file: line.file,
                line: line.line,
                text: line.text,
            });
        }
    }
    Ok(out)
}

/// Builds the contract record of a diagnosed case.
pub fn record(store: &Store, case: &Case, verdict: &Verdict, id: String) -> Result<FailureRecord> {
    let server_event = case.own_events().find(|e| !e.is_client_side());
    let status = server_event
        .and_then(|e| e.status)
        .or(case.exchange.status)
        .or_else(|| case.own_events().find_map(|e| e.status));
    Ok(FailureRecord {
        id,
        ts: case.time_ms.and_then(format_ts),
        server: case.server,
        request_id: case.own_events().find_map(|e| e.request_id.clone()),
        client_id: case.exchange.client_id.clone(),
        grant_type: case.exchange.grant_type.clone(),
        error: case.exchange.error.clone().or_else(|| {
            // Doorkeeper does not log the body; its statuses are unambiguous
            // only for 401.
            (status == Some(401) && case.server == Some(ServerKind::Doorkeeper))
                .then(|| "invalid_client".into())
        }),
        http_status: status,
        cause: verdict.cause,
        confidence: verdict.confidence,
        candidates: verdict.candidates.clone(),
        summary: verdict.summary.clone(),
        fix: verdict.fix.clone(),
        evidence: evidence(store, case, verdict)?,
        missing: verdict.missing.clone(),
        context: context_of(case),
    })
}

/// The redirect URIs and the client clock the failure page shows.
fn context_of(case: &Case) -> FailureContext {
    let redirect_uris = case.flow.as_ref().and_then(|flow| {
        Some(RedirectPair {
            authorize: flow.authorize.redirect_uri.clone()?,
            authorize_ts: flow.authorize.ts_ms.and_then(format_ts),
            token: case.exchange.redirect_uri.clone()?,
        })
    });
    let clock = case
        .client_clock
        .as_ref()
        .zip(case.client_clock_file.as_ref())
        .map(|(c, file)| ClockContext {
            file: file.clone(),
            offset_ms: c.offset_ms,
            samples: c.samples,
            note: c.note.clone(),
            nearest: case
                .nearby_offset
                .and_then(|(offset, at)| Some((offset, format_ts(at)?))),
        });
    FailureContext {
        redirect_uris,
        clock,
    }
}
