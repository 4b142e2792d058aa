//! The bytes a Keycloak event line's keys are made of, and the search for
//! the first byte past a key, which every value's end asks
//! (`event_line.rs`).
//!
//! Invariant: [`first_non_key_byte`] answers what a byte loop over
//! [`KEY_BYTES`] answers, on any bytes.

/// The bytes keys are made of: ASCII letters and digits, `_`, `-`, `.`.
/// A table: every value's end is tested for a key after it.
const KEY_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.';
        b += 1;
    }
    table
};

/// Where the first byte that is not a key byte sits, sixteen bytes a step
/// with SSE2 (which every x86-64 processor has), the rest a byte at a time:
/// every value's end measures the key after it, and measured a byte at a
/// time the ends of a Keycloak log's values took 15% more instructions
/// (benches/README.md).
pub(super) fn first_non_key_byte(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    #[cfg(target_arch = "x86_64")]
    while at + 16 <= bytes.len() {
        let keys = sse2::key_bytes16(&bytes[at..at + 16]);
        if keys != 0xFFFF {
            return Some(at + (!keys).trailing_zeros() as usize);
        }
        at += 16;
    }
    bytes[at..]
        .iter()
        .position(|&b| !KEY_BYTES[usize::from(b)])
        .map(|i| at + i)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
        _mm_or_si128, _mm_set1_epi8,
    };

    /// Bit `i` set when byte `i` of sixteen is a key byte ([`KEY_BYTES`](super::KEY_BYTES)).
    #[inline]
    pub(super) fn key_bytes16(step: &[u8]) -> u32 {
        assert!(step.len() >= 16);
        // SAFETY: the assert above keeps the 16-byte unaligned load inside
        // `step`; SSE2 is part of every x86-64 target.
        let marks = unsafe {
            let byte = |b: u8| _mm_set1_epi8(i8::from_le_bytes([b]));
            let x = _mm_loadu_si128(step.as_ptr().cast::<__m128i>());
            // `x - lo <= span`, unsigned: the smaller of it and `span` is it.
            let within = |v: __m128i, lo: u8, span: u8| {
                let shifted = _mm_add_epi8(v, byte(lo.wrapping_neg()));
                _mm_cmpeq_epi8(_mm_min_epu8(shifted, byte(span)), shifted)
            };
            let digit = within(x, b'0', 9);
            // A letter of either case: upper case made lower by its 0x20 bit.
            let letter = within(_mm_or_si128(x, byte(0x20)), b'a', 25);
            let marks = [b'_', b'-', b'.']
                .iter()
                .fold(_mm_or_si128(digit, letter), |m, &c| {
                    _mm_or_si128(m, _mm_cmpeq_epi8(x, byte(c)))
                });
            _mm_movemask_epi8(marks)
        };
        u32::from_le_bytes(marks.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first byte that is not a key byte, found sixteen at a time, is
    /// the one a byte loop finds: every byte value, at every place of spans
    /// of every length up to three steps.
    #[test]
    fn the_first_non_key_byte_is_the_byte_loops() {
        let reference = |bytes: &[u8]| bytes.iter().position(|&b| !KEY_BYTES[usize::from(b)]);
        let key: Vec<u8> = b"clientId_type-x.9ZAz"
            .iter()
            .copied()
            .cycle()
            .take(48)
            .collect();
        for len in 0..=48 {
            assert_eq!(
                first_non_key_byte(&key[..len]),
                reference(&key[..len]),
                "{len}"
            );
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut span = key[..len].to_vec();
                    span[at] = b;
                    assert_eq!(
                        first_non_key_byte(&span),
                        reference(&span),
                        "{b} at {at} of {len}"
                    );
                }
            }
        }
    }
}
