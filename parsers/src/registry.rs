//! Which parser reads which format, and detection.
//!
//! Detection needs no code of its own per format: each candidate parser is
//! run over the first lines of a file and the one that recognises the most
//! wins; when none recognises a clear majority the file is
//! [`Format::Mixed`] and every line is offered to every parser
//! ([`MixedParser`]).

use crate::envelope::{EnvelopeKind, Unwrapper};
use crate::event::Event;
use crate::format::{CONCRETE_FORMATS, Format};
use crate::formats;
use crate::parser::{Context, LineParser, Outcome};

/// A new parser for `format`.
pub(crate) fn new_parser(format: Format) -> Box<dyn LineParser> {
    match format {
        Format::Rails => Box::new(formats::rails::RailsParser::default()),
        Format::Lograge => Box::new(formats::lograge::LogrageParser::default()),
        Format::RailsEvent => Box::new(formats::rails_event::RailsEventParser::default()),
        Format::Hydra => Box::new(formats::hydra::HydraParser::default()),
        Format::Keycloak => Box::new(formats::keycloak::KeycloakParser::default()),
        Format::NodeOidcProvider => Box::new(formats::node_oidc::NodeOidcParser::default()),
        Format::IdentityServer => {
            Box::new(formats::identityserver::IdentityServerParser::default())
        }
        Format::Spring => Box::new(formats::spring::SpringParser::default()),
        Format::Logcat => Box::new(formats::logcat::LogcatParser::default()),
        Format::IosConsole => Box::new(formats::ios::IosConsoleParser::default()),
        Format::Logfmt => Box::new(formats::logfmt::LogfmtParser::default()),
        Format::JsonLines => Box::new(formats::json_lines::JsonLinesParser::default()),
        Format::Mixed => Box::new(MixedParser::new()),
    }
}

/// How many leading lines detection looks at.
pub const DETECT_LINES: usize = 64;

/// What the first lines of a file showed: its envelope and its format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sniffed {
    /// The envelope most of the lines came in, if any.
    pub envelope: Option<EnvelopeKind>,
    /// The format of the lines inside the envelopes.
    pub format: Format,
}

/// Detects the format of a file from its first lines (blank lines ignored),
/// looking inside envelopes. Returns [`Format::Mixed`] when no format
/// recognises a clear majority.
pub fn detect(first_lines: &[&str]) -> Format {
    sniff(first_lines, None).format
}

/// Detects the envelope and the format of a file from its first lines.
/// `envelope` forces one (`Some(None)`: none at all), as `--envelope` does.
pub fn sniff(first_lines: &[&str], envelope: Option<Option<EnvelopeKind>>) -> Sniffed {
    let ctx = Context::default();
    let mut unwrapper = match envelope {
        Some(forced) => Unwrapper::forced(forced),
        None => Unwrapper::new(),
    };
    let mut records = Vec::new();
    for (i, line) in first_lines.iter().take(DETECT_LINES).enumerate() {
        unwrapper.unwrap(i as u64 + 1, line, &ctx, &mut records);
    }
    let mut held = Vec::new();
    unwrapper.flush(&ctx, &mut held);
    let texts: Vec<&str> = records
        .iter()
        .map(|r| r.text.as_ref())
        .chain(held.iter().map(|r| r.text.as_ref()))
        .filter(|l| !l.trim().is_empty())
        .collect();
    Sniffed {
        envelope: unwrapper.main_envelope(),
        format: detect_inner(&texts),
    }
}

fn detect_inner(lines: &[&str]) -> Format {
    if lines.is_empty() {
        return Format::Mixed;
    }
    let ctx = Context::default();
    let mut best = (Format::Mixed, 0usize);
    for format in CONCRETE_FORMATS {
        let mut parser = new_parser(format);
        let mut out = Vec::new();
        let known = lines
            .iter()
            .enumerate()
            .filter(|(i, line)| {
                out.clear();
                parser.feed(*i as u64 + 1, line, &ctx, &mut out) != Outcome::Unknown
            })
            .count();
        if known > best.1 {
            best = (format, known);
        }
    }
    // A clear majority: more than 60% of the sampled lines.
    if best.1 * 10 > lines.len() * 6 {
        best.0
    } else {
        Format::Mixed
    }
}

