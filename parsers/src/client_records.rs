//! Client-side records shared by the logcat and iOS console parsers: the
//! single-line records (flutter_appauth `PlatformException`, AppAuth-Android
//! `AuthorizationException` and debug lines, AppAuth-iOS and MSAL NSErrors,
//! `IdTokenException` texts, MSAL/AADSTS texts, authorize URLs and redirects,
//! app lifecycle) and the multi-line dio `LogInterceptor` blocks.
//!
//! Invariants: every function here sees only text the caller already
//! redacted (the one exception is the `www-authenticate` header, read from the
//! raw line because the redactor takes `Bearer realm=` for a credential; that
//! header never carries one). Container parsers decide with [`hint`] (one
//! automaton pass, no allocation) whether a message is worth redacting.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use chrono::{DateTime, Utc};

use crate::common;
use crate::event::{Event, EventKind, EvidenceLine, Fingerprint, Lifecycle, ServerKind, Timestamp};
use crate::format::{Context, Format};
use crate::redact::{Redacted, SecretKind};

/// The container-independent part of a client log line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header<'t> {
    /// The client's log time, when the container gives one.
    pub ts: Option<Timestamp>,
    /// The logcat tag, `flutter` for Flutter prints, or the process name.
    pub tag: &'t str,
    /// The message, after the container prefix (and `flutter: `).
    pub msg: &'t str,
}

/// Splits a line of one container format into its [`Header`].
pub(crate) type Split = for<'t> fn(&'t str, &Context) -> Option<Header<'t>>;

/// What a message may hold, decided without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hint {
    /// Nothing about OAuth.
    Nothing,
    /// A Dart stack frame or similar continuation (skipped).
    StackFrame,
    /// Worth redacting and parsing with [`parse_record`].
    Record,
}

const MARKERS: &[&str] = &[
    "PlatformException(",
    "AuthorizationException",
    "IdTokenException",
    "Issued at time is more than",
    "ID Token expired",
    "Invalid ID Token",
    "Initiating code exchange request to",
    "Token exchange with",
    "Error Domain=",
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "unsupported_grant_type",
    "AADSTS",
    "MsalUiRequiredException",
    "MsalServiceException",
    "AppLifecycleState.",
    "DidEnterBackground",
    "WillEnterForeground",
    "applicationWillTerminate",
    "didFinishLaunchingWithOptions",
    "/authorize?",
    "code=",
    "Error fetching fresh tokens",
];

static MARKER_AC: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::new(MARKERS).unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
});

/// Classifies a (raw) message cheaply.
pub(crate) fn hint(msg: &str) -> Hint {
    let t = msg.trim_start();
    if is_stack_frame(t) {
        return Hint::StackFrame;
    }
    if msg.len() <= 1024 * 1024 && MARKER_AC.is_match(msg) {
        Hint::Record
    } else {
        Hint::Nothing
    }
}

fn is_stack_frame(t: &str) -> bool {
    if t.starts_with("<asynchronous suspension>") {
        return true;
    }
    let Some(rest) = t.strip_prefix('#') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[digits..].starts_with(' ')
}

/// The argument [`parse_record`] gets through `redact_and_parse`.
pub(crate) type RecordArg<'c> = (&'c Context, Format, Split);

/// Parses one redacted line into a single-line client record.
pub(crate) fn parse_record<'t>(line: &'t str, arg: RecordArg<'_>) -> Option<Event<'t>> {
    let (ctx, format, split) = arg;
    let h = split(line, ctx)?;
    let mut ev = record(h.msg, format)?;
    ev.ts = h.ts;
    Some(ev)
}

/// Parses one line into a single-line client record: the redacted text
/// first; when that yields no OAuth error but the raw text does (the
/// redactor reads flutter_appauth's `get token: invalid_grant: ...` as a
/// `token: <value>` pair), the raw message is parsed and every field it gave
/// is redacted on its own. Evidence and fingerprints always come from the
/// redacted line.
pub(crate) fn parse_single<'a>(
    line_no: u64,
    line: &'a str,
    ctx: &Context,
    format: Format,
    split: Split,
) -> Option<Event<'a>> {
    let red = ctx.redactor.redact(line);
    let from_redacted = match &red.text {
        Cow::Borrowed(text) => parse_record(text, (ctx, format, split)),
        Cow::Owned(text) => parse_record(text, (ctx, format, split)).map(Event::into_owned),
    };
    let lacks_error = |e: &Option<Event<'_>>| {
        e.as_ref()
            .is_none_or(|e| e.error.is_none() && e.error_description.is_none())
    };
    let mut event = match from_redacted {
        ev if !lacks_error(&ev) || matches!(red.text, Cow::Borrowed(_)) => ev?,
        ev => match parse_record(line, (ctx, format, split)) {
            Some(mut raw) if !lacks_error(&Some(raw.clone())) => {
                redact_fields(&mut raw, ctx);
                raw
            }
            _ => ev?,
        },
    };
    red.apply_to(&mut event);
    event.evidence.push(EvidenceLine {
        line: line_no,
        text: red.text,
    });
    Some(event)
}

