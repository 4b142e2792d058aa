//! What a case is: the failure's own events, the exchange's facts merged
//! from them, the flow it belongs to and what the logs said around it.
//! `mod.rs` gathers a case from the store; `history.rs` reads the client's
//! past for it; the causes read it. A leaf, so that those files do not
//! import each other.

use crate::correlate::ClockEstimate;
use crate::store::EventRow;
use grantwatch_parsers::{GrantType, ServerKind};

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
    /// When `authorize` is the redirect carrying the code and has no PKCE
    /// challenge of its own: the authorize request before it that has one
    /// (a client logs the two apart).
    pub challenge_from: Option<EventRow>,
}

impl Flow {
    /// The PKCE challenge of this login, and the event that carried it.
    pub fn challenge(&self) -> Option<(&str, &EventRow)> {
        std::iter::once(&self.authorize)
            .chain(&self.challenge_from)
            .find_map(|e| e.code_challenge.as_deref().map(|c| (c, e)))
    }
}

/// The facts of the failed token request, merged across its events.
#[derive(Clone, Debug, Default)]
pub struct Exchange {
    /// Grant type (inferred from the parameters when not logged).
    pub grant_type: Option<GrantType>,
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
    /// Revocations by the same client before the failure, oldest first
    /// (the last is the nearest).
    pub revokes: Vec<EventRow>,
    /// For a refresh: the same client's last successful token responses
    /// (same address when known) in the day before, oldest first.
    pub earlier_successes: Vec<EventRow>,
    /// App lifecycle changes between the flow's start and the failure.
    pub lifecycle: Vec<EventRow>,
    /// The clock estimate of the client source that saw the failure.
    pub client_clock: Option<ClockEstimate>,
    /// That client source's file.
    pub client_clock_file: Option<String>,
    /// The failure's time by the server's clock.
    pub time_ms: Option<i64>,
    /// Server kind.
    pub server: Option<ServerKind>,
    /// When the failing request was sent, by the server's clock (a client
    /// logs it before the response).
    pub sent_ms: Option<i64>,
    /// The client's clock offset measured closest before the failure (client
    /// minus server, ms), and when: a device clock can be changed mid-log.
    pub nearby_offset: Option<(i64, i64)>,
    /// The OmniAuth login phases (`(name) Callback phase initiated.`) the
    /// failure's own log shows before it (and after it, for Devise's flash
    /// pasted above its log), in line order: read by line, so they count
    /// also in a log without times.
    pub phases: Vec<EventRow>,
}

impl Case {
    /// Every event of the failure itself: the primary, then the merged ones.
    pub fn own_events(&self) -> impl Iterator<Item = &EventRow> {
        std::iter::once(&self.primary).chain(&self.merged)
    }

    /// Whether Keycloak refused this refresh with a bare `invalid_token`
    /// (no reason), as old versions answer every refresh failure: the one
    /// failure whose cause is read from the client's earlier successes.
    pub fn is_keycloak_bare_refresh_error(&self) -> bool {
        self.exchange.grant_type == Some(GrantType::RefreshToken)
            && self.own_events().any(|e| {
                e.server == Some(ServerKind::Keycloak)
                    && e.provider_code.as_deref() == Some("invalid_token")
                    && e.provider_reason.is_none()
            })
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

/// Whether `e` is at or before `t` (ms); an event without a time is not.
pub(super) fn before(e: &EventRow, t: i64) -> bool {
    e.ts_ms.is_some_and(|ts| ts <= t)
}
