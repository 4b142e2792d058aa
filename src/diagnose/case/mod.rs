//! Gathers everything the logs say around one failure: the token request's
//! own facts, the authorization flow it belongs to, earlier exchanges and
//! refreshes, revocations, app lifecycle changes and the client's clock.
//!
//! Flows are rebuilt from the store: an exchange belongs to the authorize
//! request whose code it carries (by fingerprint), or whose PKCE challenge its
//! verifier hashes to, or, failing both, to the client's latest authorize
//! request before it (a weaker link, which lowers the confidence of what
//! depends on it).

use crate::config::DiagnoseSettings;
use crate::correlate::{self, Clocks, Group};
use crate::store::{EventRow, Result, Store};
use grantwatch_parsers::ServerKind;
use grantwatch_parsers::{EventKind, GrantType};

mod history;
mod model;
use history::{earlier_exchanges, earlier_refreshes, earlier_successes, revokes};
use model::before;
pub use model::{Case, Exchange, Flow, FlowLink};

fn first<T: Clone>(events: &[&EventRow], f: impl Fn(&EventRow) -> Option<T>) -> Option<T> {
    events.iter().find_map(|e| f(e))
}

fn merge_exchange(events: &[&EventRow]) -> Exchange {
    let mut x = Exchange {
        grant_type: first(events, |e| e.grant_type.clone()),
        client_id: first(events, |e| e.client_id.clone()),
        redirect_uri: first(events, |e| {
            (e.kind != EventKind::CodeIssued && e.kind != EventKind::AuthorizeRequest)
                .then(|| e.redirect_uri.clone())
                .flatten()
        }),
        code_fp: first(events, |e| {
            (e.kind != EventKind::CodeIssued)
                .then(|| e.code_fp.clone())
                .flatten()
        }),
        verifier_s256: first(events, |e| e.verifier_s256.clone()),
        verifier_sent: first(events, |e| e.verifier_sent),
        refresh_token_fp: first(events, |e| e.refresh_token_fp.clone()),
        jwt_iat: first(events, |e| e.jwt_iat),
        jwt_exp: first(events, |e| e.jwt_exp),
        jwt_nbf: first(events, |e| e.jwt_nbf),
        status: first(events, |e| {
            (!e.is_client_side() || e.status.is_some_and(|s| s >= 400))
                .then_some(e.status)
                .flatten()
        }),
        error: first(events, |e| e.error.clone()),
        ip: first(events, |e| {
            (!e.is_client_side()).then(|| e.ip.clone()).flatten()
        }),
    };
    if x.grant_type.is_none() {
        if x.code_fp.is_some() || x.verifier_s256.is_some() || x.redirect_uri.is_some() {
            x.grant_type = Some(GrantType::AuthorizationCode);
        } else if x.refresh_token_fp.is_some() {
            x.grant_type = Some(GrantType::RefreshToken);
        } else {
            x.grant_type = grant_from_words(events);
        }
    }
    x
}

/// The grant a failure's own words name ("The refresh token is invalid...",
/// "The authorization code is invalid...", "Token exchange error").
fn grant_from_words(events: &[&EventRow]) -> Option<GrantType> {
    let texts = events.iter().flat_map(|e| {
        [&e.error_description, &e.provider_reason]
            .into_iter()
            .flatten()
            .map(|t| t.to_ascii_lowercase())
    });
    // The grant a text names first: "Authorization code was already
    // redeemed ... or use an existing refresh token" is about a code.
    const WORDS: [(&str, GrantType); 6] = [
        ("refresh token", GrantType::RefreshToken),
        ("refresh_token", GrantType::RefreshToken),
        ("fresh tokens", GrantType::RefreshToken),
        ("authorization code", GrantType::AuthorizationCode),
        ("code_verifier", GrantType::AuthorizationCode),
        ("code exchange", GrantType::AuthorizationCode),
    ];
    for text in texts {
        let first = WORDS
            .iter()
            .enumerate()
            .filter_map(|(i, (word, _))| text.find(word).map(|at| (at, i)))
            .min();
        if let Some((_, i)) = first {
            return Some(WORDS[i].1.clone());
        }
    }
    None
}