/// Redacts every text field of an event parsed from raw text.
fn redact_fields(ev: &mut Event<'_>, ctx: &Context) {
    for field in [
        &mut ev.request_id,
        &mut ev.client_id,
        &mut ev.grant_type,
        &mut ev.path,
        &mut ev.error,
        &mut ev.error_description,
        &mut ev.provider_reason,
        &mut ev.provider_code,
        &mut ev.redirect_uri,
        &mut ev.code_challenge,
        &mut ev.user_agent,
    ] {
        if let Some(v) = field.as_deref() {
            let red = ctx.redactor.redact(v);
            if let Cow::Owned(text) = red.text {
                *field = Some(Cow::Owned(text));
            }
        }
    }
}

/// The record a message holds, without time or evidence.
pub(crate) fn record(msg: &str, format: Format) -> Option<Event<'_>> {
    lifecycle(msg, format)
        .or_else(|| platform_exception(msg, format))
        .or_else(|| authorization_exception(msg, format))
        .or_else(|| ns_error(msg, format))
        .or_else(|| appauth_debug(msg, format))
        .or_else(|| id_token_text(msg, format))
        .or_else(|| authorize_url(msg, format))
        .or_else(|| oauth_error_text(msg, format))
        .or_else(|| redirect_with_code(msg, format))
}

fn lifecycle(msg: &str, format: Format) -> Option<Event<'_>> {
    const NAMES: &[(&str, Lifecycle)] = &[
        ("AppLifecycleState.paused", Lifecycle::Paused),
        ("AppLifecycleState.resumed", Lifecycle::Resumed),
        ("AppLifecycleState.detached", Lifecycle::Terminated),
        ("applicationDidEnterBackground", Lifecycle::Paused),
        ("sceneDidEnterBackground", Lifecycle::Paused),
        ("applicationWillEnterForeground", Lifecycle::Resumed),
        ("sceneWillEnterForeground", Lifecycle::Resumed),
        ("applicationWillTerminate", Lifecycle::Terminated),
        ("didFinishLaunchingWithOptions", Lifecycle::ColdStart),
    ];
    let (_, state) = NAMES.iter().find(|(n, _)| msg.contains(n))?;
    let mut ev = Event::new(EventKind::Lifecycle, format);
    ev.lifecycle = Some(*state);
    Some(ev)
}

fn client_error(format: Format) -> Event<'static> {
    Event::new(EventKind::ClientError, format)
}

/// flutter_appauth: `PlatformException(code, message, details, stacktrace)`.
fn platform_exception(msg: &str, format: Format) -> Option<Event<'_>> {
    let start = msg.find("PlatformException(")? + "PlatformException(".len();
    let inner = &msg[start..];
    let (code, rest) = inner.split_once(", ")?;
    let message = trim_exception_tail(rest);
    let mut ev = client_error(format);
    ev.provider_code = Some(Cow::Borrowed(code.trim()));
    let (error, desc) = split_oauth_error(message);
    ev.error = error.map(Cow::Borrowed);
    ev.error_description = desc.map(Cow::Borrowed);
    if ev.error.is_none() && ev.error_description.is_none() {
        ev.provider_reason = Some(Cow::Borrowed(message));
    }
    fill_from_provider(&mut ev, message);
    Some(ev)
}

/// The message of a `PlatformException(code, message, details, stack)`: cut
/// at the `, null, null)` / `, null)` / `)` that closes it.
fn trim_exception_tail(rest: &str) -> &str {
    for tail in [", null, null)", ", null)"] {
        if let Some(p) = rest.find(tail) {
            return &rest[..p];
        }
    }
    let end = rest
        .find(") -> #")
        .or_else(|| rest.find(") - stack:"))
        .or_else(|| rest.rfind(')'))
        .unwrap_or(rest.len());
    &rest[..end]
}

const OAUTH_ERRORS: &[&str] = &[
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_request",
    "invalid_token",
    "invalid_dpop_proof",
    "access_denied",
    "interaction_required",
    "consent_required",
    "login_required",
    "server_error",
    "temporarily_unavailable",
];

