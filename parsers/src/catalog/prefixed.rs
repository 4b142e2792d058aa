//! A leftmost-longest search over many long texts, found by their first
//! [`PREFIX`] bytes and then checked whole.
//!
//! The catalog's identifying texts and provider sentences are several
//! hundred patterns. Their first bytes (326 distinct prefixes) start at
//! about three places in a Keycloak error line (benches/README.md), so the
//! cost is in finding those places, not in checking them. An automaton over
//! the prefixes read every byte at about 2 ns (its DFA is 1.6 MB, most of it
//! out of the first-level cache, and took 50 million instructions to build).
//! Here each place's first bytes, as many as the shortest prefix holds (at
//! most eight; six for the catalog's, whose non-ASCII texts are cut at a
//! character boundary), are read as one number and hashed into a table of
//! 64 Ki bits (8 KB), once its first two bytes begin a prefix (a bit per
//! pair of bytes, 8 KB more: most places are turned away by those, with no
//! hash computed); only a place whose bit is set is looked up among the
//! prefixes that begin so, longest first. The first place one of them
//! starts is then checked for the whole texts that may start there, and the
//! search goes on after it when none does.
//!
//! Several sets of texts share one pass ([`PrefixSearch::find`]): the
//! catalog searches an error record for the texts that identify a server
//! and for the sentences that name a cause, and the two passes over each of
//! a Keycloak log's error lines (560 bytes) were nearly half of reading
//! those lines; in one pass they read a quarter faster (benches/README.md).
//!
//! Invariant: [`PrefixSearch::find`] answers for each set what
//! `aho-corasick`'s leftmost-longest search over the whole texts of that
//! set answers — the match that starts first; of those,
//! the longest; of equal ones, the text listed first (`tests` compares the
//! two on generated texts). A text starts where its prefix does, and a
//! prefix where its first bytes do; no place is skipped (a place inside a
//! character starts no text, whose first byte begins a character).

use std::collections::HashMap;

/// Bytes of each text a prefix holds.
const PREFIX: usize = 8;

/// Bytes of a place the table is read by at most (one load of a number).
const START: usize = 8;

/// Bits of the table of first bytes: 8 KB, which stays in the first-level
/// cache while a line is read; the catalog's 279 distinct six-byte starts set
/// fewer than one bit in two hundred.
const TABLE_BITS: u32 = 16;

/// The table's 64-bit words.
const TABLE_WORDS: usize = 1 << (TABLE_BITS - 6);

/// The 64-bit words of a bit per pair of bytes: 8 KB.
const PAIR_WORDS: usize = (1 << 16) / 64;

/// The prefixes that begin with each first bytes (as many as the table is
/// read by), looked up by them as a little-endian number.
type ByStart = HashMap<u64, Vec<usize>, foldhash::fast::FixedState>;

/// Texts of `N` sets searched by their prefixes, each set for its own
/// leftmost-longest text, all in one pass.
pub(super) struct PrefixSearch<const N: usize> {
    /// The distinct prefixes (a text shorter than [`PREFIX`] is its own).
    prefixes: Vec<String>,
    /// The bytes of a place the table is read by: the shortest prefix's
    /// length, at most [`START`].
    width: usize,
    /// The low `width` bytes of a number: a place's first bytes of eight.
    mask: u64,
    /// Bit `hash(start)` set for the first `width` bytes of every prefix:
    /// a place whose bit is clear starts none.
    table: Box<[u64; TABLE_WORDS]>,
    /// Bit `b0 | b1 << 8` set for the first two bytes of every prefix (all
    /// set when a prefix is one byte): asked of each place before the
    /// hash, by its first two bytes alone.
    pairs: Box<[u64; PAIR_WORDS]>,
    /// By their first `width` bytes, the prefixes, longest first: where
    /// several start at one place, the longest, which every other one
    /// starting there begins.
    by_start: ByStart,
    /// Per prefix, the texts (their indices, in order) whose own prefix
    /// begins it: every text that may start where it is found.
    texts_at: Vec<Vec<usize>>,
    /// The texts of every set, each once.
    texts: Vec<String>,
    /// Per text, its first place in each set (`None`: not in it).
    places: Vec<[Option<usize>; N]>,
}

