//! Every record through the extractor, whatever its format: [`Settled`]
//! wraps the parser of a file's format and
//! - fills the error fields a parser left empty on the failure events it
//!   produced (a broker's or a dashboard's line that carries an upstream
//!   token endpoint's error in its message), from the event's own redacted
//!   evidence, unless its grammar read every error field of the record
//!   itself ([`Event::errors_read`]: a Keycloak listener line);
//! - turns a line its parser skipped, but which carries an OAuth error,
//!   into a client-side error record. Lines no parser knows are left to the
//!   driver ([`crate::file_parser`]), which reassembles them into records
//!   and reads each with [`super::error_event`]: together, a record with an
//!   OAuth error is never dropped.
//!
//! Invariants: the extractor only ever sees redacted text (the evidence a
//! parser kept, or the line redacted here); detection never runs through
//! this wrapper (it would see every line as known); a line that yields a
//! record here is reported `Parsed`, as it told something about OAuth.

use std::borrow::Cow;

use crate::event::{Event, EventKind, EvidenceLine};
use crate::format::Format;
use crate::parser::{Context, LineParser, Outcome};

use super::{apply, extract};

/// A format's parser whose every record goes through the extractor.
pub(crate) struct Settled {
    inner: Box<dyn LineParser>,
    format: Format,
}

impl Settled {
    /// Wraps the parser of `format`.
    pub(crate) fn new(inner: Box<dyn LineParser>, format: Format) -> Self {
        Settled { inner, format }
    }
}

impl LineParser for Settled {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let before = out.len();
        let outcome = self.inner.feed(line_no, line, ctx, out);
        fill_failures(&mut out[before..]);
        if outcome != Outcome::Skipped {
            // An unknown line may be part of a record the driver reassembles
            // (a pretty-printed body): it reads that record through
            // [`super::error_event`] once it is whole.
            return outcome;
        }
        match error_record(self.format, line_no, line, ctx) {
            Some(event) => {
                out.push(event);
                Outcome::Parsed
            }
            None => outcome,
        }
    }

    fn flush<'a>(&mut self, ctx: &Context, out: &mut Vec<Event<'a>>) {
        let before = out.len();
        self.inner.flush(ctx, out);
        fill_failures(&mut out[before..]);
    }

    fn oldest_pending_line(&self) -> Option<u64> {
        self.inner.oldest_pending_line()
    }

    // Settling holds nothing of its own between lines.
    fn at_rest(&self) -> bool {
        self.inner.at_rest()
    }

    // A line without error words gives no error record here (the check of
    // `error_record`), so the inner parser's rule is the whole rule.
    fn quiet_needles(&self) -> &'static [&'static str] {
        self.inner.quiet_needles()
    }

    fn skim(&mut self, line_no: u64, line: &str) -> bool {
        self.inner.skim(line_no, line)
    }

    fn skim_head(&mut self, line_no: u64, head: &str) -> bool {
        self.inner.skim_head(line_no, head)
    }
}

/// Whether an event reports a failure whose error its parser may have left
/// unread: a client error, a server's event, a token response that is not a
/// success.
fn may_fail(ev: &Event<'_>) -> bool {
    match ev.kind {
        EventKind::ClientError | EventKind::ProviderEvent => true,
        EventKind::TokenResponse => ev.status.is_none_or(|s| s >= 400),
        _ => false,
    }
}

/// Fills the empty error fields of the failure events in `events` from their
/// own (redacted) evidence.
fn fill_failures(events: &mut [Event<'_>]) {
    for ev in events.iter_mut() {
        if !may_fail(ev) || ev.errors_read || (ev.error.is_some() && ev.error_description.is_some())
        {
            continue;
        }
        if ev.evidence.iter().map(|e| e.text.len()).sum::<usize>() > super::MAX_TEXT {
            continue;
        }
        let text = match ev.evidence.as_slice() {
            [] => continue,
            [one] => Cow::Borrowed(one.text.as_ref()),
            many => Cow::Owned(
                many.iter()
                    .map(|e| e.text.as_ref())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        };
        if quiet_success(ev, &text) {
            continue;
        }
        if let Some(found) = extract(&text) {
            apply(ev, found.into_owned());
        }
    }
}

/// Whether `ev` is a token response its grammar read with no status and no
/// error (Keycloak's `CODE_TO_TOKEN`, `REFRESH_TOKEN`) in a `text` without
/// any word an error is written with: the extractor finds nothing in it,
/// as `error_record` assumes for a line no grammar read. A Keycloak log is
/// mostly such events, and searching each of them in full was a fifth of
/// reading it (benches/README.md).
fn quiet_success(ev: &Event<'_>, text: &str) -> bool {
    ev.kind == EventKind::TokenResponse
        && ev.status.is_none()
        && ev.error.is_none()
        && ev.provider_reason.is_none()
        && !super::has_error_words(text)
}

/// The client-side error record a line carries, if it carries one: the line
/// is redacted first, its fingerprints and redacted text kept as evidence.
fn error_record<'a>(
    format: Format,
    line_no: u64,
    line: &'a str,
    ctx: &Context,
) -> Option<Event<'a>> {
    // Most skipped lines (a request to another path, SQL) hold no error
    // word: they cost one scan, not a redaction and an extraction.
    if line.len() > super::MAX_TEXT || !super::has_error_words(line) {
        return None;
    }
    let red = ctx.redactor.redact(line);
    let mut event = match &red.text {
        Cow::Borrowed(text) => record(text, format, ctx)?,
        Cow::Owned(text) => record(text, format, ctx)?.into_owned(),
    };
    red.apply_to(&mut event);
    event.evidence.push(EvidenceLine {
        line: line_no,
        text: red.text,
    });
    Some(event)
}

fn record<'t>(text: &'t str, format: Format, ctx: &Context) -> Option<Event<'t>> {
    super::error_event(text, format, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUCCESS: &str = "2025-03-11 00:07:56,547 INFO  [org.keycloak.events] (executor-thread-1) \
        type=CODE_TO_TOKEN, realmId=shop, clientId=shop-mobile, grant_type=authorization_code";

    #[test]
    fn a_successful_token_response_without_error_words_is_not_searched() {
        let ev = Event::new(EventKind::TokenResponse, Format::Keycloak);
        assert!(quiet_success(&ev, SUCCESS));
        assert!(
            extract(SUCCESS).is_none(),
            "the extractor finds nothing there either"
        );
    }

    #[test]
    fn a_record_that_may_say_why_it_failed_is_still_searched() {
        let ev = Event::new(EventKind::TokenResponse, Format::Keycloak);
        let failed = SUCCESS.replace(
            "type=CODE_TO_TOKEN",
            "type=CODE_TO_TOKEN_ERROR, error=invalid_code",
        );
        assert!(!quiet_success(&ev, &failed));
        let mut with_status = Event::new(EventKind::TokenResponse, Format::Keycloak);
        with_status.status = Some(400);
        assert!(!quiet_success(&with_status, SUCCESS));
        // A server's warning (Keycloak's PkceUtils) names no error word and
        // is searched: only token responses are skipped.
        let warning = Event::new(EventKind::ProviderEvent, Format::Keycloak);
        assert!(!quiet_success(
            &warning,
            "PKCE verification failed. authUserId = 1"
        ));
    }
}
