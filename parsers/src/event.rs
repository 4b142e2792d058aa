//! The normalized OAuth event: what one log line (or one multi-line record)
//! tells about an OAuth exchange, whatever server or client wrote it.
//!
//! Invariants:
//! - No field ever holds a secret. Authorization codes, refresh tokens and
//!   assertions appear only as keyed [`Fingerprint`]s, a `code_verifier` only
//!   as its S256 hash, a JWT only as its claims. Evidence text is redacted by
//!   [`crate::redact`] before it is put here.
//! - Times are UTC; [`Timestamp::basis`] says how sure we are of the zone and
//!   year.
//! - Fields borrow from the input line where they can (`Cow::Borrowed`); records
//!   assembled from several lines own their data.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Format;
use crate::grant::GrantType;

/// What kind of thing a line tells about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A request to the authorization endpoint (`/oauth/authorize?...`).
    AuthorizeRequest,
    /// The authorization endpoint's redirect that carries `code=`.
    CodeIssued,
    /// A request to the token endpoint whose outcome this line does not show.
    TokenRequest,
    /// A token endpoint outcome: success (status 2xx) or an OAuth error.
    TokenResponse,
    /// A call to the revocation endpoint (or a logout that revokes tokens).
    RevokeRequest,
    /// A server-side event or warning about a grant (Keycloak event line,
    /// Hydra audit line, node-oidc-provider debug line, ...).
    ProviderEvent,
    /// A client-side error (an exception or error log in an app).
    ClientError,
    /// An app lifecycle change on a client (paused, resumed, cold start).
    Lifecycle,
    /// A line that mentions OAuth but no grammar recognised; kept as evidence.
    #[default]
    Unparsed,
}

impl EventKind {
    /// The stable snake_case name used in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::AuthorizeRequest => "authorize_request",
            EventKind::CodeIssued => "code_issued",
            EventKind::TokenRequest => "token_request",
            EventKind::TokenResponse => "token_response",
            EventKind::RevokeRequest => "revoke_request",
            EventKind::ProviderEvent => "provider_event",
            EventKind::ClientError => "client_error",
            EventKind::Lifecycle => "lifecycle",
            EventKind::Unparsed => "unparsed",
        }
    }

    /// The kind named `name` ([`EventKind::as_str`]'s inverse).
    pub fn from_name(name: &str) -> Option<EventKind> {
        [
            EventKind::AuthorizeRequest,
            EventKind::CodeIssued,
            EventKind::TokenRequest,
            EventKind::TokenResponse,
            EventKind::RevokeRequest,
            EventKind::ProviderEvent,
            EventKind::ClientError,
            EventKind::Lifecycle,
            EventKind::Unparsed,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// The kind of authorization server an event comes from or talks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ServerKind {
    /// Rails + Doorkeeper.
    #[serde(rename = "doorkeeper")]
    Doorkeeper,
    /// Ory Hydra / fosite.
    #[serde(rename = "hydra")]
    Hydra,
    /// Keycloak.
    #[serde(rename = "keycloak")]
    Keycloak,
    /// panva/node-oidc-provider.
    #[serde(rename = "node-oidc-provider")]
    NodeOidcProvider,
    /// Duende IdentityServer.
    #[serde(rename = "identityserver")]
    IdentityServer,
    /// Spring Authorization Server.
    #[serde(rename = "spring")]
    Spring,
    /// Microsoft Entra ID (Azure AD).
    #[serde(rename = "azure")]
    Azure,
    /// Google.
    #[serde(rename = "google")]
    Google,
    /// Okta.
    #[serde(rename = "okta")]
    Okta,
    /// Auth0.
    #[serde(rename = "auth0")]
    Auth0,
}

impl ServerKind {
    /// The stable name used in the API (`doorkeeper`, `hydra`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::Doorkeeper => "doorkeeper",
            ServerKind::Hydra => "hydra",
            ServerKind::Keycloak => "keycloak",
            ServerKind::NodeOidcProvider => "node-oidc-provider",
            ServerKind::IdentityServer => "identityserver",
            ServerKind::Spring => "spring",
            ServerKind::Azure => "azure",
            ServerKind::Google => "google",
            ServerKind::Okta => "okta",
            ServerKind::Auth0 => "auth0",
        }
    }

    /// Parses a name written by [`ServerKind::as_str`].
    pub fn from_name(name: &str) -> Option<ServerKind> {
        ALL_SERVERS.iter().copied().find(|s| s.as_str() == name)
    }
}