impl<const N: usize> PrefixSearch<N> {
    /// The search over `sets`, each text found by its place in its set.
    pub(super) fn new(sets: [&[&str]; N]) -> PrefixSearch<N> {
        let mut texts: Vec<&str> = Vec::new();
        let mut places: Vec<[Option<usize>; N]> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (set, members) in sets.iter().enumerate() {
            for (place, text) in members.iter().enumerate() {
                let i = *index.entry(text).or_insert_with(|| {
                    texts.push(text);
                    places.push([None; N]);
                    texts.len() - 1
                });
                places[i][set].get_or_insert(place);
            }
        }
        let mut prefixes: Vec<&str> = Vec::new();
        for text in &texts {
            let prefix = prefix_of(text);
            if !prefixes.contains(&prefix) {
                prefixes.push(prefix);
            }
        }
        let texts_at = prefixes
            .iter()
            .map(|p| {
                (0..texts.len())
                    .filter(|&i| p.starts_with(prefix_of(texts[i])))
                    .collect()
            })
            .collect();
        let width = prefixes.iter().map(|p| p.len()).fold(START, usize::min);
        let mut table = Box::new([0u64; TABLE_WORDS]);
        let mut pairs = Box::new([if width < 2 { u64::MAX } else { 0 }; PAIR_WORDS]);
        let mut by_start = ByStart::default();
        for (i, p) in prefixes.iter().enumerate() {
            let start = start_of(&p.as_bytes()[..width]);
            let bit = hash(start);
            table[bit >> 6] |= 1 << (bit & 63);
            if let [a, b, ..] = *p.as_bytes() {
                let pair = usize::from(u16::from_le_bytes([a, b]));
                pairs[pair >> 6] |= 1 << (pair & 63);
            }
            by_start.entry(start).or_default().push(i);
        }
        for list in by_start.values_mut() {
            // Longest first; of equal length (none: prefixes are distinct),
            // as listed.
            list.sort_by_key(|&i| std::cmp::Reverse(prefixes[i].len()));
        }
        PrefixSearch {
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            width,
            mask: u64::MAX.checked_shr(64 - 8 * width as u32).unwrap_or(0),
            table,
            pairs,
            by_start,
            texts_at,
            texts: texts.iter().map(|t| (*t).to_owned()).collect(),
            places,
        }
    }

    /// For each `wanted` set, its leftmost-longest text in `haystack`, in
    /// one pass: the text's place in the set and its start (`None` for a
    /// set not wanted).
    ///
    /// A text starts where its prefix does, so the first place a prefix
    /// starts at which a whole text of a set follows is that set's leftmost
    /// match; there, the texts that may start are those of the longest
    /// prefix found, of every set. Of two texts of a set found at one place
    /// the longer wins (two of one length found there are the same text: its
    /// first place in the set wins, as the first listed does in a search of
    /// that set alone).
    pub(super) fn find(&self, haystack: &str, wanted: [bool; N]) -> [Option<(usize, usize)>; N] {
        let bytes = haystack.as_bytes();
        let mut found = [None; N];
        let mut open = wanted;
        let mut from = 0;
        while open.contains(&true)
            && let Some((start, prefix)) = self.next_prefix(bytes, from)
        {
            let rest = &bytes[start..];
            // Per set: (length, place) of the longest text found here.
            let mut best: [Option<(usize, usize)>; N] = [None; N];
            for &i in &self.texts_at[prefix] {
                let text = self.texts[i].as_bytes();
                if !rest.starts_with(text) {
                    continue;
                }
                for (set, place) in self.places[i].into_iter().enumerate() {
                    if let Some(place) = place
                        && open[set]
                        && best[set].is_none_or(|(len, _)| text.len() > len)
                    {
                        best[set] = Some((text.len(), place));
                    }
                }
            }
            for (set, best) in best.into_iter().enumerate() {
                if let Some((_, place)) = best {
                    found[set] = Some((place, start));
                    open[set] = false;
                }
            }
            // No whole text of an open set here: on from the next byte.
            from = start + 1;
        }
        found
    }

