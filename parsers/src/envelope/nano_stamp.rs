//! The stamp a container runtime writes on nearly every line —
//! `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, Go's RFC3339Nano in UTC with all nine
//! fraction digits, as CRI files and docker's json-file driver carry it —
//! checked thirty bytes at once: two sixteen-byte steps (bytes 0..16 and
//! 14..30) with SSE2, where the general reader (`time.rs`) took each
//! eight-byte word, its fraction and its zone in turn (about half of what
//! the CRI envelope cost a line, benches/README.md).
//!
//! Invariant: [`has_shape`] answers what a byte-by-byte test of the
//! template answers (the tests compare them); `time::nano_utc_stamp` reads
//! the fields of a stamp it takes, and its tests hold that to the general
//! reader.

/// Bytes of the stamp this path takes.
pub(super) const LEN: usize = 30;

/// Whether `b` starts with a stamp of exactly this shape: a digit at each
/// digit's place and each separator at its own (the numbers' ranges are
/// the reader's to check).
pub(super) fn has_shape(b: &[u8]) -> bool {
    b.get(..LEN).is_some_and(shape_fits)
}

/// Sixteen places of the stamp: the template's bytes (`0` stands for a
/// digit, any other byte for itself) and how far above the template's byte
/// each place's byte may be (9 at a digit's place, 0 at a separator's).
struct Step {
    template: [u8; 16],
    limits: [u8; 16],
}

impl Step {
    const fn new(template: &[u8; 16]) -> Step {
        let mut limits = [0; 16];
        let mut i = 0;
        while i < 16 {
            if template[i] == b'0' {
                limits[i] = 9;
            }
            i += 1;
        }
        Step {
            template: *template,
            limits,
        }
    }
}

/// Bytes 0..16 and 14..30 (the two overlap at the minute).
const LOW: Step = Step::new(b"0000-00-00T00:00");
const HIGH: Step = Step::new(b"00:00.000000000Z");

/// Whether the thirty bytes hold a digit at each digit's place and each
/// separator at its own.
fn shape_fits(stamp: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::fits(&stamp[..16], &LOW) && sse2::fits(&stamp[14..LEN], &HIGH)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        fits_bytewise(&stamp[..16], &LOW) && fits_bytewise(&stamp[14..LEN], &HIGH)
    }
}

/// [`shape_fits`]'s test of one step, a byte at a time, by the
/// template's meaning: a digit where it has `0`, its byte elsewhere.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn fits_bytewise(bytes: &[u8], step: &Step) -> bool {
    bytes.iter().zip(&step.template).all(|(&b, &t)| match t {
        b'0' => b.is_ascii_digit(),
        _ => b == t,
    })
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_sub_epi8,
    };

    use super::Step;

    /// Whether sixteen bytes fit `step`: each byte less the template's
    /// (wrapping) is at most its place's limit, unsigned.
    #[inline]
    pub(super) fn fits(bytes: &[u8], step: &Step) -> bool {
        assert!(bytes.len() >= 16);
        // SAFETY: the assert keeps the unaligned loads inside `bytes`, and
        // the step's arrays are sixteen bytes; SSE2 is part of every x86-64
        // target.
        let mask = unsafe {
            let x = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
            let t = _mm_loadu_si128(step.template.as_ptr().cast::<__m128i>());
            let limit = _mm_loadu_si128(step.limits.as_ptr().cast::<__m128i>());
            let d = _mm_sub_epi8(x, t);
            _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, limit), d))
        };
        mask == 0xffff
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
#[path = "nano_stamp_tests.rs"]
mod tests;