/// Every server kind, in a stable order.
pub const ALL_SERVERS: [ServerKind; 10] = [
    ServerKind::Doorkeeper,
    ServerKind::Hydra,
    ServerKind::Keycloak,
    ServerKind::NodeOidcProvider,
    ServerKind::IdentityServer,
    ServerKind::Spring,
    ServerKind::Azure,
    ServerKind::Google,
    ServerKind::Okta,
    ServerKind::Auth0,
];

/// How the UTC time of an event was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeBasis {
    /// The line carried its own zone or offset.
    Zoned,
    /// The line had no zone; the configured (or default UTC) zone was assumed.
    AssumedZone,
    /// The line had neither zone nor year (logcat); both were assumed.
    YearInferred,
    /// The line had no date at all (time of day only); the date was assumed.
    DateInferred,
}

/// A point in time, in UTC, with how it was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Timestamp {
    /// The instant, in UTC.
    pub utc: DateTime<Utc>,
    /// How zone, year and date were obtained.
    pub basis: TimeBasis,
}

/// A keyed fingerprint of a secret (an authorization code, a refresh token, an
/// assertion): equal secrets give equal fingerprints under the same key, and
/// the secret cannot be recovered from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 12]);

impl Fingerprint {
    /// Lowercase hex, 24 characters.
    pub fn to_hex(&self) -> String {
        crate::hex::lower_hex(&self.0)
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// The claims of a JWT (an assertion or an ID token). The signature is never
/// kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JwtClaims {
    /// `iat`, seconds since the epoch.
    pub iat: Option<i64>,
    /// `exp`, seconds since the epoch.
    pub exp: Option<i64>,
    /// `nbf`, seconds since the epoch.
    pub nbf: Option<i64>,
    /// `iss`.
    pub iss: Option<String>,
    /// `aud` (several audiences joined with a space).
    pub aud: Option<String>,
    /// `jti`.
    pub jti: Option<String>,
}

/// An app lifecycle change seen in a client log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// The app went to the background.
    Paused,
    /// The app came back to the foreground.
    Resumed,
    /// The app's process started (a cold start).
    ColdStart,
    /// The app's process was killed or exited.
    Terminated,
}

/// One line of evidence: where it was read and its redacted text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceLine<'a> {
    /// 1-based line number in the source file.
    pub line: u64,
    /// The line, with every secret replaced by a fingerprint marker.
    pub text: Cow<'a, str>,
}