/// Gathers the case of `group`.
pub fn gather(
    store: &Store,
    group: Group,
    clocks: &Clocks,
    settings: &DiagnoseSettings,
) -> Result<Case> {
    let Group { primary, merged } = group;
    let mut request_events: Vec<EventRow> = Vec::new();
    for e in std::iter::once(&primary).chain(&merged) {
        if let Some(rid) = &e.request_id
            && !request_events
                .iter()
                .any(|r| r.request_id.as_deref() == Some(rid))
        {
            request_events.extend(store.events_by_request(rid)?);
        }
    }
    // A client logs its request and the response to it as separate records:
    // its failure is paired with the token request it sent just before.
    let client_event = std::iter::once(&primary)
        .chain(&merged)
        .find(|e| e.is_client_side())
        .cloned();
    if let Some(c) = &client_event
        && let Some(req) = paired_request(store, c)?
        && !request_events.iter().any(|r| r.id == req.id)
    {
        request_events.push(req);
    }
    let all: Vec<&EventRow> = std::iter::once(&primary)
        .chain(&merged)
        .chain(&request_events)
        .collect();
    let exchange = merge_exchange(&all);
    let time_ms = std::iter::once(&primary)
        .chain(&merged)
        .find_map(|e| correlate::server_time(e, clocks));
    let server = std::iter::once(&primary)
        .chain(&merged)
        .find_map(|e| e.server);
    let (client_clock, client_clock_file) = std::iter::once(&primary)
        .chain(&merged)
        .chain(&request_events)
        .filter(|e| e.is_client_side())
        .find_map(|e| Some((clocks.get(&e.source_id).cloned()?, e.file.clone())))
        .unzip();
    let mut case = Case {
        primary,
        merged,
        request_events,
        exchange,
        flow: None,
        earlier: Vec::new(),
        revokes: Vec::new(),
        earlier_successes: Vec::new(),
        lifecycle: Vec::new(),
        client_clock,
        client_clock_file,
        time_ms,
        server,
        sent_ms: None,
        nearby_offset: None,
        phases: Vec::new(),
    };
    case.phases = login_phases(store, &case)?;
    case.sent_ms = case
        .request_events
        .iter()
        .find(|r| r.kind == EventKind::TokenRequest)
        .and_then(|r| correlate::server_time(r, clocks))
        .or(case.time_ms);
    if let Some(c) = &client_event {
        case.nearby_offset = nearest_clock_sample(store, c)?;
    }
    let Some(t) = case.time_ms else {
        return Ok(case);
    };
    match case.exchange.grant_type {
        Some(GrantType::AuthorizationCode) => {
            case.flow = match find_flow(store, &case.exchange, t, settings)? {
                Some(flow) => Some(flow),
                None => client_side_flow(store, client_event.as_ref(), settings)?,
            };
            case.earlier = earlier_exchanges(store, &case, t)?;
        }
        Some(GrantType::RefreshToken) => {
            case.earlier = earlier_refreshes(store, &case, t, settings)?;
            case.revokes = revokes(store, &case, t, settings)?;
            // Only Keycloak's bare refresh error needs the client's history:
            // asked for every Keycloak refresh failure, reading it was a third
            // of the time a Keycloak gigabyte's diagnosis spent reading rows
            // back (benches/README.md).
            if case.server == Some(ServerKind::Keycloak) && case.is_keycloak_bare_refresh_error() {
                case.earlier_successes = earlier_successes(store, &case, t)?;
            }
        }
        _ => {}
    }
    if let Some(flow) = case.flow.as_mut()
        && flow.authorize.code_challenge.is_none()
        && flow.authorize.kind == EventKind::CodeIssued
    {
        flow.challenge_from = authorize_before(store, &flow.authorize)?;
    }
    // Everything the rules compare is on the server's clock.
    for e in case
        .flow
        .iter_mut()
        .flat_map(|f| std::iter::once(&mut f.authorize).chain(f.challenge_from.as_mut()))
        .chain(case.earlier.iter_mut())
        .chain(case.revokes.iter_mut())
        .chain(case.earlier_successes.iter_mut())
    {
        e.ts_ms = correlate::server_time(e, clocks);
    }
    // From the start of the login: the authorize request when the client
    // logged it apart from the redirect (an app killed in between is
    // cold-started by the redirect itself).
    let since = case
        .flow
        .as_ref()
        .and_then(|f| {
            let a = f.authorize.ts_ms;
            let c = f.challenge_from.as_ref().and_then(|c| c.ts_ms);
            a.into_iter().chain(c).min()
        })
        .unwrap_or(t - 3_600_000);
    // Lifecycle changes only of the app whose log saw this failure: a
    // server-only failure cannot be tied to any device.
    let client_sources: Vec<i64> = case
        .own_events()
        .chain(&case.request_events)
        .filter(|e| e.is_client_side())
        .map(|e| e.source_id)
        .collect();
    if client_sources.is_empty() {
        return Ok(case);
    }
    case.lifecycle = store
        .events_between(&[EventKind::Lifecycle], since - 600_000, t + 600_000)?
        .into_iter()
        .filter(|e| client_sources.contains(&e.source_id))
        .filter(|e| correlate::server_time(e, clocks).is_some_and(|lt| lt >= since && lt <= t))
        .collect();
    Ok(case)
}