/// Splits the shapes clients print an OAuth error in: `[error: x,
/// description: y]`, `Failed to get token: x: y`, `x: y`, `x (y)`, bare `x`.
pub(crate) fn split_oauth_error(text: &str) -> (Option<&str>, Option<&str>) {
    if let Some(p) = text.find("[error: ") {
        let after = &text[p + "[error: ".len()..];
        let (err, desc) = match after.split_once(", description: ") {
            Some((e, d)) => (e, Some(d.rfind(']').map_or(d, |q| &d[..q]))),
            None => (after.split(']').next().unwrap_or(after), None),
        };
        let err = err.trim();
        let err = (!err.is_empty() && err != "null").then_some(err);
        let desc = desc
            .map(str::trim)
            .filter(|d| !d.is_empty() && *d != "null");
        return (err, desc);
    }
    let Some((pos, err)) = find_error_word(text) else {
        return (None, None);
    };
    let after = &text[pos + err.len()..];
    let desc = match after.strip_prefix(": ") {
        Some(d) => Some(d.trim_end()),
        None => after
            .strip_prefix(" (")
            .map(|d| d.rfind(')').map_or(d, |q| &d[..q])),
    };
    (Some(err), desc.filter(|d| !d.is_empty()))
}

fn find_error_word(text: &str) -> Option<(usize, &'static str)> {
    OAUTH_ERRORS
        .iter()
        .filter_map(|w| {
            let mut from = 0;
            while let Some(p) = text[from..].find(w) {
                let at = from + p;
                let before = text[..at].bytes().next_back();
                let after = text.as_bytes().get(at + w.len()).copied();
                let word =
                    |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !word(before) && !word(after) {
                    return Some((at, *w));
                }
                from = at + w.len();
            }
            None
        })
        .min_by_key(|(at, _)| *at)
}

/// Fills server, provider code and missing error fields from
/// [`crate::providers::recognize`], and an `AADSTSnnnn` code from the text.
pub(crate) fn fill_from_provider<'t>(ev: &mut Event<'t>, text: &'t str) {
    if let Some(m) = crate::providers::recognize(text) {
        ev.server = ev.server.or(m.server);
        if ev.provider_code.is_none() {
            ev.provider_code = m.code;
        }
        if ev.error.is_none() {
            ev.error = m.error;
        }
        if ev.error_description.is_none() {
            ev.error_description = m.description;
        }
    }
    if let Some(code) = aadsts_code(text) {
        ev.server = ev.server.or(Some(ServerKind::Azure));
        if ev
            .provider_code
            .as_deref()
            .is_none_or(|c| !c.starts_with("AADSTS"))
        {
            ev.provider_code = Some(Cow::Borrowed(code));
        }
    }
    if ev.server.is_none() {
        ev.server = server_from_text(text);
    }
}

/// The first `AADSTSnnnn` in `text`.
pub(crate) fn aadsts_code(text: &str) -> Option<&str> {
    let p = text.find("AADSTS")?;
    let digits = text[p + 6..].bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0).then(|| &text[p..p + 6 + digits])
}

/// Servers recognisable from their fixed error texts.
fn server_from_text(text: &str) -> Option<ServerKind> {
    const TEXTS: &[(&str, ServerKind)] = &[
        ("realm=\"Doorkeeper\"", ServerKind::Doorkeeper),
        (
            "does not match the redirection URI used in the authorization request, or was issued to another client",
            ServerKind::Doorkeeper,
        ),
        ("The refresh token is invalid or expired.", ServerKind::Okta),
        (
            "The authorization code is invalid or has expired.",
            ServerKind::Okta,
        ),
        ("PKCE verification failed.", ServerKind::Okta),
        ("Unknown or invalid refresh token.", ServerKind::Auth0),
        ("Token has been expired or revoked.", ServerKind::Google),
    ];
    TEXTS
        .iter()
        .find(|(t, _)| text.contains(t))
        .map(|(_, s)| *s)
}

/// AppAuth-Android `AuthorizationException: {"type":2,"code":2002,...}`.
fn authorization_exception(msg: &str, format: Format) -> Option<Event<'_>> {
    let p = msg.find("AuthorizationException: {")?;
    let json = &msg[p + "AuthorizationException: ".len()..];
    let value: serde_json::Value = serde_json::Deserializer::from_str(json)
        .into_iter()
        .next()?
        .ok()?;
    let text = |k: &str| {
        value
            .get(k)
            .and_then(|v| v.as_str())
            .map(|s| Cow::Owned(s.to_owned()))
    };
    let mut ev = client_error(format);
    ev.provider_code = value
        .get("code")
        .and_then(serde_json::Value::as_i64)
        .map(|c| Cow::Owned(c.to_string()));
    ev.error = text("error");
    ev.error_description = text("errorDescription");
    if let Some(cause) = id_token_cause(msg) {
        ev.provider_reason = Some(Cow::Borrowed(cause));
    }
    fill_from_provider(&mut ev, msg);
    Some(ev)
}

