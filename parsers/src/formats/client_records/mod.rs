//! Client-side records shared by the logcat and iOS console parsers. This
//! module classifies a message cheaply ([`hint`]: one automaton pass, no
//! allocation) and dispatches a redacted message to the record grammars:
//! app lifecycle here, OAuth error texts in [`errors`] (flutter_appauth
//! `PlatformException`, AppAuth `AuthorizationException`, AppAuth-iOS and
//! MSAL NSErrors, `IdTokenException` texts, MSAL/AADSTS texts), URLs in
//! [`urls`] (AppAuth debug lines, authorize URLs, redirects with a code),
//! and the multi-line dio `LogInterceptor` blocks in [`dio`].
//!
//! Invariant: every grammar here sees only text the caller already redacted;
//! provider and OAuth error recognition is [`crate::providers`]'.

mod dio;
mod errors;
mod urls;

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use crate::event::{Event, EventKind, Lifecycle, Timestamp};
use crate::format::Format;
use crate::parser::{Context, Outcome, push_or_skip, redact_and_parse};

pub(crate) use dio::DioBlocks;
pub(crate) use errors::{fill_from_provider, split_oauth_error};
pub(crate) use urls::server_from_url;

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

/// Parses one line into a single-line client record, with its fingerprints
/// and the redacted line as evidence.
fn parse_single<'a>(
    line_no: u64,
    line: &'a str,
    ctx: &Context,
    format: Format,
    split: Split,
) -> Option<Event<'a>> {
    redact_and_parse(line_no, line, ctx, (ctx, format, split), parse_record)
}

/// Feeds a line of the caller's container whose message `msg` is not part
/// of a dio block: a single-line record goes to `out`. Never `Unknown`, as
/// the caller has already recognised the container.
pub(crate) fn feed_single<'a>(
    line_no: u64,
    line: &'a str,
    msg: &str,
    ctx: &Context,
    format: Format,
    split: Split,
    out: &mut Vec<Event<'a>>,
) -> Outcome {
    match hint(msg) {
        Hint::Nothing | Hint::StackFrame => Outcome::Skipped,
        Hint::Record => push_or_skip(out, parse_single(line_no, line, ctx, format, split)),
    }
}

/// The record a message holds, without time or evidence.
pub(crate) fn record(msg: &str, format: Format) -> Option<Event<'_>> {
    lifecycle(msg, format)
        .or_else(|| errors::platform_exception(msg, format))
        .or_else(|| errors::authorization_exception(msg, format))
        .or_else(|| errors::ns_error(msg, format))
        .or_else(|| urls::appauth_debug(msg, format))
        .or_else(|| errors::id_token_text(msg, format))
        .or_else(|| urls::authorize_url(msg, format))
        .or_else(|| errors::oauth_error_text(msg, format))
        .or_else(|| urls::redirect_with_code(msg, format))
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

#[cfg(test)]
mod tests;