/// Lines before a failure searched for the login's OmniAuth phases.
pub(crate) const PHASE_REACH_LINES: u64 = 400;

/// The OmniAuth phase events of the failure's own log(s) in the
/// [`PHASE_REACH_LINES`] lines before it (see [`Case::phases`]).
fn login_phases(store: &Store, case: &Case) -> Result<Vec<EventRow>> {
    let mut out: Vec<EventRow> = Vec::new();
    let mut seen_sources: Vec<i64> = Vec::new();
    for e in case.own_events() {
        if seen_sources.contains(&e.source_id) {
            continue;
        }
        seen_sources.push(e.source_id);
        let from = e.line.saturating_sub(PHASE_REACH_LINES);
        // A page's flash pasted with the log has no place in the log's
        // order: the phases after it, in the same reach, are its login's too.
        let to = if is_devise_flash(e) {
            e.line + PHASE_REACH_LINES
        } else {
            e.line
        };
        // Only phase events are read: the reach is 400 lines, every one of
        // them a whole row in a log of failures or of issued codes.
        out.extend(
            store
                .phase_events_between_lines(e.source_id, from, to)?
                .into_iter()
                .filter(is_login_phase),
        );
    }
    Ok(out)
}

/// Whether `e` is Devise's OmniAuth failure flash with no time of its own
/// (`Could not authenticate you from GitHub because "Invalid
/// credentials".`): a message the page showed after the callback phase
/// failed, which people paste above the log it came from (see
/// `grantwatch_parsers::extract::omniauth::DEVISE_FLASH`).
pub fn is_devise_flash(e: &EventRow) -> bool {
    e.ts_ms.is_none()
        && e.provider_reason
            .as_deref()
            .is_some_and(|r| r.starts_with(grantwatch_parsers::extract::omniauth::DEVISE_FLASH))
}

/// Whether `e` is an OmniAuth phase event (see
/// `grantwatch_parsers::extract::omniauth`).
pub fn is_login_phase(e: &EventRow) -> bool {
    matches!(e.kind, EventKind::CodeIssued | EventKind::AuthorizeRequest)
        && e.provider_reason
            .as_deref()
            .is_some_and(|r| r.ends_with(" phase initiated."))
}

/// The authorize request (with a PKCE challenge) that led to the redirect
/// `issued`: same client log (or same client id), at most 30 minutes before.
fn authorize_before(store: &Store, issued: &EventRow) -> Result<Option<EventRow>> {
    let Some(t) = issued.ts_ms else {
        return Ok(None);
    };
    let window = (t - 1_800_000, t);
    let found = match &issued.client_id {
        Some(client) => {
            store.events_for_client(client, &[EventKind::AuthorizeRequest], None, window, 5)?
        }
        None => {
            store.events_of_source(issued.source_id, &[EventKind::AuthorizeRequest], window, 5)?
        }
    };
    Ok(found.into_iter().find(|e| e.code_challenge.is_some()))
}

