//! Constant substrings searched for in every line or error record, each
//! with its searcher built once. Building a substring searcher
//! (`str::find`, `memmem::find`) costs about as much as running it over a
//! line: the extractor looks for some twenty fixed words in each error
//! record, the envelope for nine keys in each JSON line, Hydra and Keycloak
//! for the words their lines are recognised by, and searchers built anew
//! each time were a fifth of extracting an error and a seventh of reading
//! a Hydra log (benches/README.md).
//!
//! Invariant: [`Needle::find`] answers what `haystack.find(text)` answers,
//! [`Needle::is_in_from_end`] what `haystack.contains(text)` does.

use std::sync::OnceLock;

use memchr::memmem::{FindIter, Finder};

/// How far from a haystack's end [`Needle::is_in_from_end`] looks first.
const TAIL: usize = 256;

/// A constant substring and its searcher, built on first use.
pub(crate) struct Needle {
    text: &'static str,
    finder: OnceLock<Finder<'static>>,
}

impl Needle {
    /// The needle `text` (its searcher is built when first asked).
    pub(crate) const fn new(text: &'static str) -> Needle {
        Needle {
            text,
            finder: OnceLock::new(),
        }
    }

    /// The searched text.
    pub(crate) fn text(&self) -> &'static str {
        self.text
    }

    fn finder(&self) -> &Finder<'static> {
        self.finder.get_or_init(|| Finder::new(self.text))
    }

    /// Where the first occurrence in `haystack` starts.
    pub(crate) fn find(&self, haystack: &str) -> Option<usize> {
        self.finder().find(haystack.as_bytes())
    }

    /// Whether `haystack` holds the needle.
    pub(crate) fn is_in(&self, haystack: &str) -> bool {
        self.find(haystack).is_some()
    }

    /// Whether `haystack` holds the needle, looked for in its last
    /// [`TAIL`] bytes first: for a word that, where a line holds it, sits
    /// near the line's end (the last keys of a logrus JSON line, whose keys
    /// are sorted), a search from the start reads nearly the whole line.
    /// (memchr's reverse searcher has no vectorised prefilter: with it the
    /// Hydra slice of benches/README.md took 1,264 M instructions, not
    /// 1,145 M.)
    pub(crate) fn is_in_from_end(&self, haystack: &str) -> bool {
        let bytes = haystack.as_bytes();
        let tail = bytes.len().saturating_sub(TAIL);
        // Then the places before the tail, and no further than a needle
        // starting at the last of them reaches: the tail was read.
        let head = (tail + self.text.len()).saturating_sub(1).min(bytes.len());
        self.finder().find(&bytes[tail..]).is_some()
            || (tail > 0 && self.finder().find(&bytes[..head]).is_some())
    }

    /// Where each occurrence in `haystack` starts, left to right, without
    /// overlaps (as `memmem::find_iter`).
    pub(crate) fn find_iter<'h>(&'h self, haystack: &'h str) -> FindIter<'h, 'h> {
        self.finder().find_iter(haystack.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_needle_finds_what_str_find_finds() {
        let texts = [
            "",
            "HTTP/1.1 400",
            "xHTTP/HTTP/",
            "no such",
            "HTTPHTTP/2 401 HTTP/",
        ];
        let needle = Needle::new("HTTP/");
        for t in texts {
            assert_eq!(needle.find(t), t.find("HTTP/"), "{t:?}");
            assert_eq!(needle.is_in(t), t.contains("HTTP/"), "{t:?}");
            assert_eq!(needle.is_in_from_end(t), t.contains("HTTP/"), "{t:?}");
            let all: Vec<usize> = needle.find_iter(t).collect();
            let expected: Vec<usize> = t.match_indices("HTTP/").map(|(i, _)| i).collect();
            assert_eq!(all, expected, "{t:?}");
        }
        assert_eq!(needle.text(), "HTTP/");
    }

    #[test]
    fn a_long_haystack_holds_the_needle_wherever_it_is() {
        // Past the tail looked at first, straddling its start, in it, at
        // the very end, and nowhere.
        let needle = Needle::new("\"msg\":");
        for len in [TAIL - 1, TAIL, TAIL + 7, 3 * TAIL] {
            for at in (0..=len - 6).chain([len - TAIL.min(len)]) {
                for at in at.saturating_sub(3)..=(at + 3).min(len - 6) {
                    let mut text = "x".repeat(len);
                    text.replace_range(at..at + 6, "\"msg\":");
                    assert!(needle.is_in_from_end(&text), "{len} {at}");
                }
            }
            assert!(!needle.is_in_from_end(&"\"msg\"".repeat(len / 5)), "{len}");
        }
    }
}