const ID_TOKEN_TEXTS: &[&str] = &[
    "Issued at time is more than",
    "ID Token expired",
    "Issuer mismatch",
    "Audience mismatch",
    "Nonce mismatch",
];

/// The `IdTokenException` text in a message, up to the end of its sentence.
fn id_token_cause(msg: &str) -> Option<&str> {
    let p = ID_TOKEN_TEXTS.iter().filter_map(|t| msg.find(t)).min()?;
    let rest = &msg[p..];
    let end = rest.find(['"', '\'', ')', ']', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_end())
}

fn id_token_text(msg: &str, format: Format) -> Option<Event<'_>> {
    let cause = id_token_cause(msg)?;
    let mut ev = client_error(format);
    ev.error_description = Some(Cow::Borrowed(cause));
    Some(ev)
}

/// AppAuth-iOS / MSAL NSError descriptions: `Error Domain=D Code=N "text"
/// UserInfo={...}`.
fn ns_error(msg: &str, format: Format) -> Option<Event<'_>> {
    let p = msg.find("Error Domain=")?;
    let rest = &msg[p + "Error Domain=".len()..];
    let domain = rest.split(' ').next().unwrap_or("");
    let code = rest
        .find(" Code=")
        .map(|c| &rest[c + 6..])
        .and_then(|c| c.split([' ', ',']).next());
    let quoted = rest
        .find(" \"")
        .map(|q| common::unescape_until_quote(&rest[q + 2..]));
    let mut ev = client_error(format);
    ev.provider_code = code.map(Cow::Borrowed);
    if let Some(Cow::Borrowed(text)) = quoted
        && text != "(null)"
    {
        let (error, desc) = split_oauth_error(text);
        ev.error = error.map(Cow::Borrowed);
        ev.error_description = desc
            .map(Cow::Borrowed)
            .or_else(|| (error.is_none()).then_some(Cow::Borrowed(text)));
    }
    if domain.starts_with("MSAL") {
        msal_user_info(rest, &mut ev);
    }
    fill_from_provider(&mut ev, msg);
    Some(ev)
}

/// MSAL iOS `UserInfo={MSALErrorDescriptionKey=..., MSALOAuthErrorKey=...}`.
fn msal_user_info<'t>(text: &'t str, ev: &mut Event<'t>) {
    let key = |k: &str| -> Option<&'t str> {
        let p = text.find(k)? + k.len();
        let v = text[p..].strip_prefix('=')?;
        let end = v.find(", MSAL").or_else(|| v.rfind('}')).unwrap_or(v.len());
        Some(v[..end].trim())
    };
    if let Some(e) = key("MSALOAuthErrorKey") {
        ev.error = Some(Cow::Borrowed(e));
    }
    if let Some(d) = key("MSALErrorDescriptionKey") {
        ev.error_description = Some(Cow::Borrowed(d));
    }
    ev.status = key("MSALHTTPResponseCodeKey").and_then(|s| s.parse().ok());
    ev.request_id = key("MSALCorrelationIDKey").map(Cow::Borrowed);
}

/// AppAuth-Android DEBUG lines around a token request.
fn appauth_debug(msg: &str, format: Format) -> Option<Event<'_>> {
    let (kind, url) = if let Some(p) = msg.find("Initiating code exchange request to ") {
        let url = &msg[p + "Initiating code exchange request to ".len()..];
        (EventKind::TokenRequest, url.split_whitespace().next()?)
    } else {
        let p = msg.find("Token exchange with ")?;
        let url = msg[p + "Token exchange with ".len()..].strip_suffix(" completed")?;
        (EventKind::TokenResponse, url.trim())
    };
    let mut ev = Event::new(kind, format);
    if kind == EventKind::TokenResponse {
        // AppAuth logs this only after a 200 whose tokens parsed and validated.
        ev.status = Some(200);
    }
    ev.path = Some(Cow::Borrowed(common::split_url(url).0));
    ev.server = server_from_url(url);
    Some(ev)
}

/// A URL token inside a message that contains `needle`.
fn url_around<'t>(msg: &'t str, needle: &str) -> Option<&'t str> {
    let p = msg.find(needle)?;
    let start = msg[..p]
        .rfind([' ', '\t', '"', '\'', '(', '[', '<', '='])
        .map_or(0, |s| s + 1);
    let end = url_end(msg, p);
    let url = msg[start..end].trim_end_matches([',', '.', ';']);
    url.contains(":/").then_some(url)
}