/// Offers every line to every concrete parser, in [`CONCRETE_FORMATS`] order,
/// until one parses it. A parser that merely skips a line does not stop the
/// search: formats share prefixes (two Java loggers, two logcat tags), and
/// the one that skips may not be the one the line is for. The first parser
/// that answers [`Outcome::Parsed`] ends it, so a line never yields events
/// from two parsers.
struct MixedParser {
    parsers: Vec<Box<dyn LineParser>>,
}

impl MixedParser {
    fn new() -> Self {
        MixedParser {
            parsers: CONCRETE_FORMATS.iter().map(|f| new_parser(*f)).collect(),
        }
    }
}

impl LineParser for MixedParser {
    fn feed<'a>(
        &mut self,
        line_no: u64,
        line: &'a str,
        ctx: &Context,
        out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        let mut outcome = Outcome::Unknown;
        for parser in &mut self.parsers {
            match parser.feed(line_no, line, ctx, out) {
                Outcome::Parsed => return Outcome::Parsed,
                Outcome::Skipped => outcome = Outcome::Skipped,
                Outcome::Unknown => {}
            }
        }
        outcome
    }

    fn flush<'a>(&mut self, ctx: &Context, out: &mut Vec<Event<'a>>) {
        for parser in &mut self.parsers {
            parser.flush(ctx, out);
        }
    }

    fn oldest_pending_line(&self) -> Option<u64> {
        self.parsers
            .iter()
            .filter_map(|p| p.oldest_pending_line())
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, EvidenceLine};
    use crate::file_parser::{FileParser, LineCounts};
    use std::borrow::Cow;

    /// A support ticket's paste: a Rails request, a Keycloak event, a
    /// flutter_appauth error from logcat, and a Node app's msal-node error.
    const MIXED: &str = concat!(
        "I, [2025-03-11T09:02:15.978492 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1] Started POST \"/oauth/token\" for 10.0.3.235 at 2025-03-11 09:02:15 +0000\n",
        "I, [2025-03-11T09:02:15.980892 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1] Processing by Doorkeeper::TokensController#create as */*\n",
        "I, [2025-03-11T09:02:15.981092 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1]   Parameters: {\"grant_type\"=>\"refresh_token\", \"refresh_token\"=>\"wqhbnIw2OpRszwqkNdVIekqE700lTlXJcYc8ErcErLw\", \"client_id\"=>\"Zr9kq3bB4u2xq0X9mB7Yt0a6v1c8d2e3f4g5h6i7j8k\"}\n",
        "I, [2025-03-11T09:02:15.997492 #7]  INFO -- : [8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1] Completed 400 Bad Request in 19ms (Views: 0.1ms | ActiveRecord: 5.8ms | Allocations: 3762)\n",
        "2025-03-11 09:10:32,093 WARN  [org.keycloak.events] (executor-thread-11) type=\"CODE_TO_TOKEN_ERROR\", realmId=\"7c1f3a52-9d4e-4b8a-a6c1-2e5f8b9d0a13\", realmName=\"shop\", clientId=\"shop-web\", userId=\"null\", ipAddress=\"10.20.0.7\", error=\"invalid_code\", reason=\"Code not valid\", grant_type=\"authorization_code\", code_id=\"a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4e\", client_auth_method=\"client-secret\"\n",
        "03-11 14:02:49.301  4388  4421 I flutter : login error: PlatformException(token_failed, Failed to get token: invalid_grant: The refresh token is invalid or expired., null, null)\n",
        "{\"level\":\"error\",\"time\":\"2025-03-11T09:47:02Z\",\"msg\":\"acquireTokenByRefreshToken failed\",\"err\":{\"name\":\"InteractionRequiredAuthError\",\"errorCode\":\"invalid_grant\",\"errorMessage\":\"AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2024-11-20T08:12:44.1234567Z and was inactive for 90.00:00:00.\",\"correlationId\":\"6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d\"}}\n",
    );

    fn parse_mixed(text: &str) -> (Vec<Event<'_>>, LineCounts) {
        let ctx = Context {
            assumed_year: Some(2025),
            ..Context::default()
        };
        let mut parser = FileParser::new(Format::Mixed, ctx);
        let mut events = Vec::new();
        for (i, line) in text.lines().enumerate() {
            parser.feed(i as u64 + 1, line, &mut events);
        }
        parser.flush(&mut events);
        (events, parser.counts())
    }

    #[test]
    fn mixed_excerpt_yields_each_formats_event_once() {
        let (events, counts) = parse_mixed(MIXED);
        let by_format = |f: Format| events.iter().filter(|e| e.format == f).collect::<Vec<_>>();

        let rails = by_format(Format::Rails);
        assert_eq!(rails.len(), 1, "{events:#?}");
        assert_eq!(rails[0].kind, EventKind::TokenResponse);
        assert_eq!(rails[0].status, Some(400));
        assert!(rails[0].refresh_token_fp.is_some());

        let keycloak = by_format(Format::Keycloak);
        assert_eq!(keycloak.len(), 1, "{events:#?}");
        assert_eq!(keycloak[0].client_id.as_deref(), Some("shop-web"));
        assert_eq!(
            keycloak[0].provider_reason.as_deref(),
            Some("Code not valid")
        );

        let logcat = by_format(Format::Logcat);
        assert_eq!(logcat.len(), 1, "{events:#?}");
        assert_eq!(logcat[0].kind, EventKind::ClientError);
        assert_eq!(logcat[0].error.as_deref(), Some("invalid_grant"));
        assert_eq!(
            logcat[0].error_description.as_deref(),
            Some("The refresh token is invalid or expired.")
        );

        let json = by_format(Format::JsonLines);
        assert_eq!(json.len(), 1, "{events:#?}");
        assert_eq!(json[0].error.as_deref(), Some("invalid_grant"));
        assert_eq!(json[0].provider_code.as_deref(), Some("AADSTS700082"));

        assert_eq!(events.len(), 4, "{events:#?}");
        assert_eq!(counts.unknown, 0, "{counts:?}");
        for e in &events {
            for f in e.text_fields() {
                assert!(!f.contains("wqhbnIw2OpRs"), "{f}");
            }
        }
    }

    #[test]
    fn skipping_parser_does_not_hide_a_line_from_later_ones() {
        // A parser that skips every line, in front of one that parses them.
        struct Skips;
        impl LineParser for Skips {
            fn feed<'a>(
                &mut self,
                _: u64,
                _: &'a str,
                _: &Context,
                _: &mut Vec<Event<'a>>,
            ) -> Outcome {
                Outcome::Skipped
            }
            fn flush<'a>(&mut self, _: &Context, _: &mut Vec<Event<'a>>) {}
        }
        struct Parses(usize);
        impl LineParser for Parses {
            fn feed<'a>(
                &mut self,
                line_no: u64,
                line: &'a str,
                _: &Context,
                out: &mut Vec<Event<'a>>,
            ) -> Outcome {
                self.0 += 1;
                let mut ev = Event::new(EventKind::Unparsed, Format::JsonLines);
                ev.evidence.push(EvidenceLine {
                    line: line_no,
                    text: Cow::Borrowed(line),
                });
                out.push(ev);
                Outcome::Parsed
            }
            fn flush<'a>(&mut self, _: &Context, _: &mut Vec<Event<'a>>) {}
        }
        let mut mixed = MixedParser {
            parsers: vec![Box::new(Skips), Box::new(Parses(0)), Box::new(Parses(0))],
        };
        let mut out = Vec::new();
        let outcome = mixed.feed(1, "x", &Context::default(), &mut out);
        assert_eq!(outcome, Outcome::Parsed);
        assert_eq!(out.len(), 1, "stops at the first parser that parses");
        let mut only_skip = MixedParser {
            parsers: vec![Box::new(Skips)],
        };
        assert_eq!(
            only_skip.feed(1, "x", &Context::default(), &mut out),
            Outcome::Skipped
        );
        let mut none = MixedParser { parsers: vec![] };
        assert_eq!(
            none.feed(1, "x", &Context::default(), &mut out),
            Outcome::Unknown
        );
    }
}
