//! Finding, with one vectorised search per chunk, the few lines of a large
//! file that can matter to its parser, so that `analyze` need not take the
//! others apart: a line that holds none of the parser's
//! [`LineParser::quiet_needles`](crate::LineParser::quiet_needles) and none
//! of the error words ([`crate::extract::ERROR_WORDS`]) is offered to the
//! parser's [`LineParser::skim`](crate::LineParser::skim) and fed only when
//! the parser declines.
//!
//! Invariant: [`Candidates::line`] answers [`Hint::Quiet`] only for a line
//! in which no needle starts; needles hold no newline, so a needle that
//! starts in a line ends in it (which needle a match reports, or whether
//! matches overlap, does not matter: one is enough). The answer is a
//! filter, never a decision: the parser's own rule decides.
//!
//! A line decoded from its file line (an escaped JSON string) can hold a
//! needle its file line did not (`\/oauth\/`). [`QuietSkip::may_complete`]
//! tells when it cannot: every needle in the decoded text that is not in the
//! file line covers a byte an escape decoded to, so when no such byte is in
//! any needle ([`ByteSet`]) the file line's answer holds for the text.

use aho_corasick::MatchKind;

use crate::multi_find::{FindIter, MultiFind};

/// What the needles found in one line say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// No needle: the parser may skim the line.
    Quiet,
    /// A needle, or no search made: the line is fed.
    Feed,
}

/// The needles of one parser, with the error words, as one searcher.
#[derive(Debug)]
pub struct QuietSkip {
    finder: MultiFind,
    /// Every byte of every needle.
    needle_bytes: ByteSet,
}

/// A set of byte values (what escapes decoded to, what needles hold).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    /// Adds every byte of `bytes`.
    pub fn add(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.add_byte(b));
    }

    /// Adds `b`.
    pub fn add_byte(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    /// Whether the two sets share a byte.
    pub fn meets(&self, other: &ByteSet) -> bool {
        self.0.iter().zip(other.0).any(|(a, b)| a & b != 0)
    }
}

impl QuietSkip {
    /// The searcher for the parser's quiet needles and the error words;
    /// `None` when the parser offers no needles (no rule: every line is
    /// fed).
    pub(crate) fn new(needles: &[&str]) -> Option<QuietSkip> {
        if needles.is_empty() {
            return None;
        }
        // Leftmost-first: a kind the packed (SIMD) searcher has (`multi_find.rs`).
        let all = || needles.iter().chain(crate::extract::ERROR_WORDS.iter());
        let finder = MultiFind::new(MatchKind::LeftmostFirst, all()).ok()?;
        let mut needle_bytes = ByteSet::default();
        all().for_each(|n| needle_bytes.add(n.as_bytes()));
        Some(QuietSkip {
            finder,
            needle_bytes,
        })
    }

    /// Whether a text decoded from a file line without needles can hold
    /// one: only when a byte its escapes decoded to (`made`) is in a
    /// needle. `false` means the file line's [`Hint::Quiet`] holds for the
    /// text; `true` asks for [`QuietSkip::holds_needle`].
    pub fn may_complete(&self, made: &ByteSet) -> bool {
        self.needle_bytes.meets(made)
    }

    /// Whether `text` holds a needle: for a record decoded from its file
    /// line (an escaped JSON string), whose line's hint says nothing of it.
    pub fn holds_needle(&self, text: &str) -> bool {
        self.finder.is_match(text)
    }

    /// The searcher, for the tests that hold it to the automaton's answers.
    #[cfg(test)]
    pub(crate) fn finder(&self) -> &MultiFind {
        &self.finder
    }

    /// The lines of `chunk`, asked in order.
    pub fn lines<'c>(&'c self, chunk: &'c str) -> Candidates<'c> {
        let mut hits = self.finder.find_iter(chunk);
        let next = hits.next().map(|m| m.start());
        Candidates { hits, next }
    }
}

/// The needles found in one chunk, consumed line by line.
pub struct Candidates<'c> {
    hits: FindIter<'c>,
    /// Where the next needle not yet passed starts.
    next: Option<usize>,
}

impl std::fmt::Debug for Candidates<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidates")
            .field("next", &self.next)
            .finish()
    }
}

impl Candidates<'_> {
    /// What the needles say of the chunk's bytes `start..end` (one line,
    /// without its newline). Lines must be asked in the order of the chunk.
    pub fn line(&mut self, start: usize, end: usize) -> Hint {
        while let Some(at) = self.next {
            if at >= start {
                return if at < end { Hint::Feed } else { Hint::Quiet };
            }
            self.next = self.hits.next().map(|m| m.start());
        }
        Hint::Quiet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each line's answer against a plain substring search of the same
    /// needles, on lines where the needles overlap or repeat.
    #[test]
    fn a_line_is_fed_exactly_when_a_needle_is_in_it() {
        let needles = ["/oauth/", " phase initiated.", "method"];
        let skip = QuietSkip::new(&needles).expect("needles");
        let chunk = "I, [x] Started GET \"/a\"\nplain line\nan invalid_grant here\n\n\
                     Started phase initiated.\nStarted GET \"/oauth/token\"\n\
                     SQL (0.1ms) SELECT\nerror and error  twice\nmethodmethod\nlast";
        let mut candidates = skip.lines(chunk);
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', chunk.as_bytes()).chain([chunk.len()]) {
            let line = &chunk[start..end];
            let fed = needles
                .iter()
                .chain(crate::extract::ERROR_WORDS.iter())
                .any(|n| line.contains(n));
            let expected = if fed { Hint::Feed } else { Hint::Quiet };
            assert_eq!(candidates.line(start, end), expected, "{line:?}");
            start = end + 1;
        }
    }

    /// `\/oauth\/` decodes to a needle its file line does not hold: a `/`
    /// made by an escape may complete one; a `"` (in no needle) cannot.
    #[test]
    fn an_escape_may_complete_a_needle_only_with_a_needle_byte() {
        let skip = QuietSkip::new(&["/oauth/", "Started "]).expect("needles");
        let mut slash = ByteSet::default();
        slash.add(b"/");
        assert!(skip.may_complete(&slash));
        let mut quote_and_lt = ByteSet::default();
        quote_and_lt.add(b"\"<>");
        assert!(!skip.may_complete(&quote_and_lt));
        assert!(!skip.may_complete(&ByteSet::default()));
        // High bytes and each word of the set.
        let mut high = ByteSet::default();
        high.add(&[0xff, 0x80, 0x40, 0x3f]);
        let mut other = ByteSet::default();
        other.add(&[0xfe, 0x81, 0x41, 0x3e]);
        assert!(!high.meets(&other));
        other.add(&[0x80]);
        assert!(high.meets(&other));
    }

    #[test]
    fn no_needles_no_rule() {
        assert!(QuietSkip::new(&[]).is_none());
    }
}
