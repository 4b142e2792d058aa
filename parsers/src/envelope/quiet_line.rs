//! The quiet path's side of the envelope layer: a docker json-file, CRI or
//! syslog line without needles read for a skim, changing nothing
//! ([`Unwrapper::quiet_line`]); only [`Unwrapper::count_quiet_line`], for a
//! line taken, counts it as `unwrap_line` would. Here rather than in
//! `joiner.rs`, which it reads and which does not read it.

use super::joiner::{Unwrapper, is_enveloped};
use super::model::EnvelopeKind;
use super::syslog::HeaderMemo;
use crate::parser::Context;
use crate::quiet::QuietSkip;

/// What [`Unwrapper::quiet_line`] read of an enveloped line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietText<'x> {
    /// The application's line.
    Whole(&'x str),
    /// The start of it, before its first escape: all the rest is
    /// settled, the parser's skim may judge the line by it
    /// ([`crate::LineParser::skim_head`]).
    Head(&'x str),
}

/// The origin of a line [`Unwrapper::quiet_line`] read (a syslog line's
/// host and program): the record it carries is that origin's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietOrigin<'x> {
    /// The host.
    pub host: &'x str,
    /// The program (the unit).
    pub ident: &'x str,
}

impl QuietOrigin<'_> {
    /// The origin's key, as [`Meta::origin`] makes it of the same names.
    pub fn key_into(&self, key: &mut String) {
        super::model::origin_key([self.host, self.ident].into_iter(), key);
    }
}

/// [`Unwrapper::quiet_line`] for a docker json-file line: its text (or
/// the start of it) when no needle can be in it, before the check for an
/// inner envelope.
fn quiet_docker<'x>(
    line: &'x str,
    quiet: &QuietSkip,
    scratch: &'x mut Vec<u8>,
) -> Option<QuietText<'x>> {
    let scan = super::docker::quiet_scan(line)?;
    let no_needle = !quiet.may_complete(&scan.made);
    if !scan.whole && no_needle && super::peel::rules_out(scan.text) {
        return Some(QuietText::Head(scan.text));
    }
    let (text, made) = if scan.whole {
        (scan.text, scan.made)
    } else {
        super::docker::whole_line(line, scratch)?
    };
    // As `FileParser::feed_record` searches a decoded text again.
    let needle = quiet.may_complete(&made) && quiet.holds_needle(text);
    (!needle).then_some(QuietText::Whole(text))
}

impl Unwrapper {
    /// The envelope a line may be in for the quiet path, by its first
    /// byte: `{` docker json-file; a digit CRI and a capital a syslog
    /// month, once the file showed them (a bare Rails line starts with a
    /// capital too, and goes its usual way at once).
    pub fn quiet_kind(&self, line: &str) -> Option<EnvelopeKind> {
        Some(match line.as_bytes().first()? {
            b'{' => EnvelopeKind::DockerJson,
            b'0'..=b'9' if self.sticky == Some(EnvelopeKind::Cri) => EnvelopeKind::Cri,
            b'A'..=b'Z' if self.sticky == Some(EnvelopeKind::Syslog3164) => {
                EnvelopeKind::Syslog3164
            }
            _ => return None,
        })
    }

    /// A line without needles read for the quiet path, changing nothing:
    /// the envelope and the text of the one record
    /// [`Unwrapper::unwrap_line`] would give for it, or the start of that
    /// text when the start settles everything but the parser's skim (no
    /// inner envelope can start so, no escape can make a needle), and the
    /// origin the record is of, when the envelope names one. Three
    /// envelopes have such a path, the ones whose every line carries an
    /// application's line: docker json-file (a line led by `{`), CRI (a
    /// digit, once the file showed CRI: other time-led lines would be read
    /// twice) and RFC 3164 syslog without `<PRI>` (a month, once the file
    /// showed syslog; its record is its host's and program's). `None` when the line must go through `unwrap_line`:
    /// the envelope not allowed by `--envelope`, a split line held (this
    /// line may end it), a piece of a split line, off the envelope's exact
    /// shape, an inner line in an envelope of its own, or a decoded text
    /// that holds a needle. A caller that takes the line counts it
    /// ([`Unwrapper::count_quiet_line`]).
    pub fn quiet_line<'x>(
        &self,
        line: &'x str,
        ctx: &Context,
        quiet: &QuietSkip,
        scratch: &'x mut Vec<u8>,
        syslog: &mut HeaderMemo,
    ) -> Option<(EnvelopeKind, QuietText<'x>, Option<QuietOrigin<'x>>)> {
        let kind = self.quiet_kind(line)?;
        let allowed = self.forced.is_none_or(|forced| forced == Some(kind));
        // Inside an export every line goes through `unwrap_line`: one
        // that is not the export's ends it.
        let export = self.export.is_holding() || self.export.in_export();
        if !allowed || self.holds_split_line() || export {
            return None;
        }
        let mut origin = None;
        let text = match kind {
            EnvelopeKind::DockerJson => quiet_docker(line, quiet, scratch)?,
            EnvelopeKind::Syslog3164 => {
                // A slice of the file line, as for CRI; the line is its
                // host's and program's.
                let (host, ident, text) = super::syslog::quiet_parts(line, syslog)?;
                origin = Some(QuietOrigin { host, ident });
                QuietText::Whole(text)
            }
            // A slice of the file line, which holds no needle.
            _ => QuietText::Whole(super::container::whole_cri_text(line)?),
        };
        let QuietText::Whole(text) = text else {
            return Some((kind, text, origin));
        };
        // A start no envelope has settles it without a second peel.
        let enveloped = !super::peel::rules_out(text) && is_enveloped(text, ctx);
        (!enveloped).then_some((kind, QuietText::Whole(text), origin))
    }

    /// Counts a line read by [`Unwrapper::quiet_line`] in `kind` as
    /// `unwrap_line` counts it.
    pub fn count_quiet_line(&mut self, kind: EnvelopeKind) {
        self.sticky = Some(kind);
        self.lines_by_envelope[kind as usize] += 1;
    }
}
