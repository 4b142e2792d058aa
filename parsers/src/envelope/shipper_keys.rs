//! Whether a JSON line holds one of the keys that make it worth parsing as
//! a shipper's envelope (`"log"`, `"MESSAGE"`, …): asked of every line that
//! starts with `{`, and nearly every such line (an app's or a server's own
//! JSON, Hydra's) holds none. Nine substring searches read the whole line
//! nine times: a ninth of reading a Hydra log (benches/README.md). Here one
//! pass over the line, thirty-two bytes a step on AVX2, marks the places
//! where a quote, a key's first letter and a quote a key's length further
//! on line up; only those are compared with the keys.
//!
//! Invariant: [`holds_key`] answers what a substring search for each of
//! [`KEYS`] answers, on any line (`keys_tests` compares them).

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

/// The longest key's length: a step reads this many bytes past its block.
#[cfg(target_arch = "x86_64")]
const LONGEST: usize = 15;

/// Bytes one step looks at.
#[cfg(target_arch = "x86_64")]
const BLOCK: usize = 32;

/// Whether `line` holds one of [`KEYS`].
pub(super) fn holds_key(line: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, asked just above.
        return unsafe { holds_key_avx2(line.as_bytes()) };
    }
    holds_key_by_search(line)
}

/// [`holds_key`] by a substring search for each key.
pub(super) fn holds_key_by_search(line: &str) -> bool {
    use crate::needle::Needle;
    static SEARCHES: [Needle; 9] = [
        Needle::new(KEYS[0]),
        Needle::new(KEYS[1]),
        Needle::new(KEYS[2]),
        Needle::new(KEYS[3]),
        Needle::new(KEYS[4]),
        Needle::new(KEYS[5]),
        Needle::new(KEYS[6]),
        Needle::new(KEYS[7]),
        Needle::new(KEYS[8]),
    ];
    SEARCHES.iter().any(|key| key.is_in(line))
}

/// Whether one of [`KEYS`] starts at `at` of `bytes`.
#[cfg(target_arch = "x86_64")]
fn key_at(bytes: &[u8], at: usize) -> bool {
    let rest = bytes.get(at..).unwrap_or_default();
    KEYS.iter().any(|key| rest.starts_with(key.as_bytes()))
}

/// [`holds_key`] on AVX2: blocks whose every read lies in `bytes`, then the
/// rest copied into a buffer padded with zero bytes (never a quote, so a
/// padded place is never a candidate; a candidate is compared on `bytes`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn holds_key_avx2(bytes: &[u8]) -> bool {
    let mut at = 0;
    while at + BLOCK + LONGEST <= bytes.len() {
        if block_has_key(bytes, at, candidates(&bytes[at..at + BLOCK + LONGEST])) {
            return true;
        }
        at += BLOCK;
    }
    // At most BLOCK + LONGEST - 1 bytes are left: two padded steps.
    let rest = &bytes[at..];
    let mut padded = [0u8; 2 * BLOCK + LONGEST];
    padded[..rest.len()].copy_from_slice(rest);
    (0..2).any(|step| {
        let from = step * BLOCK;
        let window = &padded[from..from + BLOCK + LONGEST];
        block_has_key(bytes, at + from, candidates(window))
    })
}

/// Whether a candidate of `marks` (bit `i`: the place `start + i`) is a key.
#[cfg(target_arch = "x86_64")]
fn block_has_key(bytes: &[u8], start: usize, mut marks: u32) -> bool {
    while marks != 0 {
        if key_at(bytes, start + marks.trailing_zeros() as usize) {
            return true;
        }
        marks &= marks - 1;
    }
    false
}

/// Bit `i` set when place `i` of the first [`BLOCK`] bytes of `window`
/// (which holds [`LONGEST`] more) may start a key: a quote there, one of the
/// keys' first letters after it, and a quote where that key of that letter
/// ends.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn candidates(window: &[u8]) -> u32 {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8, _mm256_setzero_si256,
    };
    debug_assert!(window.len() >= BLOCK + LONGEST);
    let load = |from: usize| -> __m256i {
        // A window holds a block past each offset asked (at most LONGEST - 1).
        let block = &window[from..from + BLOCK];
        // SAFETY: `block` is BLOCK readable bytes; the load is unaligned.
        unsafe { _mm256_loadu_si256(block.as_ptr().cast()) }
    };
    let is = |v: __m256i, b: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(i8::from_le_bytes([b])));
    let quote = is(load(0), b'"');
    let letters = load(1);
    let mut any = _mm256_setzero_si256();
    for key in KEYS {
        let k = key.as_bytes();
        let ends = is(load(k.len() - 1), b'"');
        let starts = is(letters, k[1]);
        any = _mm256_or_si256(any, _mm256_and_si256(starts, ends));
    }
    let found = _mm256_and_si256(quote, any);
    u32::from_le_bytes(_mm256_movemask_epi8(found).to_le_bytes())
}

#[cfg(test)]
#[path = "shipper_keys_tests.rs"]
mod keys_tests;
