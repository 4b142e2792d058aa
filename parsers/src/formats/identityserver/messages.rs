//! What a Duende IdentityServer (or IdentityServer4) log message means:
//! the validator and refresh-token-service messages of catalog 9.2, and the
//! fields their `{@values}` and `details` (TokenRequestValidationLog) carry.
//!
//! Classification looks only at the message's fixed head (no secret can be
//! there); field extraction runs on the redacted text.

use std::borrow::Cow;

use crate::common;
use crate::event::{Event, EventKind, ServerKind};
use crate::format::Format;
use crate::grant::GrantType;

/// Which class wrote a message (from the log category, when the shape has
/// one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// `…Validation.TokenRequestValidator`.
    Validator,
    /// `…Services.DefaultRefreshTokenService` (IdentityServer4 before 4.0:
    /// `…Validation.TokenValidator`).
    RefreshService,
    /// `…Validation.ClientSecretValidator`.
    SecretValidator,
    /// The shape has no category (Serilog's default template).
    Unknown,
    /// Any other category: never interesting.
    Other,
}

/// The origin of a log category.
pub(super) fn origin(source: Option<&str>) -> Origin {
    let Some(s) = source else {
        return Origin::Unknown;
    };
    if s.ends_with(".TokenRequestValidator") {
        Origin::Validator
    } else if s.ends_with(".DefaultRefreshTokenService") || s.ends_with(".TokenValidator") {
        // IdentityServer4 before 4.0 logged the refresh token's faults from
        // `TokenValidator.ValidateRefreshTokenAsync` ("Refresh token has
        // expired. Removing from store."); its other messages are about
        // access tokens and match no refresh text.
        Origin::RefreshService
    } else if s.ends_with(".ClientSecretValidator") {
        Origin::SecretValidator
    } else {
        Origin::Other
    }
}

/// What a recognised message becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rule {
    /// A token request rejected by the validator, with the OAuth error the
    /// endpoint answers.
    Rejected(&'static str),
    /// A warning of the refresh token service (its reason).
    RefreshWarning,
    /// `Token request validation success`.
    Validated,
}

/// TokenRequestValidator messages and the error the token endpoint returns
/// for each (TokenRequestValidator.cs, catalog 9.2). Longer heads first where
/// one is a prefix of another.
const VALIDATOR: &[(&str, &str)] = &[
    ("Invalid authorization code", "invalid_grant"),
    ("Authorization code expired", "invalid_grant"),
    ("Authorization code is expired", "invalid_grant"),
    ("Authorization code is missing", "invalid_grant"),
    ("Authorization code is too long", "invalid_grant"),
    (
        "Authorization code has no associated scopes",
        "invalid_request",
    ),
    (
        "Client is trying to use a code from a different client",
        "invalid_grant",
    ),
    ("Invalid redirect_uri", "invalid_grant"),
    ("Redirect URI is missing", "unauthorized_client"),
    (
        "Client is missing code challenge or code challenge method",
        "invalid_grant",
    ),
    ("Missing code_verifier", "invalid_grant"),
    ("code_verifier is too short or too long", "invalid_grant"),
    ("Unsupported code challenge method", "invalid_grant"),
    (
        "Transformed code verifier does not match code challenge",
        "invalid_grant",
    ),
    ("Unexpected code_verifier", "invalid_grant"),
    ("User has been disabled", "invalid_grant"),
    ("Refresh token validation failed. aborting", "invalid_grant"),
    ("Refresh token too long", "invalid_grant"),
    ("Refresh token is missing", "invalid_request"),
    (
        "User authentication failed: no principal returned",
        "invalid_grant",
    ),
    ("User authentication failed:", "invalid_grant"),
    ("Username is missing", "invalid_grant"),
    ("Username or password too long", "invalid_grant"),
    ("Client not authorized for code flow", "unauthorized_client"),
    (
        "Client not authorized for resource owner flow",
        "unauthorized_client",
    ),
    (
        "Client not authorized for client credentials flow",
        "unauthorized_client",
    ),
    (
        "Client not authorized for device flow",
        "unauthorized_client",
    ),
    ("Invalid scopes requested", "invalid_scope"),
    ("Invalid scopes for client requested", "invalid_scope"),
    ("Grant type is missing", "unsupported_grant_type"),
    ("Unsupported grant_type", "unsupported_grant_type"),
];

/// DefaultRefreshTokenService warnings; `{0}`-style arguments come first in
/// the last three.
const REFRESH: &[&str] = &[
    "Invalid refresh token",
    "Refresh token has expired.",
    "Rejecting refresh token because it has been consumed already.",
    " tries to refresh token belonging to ",
    " does not have access to offline_access scope anymore",
    " has been disabled",
];

/// ClientSecretValidator failures (answered with `invalid_client`).
const SECRET: &[&str] = &[
    "Client secret validation failed for client: ",
    "No client with id '",
];

