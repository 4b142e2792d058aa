//! Where the raw text of a JSON string needs a look: its quotes,
//! backslashes and control bytes (below 0x20, which JSON forbids
//! unescaped), found thirty-two bytes at a time. Every other byte of a docker
//! json-file line is copied or skipped as it is, so reading a line is one
//! pass over its bytes plus a few steps per escape. A search for the next
//! quote or backslash per escape, and a second pass for control bytes, made
//! the quiet scan of a docker line about a third of what feeding a
//! docker-wrapped Rails log cost (benches/README.md, "the envelopes back
//! within 1.25 ×").
//!
//! Invariant: [`Specials`] yields exactly the positions at or after its
//! start whose byte is `"`, `\` or below 0x20, in increasing order, and
//! reads no block past the one holding the last position asked for.

/// Bytes looked at in one step: one AVX2 comparison, or two of SSE2.
pub(super) const BLOCK: usize = 32;

/// How a block's special bytes are marked.
pub(super) trait Marks {
    fn marks(block: &[u8; BLOCK]) -> u32;
}

/// The CPU asked at each block which comparisons it has ([`block_marks`]).
pub(super) struct Asked;

impl Marks for Asked {
    #[inline]
    fn marks(block: &[u8; BLOCK]) -> u32 {
        block_marks(block)
    }
}

/// AVX2's comparisons, inlined into code compiled for AVX2: made only by
/// [`Specials::on_avx2`], whose caller vouches for the CPU. The quiet
/// path's scan of a docker line asks once a line instead of once a block
/// and calls no function per block: 1.7% fewer instructions over a
/// docker-wrapped Rails log (benches/README.md).
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Marks for Avx2 {
    #[inline(always)]
    fn marks(block: &[u8; BLOCK]) -> u32 {
        // SAFETY: a `Specials<Avx2>` is made only by `Specials::on_avx2`,
        // whose caller runs on a CPU with AVX2.
        unsafe { block_marks_avx2(block) }
    }
}

/// The positions of the special bytes of `bytes` from a start on, read a
/// block at a time as they are asked for.
pub(super) struct Specials<'a, M: Marks = Asked> {
    bytes: &'a [u8],
    /// Where the block `marks` describes starts.
    base: usize,
    /// Where the next block to read starts.
    next: usize,
    /// Bit `i`: byte `base + i` is special and not yielded yet.
    marks: u32,
    by: std::marker::PhantomData<M>,
}

impl<'a> Specials<'a> {
    /// The special bytes of `bytes` at or after `start`.
    pub(super) fn new(bytes: &'a [u8], start: usize) -> Specials<'a> {
        Specials::by(bytes, start)
    }
}

#[cfg(target_arch = "x86_64")]
impl<'a> Specials<'a, Avx2> {
    /// [`Specials::new`] by AVX2's comparisons alone.
    ///
    /// # Safety
    ///
    /// The CPU running this has AVX2.
    #[inline(always)]
    pub(super) unsafe fn on_avx2(bytes: &'a [u8], start: usize) -> Specials<'a, Avx2> {
        Specials::by(bytes, start)
    }
}

impl<'a, M: Marks> Specials<'a, M> {
    #[inline(always)]
    fn by(bytes: &'a [u8], start: usize) -> Specials<'a, M> {
        Specials {
            bytes,
            base: start,
            next: start,
            marks: 0,
            by: std::marker::PhantomData,
        }
    }

    /// Reads blocks up to the next one holding a special byte; `None` past
    /// the end of the bytes.
    #[inline(always)]
    fn refill(&mut self) -> Option<()> {
        let mut at = self.next;
        loop {
            match self.bytes.get(at..at + BLOCK) {
                Some(block) => {
                    let block: &[u8; BLOCK] = block.try_into().ok()?;
                    let marks = M::marks(block);
                    at += BLOCK;
                    if marks != 0 {
                        (self.base, self.next, self.marks) = (at - BLOCK, at, marks);
                        return Some(());
                    }
                }
                None => {
                    // The last bytes, padded with a byte that is not special.
                    let rest = self.bytes.get(at..).filter(|r| !r.is_empty())?;
                    let mut block = [b'a'; BLOCK];
                    block[..rest.len()].copy_from_slice(rest);
                    (self.base, self.next) = (at, self.bytes.len());
                    self.marks = M::marks(&block);
                    return Some(());
                }
            }
        }
    }
}

impl<M: Marks> Iterator for Specials<'_, M> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        if self.marks == 0 {
            self.refill()?;
            if self.marks == 0 {
                return None;
            }
        }
        let i = self.base + self.marks.trailing_zeros() as usize;
        self.marks &= self.marks - 1;
        Some(i)
    }
}

