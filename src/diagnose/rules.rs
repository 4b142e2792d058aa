//! The diagnosis rules, one place per cause: what evidence each needs, the
//! fix, and the inference that works where the server says nothing specific
//! (Doorkeeper answers every cause with one sentence, so its causes come from
//! the request log). The providers' own words are in [`super::phrases`].
//!
//! [`RULES`] is in priority order: when two causes are both proven, the one a
//! server checks first wins (client authentication, then the grant's
//! existence and use, then client, redirect URI and PKCE, then expiry) and
//! the other becomes a candidate.

use super::case::{Case, FlowLink};
use super::cause::{Cause, Confidence};
use crate::config::DiagnoseSettings;
use crate::correlate::human_duration;
use crate::store::failures::format_ts;

/// What a rule found.
#[derive(Clone, Debug)]
pub struct Finding {
    /// How sure.
    pub confidence: Confidence,
    /// One sentence with the actual values.
    pub summary: String,
    /// Events (ids) beyond the failure's own that support it.
    pub supporting: Vec<i64>,
    /// Which log would settle it, when not sure.
    pub missing: Option<String>,
}

/// One cause's rule.
pub struct Rule {
    /// The cause.
    pub cause: Cause,
    /// The evidence the inference needs (for the README and reviewers).
    pub needs: &'static str,
    /// What to change.
    pub fix: &'static str,
    /// The inference from the request logs, if the cause has one.
    pub infer: Option<fn(&Case, &DiagnoseSettings) -> Option<Finding>>,
}

