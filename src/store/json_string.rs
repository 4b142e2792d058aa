//! JSON strings written as `serde_json` writes them, with the bytes that
//! need no escape found sixteen at a time: a failure's evidence lines are
//! most of its JSON, and `serde_json` looks at each byte of them in turn
//! (its string writer was a sixtieth of a Keycloak log's analysis and a
//! failure's largest cost after its diagnosis, benches/README.md).
//!
//! Invariant: [`write_str`] writes exactly what `serde_json::to_writer`
//! writes for the same `&str`: `"` and `\` escaped with a backslash, the
//! control bytes `\b \t \n \f \r` by their letters and the others as
//! `\u00xx` in lowercase hex, every other byte (`/`, DEL, UTF-8 beyond
//! ASCII) as it is.

/// Writes `text` as a JSON string, quotes included.
pub(super) fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut copied = 0;
    while let Some(at) = next_special(bytes, copied) {
        out.extend_from_slice(&bytes[copied..at]);
        escape(out, bytes[at]);
        copied = at + 1;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

/// Writes `text` as [`write_str`] does, or `null`.
pub(super) fn write_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => write_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// Whether a byte is written escaped.
fn is_special(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The first byte at or after `from` that is written escaped.
fn next_special(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = bytes.get(at..at + 16) {
        let marks = sse2::specials(block);
        if marks != 0 {
            return Some(at + marks.trailing_zeros() as usize);
        }
        at += 16;
    }
    bytes
        .get(at..)?
        .iter()
        .position(|&b| is_special(b))
        .map(|i| at + i)
}

fn escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0a => b'n',
        0x0c => b'f',
        0x0d => b'r',
        _ => {
            let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]];
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&hex);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// Bit `i` set when byte `i` of the sixteen of `block` is written
    /// escaped: a quote, a backslash, or 0x1f and below.
    #[inline]
    pub(super) fn specials(block: &[u8]) -> u32 {
        assert!(block.len() >= 16);
        let byte = |x: u8| i8::from_le_bytes([x]);
        // SAFETY: the assert keeps the 16-byte unaligned load inside
        // `block`; SSE2 is part of every x86-64 target.
        let marks = unsafe {
            let x = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let low = _mm_set1_epi8(byte(0x1f));
            // Unsigned: at most 0x1f where the maximum with 0x1f is 0x1f.
            let control = _mm_cmpeq_epi8(_mm_max_epu8(x, low), low);
            let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(byte(b'"')));
            let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(byte(b'\\')));
            _mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash)))
        };
        u32::from_le_bytes(marks.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn written(text: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, text);
        String::from_utf8(out).expect("UTF-8")
    }

    /// Every byte value below 0x80 and a few above, at every place of
    /// strings under, at and over a step of sixteen.
    #[test]
    fn every_byte_at_every_place_is_written_as_serde_writes_it() {
        let chars = (0u8..0x80)
            .map(char::from)
            .chain(['é', '日', '\u{7f}', '\u{2028}']);
        for c in chars {
            for len in [0, 1, 15, 16, 17, 31, 33] {
                for at in 0..=len {
                    let mut text: String = "a".repeat(len);
                    text.insert(at, c);
                    let serde = serde_json::to_string(&text).expect("serde");
                    assert_eq!(written(&text), serde, "{c:?} at {at} of {len}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn any_string_is_written_as_serde_writes_it(text in any::<String>()) {
            prop_assert_eq!(written(&text), serde_json::to_string(&text).expect("serde"));
        }

        #[test]
        fn strings_of_log_bytes_are_written_as_serde_writes_them(
            text in "[ -~\t\n\r\u{1}\u{1b}\"\\\\é]{0,80}",
        ) {
            prop_assert_eq!(written(&text), serde_json::to_string(&text).expect("serde"));
        }
    }
}
