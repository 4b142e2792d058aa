//! The tables behind provider identification: error_description texts each
//! authorization server writes, copied verbatim from the catalog (sections 2,
//! 3, 4, 5, 7, 8, 9). Long, distinctive texts are matched anywhere in a
//! description; short generic ones (`Code not valid`, `Bad Request`) only when
//! they are the whole description, so that free text does not trip them.
//!
//! Invariant: every phrase is a constant; the automaton built from them
//! cannot fail to build.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::event::ServerKind;

/// A provider text: the server that writes it and, when the text implies one,
/// the provider's own code for it.
pub(super) struct Phrase {
    pub text: &'static str,
    pub server: ServerKind,
    pub code: Option<&'static str>,
}

const fn p(text: &'static str, server: ServerKind) -> Phrase {
    Phrase {
        text,
        server,
        code: None,
    }
}

const fn pc(text: &'static str, server: ServerKind, code: &'static str) -> Phrase {
    Phrase {
        text,
        server,
        code: Some(code),
    }
}

use ServerKind::{
    Auth0, Doorkeeper, Google, Hydra, IdentityServer, Keycloak, NodeOidcProvider, Okta, Spring,
};

/// Doorkeeper's `invalid_grant` description, identical for every cause (2.2).
pub const DOORKEEPER_INVALID_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";

/// Doorkeeper's localized `invalid_grant` descriptions (doorkeeper-i18n, 2.3).
pub const DOORKEEPER_INVALID_GRANT_I18N: [&str; 8] = [
    "Die bereitgestellte Autorisierung ist ungültig, abgelaufen, widerrufen, mit einem anderen Client verknüpft oder der Weiterleitungs-URI stimmt nicht mit der Autorisierungsanfrage überein.",
    "Le consentement d'autorisation accordé n'est pas valide, a expiré, est annulé, ne concorde pas avec l'URI de redirection utilisée dans la demande d'autorisation, ou a été émis à un autre client.",
    "La autorización proporcionada no es válida, ha expirado, se ha revocado, no coincide con la URI de redirección utilizada en la petición de autorización, o ha sido solicitada por otro cliente.",
    "A permissão de autorização (authorization grant) provida é inválida, expirada, revogada, não bate com a URI de redirecionamento usada na requisição de autorização, ou foi dada a outro cliente.",
    "Право на авторизацию истекло или отозвано",
    "指定された認可グラントは無効か、有効期限切れか、リダイレクトURIが異なるか、もしくは別のクライアントに適用されています。",
    "授权方式无效、过期或已被撤销、与授权请求中的回调地址不一致，或使用了其他应用的回调地址。",
    "L'autorizzazione richiesta non è valida, scaduta, revocata, non corrisponde all'uri di redirezione usato nella richiesta di autorizzazione, o è stata richiesta da un altro client.",
];