/// The rule for a message, given where it came from.
pub(super) fn classify(origin: Origin, message: &str) -> Option<Rule> {
    let head = message.trim_start();
    let validator = || {
        VALIDATOR
            .iter()
            .find(|(h, _)| head.starts_with(h))
            .map(|(_, e)| Rule::Rejected(e))
            .or_else(|| {
                head.starts_with("Token request validation success")
                    .then_some(Rule::Validated)
            })
    };
    let refresh = || {
        let first_line = head.lines().next().unwrap_or("");
        REFRESH
            .iter()
            .any(|r| first_line.starts_with(r) || (r.starts_with(' ') && first_line.contains(r)))
            .then_some(Rule::RefreshWarning)
    };
    let secret = || {
        SECRET
            .iter()
            .any(|s| head.starts_with(s))
            .then_some(Rule::Rejected("invalid_client"))
    };
    match origin {
        Origin::Validator => validator(),
        Origin::RefreshService => refresh(),
        Origin::SecretValidator => secret(),
        Origin::Unknown => validator().or_else(refresh).or_else(secret),
        Origin::Other => None,
    }
}

/// Builds the event for a classified, redacted message.
pub(super) fn build(rule: Rule, message: &str) -> Event<'_> {
    let message = message.trim();
    let kind = match rule {
        Rule::Rejected(_) => EventKind::TokenResponse,
        Rule::RefreshWarning => EventKind::ProviderEvent,
        Rule::Validated => EventKind::TokenRequest,
    };
    let mut event = Event::new(kind, Format::IdentityServer);
    event.server = Some(ServerKind::IdentityServer);
    let (head, values, details) = split_message(message);
    fill_details(&mut event, details.unwrap_or(message));
    match rule {
        Rule::Rejected(error) => {
            event.error = Some(error.into());
            // TokenErrorResult answers every validation error with 400.
            event.status = (error != "invalid_client").then_some(400);
            event.provider_reason = Some(head.into());
            event.provider_debug = values.map(Into::into);
            if let Some(v) = values {
                fill_values(&mut event, v);
            }
            if head.starts_with("User authentication failed:") {
                event.error_description = quoted_arg(head).map(Into::into);
            }
            if head.starts_with("Client secret validation failed for client: ") {
                event.client_id = first_word(head.rsplit(": ").next().unwrap_or(""));
            }
            if let Some(rest) = head.strip_prefix("No client with id '") {
                event.client_id = rest.split('\'').next().map(Into::into);
            }
        }
        Rule::RefreshWarning => {
            let reason = head.lines().next().unwrap_or(head).trim();
            event.provider_reason = Some(reason.into());
            event.grant_type = Some(GrantType::RefreshToken);
            if reason.contains(" tries to refresh token belonging to ")
                || reason.contains(" does not have access to offline_access")
            {
                event.client_id = first_word(reason);
            } else if reason.ends_with(" has been disabled") {
                event.user = first_word(reason);
            }
        }
        Rule::Validated => {}
    }
    event
}

/// Splits `head {values}, details: {…}` / `head, {details}` /
/// `head{ values }` into its parts.
fn split_message(message: &str) -> (&str, Option<&str>, Option<&str>) {
    let (before, details) = match message.find(", details: ") {
        Some(p) => (&message[..p], Some(&message[p + 11..])),
        None => match message.find(", {") {
            Some(p) => (&message[..p], Some(&message[p + 2..])),
            None => (message, None),
        },
    };
    match before.find('{') {
        Some(p) if details.is_some() || before.trim_end().ends_with('}') => {
            (before[..p].trim_end(), Some(before[p..].trim()), details)
        }
        _ => (before.trim_end(), None, details),
    }
}

/// ClientId, GrantType, UserName and the raw `redirect_uri` of a
/// TokenRequestValidationLog, in Serilog/NLog JSON or indented JSON.
fn fill_details<'t>(event: &mut Event<'t>, details: &'t str) {
    let field = |k: &str| common::quoted_value(details, k).filter(|v| !v.is_empty());
    event.client_id = field("ClientId").or_else(|| field("client_id"));
    event.grant_type = field("GrantType")
        .or_else(|| field("grant_type"))
        .as_deref()
        .map(GrantType::from_name);
    event.user = field("UserName");
    event.redirect_uri = field("redirect_uri");
}

/// The `{@values}` object: JSON (`{"redirectUri": "…"}`) or the .NET
/// anonymous-object form (`{ redirectUri = …, … }`).
fn fill_values<'t>(event: &mut Event<'t>, values: &'t str) {
    let value = |k: &str| common::quoted_value(values, k).or_else(|| anon_value(values, k));
    if let Some(uri) = value("redirectUri") {
        event.redirect_uri = Some(uri);
    }
    if event.client_id.is_none() {
        event.client_id = value("clientId").or_else(|| value("client_id"));
    }
}

/// `key = value` inside `{ a = x, b = y }`.
fn anon_value<'t>(text: &'t str, key: &str) -> Option<Cow<'t, str>> {
    let pat = format!("{key} = ");
    let start = text.find(&pat)? + pat.len();
    let rest = &text[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    let v = rest[..end].trim();
    (!v.is_empty()).then_some(Cow::Borrowed(v))
}

/// The first `"…"` argument of a message (NLog quotes string arguments).
fn quoted_arg(text: &str) -> Option<&str> {
    let start = text.find('"')? + 1;
    let len = text[start..].find('"')?;
    Some(&text[start..start + len]).filter(|s| !s.is_empty())
}

/// The first word, without the quotes structured loggers add.
fn first_word(text: &str) -> Option<Cow<'_, str>> {
    let w = text
        .split_whitespace()
        .next()?
        .trim_matches(['"', '\'', '.']);
    (!w.is_empty()).then_some(Cow::Borrowed(w))
}
