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
use crate::correlate::{self, ClockEstimate, Clocks, Group};
use crate::store::{EventRow, Result, Store};

/// How an exchange was linked to its authorize request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowLink {
    /// The same authorization code (fingerprint).
    Code,
    /// The verifier hashes to the authorize request's challenge.
    Pkce,
    /// Only the client id and the time: the latest authorize before.
    ClientAndTime,
}

/// The authorize request an exchange belongs to.
#[derive(Clone, Debug)]
pub struct Flow {
    /// The authorize or code-issued event.
    pub authorize: EventRow,
    /// How it was linked.
    pub link: FlowLink,
}

/// The facts of the failed token request, merged across its events.
#[derive(Clone, Debug, Default)]
pub struct Exchange {
    /// Grant type (inferred from the parameters when not logged).
    pub grant_type: Option<String>,
    /// Client id.
    pub client_id: Option<String>,
    /// redirect_uri sent.
    pub redirect_uri: Option<String>,
    /// Code fingerprint.
    pub code_fp: Option<String>,
    /// S256 of the verifier sent.
    pub verifier_s256: Option<String>,
    /// Whether a verifier was sent.
    pub verifier_sent: Option<bool>,
    /// Refresh token fingerprint.
    pub refresh_token_fp: Option<String>,
    /// Assertion iat.
    pub jwt_iat: Option<i64>,
    /// Assertion exp.
    pub jwt_exp: Option<i64>,
    /// Assertion nbf.
    pub jwt_nbf: Option<i64>,
    /// HTTP status.
    pub status: Option<u16>,
    /// OAuth error.
    pub error: Option<String>,
    /// The client's IP address, as the server saw it.
    pub ip: Option<String>,
}

/// Everything known about one failure.
#[derive(Clone, Debug)]
pub struct Case {
    /// The event that stands for the failure.
    pub primary: EventRow,
    /// Other records of the same failure.
    pub merged: Vec<EventRow>,
    /// Every event of the failure's request id(s).
    pub request_events: Vec<EventRow>,
    /// The token request's facts.
    pub exchange: Exchange,
    /// The authorize request it belongs to.
    pub flow: Option<Flow>,
    /// Earlier token responses of the same flow, code or refresh token, or the
    /// same client's refreshes just before.
    pub earlier: Vec<EventRow>,
    /// Revocations by the same client before the failure.
    pub revokes: Vec<EventRow>,
    /// App lifecycle changes between the flow's start and the failure.
    pub lifecycle: Vec<EventRow>,
    /// The clock estimate of the client source that saw the failure.
    pub client_clock: Option<ClockEstimate>,
    /// The failure's time by the server's clock.
    pub time_ms: Option<i64>,
    /// Server kind.
    pub server: Option<String>,
}

impl Case {
    /// Every event of the failure itself: the primary, then the merged ones.
    pub fn own_events(&self) -> impl Iterator<Item = &EventRow> {
        std::iter::once(&self.primary).chain(&self.merged)
    }

    /// An event of the case's context (flow, earlier exchanges, revokes,
    /// lifecycle) by id.
    pub fn context_event(&self, id: i64) -> Option<&EventRow> {
        self.flow
            .iter()
            .map(|f| &f.authorize)
            .chain(&self.earlier)
            .chain(&self.revokes)
            .chain(&self.lifecycle)
            .find(|e| e.id == id)
    }
}

fn first<T: Clone>(events: &[&EventRow], f: impl Fn(&EventRow) -> Option<T>) -> Option<T> {
    events.iter().find_map(|e| f(e))
}