/// Texts matched anywhere (in the description, or in the whole text when no
/// description was found).
pub(super) const CONTAINED: &[Phrase] = &[
    // Doorkeeper (2.2); the localized invalid_grant texts are added below.
    p(DOORKEEPER_INVALID_GRANT, Doorkeeper),
    p(
        "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        Doorkeeper,
    ),
    p(
        "The client is not authorized to perform this request using this method.",
        Doorkeeper,
    ),
    p(
        "The authorization grant type is not supported by the authorization server.",
        Doorkeeper,
    ),
    // Hydra / fosite base descriptions (3.1, 3.2).
    p(
        "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid",
        Hydra,
    ),
    p(
        "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).",
        Hydra,
    ),
    p(
        "The client is not authorized to request a token using this method.",
        Hydra,
    ),
    p(
        "Token is inactive because it is malformed, expired or otherwise invalid.",
        Hydra,
    ),
    p("The token was not granted the requested scope.", Hydra),
    p("The error is unrecognizable", Hydra),
    // Keycloak texts long enough to be unambiguous (4.2–4.4).
    p(
        "Invalid refresh token. Token client and authorized client don't match",
        Keycloak,
    ),
    p(
        "Auth error: Found different client_id in clientSession",
        Keycloak,
    ),
    p("Maximum allowed refresh token reuse exceeded", Keycloak),
    p("Session doesn't have required client", Keycloak),
    p("Refresh toked issued before the", Keycloak),
    p("Invalid token issuer. Expected", Keycloak),
    p("PKCE verification failed: ", Keycloak),
    p("PKCE code verifier not specified", Keycloak),
    p(
        "PKCE code verifier specified but challenge not present",
        Keycloak,
    ),
    p("Client not allowed for direct access grants", Keycloak),
    p("Client no longer has requested consent from user", Keycloak),
    p("Invalid client or Invalid client credentials", Keycloak),
    p(
        "Offline tokens not allowed for the user or client",
        Keycloak,
    ),
    // node-oidc-provider (5.1, 5.2).
    p("grant request is invalid", NodeOidcProvider),
    p(
        "requested grant type is not allowed for this client",
        NodeOidcProvider,
    ),
    p("unsupported grant_type requested", NodeOidcProvider),
    p(
        "code_verifier must be a string with a minimum length of 43 characters",
        NodeOidcProvider,
    ),
    p(
        "could not authenticate the client - its client secret is expired",
        NodeOidcProvider,
    ),
    p(
        "no client authentication mechanism provided",
        NodeOidcProvider,
    ),
    // Google (7).
    p("Token has been expired or revoked.", Google),
    p("Malformed auth code.", Google),
    p("Code was already redeemed.", Google),
    p("Invalid code verifier.", Google),
    p("Missing code verifier.", Google),
    p("Invalid JWT Signature.", Google),
    p("Invalid JWT: ", Google),
    pc(
        "reauth related error (invalid_rapt)",
        Google,
        "invalid_rapt",
    ),
    pc(
        "reauth related error (rapt_required)",
        Google,
        "rapt_required",
    ),
    p("Invalid grant: account not found", Google),
    p("Invalid email or User ID", Google),
    p("The account has been deleted", Google),
    p(
        "Client is unauthorized to retrieve access tokens using this method",
        Google,
    ),
    p("The OAuth client was not found.", Google),
    // Okta (8.2). `PKCE verification failed.` (with the period) is exact.
    p("The authorization code is invalid or has expired.", Okta),
    p(
        "The 'redirect_uri' does not match the redirection URI used in the authorization request.",
        Okta,
    ),
    p("The refresh token is invalid or expired.", Okta),
    p("The interaction code is invalid or has expired.", Okta),
    p(
        "The client secret supplied for a confidential client is invalid.",
        Okta,
    ),
    // Auth0 (8.1).
    p("Unknown or invalid refresh token.", Auth0),
    p("Failed to verify code verifier", Auth0),
    p("' not allowed for the client.", Auth0),
    p(
        "You need to create a \"client-grant\" associated to this API",
        Auth0,
    ),
    // Spring Authorization Server (9.1).
    p("Client authentication failed: code_verifier", Spring),
    p("Client authentication failed: code_challenge", Spring),
];

/// Texts that identify a server only when they are the whole description.
pub(super) const EXACT: &[Phrase] = &[
    // Keycloak short descriptions (4.2–4.4).
    p("Code not valid", Keycloak),
    p("Code is expired", Keycloak),
    p("Token is not active", Keycloak),
    p("Session not active", Keycloak),
    p("Offline session not active", Keycloak),
    p("Offline user session not found", Keycloak),
    p("User session not found", Keycloak),
    p("Incorrect redirect_uri", Keycloak),
    p("Invalid user credentials", Keycloak),
    p("Invalid client credentials", Keycloak),
    p("Invalid refresh token", Keycloak),
    p("Stale token", Keycloak),
    p("Unmatching clients", Keycloak),
    p("Account is not fully set up", Keycloak),
    p("Client not allowed to exchange code", Keycloak),
    p("PKCE verification failed", Keycloak),
    p("PKCE invalid code verifier", Keycloak),
    p("Auth error", Keycloak),
    // Okta: the same words with a period.
    p("PKCE verification failed.", Okta),
    // Google's catch-all for code exchange.
    p("Bad Request", Google),
    // node-oidc-provider's invalid_client description.
    p("client authentication failed", NodeOidcProvider),
    // Spring: PKCE public-client authentication without a code.
    p("Client authentication failed: code", Spring),
    // Duende's password grant default.
    p("invalid_username_or_password", IdentityServer),
];

/// Auth0 tenant-log event types for failed exchanges (8.1), matched as the
/// value of a `"type"` key.
pub(super) const AUTH0_LOG_TYPES: [&str; 11] = [
    "feacft", "feccft", "fertft", "ferrt", "fepft", "feotpft", "feoobft", "fercft", "fede", "fsa",
    "fcoa",
];

/// The contained phrases, the Doorkeeper translations after them, in one
/// list indexed like the automaton's patterns.
pub(super) static CONTAINED_ALL: LazyLock<Vec<Phrase>> = LazyLock::new(|| {
    let mut all: Vec<Phrase> = CONTAINED
        .iter()
        .map(|ph| Phrase {
            text: ph.text,
            server: ph.server,
            code: ph.code,
        })
        .collect();
    all.extend(
        DOORKEEPER_INVALID_GRANT_I18N
            .iter()
            .map(|t| p(t, Doorkeeper)),
    );
    all
});

/// Finds the first contained phrase; leftmost-first so the table order
/// breaks ties between overlapping texts.
pub(super) static CONTAINED_AC: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(CONTAINED_ALL.iter().map(|ph| ph.text))
        .unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
});