/// Bit `i` set when byte `i` of `block` is `"`, `\` or below 0x20: three
/// comparisons of the thirty-two bytes on AVX2, chosen at run time (a
/// docker line's string is read in half the steps), else of each half on
/// SSE2, which every x86-64 CPU has.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn block_marks(block: &[u8; BLOCK]) -> u32 {
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, asked just above.
        return unsafe { block_marks_avx2(block) };
    }
    block_marks_sse2(block)
}

/// [`block_marks`] on SSE2, a half at a time.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn block_marks_sse2(block: &[u8; BLOCK]) -> u32 {
    let (lo, hi) = block.split_at(BLOCK / 2);
    let half = |h: &[u8]| -> u32 {
        let mut bytes = [0; BLOCK / 2];
        bytes.copy_from_slice(h);
        // SAFETY: compiled only where the whole build enables SSE2 (the
        // x86-64 baseline), so the CPU running this has it.
        unsafe { half_marks_sse2(&bytes) }
    };
    half(lo) | half(hi) << (BLOCK / 2)
}

/// [`block_marks`] on AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn block_marks_avx2(block: &[u8; BLOCK]) -> u32 {
    use std::arch::x86_64::{
        _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set_epi64x, _mm256_set1_epi8, _mm256_setzero_si256,
    };
    let [a, b, c, d] = [0, 8, 16, 24].map(|at| {
        let mut word = [0; 8];
        word.copy_from_slice(&block[at..at + 8]);
        i64::from_le_bytes(word)
    });
    let v = _mm256_set_epi64x(d, c, b, a);
    let [quote, backslash, top3] = [b'"', b'\\', 0xe0].map(|b| i8::from_le_bytes([b]));
    let quote = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(quote));
    let backslash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(backslash));
    // Below 0x20 exactly when the top three bits are clear.
    let control = _mm256_cmpeq_epi8(
        _mm256_and_si256(v, _mm256_set1_epi8(top3)),
        _mm256_setzero_si256(),
    );
    let any = _mm256_or_si256(_mm256_or_si256(quote, backslash), control);
    u32::from_le_bytes(_mm256_movemask_epi8(any).to_le_bytes())
}

/// The special bytes of the block `bytes[at..at + BLOCK]` as
/// [`block_marks`] marks them, less each escaped quote whose backslash no
/// backslash precedes, and that backslash when it is in the block; and
/// those quotes whose backslash is in the block: `(marks, pairs)`, bit `i`
/// for byte `at + i`. Such a backslash always begins an escape in a JSON
/// string read from its start (no escape's body holds a backslash, so one
/// that another escape takes follows a backslash), and the quote is its
/// escaped character: a reader that skips both reads the string as one
/// that takes them one at a time. A docker-wrapped Rails line holds about
/// four such pairs; taken a byte at a time, they were a third of its scan.
///
/// # Safety
///
/// The CPU has AVX2, `2 <= at` and `at + BLOCK <= bytes.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn pair_marks_avx2(bytes: &[u8], at: usize) -> (u32, u32) {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_andnot_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm256_setzero_si256,
    };
    debug_assert!(2 <= at && at + BLOCK <= bytes.len());
    // SAFETY: the caller vouches that `at - 2 .. at + BLOCK` lies within
    // `bytes`; the loads are unaligned.
    let [v, one_before, two_before] = [0, 1, 2]
        .map(|back| unsafe { _mm256_loadu_si256(bytes.as_ptr().add(at - back).cast::<__m256i>()) });
    let [quote, backslash, top3] = [b'"', b'\\', 0xe0].map(|b| i8::from_le_bytes([b]));
    let is_quote = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(quote));
    let is_backslash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(backslash));
    let control = _mm256_cmpeq_epi8(
        _mm256_and_si256(v, _mm256_set1_epi8(top3)),
        _mm256_setzero_si256(),
    );
    let after_backslash = _mm256_cmpeq_epi8(one_before, _mm256_set1_epi8(backslash));
    let after_two = _mm256_cmpeq_epi8(two_before, _mm256_set1_epi8(backslash));
    let escaped = _mm256_andnot_si256(after_two, _mm256_and_si256(is_quote, after_backslash));
    let any = _mm256_or_si256(_mm256_or_si256(is_quote, is_backslash), control);
    let mask = |m| u32::from_le_bytes(_mm256_movemask_epi8(m).to_le_bytes());
    let escaped = mask(escaped);
    // A quote at bit 0 has its backslash in the block before, which the
    // caller took one at a time.
    let pairs = escaped & !1;
    (mask(any) & !escaped & !(pairs >> 1), pairs)
}

