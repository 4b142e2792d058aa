//! The automata over the catalog's texts, built once with it.
//!
//! - `all`: every contained text and code, each distinct text one pattern,
//!   searched with overlapping matches so a field yields every entry it
//!   holds in one pass (codes then checked for word boundaries).
//! - `exact`: whole-field texts by their lowercased, trimmed form.
//! - `ident`: the contained texts that identify a server, leftmost-longest
//!   so that the result does not depend on file order.
//! - `words`: the contained texts that name a cause and are long enough
//!   ([`WORDS_MIN`]) to be a provider's sentence rather than a common
//!   phrase, of every provider (also those naming no server), leftmost-longest.
//!
//! `ident` and `words` search every error record, so they are found by their
//! first bytes and checked whole, both sets in one pass when a caller asks
//! for both (`prefixed.rs`).
//!
//! Invariant: patterns come from the embedded catalog; the builders only
//! fail on pattern sets far beyond its size, which the catalog tests would
//! show.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind as AcKind};

use super::entry::{Entry, MatchKind, Provider};
use super::prefixed::PrefixSearch;

/// An identifying text found in a longer text.
#[derive(Clone, Copy, Debug)]
pub struct Hit<'c> {
    /// The entry found.
    pub entry: &'c Entry,
    /// Where its text starts.
    pub start: usize,
}

pub(super) struct Index {
    all: AhoCorasick,
    /// Per pattern of `all`: the entries with that text.
    all_entries: Vec<Vec<usize>>,
    exact: HashMap<String, Vec<usize>>,
    /// The longest exact text: longer fields skip the lookup.
    exact_max: usize,
    /// The texts of `ident` and of `words`, one search.
    prefixed: PrefixSearch<2>,
    ident_entries: Vec<usize>,
    ident_exact: HashMap<String, usize>,
    words_entries: Vec<usize>,
}

/// The sets of [`Index::prefixed`]: which [`Index::find`] looks for.
const IDENT: [bool; 2] = [true, false];
const WORDS: [bool; 2] = [false, true];
const BOTH: [bool; 2] = [true, true];

/// The shortest contained text [`Index::words_in`] looks for: shorter ones
/// (`Invalid scopes: `, an error code) are field values, not sentences that
/// mark a line as an error on their own.
const WORDS_MIN: usize = 24;

fn build(kind: AcKind, patterns: &[&str]) -> AhoCorasick {
    AhoCorasick::builder()
        .match_kind(kind)
        .build(patterns)
        .unwrap_or_else(|e| unreachable!("catalog patterns: {e}"))
}

impl Index {
    pub(super) fn build(providers: &[Provider], entries: &[Entry]) -> Index {
        let mut texts: Vec<&str> = Vec::new();
        let mut by_text: HashMap<&str, usize> = HashMap::new();
        let mut all_entries: Vec<Vec<usize>> = Vec::new();
        let mut exact: HashMap<String, Vec<usize>> = HashMap::new();
        let mut ident_texts: Vec<&str> = Vec::new();
        let mut ident_entries = Vec::new();
        let mut ident_exact = HashMap::new();
        let mut words_texts: Vec<&str> = Vec::new();
        let mut words_entries = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let identifies = providers[e.provider].server.is_some() && e.identifies != Some(false);
            match e.kind {
                MatchKind::Exact => {
                    exact
                        .entry(e.text.trim().to_ascii_lowercase())
                        .or_default()
                        .push(i);
                    if identifies {
                        ident_exact.entry(e.text.trim().to_owned()).or_insert(i);
                    }
                }
                MatchKind::Contains | MatchKind::Code => {
                    let p = *by_text.entry(e.text.as_str()).or_insert_with(|| {
                        texts.push(e.text.as_str());
                        all_entries.push(Vec::new());
                        texts.len() - 1
                    });
                    all_entries[p].push(i);
                    if identifies && e.kind == MatchKind::Contains {
                        ident_texts.push(e.text.as_str());
                        ident_entries.push(i);
                    }
                    if e.kind == MatchKind::Contains
                        && e.cause != "unknown"
                        && e.text.trim().len() >= WORDS_MIN
                        && !words_texts.contains(&e.text.as_str())
                    {
                        words_texts.push(e.text.as_str());
                        words_entries.push(i);
                    }
                }
            }
        }
        Index {
            all: build(AcKind::Standard, &texts),
            all_entries,
            exact_max: entries
                .iter()
                .filter(|e| e.kind == MatchKind::Exact)
                .map(|e| e.text.trim().len())
                .max()
                .unwrap_or(0),
            exact,
            prefixed: PrefixSearch::new([&ident_texts, &words_texts]),
            ident_entries,
            ident_exact,
            words_entries,
        }
    }

    /// Indices of every entry matching the field `value`, in catalog order,
    /// each once.
    pub(super) fn matches(&self, value: &str, entries: &[Entry]) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        let bytes = value.as_bytes();
        for m in self.all.find_overlapping_iter(value) {
            for &i in &self.all_entries[m.pattern().as_usize()] {
                let whole_word = || {
                    let before = m.start() == 0 || !is_word(bytes[m.start() - 1]);
                    let after = bytes.get(m.end()).is_none_or(|&b| !is_word(b));
                    before && after
                };
                if entries[i].kind == MatchKind::Code && !whole_word() {
                    continue;
                }
                out.push(i);
            }
        }
        let trimmed = value.trim();
        if trimmed.len() <= self.exact_max
            && let Some(list) = self.exact.get(&trimmed.to_ascii_lowercase())
        {
            out.extend(list);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    pub(super) fn identify_in(&self, text: &str) -> Option<(usize, usize)> {
        self.find(text, IDENT)[0]
    }

    pub(super) fn words_in(&self, text: &str) -> Option<(usize, usize)> {
        self.find(text, WORDS)[1]
    }

    /// [`Index::identify_in`] and [`Index::words_in`] in one pass.
    pub(super) fn both_in(&self, text: &str) -> [Option<(usize, usize)>; 2] {
        self.find(text, BOTH)
    }

    /// The `wanted` sets' leftmost-longest texts in `text`: each one's entry
    /// and start.
    fn find(&self, text: &str, wanted: [bool; 2]) -> [Option<(usize, usize)>; 2] {
        let [ident, words] = self.prefixed.find(text, wanted);
        let entry = |entries: &[usize], hit: Option<(usize, usize)>| {
            hit.and_then(|(place, start)| Some((*entries.get(place)?, start)))
        };
        [
            entry(&self.ident_entries, ident),
            entry(&self.words_entries, words),
        ]
    }

    /// The entries of the `ident` and `words` sets, each in its order,
    /// for the tests.
    #[cfg(test)]
    pub(super) fn set_entries(&self) -> [&[usize]; 2] {
        [&self.ident_entries, &self.words_entries]
    }

    /// Each wanted set's leftmost-longest text: its place in the set (of
    /// [`Index::set_entries`]) and its start, for the tests.
    #[cfg(test)]
    pub(super) fn places_in(&self, text: &str, wanted: [bool; 2]) -> [Option<(usize, usize)>; 2] {
        self.prefixed.find(text, wanted)
    }

    /// Heap bytes of the prefix search, for the tests.
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        self.prefixed.heap_bytes()
    }

    pub(super) fn identify_exact(&self, description: &str) -> Option<usize> {
        self.ident_exact.get(description.trim()).copied()
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
