//! Byte searches over the short spans a field ends within (a Rails pid's
//! bracket, a Keycloak value's quote, a log level's space), where
//! `memchr`'s call and setup cost more than the bytes it skips.
//!
//! Invariant: each answers what a byte loop over the same bytes answers.

/// Eight bytes of `b` from `at`, as one word (little-endian); `None` when
/// fewer are left.
pub(crate) fn word(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The first `needle` in `hay`, eight bytes at a time: the lowest byte the
/// zero-byte test marks is always a true match (a false mark can only sit
/// above a true one), so the answer is exact.
pub(crate) fn first_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let spread = LO * u64::from(needle);
    let mut words = hay.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let x = u64::from_le_bytes(eight) ^ spread;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&c| c == needle)
        .map(|i| at + i)
}

/// The first byte of `hay` that is `a` or `b`: sixteen bytes a step with
/// SSE2 (part of every x86-64 target), the last ones a byte at a time. An
/// event's ids are tens of bytes, where `memchr2`'s call and setup were
/// about seventy instructions an id (a cut's marker looked for in each:
/// a sixtieth of analysing a Keycloak log, benches/README.md).
pub(crate) fn first_of_two(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    let mut at = 0;
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = hay.get(at..at + 16) {
        let marks = sse2::marks(block, a, b);
        if marks != 0 {
            return Some(at + marks.trailing_zeros() as usize);
        }
        at += 16;
    }
    hay[at..]
        .iter()
        .position(|&c| c == a || c == b)
        .map(|i| at + i)
}

/// Bit `i` set when byte `i` of the first sixteen of `block` (which
/// holds at least sixteen) is `needle`: one SSE2 compare on x86-64.
#[inline]
pub(crate) fn marks16(block: &[u8], needle: u8) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::marks(block, needle, needle)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        block[..16]
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c == needle)
            .fold(0, |m, (i, _)| m | 1 << i)
    }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// Bit `i` set when byte `i` of the sixteen of `block` is `a` or `b`.
    #[inline]
    pub(super) fn marks(block: &[u8], a: u8, b: u8) -> u32 {
        assert!(block.len() >= 16);
        let byte = |x: u8| i8::from_le_bytes([x]);
        // SAFETY: the assert keeps the 16-byte unaligned load inside
        // `block`; SSE2 is part of every x86-64 target.
        let marks = unsafe {
            let x = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let either = _mm_or_si128(
                _mm_cmpeq_epi8(x, _mm_set1_epi8(byte(a))),
                _mm_cmpeq_epi8(x, _mm_set1_epi8(byte(b))),
            );
            _mm_movemask_epi8(either)
        };
        u32::from_le_bytes(marks.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every place of spans of 0 to 48 bytes (under,
    /// at and over a step, with a tail), alone and after the other needle:
    /// the first of either, as a byte loop finds it.
    #[test]
    fn first_of_two_finds_what_a_byte_loop_finds() {
        for (a, b) in [(b'.', 0xe2), (b'\\', b'\\'), (0x00, 0xff)] {
            for len in 0..=48 {
                for at in 0..len {
                    for value in 0..=255u8 {
                        let mut hay = vec![b'x'; len];
                        hay[at] = value;
                        if at + 2 < len {
                            hay[at + 2] = b;
                        }
                        let expected = hay.iter().position(|&c| c == a || c == b);
                        assert_eq!(first_of_two(&hay, a, b), expected, "{a} {b} in {hay:?}");
                    }
                }
            }
        }
    }

    /// Each byte value at each place of a block, the block longer than
    /// sixteen too: the marks are the places of the first sixteen that a
    /// byte loop finds the needle at.
    #[test]
    fn marks16_marks_what_a_byte_loop_finds() {
        for needle in [b']', b'#', 0x00, 0x80, 0xff] {
            for at in 0..20 {
                for value in 0..=255u8 {
                    let mut block = [needle ^ 1; 20];
                    block[at] = value;
                    block[(at + 7) % 20] = needle;
                    let expected = (0..16)
                        .filter(|&i| block[i] == needle)
                        .fold(0u32, |m, i| m | 1 << i);
                    assert_eq!(marks16(&block, needle), expected, "{needle} in {block:?}");
                }
            }
        }
    }

    /// The word-at-a-time search answers what a byte loop does, wherever
    /// the byte sits and whatever surrounds it: bytes one off the needle,
    /// its high-bit twin and zero bytes, the ones a zero-byte test can
    /// mistake, before and after it.
    #[test]
    fn first_byte_finds_what_a_byte_loop_finds() {
        for needle in [b']', b'"', b'\'', 0x00, 0x80, 0xff] {
            let near = [
                needle,
                needle.wrapping_add(1),
                needle.wrapping_sub(1),
                needle ^ 0x80,
                0x00,
                0x01,
                0xff,
                b'a',
            ];
            for len in 0..40 {
                for seed in 0..64usize {
                    let hay: Vec<u8> = (0..len)
                        .map(|i| near[(i * 7 + seed * 13 + i * i * seed) % near.len()])
                        .collect();
                    let expected = hay.iter().position(|&b| b == needle);
                    assert_eq!(first_byte(&hay, needle), expected, "{needle} in {hay:?}");
                }
            }
        }
        assert_eq!(first_byte(b"no bracket here at all", b']'), None);
        assert_eq!(first_byte(b"abcdefg]\\]\\", b']'), Some(7));
    }
}