/// Where a URL that goes through `from` ends; redaction markers
/// (`[REDACTED fp=...]`) inside it are stepped over.
fn url_end(msg: &str, from: usize) -> usize {
    let mut i = from;
    while let Some(e) = msg[i..].find([' ', '\t', '"', '\'', ')', ']', '>', '[']) {
        let at = i + e;
        if msg[at..].starts_with("[REDACTED")
            && let Some(close) = msg[at..].find(']')
        {
            i = at + close + 1;
            continue;
        }
        return at;
    }
    msg.len()
}

/// `https://idp/.../authorize?client_id=...&code_challenge=...` printed by an app.
fn authorize_url(msg: &str, format: Format) -> Option<Event<'_>> {
    let url = url_around(msg, "/authorize?")?;
    let (path, query) = common::split_url(url);
    let query = query?;
    let mut ev = Event::new(EventKind::AuthorizeRequest, format);
    ev.path = Some(Cow::Borrowed(path));
    ev.server = server_from_url(url);
    ev.client_id = common::query_param(query, "client_id");
    ev.redirect_uri = common::query_param(query, "redirect_uri");
    ev.code_challenge = common::query_param(query, "code_challenge");
    ev.code_challenge_method = common::query_param(query, "code_challenge_method");
    Some(ev)
}

/// `com.example.app:/oauthredirect?code=[REDACTED fp=..]&state=...`: the
/// authorization response as the app received it.
fn redirect_with_code(msg: &str, format: Format) -> Option<Event<'_>> {
    let needle = if msg.contains("?code=") {
        "?code="
    } else {
        "&code="
    };
    let url = url_around(msg, needle)?;
    let (base, query) = url.split_once('?')?;
    common::query_param(query, "state")?;
    let mut ev = Event::new(EventKind::CodeIssued, format);
    ev.redirect_uri = Some(Cow::Borrowed(base));
    Some(ev)
}

/// Any other message naming an OAuth error or an AADSTS code (app tags, MSAL,
/// `Error fetching fresh tokens: ...`, `Token exchange error: ...`).
fn oauth_error_text(msg: &str, format: Format) -> Option<Event<'_>> {
    let (error, desc) = split_oauth_error(msg);
    let msal_code = msal_error_code(msg);
    let aad = aadsts_code(msg);
    if error.is_none() && aad.is_none() && msal_code.is_none() {
        return None;
    }
    let mut ev = client_error(format);
    ev.error = msal_code.or(error).map(Cow::Borrowed);
    ev.error_description = match aad {
        Some(code) => msg
            .find(code)
            .map(|p| Cow::Borrowed(aad_description(&msg[p..]))),
        None => desc.map(Cow::Borrowed),
    };
    fill_from_provider(&mut ev, msg);
    Some(ev)
}

/// MSAL.NET `ErrorCode: invalid_grant`.
fn msal_error_code(msg: &str) -> Option<&str> {
    let p = msg.find("ErrorCode: ")?;
    msg[p + 11..]
        .split([' ', ',', '\\'])
        .next()
        .filter(|s| !s.is_empty())
}

/// `AADSTS50148: text.\r\nTrace ID: ...` → up to the first line break (real
/// or escaped) or the msal-node ` - Correlation ID` tail.
fn aad_description(text: &str) -> &str {
    let end = ["\\r\\n", "\r", "\n", " - Correlation ID", "'"]
        .iter()
        .filter_map(|t| text.find(t))
        .min()
        .unwrap_or(text.len());
    text[..end].trim_end()
}

/// The authorization server a token or authorize URL points at, when its
/// host or path names one.
pub(crate) fn server_from_url(url: &str) -> Option<ServerKind> {
    let host = url.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', ':', '?']).next().unwrap_or("")
    });
    let path = common::split_url(url).0;
    let host_is = |suffix: &str| host == suffix || host.ends_with(&format!(".{suffix}"));
    if host_is("okta.com") || host_is("oktapreview.com") {
        Some(ServerKind::Okta)
    } else if host_is("auth0.com") {
        Some(ServerKind::Auth0)
    } else if host_is("login.microsoftonline.com") || host_is("b2clogin.com") {
        Some(ServerKind::Azure)
    } else if host_is("googleapis.com") || host_is("accounts.google.com") {
        Some(ServerKind::Google)
    } else if path.contains("/protocol/openid-connect/") {
        Some(ServerKind::Keycloak)
    } else if path.ends_with("/connect/token") || path.ends_with("/connect/authorize") {
        Some(ServerKind::IdentityServer)
    } else {
        None
    }
}

