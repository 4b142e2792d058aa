//! Handing one file over between readers of its ranges. `analyze` may read
//! a large file on several cores, each core from its own offset with its own
//! [`crate::FileParser`]; the reader of a range goes on past its end until it
//! reaches a line where both it and the next range's reader are at rest
//! ([`crate::FileParser::rest_mark`] equal), and hands over there. What each
//! reader counted is then added up with [`Tally`].
//!
//! Invariant: a [`RestMark`] exists only where nothing the parser holds
//! depends on the lines before the last one fed but what the mark names (an
//! export's event object held from its `{`) (no split line, no unknown
//! run, every origin's parser and the format's at rest per
//! [`crate::parser::LineParser::at_rest`], or the format's never fed); two
//! marks are equal only when the envelope layer would read the next line
//! the same way and the same origins are read apart.

use std::collections::BTreeMap;

use crate::counts::LineCounts;
use crate::envelope::{ALL_ENVELOPES, EnvelopeKind};

/// A line where a file parser holds nothing that the lines before it set,
/// and what it would read the next line with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestMark {
    /// The envelope the layer tries first on the next line.
    pub(crate) sticky: Option<EnvelopeKind>,
    /// Whether the lines before showed an indented CloudWatch export.
    pub(crate) in_export: bool,
    /// The event object of such an export held (its first line and its
    /// number of lines so far): two readers that hold the same lines read
    /// the next ones alike.
    pub(crate) export_hold: Option<(u64, usize)>,
    /// Whether the parser of lines in no origin is fresh: never fed, and
    /// not at rest.
    pub(crate) plain_fresh: bool,
    /// The origins read apart ([`origin_set`]).
    pub(crate) origins: u64,
}

/// A digest of a set of origins, the same whatever their order: the sum of
/// each one's hash, and their number.
pub(crate) fn origin_set<'s>(origins: impl Iterator<Item = &'s String>) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hasher = BuildHasherDefault::<DefaultHasher>::default();
    let (sum, n) = origins.fold((0u64, 0u64), |(sum, n), o| {
        (sum.wrapping_add(hasher.hash_one(o)), n + 1)
    });
    sum ^ n.rotate_left(32)
}

/// What one file parser has counted: records by outcome, file lines, lines
/// per envelope, split lines cut. Tallies of consecutive parts of a file
/// add up to the tally of the whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records by outcome.
    pub counts: LineCounts,
    /// File lines fed.
    pub lines: u64,
    /// Split lines cut when joined.
    pub joined_cut: u64,
    pub(crate) envelope_lines: [u64; ALL_ENVELOPES.len()],
}

impl Tally {
    /// What was counted after `earlier` (a tally of the same parser, taken
    /// before this one).
    pub fn since(&self, earlier: &Tally) -> Tally {
        let mut envelope_lines = self.envelope_lines;
        for (n, e) in envelope_lines.iter_mut().zip(earlier.envelope_lines) {
            *n -= e;
        }
        Tally {
            counts: LineCounts {
                parsed: self.counts.parsed - earlier.counts.parsed,
                skipped: self.counts.skipped - earlier.counts.skipped,
                unknown: self.counts.unknown - earlier.counts.unknown,
            },
            lines: self.lines - earlier.lines,
            joined_cut: self.joined_cut - earlier.joined_cut,
            envelope_lines,
        }
    }

    /// Adds `later`, counted over the lines after these.
    pub fn add(&mut self, later: &Tally) {
        self.counts += later.counts;
        self.lines += later.lines;
        self.joined_cut += later.joined_cut;
        for (n, l) in self.envelope_lines.iter_mut().zip(later.envelope_lines) {
            *n += l;
        }
    }

    /// The envelope most lines came in, if any (as
    /// [`crate::envelope::Unwrapper::main_envelope`] says of one parser).
    pub fn main_envelope(&self) -> Option<EnvelopeKind> {
        envelope_lines_map(&self.envelope_lines)
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(k, _)| k)
    }
}

/// File lines per envelope kind, the kinds without any left out.
pub(crate) fn envelope_lines_map(
    lines: &[u64; ALL_ENVELOPES.len()],
) -> BTreeMap<EnvelopeKind, u64> {
    ALL_ENVELOPES
        .iter()
        .zip(lines.iter().copied())
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (*k, n))
        .collect()
}