    /// The first place at or after `from` where a prefix starts, and the
    /// longest prefix starting there.
    fn next_prefix(&self, bytes: &[u8], from: usize) -> Option<(usize, usize)> {
        let rest = bytes.get(from..)?;
        let mut at = 0;
        while let Some((marked, start)) = self.next_marked(rest, at) {
            if let Some(prefix) = self.prefix_at(&rest[marked..], start) {
                return Some((from + marked, prefix));
            }
            at = marked + 1;
        }
        None
    }

    /// The first place of `rest` at or after `at` whose first `width`
    /// bytes have their bit set in the table, and those bytes as a number.
    /// Eight bytes are read as one number and masked while eight are left;
    /// the last places are padded.
    fn next_marked(&self, rest: &[u8], mut at: usize) -> Option<(usize, u64)> {
        let marked = |start: u64| {
            let bit = hash(start);
            self.table[bit >> 6] & (1 << (bit & 63)) != 0
        };
        while let Some(eight) = rest.get(at..).and_then(<[u8]>::first_chunk::<START>) {
            // Most places are turned away by their first two bytes, with
            // no hash to compute (the search of a Keycloak log's error
            // lines: a quarter fewer instructions, benches/README.md).
            let pair = usize::from(u16::from_le_bytes([eight[0], eight[1]]));
            if self.pairs[pair >> 6] & (1 << (pair & 63)) != 0 {
                let start = u64::from_le_bytes(*eight) & self.mask;
                if marked(start) {
                    return Some((at, start));
                }
            }
            at += 1;
        }
        while at + self.width <= rest.len() {
            let start = start_of(&rest[at..at + self.width]);
            if marked(start) {
                return Some((at, start));
            }
            at += 1;
        }
        None
    }

    /// The longest prefix `place` starts with, of those beginning with
    /// `start` (its first `width` bytes).
    fn prefix_at(&self, place: &[u8], start: u64) -> Option<usize> {
        self.by_start
            .get(&start)?
            .iter()
            .copied()
            .find(|&p| place.starts_with(self.prefixes[p].as_bytes()))
    }

    /// Heap bytes of the tables of first bytes and pairs and the
    /// prefixes' lists.
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        (self.table.len() + self.pairs.len()) * 8
            + self
                .by_start
                .values()
                .map(|l| l.len() * 8 + 32)
                .sum::<usize>()
    }
}

/// Up to [`START`] bytes as a little-endian number.
fn start_of(bytes: &[u8]) -> u64 {
    let mut word = [0; START];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// The table bit of a place's first bytes: the top [`TABLE_BITS`] bits of
/// a multiplicative hash.
fn hash(start: u64) -> usize {
    (start.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TABLE_BITS)) as usize
}

