//! Byte searches over the short spans a field ends within (a Rails pid's
//! bracket, a Keycloak value's quote, a log level's space), where
//! `memchr`'s call and setup cost more than the bytes it skips.
//!
//! Invariant: each answers what a byte loop over the same bytes answers.

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

#[cfg(test)]
mod tests {
    use super::*;

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
