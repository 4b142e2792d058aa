//! Several constant strings searched for at once, on the packed (Teddy)
//! searcher itself when this CPU has it.
//!
//! An [`AhoCorasick`] automaton with leftmost semantics runs Teddy as a
//! prefilter, then confirms each candidate again with its own automaton
//! from the candidate's start and restarts the prefilter after it: on the
//! lines the redactor reads (four key words a Keycloak event line, most of
//! them rejected by their neighbours), 400 ns a line against 310 for the
//! packed searcher alone, whose matches are already confirmed
//! (benches/README.md). Where Teddy cannot be built (no SSSE3, too many
//! patterns), the automaton answers.
//!
//! Many patterns of common letters are looked for through a few strings
//! they hold instead (`anchored.rs`), when the caller names them.
//!
//! Invariant: every answer is the automaton's with the same match kind —
//! the same match, pattern and offsets (tested against it in
//! `multi_find_tests.rs`).

use aho_corasick::{AhoCorasick, BuildError, Input, Match, MatchKind, packed};

mod anchored;
use anchored::{Anchored, AnchoredIter};

/// Constant strings and their searcher, built once.
#[derive(Debug)]
pub(crate) struct MultiFind {
    anchored: Option<Anchored>,
    packed: Option<packed::Searcher>,
    automaton: AhoCorasick,
}

impl MultiFind {
    /// The searcher for `patterns` with `kind` (leftmost-first or
    /// leftmost-longest; another kind is left to the automaton). Fails as
    /// the automaton's builder does (a pattern set too large).
    pub(crate) fn new<I, P>(kind: MatchKind, patterns: I) -> Result<MultiFind, BuildError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let patterns: Vec<P> = patterns.into_iter().collect();
        let packed_kind = match kind {
            MatchKind::LeftmostLongest => Some(packed::MatchKind::LeftmostLongest),
            MatchKind::LeftmostFirst => Some(packed::MatchKind::LeftmostFirst),
            _ => None,
        };
        let packed = packed_kind.and_then(|k| {
            packed::Config::new()
                .match_kind(k)
                .builder()
                .extend(&patterns)
                .build()
        });
        let automaton = AhoCorasick::builder().match_kind(kind).build(&patterns)?;
        Ok(MultiFind {
            anchored: None,
            packed,
            automaton,
        })
    }

    /// The searcher for `patterns`, looked for through `anchors`, strings
    /// every pattern holds (`anchored.rs`); where that cannot be built (see
    /// `Anchored::new`: a kind that is not leftmost, a pattern without an
    /// anchor, an anchor empty or inside another, no packed searcher on
    /// this CPU), as [`MultiFind::new`] builds it.
    pub(crate) fn with_anchors<I, P>(
        kind: MatchKind,
        patterns: I,
        anchors: &[&str],
    ) -> Result<MultiFind, BuildError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let patterns: Vec<P> = patterns.into_iter().collect();
        let anchored = Anchored::new(kind, &patterns, anchors);
        let mut finder = MultiFind::new(kind, patterns)?;
        if anchored.is_some() {
            finder.anchored = anchored;
            finder.packed = None;
        }
        Ok(finder)
    }

    /// The first match that starts at or after `from` (offsets in
    /// `haystack`).
    pub(crate) fn find_from(&self, haystack: &str, from: usize) -> Option<Match> {
        if from > haystack.len() {
            return None;
        }
        if let Some(anchored) = &self.anchored {
            return anchored.find_from(haystack, from);
        }
        match &self.packed {
            Some(p) => p.find_in(haystack, aho_corasick::Span::from(from..haystack.len())),
            None => self
                .automaton
                .find(Input::new(haystack).range(from..haystack.len())),
        }
    }

    /// Whether any pattern is in `haystack`.
    pub(crate) fn is_match(&self, haystack: &str) -> bool {
        self.find_from(haystack, 0).is_some()
    }

    /// Every match of `haystack`, left to right, none overlapping.
    pub(crate) fn find_iter<'a>(&'a self, haystack: &'a str) -> FindIter<'a> {
        if let Some(searcher) = &self.anchored {
            return FindIter::Anchored(AnchoredIter {
                searcher,
                haystack,
                at: 0,
            });
        }
        match &self.packed {
            Some(p) => FindIter::Packed(p.find_iter(haystack)),
            None => FindIter::Automaton(self.automaton.find_iter(haystack)),
        }
    }

    /// The automaton alone, for the tests that hold the packed searcher to
    /// its answers.
    #[cfg(test)]
    pub(crate) fn automaton(&self) -> &AhoCorasick {
        &self.automaton
    }

    /// Whether the packed searcher is in use (on the patterns or their
    /// anchors).
    #[cfg(test)]
    pub(crate) fn is_packed(&self) -> bool {
        self.packed.is_some() || self.anchored.is_some()
    }

    /// Whether the patterns are looked for through anchors.
    #[cfg(test)]
    pub(crate) fn is_anchored(&self) -> bool {
        self.anchored.is_some()
    }
}

/// The matches of one haystack, from whichever searcher answers.
pub(crate) enum FindIter<'a> {
    Anchored(AnchoredIter<'a>),
    Packed(packed::FindIter<'a, 'a>),
    Automaton(aho_corasick::FindIter<'a, 'a>),
}

impl Iterator for FindIter<'_> {
    type Item = Match;

    fn next(&mut self) -> Option<Match> {
        match self {
            FindIter::Anchored(it) => it.next(),
            FindIter::Packed(it) => it.next(),
            FindIter::Automaton(it) => it.next(),
        }
    }
}

#[cfg(test)]
#[path = "multi_find_tests.rs"]
mod tests;