/// The first [`PREFIX`] bytes of `text`, cut back to a character boundary.
fn prefix_of(text: &str) -> &str {
    let mut end = text.len().min(PREFIX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::{AhoCorasick, MatchKind};
    use proptest::prelude::*;

    fn reference(texts: &[&str], haystack: &str) -> Option<(usize, usize)> {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(texts)
            .expect("reference automaton");
        ac.find(haystack)
            .map(|m| (m.pattern().as_usize(), m.start()))
    }

    const TEXTS: [&str; 13] = [
        "Code not valid",
        "Code not valid anymore",
        "Code not valid",
        "Invalid code verifier",
        "Token is not active",
        "Token is not active yet",
        "not active",
        "Session not active",
        "é session expirée",
        "Session",
        "active yet",
        "abcdefghijklmnop",
        "defg",
    ];

    #[test]
    fn longest_and_first_listed_win() {
        let search = PrefixSearch::new([&TEXTS]);
        for haystack in [
            "reason=\"Code not valid anymore\"",
            "reason=\"Code not valid\"",
            "x Token is not active yet, Session not active",
            "Session not active; Token is not active",
            "nothing here",
            "é session expirée é",
            "Code not vali",
            "a Session not active yet",
            "abcdefghijklX",
        ] {
            assert_eq!(
                search.find(haystack, [true])[0],
                reference(&TEXTS, haystack),
                "{haystack:?}"
            );
        }
    }

    /// Two sets drawn from [`TEXTS`], overlapping, one with a text twice.
    const SETS: [&[&str]; 2] = [
        &[
            TEXTS[0], TEXTS[1], TEXTS[3], TEXTS[6], TEXTS[8], TEXTS[11], TEXTS[6],
        ],
        &[
            TEXTS[4], TEXTS[5], TEXTS[0], TEXTS[7], TEXTS[9], TEXTS[10], TEXTS[12],
        ],
    ];

    /// One pass for both sets answers what each set's own search answers.
    fn same_in_sets(haystack: &str) -> Result<(), TestCaseError> {
        let search = PrefixSearch::new(SETS);
        let expected = SETS.map(|set| reference(set, haystack));
        prop_assert_eq!(
            search.find(haystack, [true, true]),
            expected,
            "{:?}",
            haystack
        );
        for (set, want) in [[true, false], [false, true]].into_iter().enumerate() {
            let one = search.find(haystack, want);
            prop_assert_eq!(one[set], expected[set], "set {} of {:?}", set, haystack);
            prop_assert_eq!(one[1 - set], None);
        }
        Ok(())
    }

    #[test]
    fn two_sets_in_one_pass_answer_as_each_alone() {
        for haystack in [
            "reason=\"Code not valid anymore\" Token is not active yet",
            "x Token is not active yet, Session not active",
            "é session expirée; Code not valid",
            "nothing here",
            "active yet Session",
        ] {
            same_in_sets(haystack).unwrap();
        }
    }

    /// Lines made of pieces of [`TEXTS`], cut short, and line noise.
    fn haystacks() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                (0..TEXTS.len(), 0..30usize).prop_map(|(i, cut)| {
                    let t = TEXTS[i];
                    let mut end = t.len().saturating_sub(cut % 8);
                    while !t.is_char_boundary(end) {
                        end -= 1;
                    }
                    t[..end].to_owned()
                }),
                "[ a-zA-Z\"=,é]{0,6}",
            ],
            0..8,
        )
        .prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]
        #[test]
        fn two_sets_answer_as_their_own_automata(haystack in haystacks()) {
            same_in_sets(&haystack)?;
        }
    }

    /// Texts shorter than the bytes the table is read by, beside longer
    /// ones that begin alike: every place is looked up.
    const SHORT: [&str; 6] = ["Co", "é", "Code not valid", "de", "Session", "valid"];

    #[test]
    fn a_text_shorter_than_a_start_is_still_found() {
        let search = PrefixSearch::new([&SHORT]);
        assert_eq!(search.width, 2, "the table is read by the shortest prefix");
        for haystack in ["Code not valid", "xCo", "a é b", "nothing", "C", "", "é"] {
            assert_eq!(
                search.find(haystack, [true])[0],
                reference(&SHORT, haystack),
                "{haystack:?}"
            );
        }
    }

    #[test]
    fn a_one_byte_text_is_found_anywhere() {
        // Its prefix has no second byte: no pair can turn a place away.
        let texts = ["é", "x", "Code not valid"];
        let search = PrefixSearch::new([&texts]);
        assert_eq!(search.width, 1);
        for haystack in [
            "a long line before an x and after it",
            "no such",
            "é at the start and more",
        ] {
            assert_eq!(
                search.find(haystack, [true])[0],
                reference(&texts, haystack),
                "{haystack:?}"
            );
        }
    }

    /// One set's search answers as that set's whole-text automaton.
    fn same_as_reference(texts: &[&str], haystack: &str) -> Result<(), TestCaseError> {
        let search = PrefixSearch::new([texts]);
        prop_assert_eq!(
            search.find(haystack, [true])[0],
            reference(texts, haystack),
            "{:?}",
            haystack
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]
        #[test]
        fn same_answer_as_the_whole_automaton(haystack in haystacks()) {
            same_as_reference(&TEXTS, &haystack)?;
        }

        #[test]
        fn short_texts_answer_as_the_whole_automaton(haystack in haystacks()) {
            same_as_reference(&SHORT, &haystack)?;
        }
    }
}
