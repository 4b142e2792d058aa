//! Whether a JSON line holds one of the keys that make it worth parsing as
//! a shipper's envelope (`"log"`, `"MESSAGE"`, …): asked of every line that
//! starts with `{`, and nearly every such line (an app's or a server's own
//! JSON, Hydra's) holds none. Nine substring searches read the whole line
//! nine times: a ninth of reading a Hydra log (benches/README.md). Here the
//! keys without their opening quote are searched at once by the packed
//! (Teddy) searcher, and a match counts when a quote comes before it. With
//! the quote, every key starts with the byte a JSON line is fullest of,
//! and the searcher stopped at nearly every key of the line; without it,
//! their first bytes are rare together (`log`, `MES`, `sou`, …), and the
//! search read a Hydra line in fewer instructions than the thirty-two-byte
//! pass that compared every place with every key (benches/README.md).
//!
//! Invariant: [`holds_key`] answers what a substring search for each of
//! [`KEYS`] answers, on any line (`keys_tests` compares them).

use std::sync::LazyLock;

use crate::multi_find::MultiFind;

/// The keys, each with its quotes: every one starts with `"`, a letter,
/// and ends with `"`.
pub(super) const KEYS: [&str; 9] = [
    "\"log\"",
    "\"MESSAGE\"",
    "\"source_type\"",
    "\"kubernetes\"",
    "\"resourceLogs\"",
    "\"timeUnixNano\"",
    "\"events\"",
    "\"logStreamName\"",
    "\"body\"",
];

/// The keys without their opening quote, searched at once.
static UNQUOTED: LazyLock<MultiFind> = LazyLock::new(|| {
    // The patterns are constants, so building cannot fail.
    MultiFind::new(
        aho_corasick::MatchKind::LeftmostFirst,
        KEYS.iter().map(|key| &key[1..]),
    )
    .unwrap_or_else(|e| unreachable!("constant patterns: {e}"))
});

/// Whether `line` holds one of [`KEYS`].
pub(super) fn holds_key(line: &str) -> bool {
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(found) = UNQUOTED.find_from(line, from) {
        if found.start() > 0 && bytes[found.start() - 1] == b'"' {
            return true;
        }
        // The next search starts one byte on (an ASCII byte's end), so a
        // key that starts inside this match is not passed over.
        from = found.start() + 1;
    }
    false
}

/// [`holds_key`] by a substring search for each key.
#[cfg(test)]
pub(super) fn holds_key_by_search(line: &str) -> bool {
    KEYS.iter().any(|key| line.contains(key))
}

#[cfg(test)]
#[path = "shipper_keys_tests.rs"]
mod keys_tests;
