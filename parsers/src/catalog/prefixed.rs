//! A leftmost-longest search over many long texts, found by their first
//! [`PREFIX`] bytes and then checked whole.
//!
//! The catalog's identifying texts and provider sentences are several
//! hundred patterns: an automaton over all their bytes is too large to run
//! as a DFA (about 30 MB each, benches/README.md) and its NFA cost about 40
//! instructions a byte of every error record searched. Their first bytes
//! make an automaton a twentieth the size (1.6 MB), small enough for a DFA; the
//! first place one of them starts is then checked for the whole texts that
//! may start there, and the search goes on after it when none does.
//!
//! Several sets of texts share one automaton and one pass
//! ([`PrefixSearch::find`]): the catalog searches an error record
//! for the texts that identify a server and for the sentences that name a
//! cause, and the two passes over each of a Keycloak log's error lines
//! (560 bytes) were nearly half of reading those lines; in one pass they
//! read a quarter faster (benches/README.md).
//!
//! Invariant: [`PrefixSearch::find`] answers for each set what
//! `aho-corasick`'s leftmost-longest search over the whole texts of that
//! set answers — the match that starts first; of those,
//! the longest; of equal ones, the text listed first (`tests` compares the
//! two on generated texts).

use std::collections::HashMap;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// Bytes of each text the automaton holds.
const PREFIX: usize = 8;

/// Texts of `N` sets searched by their prefixes, each set for its own
/// leftmost-longest text, all in one pass.
pub(super) struct PrefixSearch<const N: usize> {
    /// The distinct prefixes (a text shorter than [`PREFIX`] is its own).
    prefixes: Vec<String>,
    /// Their automaton, leftmost-longest (where several start at one place,
    /// the longest, which every other one starting there begins), built at
    /// the first search: a log whose records never reach this search (a
    /// Hydra log's JSON names its error) does not pay the 50 million
    /// instructions of building it.
    automaton: OnceLock<AhoCorasick>,
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
        PrefixSearch {
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            automaton: OnceLock::new(),
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
        let automaton = self.automaton();
        let bytes = haystack.as_bytes();
        let mut found = [None; N];
        let mut open = wanted;
        let mut from = 0;
        while open.contains(&true)
            && let Some(m) = automaton.find(&haystack[from..])
        {
            let start = from + m.start();
            let rest = &bytes[start..];
            // Per set: (length, place) of the longest text found here.
            let mut best: [Option<(usize, usize)>; N] = [None; N];
            for &i in &self.texts_at[m.pattern().as_usize()] {
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
            // No whole text of an open set here: on from the next character.
            from = start + haystack[start..].chars().next().map_or(1, char::len_utf8);
        }
        found
    }

    fn automaton(&self) -> &AhoCorasick {
        self.automaton.get_or_init(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&self.prefixes)
                .unwrap_or_else(|e| unreachable!("catalog prefixes: {e}"))
        })
    }

    /// Heap bytes of the automaton.
    #[cfg(test)]
    pub(super) fn automaton_bytes(&self) -> usize {
        self.automaton().memory_usage()
    }
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]
        #[test]
        fn same_answer_as_the_whole_automaton(haystack in haystacks()) {
            let search = PrefixSearch::new([&TEXTS]);
            prop_assert_eq!(search.find(&haystack, [true])[0], reference(&TEXTS, &haystack), "{:?}", haystack);
        }
    }
}