/// Whether a path is a token endpoint (`/oauth/token`, `/v1/token`, ...).
pub(crate) fn is_token_path(path: &str) -> bool {
    path.trim_end_matches('/').ends_with("/token")
}

// ---------------------------------------------------------------------------
// dio LogInterceptor blocks

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DioKind {
    Request,
    Response,
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Top,
    Headers,
    Data,
    Body,
    Done,
}

/// Lines and bytes one block may hold: a runaway block is cut, not grown.
const MAX_BLOCK_LINES: usize = 500;
const MAX_TEXT: usize = 256 * 1024;

fn block_kind(msg: &str) -> Option<DioKind> {
    let t = msg.trim();
    if t.starts_with("*** Request ***") {
        Some(DioKind::Request)
    } else if t.starts_with("*** Response ***") {
        Some(DioKind::Response)
    } else if t.starts_with("*** DioException ***") || t.starts_with("*** DioError ***") {
        Some(DioKind::Error)
    } else {
        None
    }
}

#[derive(Debug)]
struct DioBlock {
    kind: DioKind,
    section: Section,
    /// Fingerprints and evidence accumulate here.
    event: Event<'static>,
    uri: Option<String>,
    method: Option<String>,
    status: Option<u16>,
    request_id: Option<String>,
    server_date: Option<DateTime<Utc>>,
    www_authenticate: Option<String>,
    token_fp: Option<Fingerprint>,
    exception: Option<String>,
    response_seen: bool,
    data: String,
    body: String,
    lines: usize,
}

/// The dio block being read, if any. One per container stream.
#[derive(Debug, Default)]
pub(crate) struct DioBlocks {
    open: Option<Box<DioBlock>>,
}

impl DioBlocks {
    /// Whether a block is being read.
    pub(crate) fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Whether a (raw) message starts a block.
    pub(crate) fn starts_block(msg: &str) -> bool {
        msg.starts_with("***") && block_kind(msg).is_some()
    }

    /// Offers one message of a redacted line (`msg` is inside `red.text`,
    /// `raw_msg` is the same message before redaction). Returns false when
    /// the message is not part of a dio block; the open block is then
    /// finished and emitted.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn offer(
        &mut self,
        line_no: u64,
        red: &Redacted<'_>,
        msg: &str,
        raw_msg: &str,
        ts: Option<Timestamp>,
        format: Format,
        out: &mut Vec<Event<'_>>,
    ) -> bool {
        if let Some(kind) = block_kind(msg) {
            self.flush(out);
            let mut event = Event::new(EventKind::ClientError, format);
            event.ts = ts;
            let mut block = Box::new(DioBlock::new(kind, event));
            block.add_line(line_no, red);
            self.open = Some(block);
            return true;
        }
        let Some(block) = self.open.as_mut() else {
            return false;
        };
        if block.lines >= MAX_BLOCK_LINES || !block.accept(msg, raw_msg) {
            self.flush(out);
            return false;
        }
        block.note_secrets(red);
        if !msg.trim().is_empty() {
            block.add_line(line_no, red);
        }
        true
    }

    /// Emits the open block, if it tells something about OAuth.
    pub(crate) fn flush(&mut self, out: &mut Vec<Event<'_>>) {
        if let Some(block) = self.open.take()
            && let Some(ev) = block.finish()
        {
            out.push(ev);
        }
    }
}

impl DioBlock {
    fn new(kind: DioKind, event: Event<'static>) -> Self {
        DioBlock {
            kind,
            section: Section::Top,
            event,
            uri: None,
            method: None,
            status: None,
            request_id: None,
            server_date: None,
            www_authenticate: None,
            token_fp: None,
            exception: None,
            response_seen: false,
            data: String::new(),
            body: String::new(),
            lines: 0,
        }
    }

    fn add_line(&mut self, line_no: u64, red: &Redacted<'_>) {
        self.lines += 1;
        red.apply_to(&mut self.event);
        self.event.evidence.push(EvidenceLine {
            line: line_no,
            text: Cow::Owned(red.text.clone().into_owned()),
        });
    }

    fn note_secrets(&mut self, red: &Redacted<'_>) {
        if self.section == Section::Data && self.token_fp.is_none() {
            self.token_fp = red.find(SecretKind::Token).map(|s| s.fingerprint);
        }
    }

