//! Patterns found through a few short strings they hold, their anchors: the
//! packed searcher looks for the anchors only, and where one starts, the
//! patterns that hold it are compared with the bytes around it.
//!
//! Many patterns of common letters make the packed searcher slow: each of
//! its buckets holds several, so nearly any three letters of prose pass its
//! first test and are checked one by one. The redactor's 27 keys read a
//! Keycloak event line at 1.3 GB/s this way; eight anchors that every key
//! holds (`ode`, `oken`, `ecret`, ...) at about three times that
//! (benches/README.md).
//!
//! Invariant: the answers are the automaton's for the same match kind.
//! Every pattern holds an anchor, and no anchor holds another, so one
//! anchor at most starts at a place. Every place an anchor starts at or
//! after the search's start is visited in order, and at each the patterns
//! that hold that anchor are compared where they would start (all but
//! those whose byte before the anchor is not the byte before the place,
//! which cannot match there). The answer
//! `M` holds an anchor, so the first place `p` whose comparisons find a
//! match comes no later than `M`'s first anchor; `M` starts no later than
//! the match found at `p`, so it takes in `p`, and it ends after `p`'s
//! anchor does (else its own first anchor, after `p`, would lie inside
//! that one): `M` holds the anchor at `p` and is among the matches found
//! there, of which the kind's rule (leftmost, then longest or the first
//! pattern) chooses it.

use aho_corasick::{Match, MatchKind, Span, packed};

use crate::bytes::word;

/// The anchors' searcher and, for each anchor, the patterns that hold it.
#[derive(Debug)]
pub(super) struct Anchored {
    anchors: packed::Searcher,
    patterns: Vec<Pattern>,
    /// By anchor: (pattern, where in it the anchor starts), every place.
    holders: Vec<Vec<(usize, usize)>>,
    /// By anchor, by a byte: the holders (bit `k`: `holders[anchor][k]`)
    /// whose pattern has that byte just before the anchor. Only those can
    /// match where the anchor is found after that byte: the redactor's
    /// `oken` has eleven holders, `token`'s five of them after a `t`, and
    /// `mode` none of `ode`'s.
    before: Vec<[u32; 256]>,
    /// By anchor: the holders whose pattern starts with it.
    leading: Vec<u32>,
    longest_wins: bool,
}

/// Holders one anchor may have: a bit each in [`Anchored::before`].
const MAX_HOLDERS: usize = 32;

impl Anchored {
    /// The search for `patterns` through `anchors`; `None` when the kind is
    /// not leftmost, a pattern holds no anchor, an anchor is empty or holds
    /// another or is held more than [`MAX_HOLDERS`] times, or the packed
    /// searcher cannot be built here.
    pub(super) fn new<P: AsRef<[u8]>>(
        kind: MatchKind,
        patterns: &[P],
        anchors: &[&str],
    ) -> Option<Anchored> {
        let longest_wins = match kind {
            MatchKind::LeftmostLongest => true,
            MatchKind::LeftmostFirst => false,
            _ => return None,
        };
        let nested = |(i, a): (usize, &&str)| {
            a.is_empty()
                || anchors
                    .iter()
                    .enumerate()
                    .any(|(j, b)| i != j && a.contains(b))
        };
        if anchors.iter().enumerate().any(nested) {
            return None;
        }
        let patterns: Vec<&[u8]> = patterns.iter().map(AsRef::as_ref).collect();
        let holders: Vec<Vec<(usize, usize)>> = anchors
            .iter()
            .map(|a| {
                patterns
                    .iter()
                    .enumerate()
                    .flat_map(|(id, p)| memchr::memmem::find_iter(p, a).map(move |at| (id, at)))
                    .collect()
            })
            .collect();
        let held = |id: usize| holders.iter().flatten().any(|&(p, _)| p == id);
        if !(0..patterns.len()).all(held) || holders.iter().any(|h| h.len() > MAX_HOLDERS) {
            return None;
        }
        let mut before = vec![[0u32; 256]; holders.len()];
        let mut leading = vec![0u32; holders.len()];
        for (a, list) in holders.iter().enumerate() {
            for (k, &(id, offset)) in list.iter().enumerate() {
                match offset.checked_sub(1) {
                    Some(prev) => before[a][usize::from(patterns[id][prev])] |= 1 << k,
                    None => leading[a] |= 1 << k,
                }
            }
        }
        let anchors = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(anchors)
            .build()?;
        Some(Anchored {
            anchors,
            patterns: patterns.iter().map(|p| Pattern::new(p)).collect(),
            holders,
            before,
            leading,
            longest_wins,
        })
    }

    /// The first match that starts at or after `from`.
    pub(super) fn find_from(&self, haystack: &str, from: usize) -> Option<Match> {
        let bytes = haystack.as_bytes();
        let mut at = from;
        while at < bytes.len() {
            let hit = self.anchors.find_in(bytes, Span::from(at..bytes.len()))?;
            if let Some(found) = self.at_place(bytes, from, hit) {
                return Some(found);
            }
            at = hit.start() + 1;
        }
        None
    }