/// The client's clock offset from the `Date` header closest before the
/// failure in the same log: (offset ms, when).
fn nearest_clock_sample(store: &Store, failure: &EventRow) -> Result<Option<(i64, i64)>> {
    let Some(t) = failure.ts_ms else {
        return Ok(None);
    };
    let kinds = [
        EventKind::ClientError,
        EventKind::TokenResponse,
        EventKind::TokenRequest,
    ];
    // The same 50 latest events as a whole-row query would give, read as
    // two columns: in a log of failures only, this was half the diagnosis
    // time (benches/README.md, "kill -9 with 1,000 failures").
    let recent = store.dates_of_source(failure.source_id, &kinds, (t - 3_600_000, t), 50)?;
    Ok(recent.into_iter().find_map(|(ts, date)| {
        // The Date header has whole seconds: compare with the middle.
        let (ts, date) = (ts?, date?);
        Some((ts - date - 500, ts))
    }))
}

/// The token request a client sent just before its `failure` (same log, the
/// last minute, same path when both are known).
fn paired_request(store: &Store, failure: &EventRow) -> Result<Option<EventRow>> {
    let Some(t) = failure.ts_ms else {
        return Ok(None);
    };
    let sent = store.events_of_source(
        failure.source_id,
        &[EventKind::TokenRequest],
        (t - 60_000, t),
        5,
    )?;
    Ok(sent.into_iter().find(|r| match (&r.path, &failure.path) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }))
}

/// For a failure only a client saw: the login it belongs to is the last
/// authorization (the redirect carrying a code, else the authorize request)
/// that same client log shows before it.
fn client_side_flow(
    store: &Store,
    client: Option<&EventRow>,
    settings: &DiagnoseSettings,
) -> Result<Option<Flow>> {
    let Some((c, t)) = client.and_then(|c| c.ts_ms.map(|t| (c, t))) else {
        return Ok(None);
    };
    let reach = (settings.default_code_lifetime_s * 6 * 1000).max(3_600_000);
    for kind in [EventKind::CodeIssued, EventKind::AuthorizeRequest] {
        if let Some(a) = store
            .events_of_source(c.source_id, &[kind], (t - reach, t), 1)?
            .pop()
        {
            return Ok(Some(Flow {
                authorize: a,
                link: FlowLink::ClientAndTime,
                challenge_from: None,
            }));
        }
    }
    Ok(None)
}

fn is_authorize(e: &EventRow) -> bool {
    e.kind == EventKind::CodeIssued || e.kind == EventKind::AuthorizeRequest
}

fn find_flow(
    store: &Store,
    x: &Exchange,
    t: i64,
    settings: &DiagnoseSettings,
) -> Result<Option<Flow>> {
    if let Some(fp) = &x.code_fp
        && let Some(a) = store
            .events_by_code(fp)?
            .into_iter()
            .find(|e| e.kind == EventKind::CodeIssued)
    {
        return Ok(Some(Flow {
            authorize: a,
            link: FlowLink::Code,
            challenge_from: None,
        }));
    }
    if let Some(v) = &x.verifier_s256
        && let Some(a) = store
            .events_by_challenge(v)?
            .into_iter()
            .filter(|e| is_authorize(e) && before(e, t))
            .max_by_key(|e| (e.kind == EventKind::CodeIssued, e.ts_ms))
    {
        return Ok(Some(Flow {
            authorize: a,
            link: FlowLink::Pkce,
            challenge_from: None,
        }));
    }
    let Some(client) = &x.client_id else {
        return Ok(None);
    };
    // An hour, or several code lifetimes, whichever is longer, so that an
    // expired code's authorize request is still found.
    let reach = (settings.default_code_lifetime_s * 6 * 1000).max(3_600_000);
    // Many users share a mobile app's client id: prefer the latest authorize
    // request from the same address, then the client's latest.
    let window = (t - reach, t);
    let mut latest = None;
    for ip in [x.ip.as_deref(), None] {
        for kind in [EventKind::CodeIssued, EventKind::AuthorizeRequest] {
            latest = store
                .events_for_client(client, &[kind], ip, window, 1)?
                .into_iter()
                .next();
            if latest.is_some() {
                break;
            }
        }
        if latest.is_some() || x.ip.is_none() {
            break;
        }
    }
    Ok(latest.map(|a| Flow {
        authorize: a,
        link: FlowLink::ClientAndTime,
        challenge_from: None,
    }))
}