/// What one line or record tells about an OAuth exchange.
///
/// Every field but `kind`, `format` and `evidence` is optional: a parser fills
/// what the line says and leaves the rest `None`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event<'a> {
    /// What the line is about.
    pub kind: EventKind,
    /// The log format that produced the event.
    pub format: Format,
    /// The authorization server the event comes from or talks about.
    pub server: Option<ServerKind>,
    /// When it happened.
    pub ts: Option<Timestamp>,
    /// The request id (Rails tag, `x-request-id`, trace id, ...).
    pub request_id: Option<Cow<'a, str>>,
    /// The OAuth client id.
    pub client_id: Option<Cow<'a, str>>,
    /// `grant_type` of a token request.
    pub grant_type: Option<GrantType>,
    /// HTTP method.
    pub method: Option<Cow<'a, str>>,
    /// HTTP path, without the query string.
    pub path: Option<Cow<'a, str>>,
    /// HTTP status of the response.
    pub status: Option<u16>,
    /// OAuth `error` (`invalid_grant`, ...).
    pub error: Option<Cow<'a, str>>,
    /// OAuth `error_description`.
    pub error_description: Option<Cow<'a, str>>,
    /// The provider's own hint or reason (Hydra `error.reason`, Keycloak
    /// `reason=`, node-oidc-provider `detail=`, Spring/Duende log message).
    pub provider_reason: Option<Cow<'a, str>>,
    /// The provider's debug text (Hydra `error.debug`).
    pub provider_debug: Option<Cow<'a, str>>,
    /// The provider's error code (`AADSTS50148`, Keycloak `error=` constant,
    /// Auth0 log type, AppAuth code).
    pub provider_code: Option<Cow<'a, str>>,
    /// `redirect_uri` sent with the request (authorize or token).
    pub redirect_uri: Option<Cow<'a, str>>,
    /// PKCE `code_challenge` of an authorize request.
    pub code_challenge: Option<Cow<'a, str>>,
    /// PKCE `code_challenge_method`.
    pub code_challenge_method: Option<Cow<'a, str>>,
    /// Fingerprint of the authorization code (issued or exchanged).
    pub code_fp: Option<Fingerprint>,
    /// Fingerprint of the refresh token presented (or issued).
    pub refresh_token_fp: Option<Fingerprint>,
    /// Fingerprint of an assertion (`client_assertion`, jwt-bearer `assertion`).
    pub assertion_fp: Option<Fingerprint>,
    /// BASE64URL(SHA256(code_verifier)) of the verifier sent, to compare with
    /// the authorize request's `code_challenge`.
    pub verifier_s256: Option<String>,
    /// Whether a `code_verifier` was sent at all (`Some(false)`: the request's
    /// parameters were logged and had none).
    pub verifier_sent: Option<bool>,
    /// Claims of the assertion or ID token the line shows (boxed: few
    /// events carry them, and an event is moved several times on its way
    /// to the store; inline they were a sixth of its 720 bytes).
    pub jwt: Option<Box<JwtClaims>>,
    /// The server's `Date` header as the client saw it: with `ts` (the
    /// client's clock) it is a clock sample.
    pub server_date: Option<DateTime<Utc>>,
    /// Client IP address.
    pub ip: Option<Cow<'a, str>>,
    /// User agent.
    pub user_agent: Option<Cow<'a, str>>,
    /// Session id (Keycloak `sessionId`, ...).
    pub session_id: Option<Cow<'a, str>>,
    /// The app installation's or device's id, where a client log carries
    /// one (a dio request's `X-Device-Id` / `X-Installation-Id` header).
    pub device_id: Option<Cow<'a, str>>,
    /// User id or name, when the line gives one.
    pub user: Option<Cow<'a, str>>,
    /// App lifecycle change (only for [`EventKind::Lifecycle`]).
    pub lifecycle: Option<Lifecycle>,
    /// The lines this event was read from, redacted, in file order.
    pub evidence: Vec<EvidenceLine<'a>>,
    /// The host/pod/container/unit the line's envelope named (a source
    /// inside an aggregated file).
    pub origin: Option<Cow<'a, str>>,
    /// The envelope's own time (the runtime's, the journal's), kept beside
    /// the line's: their difference is a clock sample between app and node.
    pub envelope_time: Option<DateTime<Utc>>,
    /// Which record of its file line the event was read from, counted
    /// from 0: a line can hold several (a CloudWatch document, an
    /// OpenTelemetry batch), and two events of one kind from one line are
    /// two events only if this tells them apart. 0 for a line that is one
    /// record.
    pub part: u32,
    /// Its grammar read every error field its record writes (a Keycloak
    /// listener line's `error` and `reason` pairs), so the extractor, which
    /// reads a record's prose for an error, does not read it again
    /// (`extract::settle`). What the parser knows of its reading, not what
    /// the line says: never serialized.
    #[serde(skip)]
    pub errors_read: bool,
}

impl<'a> Event<'a> {
    /// Adds the one line an event of a one-line record is read from: room
    /// for that line alone, where a first push makes room for four (three
    /// slots unused in every event a Keycloak or Hydra log gives, which a
    /// read holds by the thousand; benches/README.md).
    pub fn add_only_line(&mut self, line: EvidenceLine<'a>) {
        self.evidence.reserve_exact(1);
        self.evidence.push(line);
    }

