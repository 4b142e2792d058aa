//! What came before a failure that can explain it: earlier exchanges of the
//! same code or verifier (a reuse), earlier refreshes of the same token or
//! client within the race window, the client's last successes, and the
//! revocations that can have ended its refresh token. Each is a store lookup
//! narrowed by what the case knows (a token's fingerprint beats a client id;
//! a client id alone is narrowed to the same device's address).

use super::model::{Case, FlowLink, before};
use crate::config::DiagnoseSettings;
use crate::store::{EventRow, Result, Store};
use grantwatch_parsers::{EventKind, GrantType};

fn is_server_token_response(e: &EventRow) -> bool {
    e.kind == EventKind::TokenResponse && !e.is_client_side()
}

pub(super) fn earlier_exchanges(store: &Store, case: &Case, t: i64) -> Result<Vec<EventRow>> {
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
            &[EventKind::TokenResponse],
            case.exchange.ip.as_deref(),
            (start, t),
            50,
        )?;
        let same_flow: Vec<EventRow> = rows
            .into_iter()
            .filter(|e| e.grant_type == Some(GrantType::AuthorizationCode))
            .filter(|e| e.redirect_uri == case.exchange.redirect_uri)
            .collect();
        add(same_flow, &mut out);
    }
    out.sort_by_key(|e| (e.ts_ms, e.id));
    Ok(out)
}

pub(super) fn earlier_refreshes(
    store: &Store,
    case: &Case,
    t: i64,
    settings: &DiagnoseSettings,
) -> Result<Vec<EventRow>> {
    let mut out: Vec<EventRow> = Vec::new();
    // The client's own request for this refresh, if its log was read: an
    // earlier request of the same log with the same refresh token is a race
    // even when no server log shows it.
    let sent = case
        .request_events
        .iter()
        .find(|r| r.kind == EventKind::TokenRequest && r.is_client_side());
    if let Some(fp) = &case.exchange.refresh_token_fp {
        out.extend(store.events_by_refresh(fp)?.into_iter().filter(|e| {
            let server_side =
                is_server_token_response(e) && e.id != case.primary.id && before(e, t);
            let sent_before = sent.is_some_and(|s| {
                e.kind == EventKind::TokenRequest
                    && e.source_id == s.source_id
                    && e.id != s.id
                    && e.ts_ms.zip(s.ts_ms).is_some_and(|(a, b)| a <= b)
            });
            server_side || sent_before
        }));
    }
    if let Some(client) = &case.exchange.client_id {
        for e in store.events_for_client(
            client,
            &[EventKind::TokenResponse],
            None,
            (t - settings.refresh_race_ms, t),
            50,
        )? {
            if is_server_token_response(&e)
                && e.id != case.primary.id
                && e.grant_type == Some(GrantType::RefreshToken)
                && !out.iter().any(|o| o.id == e.id)
            {
                out.push(e);
            }
        }
    }
    out.sort_by_key(|e| (e.ts_ms, e.id));
    Ok(out)
}

pub(super) fn earlier_successes(store: &Store, case: &Case, t: i64) -> Result<Vec<EventRow>> {
    let Some(client) = &case.exchange.client_id else {
        return Ok(Vec::new());
    };
    let ip = case.exchange.ip.as_deref();
    let mut found: Vec<EventRow> = store
        .events_for_client(
            client,
            &[EventKind::TokenResponse],
            ip,
            (t - 86_400_000, t - 1),
            5,
        )?
        .into_iter()
        .filter(|e| {
            e.id != case.primary.id && e.error.is_none() && e.status.is_none_or(|s| s < 400)
        })
        .collect();
    found.reverse();
    Ok(found)
}

pub(super) fn revokes(
    store: &Store,
    case: &Case,
    t: i64,
    settings: &DiagnoseSettings,
) -> Result<Vec<EventRow>> {
    let Some(client) = &case.exchange.client_id else {
        return Ok(Vec::new());
    };
    // Many devices share a client id: a revoke explains this refresh only
    // from the same device (address) or by the same user (a sign-out on the
    // web revoking what the app holds), unless the token itself is known;
    // a revoke that names another token explains nothing.
    let device = match case.exchange.refresh_token_fp {
        Some(_) => None,
        None => case.exchange.ip.as_deref(),
    };
    let user = case.own_events().find_map(|e| e.user_name.as_deref());
    let mut found = store.revokes_for_client(
        client,
        (device, user),
        case.exchange.refresh_token_fp.as_deref(),
        (t - settings.revoke_window_s * 1000, t),
        50,
    )?;
    // Newest first from the store; oldest first here, as the case's other
    // histories are, so that the last one is the nearest.
    found.reverse();
    Ok(found)
}