    /// Takes one message into the block; false when it does not belong.
    fn accept(&mut self, msg: &str, raw_msg: &str) -> bool {
        let t = msg.trim_end();
        match self.section {
            Section::Body | Section::Data => {
                if t.trim().is_empty() {
                    self.section = Section::Done;
                } else {
                    let buf = if self.section == Section::Body {
                        &mut self.body
                    } else {
                        &mut self.data
                    };
                    push_limited(buf, t);
                }
                return true;
            }
            Section::Done => return t.trim().is_empty(),
            Section::Top | Section::Headers => {}
        }
        if t.trim().is_empty() {
            let in_exception = self.kind == DioKind::Error && !self.response_seen;
            if !in_exception || self.exception.is_none() {
                self.section = Section::Done;
            }
            return true;
        }
        match t {
            "headers:" => self.section = Section::Headers,
            "data:" => self.section = Section::Data,
            "Response Text:" => self.section = Section::Body,
            _ => return self.accept_field(t, raw_msg),
        }
        true
    }

    fn accept_field(&mut self, t: &str, raw_msg: &str) -> bool {
        let indented = t.starts_with([' ', '\t']);
        if self.section == Section::Headers && indented {
            if let Some((k, v)) = t.trim_start().split_once(':') {
                self.header(k.trim(), v.trim(), raw_msg);
            }
            return true;
        }
        if t.starts_with("DioException [") || t.starts_with("DioError [") {
            self.exception = Some(t.to_owned());
            self.status = self.status.or_else(|| status_in_exception(t));
            return true;
        }
        if let Some((k, v)) = t.split_once(':')
            && let Some(done) = self.top_field(k, v.trim())
        {
            return done;
        }
        if self.kind == DioKind::Error && !self.response_seen && self.exception.is_some() {
            if let Some(e) = self.exception.as_mut() {
                push_limited(e, t);
            }
            return true;
        }
        false
    }

    /// A `key: value` line outside the headers; `None` when the key is not
    /// one dio prints.
    fn top_field(&mut self, k: &str, v: &str) -> Option<bool> {
        match k {
            "uri" => {
                if self.uri.is_some() {
                    self.response_seen = true;
                }
                self.uri.get_or_insert_with(|| v.to_owned());
            }
            "method" => self.method = Some(v.to_owned()),
            "statusCode" => {
                self.response_seen = true;
                self.status = v.parse().ok().or(self.status);
            }
            "responseType"
            | "followRedirects"
            | "persistentConnection"
            | "connectTimeout"
            | "sendTimeout"
            | "receiveTimeout"
            | "receiveDataWhenStatusError"
            | "extra"
            | "redirect"
            | "contentType"
            | "queryParameters" => {}
            _ => return None,
        }
        Some(true)
    }

    fn header(&mut self, key: &str, value: &str, raw_msg: &str) {
        let value = value
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(value);
        match key.to_ascii_lowercase().as_str() {
            "date" => self.server_date = common::http_date(value),
            "x-request-id" => self.request_id = Some(value.to_owned()),
            "x-okta-request-id" | "request-id" | "x-ms-request-id" | "x-correlation-id"
            | "x-amzn-requestid" | "x-b3-traceid" => {
                self.request_id.get_or_insert_with(|| value.to_owned());
            }
            "www-authenticate" => {
                // Parsed from the raw line: the redactor reads `Bearer realm=` as a token.
                let raw = raw_msg.split_once(':').map_or(raw_msg, |(_, v)| v).trim();
                self.www_authenticate = Some(raw.to_owned());
            }
            _ => {}
        }
    }

    fn finish(self) -> Option<Event<'static>> {
        let mut ev = self.event;
        let uri = self.uri.unwrap_or_default();
        let (path, query) = common::split_url(&uri);
        let data = self.data.as_str();
        let grant_type = form_value(data, "grant_type");
        let token_ep = is_token_path(path) || grant_type.is_some();
        let revoke = path.trim_end_matches('/').ends_with("/revoke");
        if !(token_ep || revoke) && self.status.is_none_or(|s| s < 400) {
            return None;
        }
        ev.path = (!path.is_empty()).then(|| Cow::Owned(path.to_owned()));
        ev.server = server_from_url(&uri);
        ev.method = self.method.map(Cow::Owned);
        ev.request_id = self.request_id.map(Cow::Owned);
        ev.server_date = self.server_date;
        ev.status = self.status;
        ev.grant_type = grant_type.map(own);
        ev.client_id = form_value(data, "client_id")
            .or_else(|| query.and_then(|q| common::query_param(q, "client_id")))
            .map(own);
        ev.redirect_uri = form_value(data, "redirect_uri").map(own);
        let oauth = response_error(&self.body, self.www_authenticate.as_deref());
        ev.error = oauth.error.map(Cow::Owned);
        ev.error_description = oauth.description.map(Cow::Owned);
        ev.provider_code = oauth.code.map(Cow::Owned);
        ev.server = oauth.server.or(ev.server);
        ev.kind = match self.kind {
            DioKind::Request if revoke => {
                if form_value(data, "token_type_hint").as_deref() != Some("access_token") {
                    ev.refresh_token_fp = ev.refresh_token_fp.or(self.token_fp);
                }
                EventKind::RevokeRequest
            }
            DioKind::Request if token_ep => EventKind::TokenRequest,
            DioKind::Request => return None,
            _ => match self.status {
                Some(s) if s >= 400 && (token_ep || revoke || ev.error.is_some()) => {
                    EventKind::ClientError
                }
                Some(s) if (200..300).contains(&s) && token_ep => EventKind::TokenResponse,
                None if token_ep => {
                    let first = self.exception.as_deref().and_then(|e| e.lines().next());
                    ev.provider_reason = first.map(|e| Cow::Owned(e.to_owned()));
                    EventKind::ClientError
                }
                _ => return None,
            },
        };
        Some(ev)
    }
}

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