/// Every rule, in priority order.
pub const RULES: &[Rule] = &[
    Rule {
        cause: Cause::InvalidClientCredentials,
        needs: "a 401 from the token endpoint, or the provider's client-authentication error",
        fix: "Check the client_id and client_secret the client sends (and how: Basic header or form body, never both) against the client registered on the server; rotate and redeploy the secret if it was changed or expired.",
        infer: Some(infer_invalid_client),
    },
    Rule {
        cause: Cause::MalformedGrant,
        needs: "the provider saying the grant is unknown or garbled",
        fix: "Send the code or refresh token exactly as received (no truncation, double URL-encoding or whitespace), to the same environment and server that issued it.",
        infer: None,
    },
    Rule {
        cause: Cause::CodeReused,
        needs: "an earlier exchange of the same code (same code fingerprint or PKCE verifier) before this one",
        fix: "Exchange each authorization code exactly once: guard the callback handler against running twice (double callback, React StrictMode, a retry after a timeout, two tabs) and keep the tokens from the first exchange.",
        infer: Some(infer_code_reused),
    },
    Rule {
        cause: Cause::ClientMismatch,
        needs: "the authorize request's client_id differing from the token request's",
        fix: "Exchange the code (or refresh the token) with the same client_id that started the authorization; check apps or environments that share a redirect URI.",
        infer: Some(infer_client_mismatch),
    },
    Rule {
        cause: Cause::RedirectUriMismatch,
        needs: "the authorize request's redirect_uri and the token request's, compared character by character",
        fix: "Send the token request with byte-for-byte the same redirect_uri as the authorize request (scheme, host, port, path, trailing slash, query).",
        infer: Some(infer_redirect_mismatch),
    },
    Rule {
        cause: Cause::PkceMissing,
        needs: "an authorize request with a code_challenge and a token request whose logged parameters have no code_verifier",
        fix: "Send the code_verifier of this login with the token request; if the app keeps it in memory, persist it across the redirect.",
        infer: Some(infer_pkce_missing),
    },
    Rule {
        cause: Cause::PkceVerifierMismatch,
        needs: "the S256 of the logged code_verifier differing from the authorize request's code_challenge",
        fix: "Keep the code_verifier generated for this login until the token exchange (persist it across app restarts and process death) and never regenerate it between authorize and token.",
        infer: Some(infer_pkce_mismatch),
    },
    Rule {
        cause: Cause::ClockSkew,
        needs: "a JWT's iat/exp/nbf against the server's time, or a client's ID-token time check with the client's measured clock offset",
        fix: "Synchronise the clock of the machine or device named in the summary (NTP; on phones, automatic date and time); give JWT checks a small leeway.",
        infer: Some(infer_clock_skew),
    },
    Rule {
        cause: Cause::CodeExpired,
        needs: "the time the code was issued and the time it was exchanged, against the server's code lifetime",
        fix: "Exchange the code right after the redirect; if users are slow (or the app is suspended), start a new authorization instead of exchanging an old code, or raise the code lifetime.",
        infer: Some(infer_code_expired),
    },
    Rule {
        cause: Cause::RefreshTokenReused,
        needs: "another refresh by the same client (or with the same refresh token) just before this one",
        fix: "Serialise refreshes in the client (one in-flight refresh shared by every caller), store the rotated refresh token before using it, or enable a rotation grace period on the server.",
        infer: Some(infer_refresh_reused),
    },
    Rule {
        cause: Cause::RefreshTokenRevoked,
        needs: "a revoke call (or logout) by the same client before the refresh",
        fix: "After logout or revocation, drop the stored tokens and start a new login instead of refreshing.",
        infer: Some(infer_refresh_revoked),
    },
    Rule {
        cause: Cause::RefreshTokenExpired,
        needs: "the provider saying the refresh token expired or idled out",
        fix: "Start a new interactive login when the refresh token has expired; raise the refresh-token (or session idle) lifetime if users are logged out too soon.",
        infer: Some(infer_refresh_expired),
    },
    Rule {
        cause: Cause::SessionTerminated,
        needs: "the provider saying the session behind the grant ended",
        fix: "Treat it as a logout: start a new login. If sessions end too soon, check the IdP's SSO session idle/max settings and that sessions survive restarts.",
        infer: None,
    },
    Rule {
        cause: Cause::GrantTypeNotAllowed,
        needs: "the provider's unauthorized_client / unsupported_grant_type answer",
        fix: "Enable this grant type for the client on the server (or use the grant the client is registered for).",
        infer: None,
    },
    Rule {
        cause: Cause::InvalidResourceOwnerCredentials,
        needs: "a password-grant token request that failed",
        fix: "The user's username or password was wrong (or the account is locked); show a login error instead of retrying.",
        infer: Some(infer_password),
    },
    Rule {
        cause: Cause::UserOrConsentRevoked,
        needs: "the provider saying the user is disabled or deleted or consent was withdrawn",
        fix: "The user must log in (and consent) again; if the account was disabled on purpose, stop retrying.",
        infer: None,
    },
    Rule {
        cause: Cause::InteractionRequired,
        needs: "the provider demanding interactive login (MFA, reauthentication policy)",
        fix: "Run an interactive login (with MFA) instead of a silent refresh.",
        infer: None,
    },
    Rule {
        cause: Cause::ScopeInvalid,
        needs: "the provider's invalid_scope answer",
        fix: "Request only scopes the client is allowed and that were granted originally (e.g. offline_access for refresh tokens).",
        infer: None,
    },
    Rule {
        cause: Cause::BindingMismatch,
        needs: "a DPoP or mTLS binding error from the provider",
        fix: "Send the DPoP proof (or client certificate) made with the same key the token was bound to.",
        infer: None,
    },
    Rule {
        cause: Cause::IssuerOrTenantMismatch,
        needs: "the provider saying the token came from another issuer, host or tenant",
        fix: "Use the same issuer URL (hostname, realm, tenant) for authorize, token and refresh; set the IdP's public hostname.",
        infer: None,
    },
];

/// The rule of `cause`.
pub fn rule(cause: Cause) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.cause == cause)
}

fn ts(ms: Option<i64>) -> String {
    ms.and_then(format_ts)
        .unwrap_or_else(|| "an unknown time".into())
}