/// The marks of sixteen bytes on SSE2.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "sse2")]
#[inline]
fn half_marks_sse2(block: &[u8; BLOCK / 2]) -> u32 {
    use std::arch::x86_64::{
        _mm_and_si128, _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8, _mm_setzero_si128,
    };
    let [lo, hi] = [&block[..8], &block[8..]].map(|half| {
        let mut word = [0; 8];
        word.copy_from_slice(half);
        i64::from_le_bytes(word)
    });
    let v = _mm_set_epi64x(hi, lo);
    let [quote, backslash, top3] = [b'"', b'\\', 0xe0].map(|b| i8::from_le_bytes([b]));
    let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(quote));
    let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(backslash));
    // Below 0x20 exactly when the top three bits are clear.
    let control = _mm_cmpeq_epi8(_mm_and_si128(v, _mm_set1_epi8(top3)), _mm_setzero_si128());
    let any = _mm_or_si128(_mm_or_si128(quote, backslash), control);
    u32::from_le_bytes(_mm_movemask_epi8(any).to_le_bytes()) & 0xffff
}

/// Bit `i` set when byte `i` of `block` is `"`, `\` or below 0x20, a byte
/// at a time (other CPUs, and the check of the vector version).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
fn block_marks_bytewise(block: &[u8; BLOCK]) -> u32 {
    block.iter().enumerate().fold(0, |marks, (i, &b)| {
        marks | (u32::from(b == b'"' || b == b'\\' || b < 0x20) << i)
    })
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn block_marks(block: &[u8; BLOCK]) -> u32 {
    block_marks_bytewise(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_marked_as_byte_by_byte() {
        for b in 0..=255u8 {
            for at in 0..BLOCK {
                for fill in [b'a', 0xc3, 0x7f, 0xff, 0x20, b'"'] {
                    let mut block = [fill; BLOCK];
                    block[at] = b;
                    let bytewise = block_marks_bytewise(&block);
                    assert_eq!(block_marks(&block), bytewise, "{block:?}");
                    // The SSE2 halves too, on a CPU that has AVX2.
                    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
                    assert_eq!(block_marks_sse2(&block), bytewise, "{block:?}");
                }
            }
        }
    }

    #[test]
    fn every_special_position_is_yielded_in_order() {
        // Lines of 0..=72 bytes (short blocks, several blocks), one byte of
        // every value at every place, read from every start.
        for len in 0..=72 {
            for at in 0..len {
                for b in [b'"', b'\\', 0, 0x1f, b'\t', b'\n', 0x20, b'a', 0xe9, 0xff] {
                    let mut bytes: Vec<u8> = (0..len).map(|i| [b'x', 0xc3, b'"'][i % 3]).collect();
                    bytes[at] = b;
                    for start in 0..=len {
                        let naive: Vec<usize> = (start..len)
                            .filter(|&i| matches!(bytes[i], b'"' | b'\\' | 0..0x20))
                            .collect();
                        let found: Vec<usize> = Specials::new(&bytes, start).collect();
                        assert_eq!(found, naive, "{bytes:?} from {start}");
                        #[cfg(target_arch = "x86_64")]
                        if std::arch::is_x86_feature_detected!("avx2") {
                            // SAFETY: the CPU has AVX2, asked just above.
                            let found = unsafe { Specials::on_avx2(&bytes, start) };
                            assert_eq!(found.collect::<Vec<_>>(), naive, "{bytes:?} from {start}");
                        }
                    }
                }
            }
        }
        assert_eq!(Specials::new(b"abc", 7).next(), None);
    }
}