fn merge_exchange(events: &[&EventRow]) -> Exchange {
    let mut x = Exchange {
        grant_type: first(events, |e| e.grant_type.clone()),
        client_id: first(events, |e| e.client_id.clone()),
        redirect_uri: first(events, |e| {
            (e.kind != "code_issued" && e.kind != "authorize_request")
                .then(|| e.redirect_uri.clone())
                .flatten()
        }),
        code_fp: first(events, |e| {
            (e.kind != "code_issued")
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
            x.grant_type = Some("authorization_code".into());
        } else if x.refresh_token_fp.is_some() {
            x.grant_type = Some("refresh_token".into());
        }
    }
    x
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
        .find_map(|e| e.server.clone());
    let client_clock = std::iter::once(&primary)
        .chain(&merged)
        .chain(&request_events)
        .filter(|e| e.is_client_side())
        .find_map(|e| clocks.get(&e.source_id).cloned());
    let mut case = Case {
        primary,
        merged,
        request_events,
        exchange,
        flow: None,
        earlier: Vec::new(),
        revokes: Vec::new(),
        lifecycle: Vec::new(),
        client_clock,
        time_ms,
        server,
    };
    let Some(t) = case.time_ms else {
        return Ok(case);
    };
    match case.exchange.grant_type.as_deref() {
        Some("authorization_code") => {
            case.flow = find_flow(store, &case.exchange, t, settings)?;
            case.earlier = earlier_exchanges(store, &case, t)?;
        }
        Some("refresh_token") => {
            case.earlier = earlier_refreshes(store, &case, t, settings)?;
            case.revokes = revokes(store, &case, t, settings)?;
        }
        _ => {}
    }
    let since = case
        .flow
        .as_ref()
        .and_then(|f| f.authorize.ts_ms)
        .unwrap_or(t - 3_600_000);
    case.lifecycle = store
        .events_between(&["lifecycle"], since - 600_000, t + 600_000)?
        .into_iter()
        .filter(|e| correlate::server_time(e, clocks).is_some_and(|lt| lt >= since && lt <= t))
        .collect();
    Ok(case)
}

fn is_authorize(e: &EventRow) -> bool {
    e.kind == "code_issued" || e.kind == "authorize_request"
}

fn before(e: &EventRow, t: i64) -> bool {
    e.ts_ms.is_some_and(|ts| ts <= t)
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
            .find(|e| e.kind == "code_issued")
    {
        return Ok(Some(Flow {
            authorize: a,
            link: FlowLink::Code,
        }));
    }
    if let Some(v) = &x.verifier_s256
        && let Some(a) = store
            .events_by_challenge(v)?
            .into_iter()
            .filter(|e| is_authorize(e) && before(e, t))
            .max_by_key(|e| (e.kind == "code_issued", e.ts_ms))
    {
        return Ok(Some(Flow {
            authorize: a,
            link: FlowLink::Pkce,
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
        for kind in ["code_issued", "authorize_request"] {
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
    }))
}

fn is_server_token_response(e: &EventRow) -> bool {
    e.kind == "token_response" && !e.is_client_side()
}

fn earlier_exchanges(store: &Store, case: &Case, t: i64) -> Result<Vec<EventRow>> {
    let mut out: Vec<EventRow> = Vec::new();
    let add = |rows: Vec<EventRow>, out: &mut Vec<EventRow>| {
        for e in rows {
            if is_server_token_response(&e)
                && e.id != case.primary.id
                && before(&e, t)
                && !out.iter().any(|o| o.id == e.id)
                && e.request_id
                    .as_ref()
                    .is_none_or(|r| Some(r) != case.primary.request_id.as_ref())
            {
                out.push(e);
            }
        }
    };
    if let Some(fp) = &case.exchange.code_fp {
        add(store.events_by_code(fp)?, &mut out);
    }
    if let Some(v) = &case.exchange.verifier_s256 {
        add(store.events_by_verifier(v)?, &mut out);
    }
    if out.is_empty()
        && let (Some(flow), Some(client)) = (&case.flow, &case.exchange.client_id)
        && flow.link == FlowLink::ClientAndTime
        && let Some(start) = flow.authorize.ts_ms
    {
        let rows = store.events_for_client(
            client,
            &["token_response"],
            case.exchange.ip.as_deref(),
            (start, t),
            50,
        )?;
        let same_flow: Vec<EventRow> = rows
            .into_iter()
            .filter(|e| e.grant_type.as_deref() == Some("authorization_code"))
            .filter(|e| e.redirect_uri == case.exchange.redirect_uri)
            .collect();
        add(same_flow, &mut out);
    }
    out.sort_by_key(|e| (e.ts_ms, e.id));
    Ok(out)
}

fn earlier_refreshes(
    store: &Store,
    case: &Case,
    t: i64,
    settings: &DiagnoseSettings,
) -> Result<Vec<EventRow>> {
    let mut out: Vec<EventRow> = Vec::new();
    if let Some(fp) = &case.exchange.refresh_token_fp {
        out.extend(
            store
                .events_by_refresh(fp)?
                .into_iter()
                .filter(|e| is_server_token_response(e) && e.id != case.primary.id && before(e, t)),
        );
    }
    if let Some(client) = &case.exchange.client_id {
        for e in store.events_for_client(
            client,
            &["token_response"],
            None,
            (t - settings.refresh_race_ms, t),
            50,
        )? {
            if is_server_token_response(&e)
                && e.id != case.primary.id
                && e.grant_type.as_deref() == Some("refresh_token")
                && !out.iter().any(|o| o.id == e.id)
            {
                out.push(e);
            }
        }
    }
    out.sort_by_key(|e| (e.ts_ms, e.id));
    Ok(out)
}

fn revokes(
    store: &Store,
    case: &Case,
    t: i64,
    settings: &DiagnoseSettings,
) -> Result<Vec<EventRow>> {
    let Some(client) = &case.exchange.client_id else {
        return Ok(Vec::new());
    };
    Ok(store
        .events_for_client(
            client,
            &["revoke_request"],
            None,
            (t - settings.revoke_window_s * 1000, t),
            50,
        )?
        .into_iter()
        .filter(|e| e.kind == "revoke_request" && e.status.is_none_or(|s| s < 400))
        .filter(
            |e| match (&e.refresh_token_fp, &case.exchange.refresh_token_fp) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            },
        )
        .collect())
}