/// How an earlier request ended, in words.
fn outcome(e: &crate::store::EventRow) -> String {
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
fn earlier_by(gap_ms: Option<i64>) -> String {
    match gap_ms {
        Some(0) => ", in the same second".into(),
        Some(g) => format!(", {} earlier", human_duration(g)),
        None => String::new(),
    }
}

/// Errors more specific than a bare 401: when the failure's own records name
/// one of them (the client saw the body), the 401 is not about credentials.
const SPECIFIC_ERRORS: [&str; 4] = [
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_grant",
];

fn infer_invalid_client(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    let more_specific = case.own_events().any(|e| {
        e.provider_reason.is_some()
            || e.error
                .as_deref()
                .is_some_and(|err| SPECIFIC_ERRORS.contains(&err))
    });
    if more_specific {
        return None;
    }
    let server_401 = case
        .own_events()
        .any(|e| !e.is_client_side() && e.status == Some(401) && e.kind == "token_response");
    if !server_401
        || case
            .exchange
            .error
            .as_deref()
            .is_some_and(|e| e == "token_inactive")
    {
        return None;
    }
    Some(Finding {
        confidence: Confidence::High,
        summary: format!(
            "The token endpoint answered 401 Unauthorized to client {}: client authentication failed (unknown client, wrong secret or wrong authentication method).",
            case.exchange.client_id.as_deref().unwrap_or("(not logged)")
        ),
        supporting: Vec::new(),
        missing: None,
    })
}

fn infer_code_reused(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    if case.exchange.grant_type.as_deref() != Some("authorization_code") {
        return None;
    }
    let first = case.earlier.first()?;
    let gap = case.time_ms.zip(first.ts_ms).map(|(a, b)| a - b);
    let by_secret = case.exchange.code_fp.is_some() && first.code_fp == case.exchange.code_fp
        || case.exchange.verifier_s256.is_some()
            && first.verifier_s256 == case.exchange.verifier_s256;
    let confidence = if by_secret {
        Confidence::High
    } else {
        Confidence::Medium
    };
    Some(Finding {
        confidence,
        summary: format!(
            "This code was already exchanged at {} ({}){}: this is a second exchange of the same code{}.",
            ts(first.ts_ms),
            outcome(first),
            earlier_by(gap),
            if by_secret { "" } else { " (same client and redirect_uri; the code itself is filtered from the log)" }
        ),
        supporting: vec![first.id],
        missing: (!by_secret).then(|| "a log with the code or code_verifier of each exchange (e.g. the client's request log) would prove it is the same code".into()),
    })
}

fn infer_client_mismatch(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    let flow = case.flow.as_ref()?;
    if flow.link == FlowLink::ClientAndTime {
        return None;
    }
    let (a, b) = (
        flow.authorize.client_id.as_ref()?,
        case.exchange.client_id.as_ref()?,
    );
    (a != b).then(|| Finding {
        confidence: Confidence::High,
        summary: format!(
            "The code was issued to client {a} (authorize at {}) but exchanged by client {b}.",
            ts(flow.authorize.ts_ms)
        ),
        supporting: vec![flow.authorize.id],
        missing: None,
    })
}

/// Describes how two redirect URIs differ, precisely.
pub fn uri_difference(authorize: &str, token: &str) -> String {
    if authorize.trim_end_matches('/') == token.trim_end_matches('/') {
        let (with, without) = if authorize.ends_with('/') {
            ("authorize", "token")
        } else {
            ("token", "authorize")
        };
        return format!(
            "only a trailing slash differs (the {with} request has it, the {without} request does not)"
        );
    }
    if authorize.eq_ignore_ascii_case(token) {
        return "they differ only in letter case".into();
    }
    let (pa, qa) = authorize
        .split_once('?')
        .map_or((authorize, ""), |(p, q)| (p, q));
    let (pt, qt) = token.split_once('?').map_or((token, ""), |(p, q)| (p, q));
    if pa == pt {
        return format!("the query differs (\"{qa}\" vs \"{qt}\")");
    }
    let scheme = |u: &str| u.split_once("://").map(|(s, _)| s.to_owned());
    if scheme(pa) != scheme(pt) {
        return format!(
            "the scheme differs ({} vs {})",
            scheme(pa).unwrap_or_else(|| pa.split(':').next().unwrap_or("").to_owned()),
            scheme(pt).unwrap_or_else(|| pt.split(':').next().unwrap_or("").to_owned())
        );
    }
    let common = pa
        .chars()
        .zip(pt.chars())
        .take_while(|(x, y)| x == y)
        .count();
    format!(
        "they first differ at character {} (\"{}\" vs \"{}\")",
        common + 1,
        &pa.chars().skip(common).collect::<String>(),
        &pt.chars().skip(common).collect::<String>()
    )
}

fn infer_redirect_mismatch(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    let flow = case.flow.as_ref()?;
    let (a, b) = (
        flow.authorize.redirect_uri.as_ref()?,
        case.exchange.redirect_uri.as_ref()?,
    );
    if a == b {
        return None;
    }
    let confidence = if flow.link == FlowLink::ClientAndTime {
        Confidence::Medium
    } else {
        Confidence::High
    };
    Some(Finding {
        confidence,
        summary: format!(
            "The token request sent redirect_uri \"{b}\" but the authorize request at {} used \"{a}\": {}.",
            ts(flow.authorize.ts_ms),
            uri_difference(a, b)
        ),
        supporting: vec![flow.authorize.id],
        missing: (confidence != Confidence::High)
            .then(|| "the code or PKCE verifier of the exchange (to tie it to this authorize request for sure)".into()),
    })
}

fn infer_pkce_missing(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    let flow = case.flow.as_ref()?;
    let (challenge, by) = flow.challenge()?;
    (case.exchange.verifier_sent == Some(false)).then(|| Finding {
        confidence: Confidence::High,
        summary: format!(
            "The authorize request at {} sent a code_challenge ({}…, {}) but the token request sent no code_verifier.",
            ts(by.ts_ms),
            challenge.chars().take(10).collect::<String>(),
            by.code_challenge_method.as_deref().unwrap_or("plain")
        ),
        supporting: vec![by.id],
        missing: None,
    })
}

fn infer_pkce_mismatch(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    let flow = case.flow.as_ref()?;
    let sent = case.exchange.verifier_s256.as_ref()?;
    if flow.link == FlowLink::Pkce {
        return None;
    }
    let restart = case.lifecycle.iter().find(|l| {
        matches!(
            l.lifecycle.as_deref(),
            Some("cold_start") | Some("terminated")
        )
    });
    let Some((challenge, by)) = flow.challenge() else {
        return Some(Finding {
            confidence: Confidence::Medium,
            summary: format!(
                "The token request sent a code_verifier but the authorize request at {} sent no code_challenge: PKCE is configured differently in the client's two steps.",
                ts(flow.authorize.ts_ms)
            ),
            supporting: vec![flow.authorize.id],
            missing: Some("the authorize request that issued this exact code".into()),
        });
    };
    if challenge == sent {
        return None;
    }
    let mut supporting = vec![flow.authorize.id, by.id];
    supporting.extend(restart.map(|r| r.id));
    Some(Finding {
        confidence: if flow.link == FlowLink::Code || restart.is_some() { Confidence::High } else { Confidence::Medium },
        summary: format!(
            "The code_verifier sent hashes (S256) to {}… but the authorize request at {} sent code_challenge {}…{}",
            sent.chars().take(10).collect::<String>(),
            ts(by.ts_ms),
            challenge.chars().take(10).collect::<String>(),
            match restart {
                Some(r) => format!(
                    ": the app was restarted at {} between authorize and token, and regenerated its verifier.",
                    ts(r.ts_ms)
                ),
                None => ": the app sent a different verifier than the one it started this login with.".into(),
            }
        ),
        supporting,
        missing: (flow.link == FlowLink::ClientAndTime && restart.is_none())
            .then(|| "the client's log around the login (to rule out two overlapping logins of the same client)".into()),
    })
}

fn infer_clock_skew(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    let now = case.time_ms? / 1000;
    let leeway = settings.jwt_leeway_s;
    let x = &case.exchange;
    let jwt = if let Some(iat) = x.jwt_iat.filter(|&iat| iat > now + leeway) {
        Some(format!(
            "the assertion's iat ({}) is {} after the server's time ({})",
            ts(Some(iat * 1000)),
            human_duration((iat - now) * 1000),
            ts(Some(now * 1000))
        ))
    } else if let Some(nbf) = x.jwt_nbf.filter(|&nbf| nbf > now + leeway) {
        Some(format!(
            "the assertion's nbf ({}) is {} after the server's time",
            ts(Some(nbf * 1000)),
            human_duration((nbf - now) * 1000)
        ))
    } else {
        x.jwt_exp
            .filter(|&exp| exp < now - leeway && x.jwt_iat.is_some_and(|iat| exp - iat <= 3600))
            .map(|exp| {
                format!(
                    "the assertion expired at {}, {} before the server's time (its iat is {})",
                    ts(Some(exp * 1000)),
                    human_duration((now - exp) * 1000),
                    ts(x.jwt_iat.map(|i| i * 1000))
                )
            })
    };
    if let Some(what) = jwt {
        return Some(Finding {
            confidence: Confidence::High,
            summary: format!(
                "{}: the clock of the machine that signed it is off.",
                capitalize(&what)
            ),
            supporting: Vec::new(),
            missing: None,
        });
    }
    let id_token_check = case.own_events().any(|e| {
        [&e.error_description, &e.provider_reason].iter().any(|f| {
            f.as_deref()
                .is_some_and(|t| t.contains("ID Token") || t.contains("Issued at time"))
        })
    });
    if !id_token_check {
        return None;
    }
    // The offset measured right before the failure wins over the log's
    // median: a device clock can be changed by hand mid-log.
    let threshold = settings.skew_threshold_s * 1000;
    if let Some((offset, at)) = case.nearby_offset.filter(|(o, _)| o.abs() >= threshold) {
        return Some(Finding {
            confidence: Confidence::High,
            summary: format!(
                "The app rejected the ID token's times, and its clock was {} {} the server's (its log time against the server's Date header at {}).",
                human_duration(offset),
                if offset > 0 { "ahead of" } else { "behind" },
                ts(Some(at))
            ),
            supporting: Vec::new(),
            missing: None,
        });
    }
    let clock = case.client_clock.as_ref()?;
    (clock.offset_ms.abs() >= threshold).then(|| Finding {
        confidence: Confidence::High,
        summary: format!(
            "The app rejected the ID token's times, and its clock is {} ({} samples against the server's Date header).",
            clock.note, clock.samples
        ),
        supporting: Vec::new(),
        missing: None,
    })
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// Hydra (fosite) logs an expired code or refresh token as an invalid_grant
/// with no hint and the bare debug text `invalid_token` (catalog §3.2).
fn hydra_bare_invalid_token(case: &Case) -> bool {
    case.own_events().any(|e| {
        e.server.as_deref() == Some("hydra")
            && e.provider_debug.as_deref() == Some("invalid_token")
            && e.provider_reason.is_none()
    })
}

fn infer_code_expired(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    if case.exchange.grant_type.as_deref() != Some("refresh_token")
        && hydra_bare_invalid_token(case)
    {
        return Some(Finding {
            confidence: Confidence::Medium,
            summary: "Hydra logged invalid_grant with no hint and debug \"invalid_token\": that is how fosite reports an authorization code past its lifetime (the \"Authorize code expired at\" text is dropped from the log).".into(),
            supporting: Vec::new(),
            missing: Some("the authorize request that issued the code (Hydra's /oauth2/auth access log), to compare its time with the exchange".into()),
        });
    }
    let flow = case.flow.as_ref()?;
    let age = case.time_ms? - flow.authorize.ts_ms?;
    let lifetime = settings.code_lifetime_ms(case.server.as_deref());
    (age > lifetime).then(|| Finding {
        confidence: if flow.link == FlowLink::ClientAndTime { Confidence::Medium } else { Confidence::High },
        summary: format!(
            "The code issued at {} was exchanged {} later; {} codes live {}.",
            ts(flow.authorize.ts_ms),
            human_duration(age),
            case.server.as_deref().unwrap_or("this server's"),
            human_duration(lifetime)
        ),
        supporting: vec![flow.authorize.id],
        missing: (flow.link == FlowLink::ClientAndTime)
            .then(|| "the code or PKCE verifier of the exchange, to tie it to this authorize request for sure".into()),
    })
}

fn infer_refresh_expired(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    if let Some(f) = keycloak_idle(case, settings) {
        return Some(f);
    }
    (case.exchange.grant_type.as_deref() == Some("refresh_token") && hydra_bare_invalid_token(case)).then(|| Finding {
        confidence: Confidence::Medium,
        summary: "Hydra logged invalid_grant on a refresh with no hint and debug \"invalid_token\": that is how fosite up to 0.47 reports a refresh token past its lifetime (ttl.refresh_token).".into(),
        supporting: Vec::new(),
        missing: Some("the refresh token's issue time (the token response that issued it)".into()),
    })
}

/// Old Keycloak logs every refresh failure as `error=invalid_token` with no
/// reason; when the client's last successful refresh is older than the SSO
/// session idle timeout, the refresh token (whose lifetime follows it) had
/// expired.
fn keycloak_idle(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    let bare = case.own_events().any(|e| {
        e.server.as_deref() == Some("keycloak")
            && e.provider_code.as_deref() == Some("invalid_token")
            && e.provider_reason.is_none()
    });
    if !bare || case.exchange.grant_type.as_deref() != Some("refresh_token") {
        return None;
    }
    let last = case.earlier_successes.last()?;
    let idle = case.time_ms? - last.ts_ms?;
    (idle > settings.keycloak_session_idle_s * 1000).then(|| Finding {
        confidence: Confidence::Medium,
        summary: format!(
            "Keycloak refused the refresh with a bare invalid_token; the client's last successful refresh was {} earlier ({}), longer than Keycloak's SSO Session Idle ({}), which bounds the refresh token's lifetime.",
            human_duration(idle),
            ts(last.ts_ms),
            human_duration(settings.keycloak_session_idle_s * 1000)
        ),
        supporting: vec![last.id],
        missing: Some("a Keycloak 23+ event log, whose reason= names the check that failed".into()),
    })
}

fn infer_refresh_reused(case: &Case, settings: &DiagnoseSettings) -> Option<Finding> {
    if case.exchange.grant_type.as_deref() != Some("refresh_token") {
        return None;
    }
    // Compare the times the two requests were sent, when the client logged
    // them; the server's time otherwise.
    let t = case.sent_ms.or(case.time_ms)?;
    let prior = case.earlier.iter().rev().find(|e| {
        let failed = e.status.is_some_and(|s| s >= 400) || e.error.is_some();
        !failed
            && ((e.refresh_token_fp.is_some()
                && e.refresh_token_fp == case.exchange.refresh_token_fp)
                || (e.ts_ms.is_some_and(|p| t - p <= settings.refresh_race_ms)
                    && (e.ip.is_none() || case.exchange.ip.is_none() || e.ip == case.exchange.ip)))
    })?;
    // A revocation after that refresh explains the failure better.
    if case.revokes.iter().any(|r| r.ts_ms > prior.ts_ms) {
        return None;
    }
    let same_token = prior.refresh_token_fp.is_some()
        && prior.refresh_token_fp == case.exchange.refresh_token_fp;
    let gap = prior.ts_ms.map(|p| t - p).unwrap_or(0);
    Some(Finding {
        confidence: if same_token || gap <= settings.refresh_race_ms {
            Confidence::High
        } else {
            Confidence::Medium
        },
        summary: format!(
            "Client {} refreshed {} earlier ({}){}: this refresh presented a refresh token that rotation had already replaced.",
            case.exchange.client_id.as_deref().unwrap_or("(unknown)"),
            human_duration(gap),
            outcome(prior),
            if same_token {
                " with the same refresh token"
            } else {
                ""
            }
        ),
        supporting: vec![prior.id],
        missing: None,
    })
}

fn infer_refresh_revoked(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    let revoke = case.revokes.last()?;
    let same_token = revoke.refresh_token_fp.is_some()
        && revoke.refresh_token_fp == case.exchange.refresh_token_fp;
    let gap = case
        .time_ms
        .zip(revoke.ts_ms)
        .map(|(a, b)| a - b)
        .unwrap_or(0);
    Some(Finding {
        confidence: if same_token {
            Confidence::High
        } else {
            Confidence::Medium
        },
        summary: format!(
            "Client {} revoked a token at {} ({} {}, {} before this refresh){}.",
            case.exchange.client_id.as_deref().unwrap_or("(unknown)"),
            ts(revoke.ts_ms),
            revoke.method.as_deref().unwrap_or("POST"),
            revoke.path.as_deref().unwrap_or("revoke"),
            human_duration(gap),
            if same_token {
                ": the same refresh token"
            } else {
                "; the refresh token is filtered, so it is likely but not proven to be the same one"
            }
        ),
        supporting: vec![revoke.id],
        missing: (!same_token).then(|| {
            "a log with the revoked token's fingerprint (unfiltered revoke parameters)".into()
        }),
    })
}

fn infer_password(case: &Case, _: &DiagnoseSettings) -> Option<Finding> {
    (case.exchange.grant_type.as_deref() == Some("password")
        && case.exchange.status.is_some_and(|s| s == 400)
        && case.server.as_deref() == Some("doorkeeper"))
    .then(|| Finding {
        confidence: Confidence::High,
        summary: "A password-grant token request was refused with 400: Doorkeeper's resource-owner check rejected the username or password (or the account is locked).".into(),
        supporting: Vec::new(),
        missing: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_differences_are_named() {
        assert!(uri_difference("https://app/cb/", "https://app/cb").contains("trailing slash"));
        assert!(uri_difference("https://app/cb", "http://app/cb").contains("scheme"));
        assert!(uri_difference("https://app/cb?x=1", "https://app/cb?x=2").contains("query"));
        assert!(
            uri_difference(
                "com.example.app:/oauth2redirect",
                "com.example.app:/oauth2callback"
            )
            .contains("character")
        );
    }

    #[test]
    fn every_cause_but_unknown_has_a_rule() {
        for cause in crate::diagnose::cause::ALL_CAUSES {
            if cause != Cause::Unknown {
                assert!(rule(cause).is_some(), "{cause}");
            }
        }
    }
}