    /// An event of `kind` from `format` with every optional field empty.
    pub fn new(kind: EventKind, format: Format) -> Self {
        Event {
            kind,
            format,
            server: None,
            ts: None,
            request_id: None,
            client_id: None,
            grant_type: None,
            method: None,
            path: None,
            status: None,
            error: None,
            error_description: None,
            provider_reason: None,
            provider_debug: None,
            provider_code: None,
            redirect_uri: None,
            code_challenge: None,
            code_challenge_method: None,
            code_fp: None,
            refresh_token_fp: None,
            assertion_fp: None,
            verifier_s256: None,
            verifier_sent: None,
            jwt: None,
            server_date: None,
            ip: None,
            user_agent: None,
            session_id: None,
            device_id: None,
            user: None,
            lifecycle: None,
            evidence: Vec::new(),
            origin: None,
            envelope_time: None,
            part: 0,
            errors_read: false,
        }
    }

    /// The first evidence line number (0 when there is no evidence).
    pub fn line(&self) -> u64 {
        self.evidence.first().map_or(0, |e| e.line)
    }

    /// Copies every borrowed field so the event outlives its input.
    pub fn into_owned(self) -> Event<'static> {
        self.map_texts(|c| Cow::Owned(c.into_owned()))
    }

    /// The event with each of its texts (every text field and each
    /// evidence line's text) given by `to`: [`Event::into_owned`] copies
    /// each into a `String`, a reader's batch into one arena of its own
    /// (`src/ingest/owned_events.rs`).
    pub fn map_texts<'b>(self, mut to: impl FnMut(Cow<'a, str>) -> Cow<'b, str>) -> Event<'b> {
        let mut own = |c: Option<Cow<'a, str>>| c.map(&mut to);
        Event {
            kind: self.kind,
            format: self.format,
            server: self.server,
            ts: self.ts,
            request_id: own(self.request_id),
            client_id: own(self.client_id),
            grant_type: self.grant_type,
            method: own(self.method),
            path: own(self.path),
            status: self.status,
            error: own(self.error),
            error_description: own(self.error_description),
            provider_reason: own(self.provider_reason),
            provider_debug: own(self.provider_debug),
            provider_code: own(self.provider_code),
            redirect_uri: own(self.redirect_uri),
            code_challenge: own(self.code_challenge),
            code_challenge_method: own(self.code_challenge_method),
            code_fp: self.code_fp,
            refresh_token_fp: self.refresh_token_fp,
            assertion_fp: self.assertion_fp,
            verifier_s256: self.verifier_s256,
            verifier_sent: self.verifier_sent,
            jwt: self.jwt,
            server_date: self.server_date,
            ip: own(self.ip),
            user_agent: own(self.user_agent),
            session_id: own(self.session_id),
            device_id: own(self.device_id),
            user: own(self.user),
            lifecycle: self.lifecycle,
            origin: own(self.origin),
            evidence: self
                .evidence
                .into_iter()
                .map(|e| EvidenceLine {
                    line: e.line,
                    text: to(e.text),
                })
                .collect(),
            envelope_time: self.envelope_time,
            part: self.part,
            errors_read: self.errors_read,
        }
    }

    /// Each of the event's texts (every text field and each evidence
    /// line's text) handed to `to` where it lies, the event not moved:
    /// the texts [`Event::map_texts`] maps. A reader's batch copies its
    /// events' borrowed texts this way (`src/ingest/owned_events.rs`);
    /// taken through `map_texts`, each event (608 bytes) was copied out
    /// and back in by the collect: about 2% of the samples of `analyze`
    /// over 300 MB of a Keycloak log (benches/README.md).
    ///
    /// Every field is named below, none passed over by `..`: a field
    /// added to [`Event`] must be named here too, as a text or not, or
    /// this does not compile (the batch's safety rests on no borrowed
    /// text being left out).
    pub fn each_text_mut(&mut self, mut to: impl FnMut(&mut Cow<'a, str>)) {
        let Event {
            kind: _,
            format: _,
            server: _,
            ts: _,
            request_id,
            client_id,
            grant_type: _,
            method,
            path,
            status: _,
            error,
            error_description,
            provider_reason,
            provider_debug,
            provider_code,
            redirect_uri,
            code_challenge,
            code_challenge_method,
            code_fp: _,
            refresh_token_fp: _,
            assertion_fp: _,
            verifier_s256: _,
            verifier_sent: _,
            jwt: _,
            server_date: _,
            ip,
            user_agent,
            session_id,
            device_id,
            user,
            lifecycle: _,
            evidence,
            origin,
            envelope_time: _,
            part: _,
            errors_read: _,
        } = self;
        let texts = [
            request_id,
            client_id,
            method,
            path,
            error,
            error_description,
            provider_reason,
            provider_debug,
            provider_code,
            redirect_uri,
            code_challenge,
            code_challenge_method,
            ip,
            user_agent,
            session_id,
            device_id,
            user,
            origin,
        ];
        texts.into_iter().flatten().for_each(&mut to);
        evidence.iter_mut().for_each(|line| to(&mut line.text));
    }

    /// Every text field, for tests that check no secret survived.
    pub fn text_fields(&self) -> Vec<&str> {
        let opts = [
            &self.request_id,
            &self.client_id,
            &self.method,
            &self.path,
            &self.error,
            &self.error_description,
            &self.provider_reason,
            &self.provider_debug,
            &self.provider_code,
            &self.redirect_uri,
            &self.code_challenge,
            &self.code_challenge_method,
            &self.ip,
            &self.user_agent,
            &self.session_id,
            &self.device_id,
            &self.user,
        ];
        let mut out: Vec<&str> = opts.iter().filter_map(|o| o.as_deref()).collect();
        out.extend(self.grant_type.as_ref().map(GrantType::as_str));
        out.extend(self.verifier_s256.as_deref());
        if let Some(j) = &self.jwt {
            out.extend(j.iss.as_deref());
            out.extend(j.aud.as_deref());
            out.extend(j.jti.as_deref());
        }
        out.extend(self.evidence.iter().map(|e| e.text.as_ref()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event with every text field and two evidence lines set, each
    /// text its own.
    fn every_text_set(texts: &[String]) -> Event<'_> {
        let mut e = Event::new(EventKind::TokenResponse, Format::Keycloak);
        let mut t = texts.iter().map(|s| Some(Cow::Borrowed(s.as_str())));
        let mut next = || t.next().flatten();
        (e.request_id, e.client_id, e.method, e.path) = (next(), next(), next(), next());
        (e.error, e.error_description, e.provider_reason) = (next(), next(), next());
        (e.provider_debug, e.provider_code, e.redirect_uri) = (next(), next(), next());
        (e.code_challenge, e.code_challenge_method, e.ip) = (next(), next(), next());
        (e.user_agent, e.session_id, e.device_id) = (next(), next(), next());
        (e.user, e.origin) = (next(), next());
        for line in 1..=2 {
            let text = next().unwrap_or_default();
            e.evidence.push(EvidenceLine { line, text });
        }
        e
    }

    #[test]
    fn each_text_mut_hands_over_the_texts_map_texts_maps() {
        let texts: Vec<String> = (0..20).map(|i| format!("text {i}")).collect();
        let mut seen_in_place = Vec::new();
        let mut event = every_text_set(&texts);
        event.each_text_mut(|t| {
            seen_in_place.push(t.to_string());
            *t = Cow::Owned(format!("{t}!"));
        });
        let mut mapped = Vec::new();
        let expected = every_text_set(&texts).map_texts(|t| {
            mapped.push(t.to_string());
            Cow::Owned(format!("{t}!"))
        });
        assert_eq!(seen_in_place, mapped);
        assert_eq!(seen_in_place, texts, "every text set, each once");
        assert_eq!(event, expected);
    }
}