    /// The kind's choice among the patterns holding the anchor `hit` that
    /// match where they would start (at or after `from`).
    fn at_place(&self, bytes: &[u8], from: usize, hit: Match) -> Option<Match> {
        let mut best: Option<(usize, usize, usize)> = None;
        let anchor = hit.pattern().as_usize();
        let mut candidates = self.leading[anchor];
        if let Some(prev) = hit.start().checked_sub(1) {
            candidates |= self.before[anchor][usize::from(bytes[prev])];
        }
        while candidates != 0 {
            let (id, offset) = self.holders[anchor][candidates.trailing_zeros() as usize];
            candidates &= candidates - 1;
            let Some(start) = hit.start().checked_sub(offset).filter(|&s| s >= from) else {
                continue;
            };
            let pattern = &self.patterns[id];
            if !pattern.starts(&bytes[start..]) {
                continue;
            }
            let end = start + pattern.bytes.len();
            let better = best.is_none_or(|(s, e, i)| {
                start < s
                    || (start == s && self.longest_wins && end > e)
                    || (start == s && (end == e || !self.longest_wins) && id < i)
            });
            if better {
                best = Some((start, end, id));
            }
        }
        best.map(|(start, end, id)| Match::must(id, start..end))
    }
}

/// A pattern, and its first sixteen bytes as two words with the masks of
/// the bytes it has: a haystack with sixteen bytes left is compared in two
/// loads, not a call to `memcmp`. The redactor compares about eleven
/// patterns a Keycloak event line (`token` in `token_id`, `code` in
/// `code_id`), and the calls were 0.7% of a Keycloak log's instructions
/// (benches/README.md).
#[derive(Debug)]
struct Pattern {
    bytes: Vec<u8>,
    words: [u64; 2],
    masks: [u64; 2],
}

/// Bytes [`Pattern::words`] hold.
const WORDS_BYTES: usize = 16;

impl Pattern {
    fn new(bytes: &[u8]) -> Pattern {
        let mut head = [0u8; WORDS_BYTES];
        let mut mask = [0u8; WORDS_BYTES];
        for (i, &b) in bytes.iter().take(WORDS_BYTES).enumerate() {
            head[i] = b;
            mask[i] = 0xFF;
        }
        // Sixteen bytes each: both words are there.
        let words = |b: &[u8]| [0, 8].map(|at| word(b, at).unwrap_or_default());
        Pattern {
            bytes: bytes.to_vec(),
            words: words(&head),
            masks: words(&mask),
        }
    }

    /// Whether `haystack` starts with the pattern.
    #[inline]
    fn starts(&self, haystack: &[u8]) -> bool {
        match (word(haystack, 0), word(haystack, 8)) {
            (Some(lo), Some(hi)) if self.bytes.len() <= WORDS_BYTES => {
                lo & self.masks[0] == self.words[0] && hi & self.masks[1] == self.words[1]
            }
            _ => haystack.starts_with(&self.bytes),
        }
    }
}

/// Every match of a haystack, left to right, none overlapping: each search
/// starts where the last match ended, as the automaton's own iterator does
/// (no pattern is empty).
pub(crate) struct AnchoredIter<'a> {
    pub(super) searcher: &'a Anchored,
    pub(super) haystack: &'a str,
    pub(super) at: usize,
}

impl Iterator for AnchoredIter<'_> {
    type Item = Match;

    fn next(&mut self) -> Option<Match> {
        let m = self.searcher.find_from(self.haystack, self.at)?;
        self.at = m.end();
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Patterns of every length to past the words' sixteen bytes, against
    /// haystacks of every length around them that match, differ at one
    /// byte (each place in turn) or run short: the words answer as
    /// `starts_with` does.
    #[test]
    fn a_pattern_starts_a_haystack_as_starts_with_says() {
        for len in 1..=20 {
            let bytes: Vec<u8> = (0..len).map(|i| b'a' + (i * 7 % 26) as u8).collect();
            let pattern = Pattern::new(&bytes);
            for extra in 0..=20 {
                let mut haystack = bytes.clone();
                haystack.extend((0..extra).map(|i| b'0' + i as u8 % 10));
                for cut in 0..haystack.len() {
                    let short = &haystack[..cut];
                    assert_eq!(
                        pattern.starts(short),
                        short.starts_with(&bytes),
                        "{len} {cut}"
                    );
                }
                for at in 0..haystack.len() {
                    let mut changed = haystack.clone();
                    changed[at] ^= 0x20;
                    assert_eq!(
                        pattern.starts(&changed),
                        changed.starts_with(&bytes),
                        "{len} {extra} {at}"
                    );
                }
                assert!(pattern.starts(&haystack));
            }
        }
    }
}
