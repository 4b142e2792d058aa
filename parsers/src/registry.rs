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
    // A sample that ends inside an export's event object ends there, not
    // the file: those lines are no plain lines to judge a format by.
    unwrapper.forget_export_hold();
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
    use std::borrow::Cow;

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