fn push_limited(buf: &mut String, line: &str) {
    if buf.len() + line.len() < MAX_TEXT {
        if !buf.is_empty() {
            buf.push('\n');
        }
        buf.push_str(line);
    }
}

/// `... a status code of 400 and ...` (dio 5), `Http status error [400]` (dio 4).
fn status_in_exception(t: &str) -> Option<u16> {
    ["status code of ", "Http status error ["]
        .iter()
        .find_map(|m| t.find(m).map(|p| &t[p + m.len()..]))
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse().ok())
}

/// A field of a request body as dio prints it: JSON, form-urlencoded, or a
/// Dart map (`{grant_type: refresh_token, client_id: abc}`).
pub(crate) fn form_value<'t>(data: &'t str, key: &str) -> Option<Cow<'t, str>> {
    if let Some(v) = common::quoted_value(data, key) {
        return Some(v);
    }
    let trimmed = data.trim();
    if !trimmed.starts_with('{') && trimmed.contains('=') {
        return common::query_param(trimmed, key);
    }
    let mut from = 0;
    while let Some(p) = trimmed[from..].find(key) {
        let at = from + p;
        from = at + key.len();
        let before = trimmed[..at].bytes().next_back();
        if !matches!(before, Some(b'{') | Some(b' ') | Some(b',') | None) {
            continue;
        }
        if let Some(v) = trimmed[from..].strip_prefix(": ") {
            let end = v.find([',', '}']).unwrap_or(v.len());
            return Some(Cow::Borrowed(v[..end].trim()));
        }
    }
    None
}

#[derive(Debug, Default)]
struct ResponseError {
    error: Option<String>,
    description: Option<String>,
    code: Option<String>,
    server: Option<ServerKind>,
}

/// The OAuth error of a response: its JSON (or Dart map) body first, then
/// the `www-authenticate` challenge.
fn response_error(body: &str, www: Option<&str>) -> ResponseError {
    let mut r = ResponseError::default();
    if let Ok(serde_json::Value::Object(obj)) =
        serde_json::from_str::<serde_json::Value>(body.trim())
    {
        let text = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        r.error = text("error");
        r.description = text("error_description");
        r.code = obj
            .get("error_codes")
            .and_then(|c| c.get(0))
            .and_then(serde_json::Value::as_i64)
            .map(|c| format!("AADSTS{c}"));
    } else if !body.is_empty() {
        r.error = form_value(body, "error").map(Cow::into_owned);
        r.description = form_value(body, "error_description").map(Cow::into_owned);
    }
    if let Some(w) = www {
        r.error = r.error.or_else(|| auth_param(w, "error"));
        r.description = r.description.or_else(|| auth_param(w, "error_description"));
        if auth_param(w, "realm").as_deref() == Some("Doorkeeper") {
            r.server = Some(ServerKind::Doorkeeper);
        }
    }
    let all = format!("{} {}", r.description.as_deref().unwrap_or(""), body);
    let mut probe = Event::new(EventKind::ClientError, Format::Logcat);
    fill_from_provider(&mut probe, &all);
    r.server = r.server.or(probe.server);
    r.code = r.code.or_else(|| probe.provider_code.map(Cow::into_owned));
    r
}

/// `name="value"` of an HTTP auth challenge.
fn auth_param(text: &str, name: &str) -> Option<String> {
    let pat = format!("{name}=\"");
    let mut from = 0;
    while let Some(p) = text[from..].find(&pat) {
        let at = from + p;
        from = at + pat.len();
        let before = text[..at].bytes().next_back();
        if matches!(before, None | Some(b' ') | Some(b',')) {
            return Some(common::unescape_until_quote(&text[from..]).into_owned());
        }
    }
    None
}
