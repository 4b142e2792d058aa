//! A strict one-pass reader of a JSON object's fields, for the lines read
//! by the million (Hydra's logrus lines): it walks the text once, hands the
//! caller each key with the reader standing on its value, and skips what
//! the caller does not ask for without building anything. `serde_json`
//! with derived structs read such a line at about 1 µs, a fifth of reading
//! a Hydra log (benches/README.md).
//!
//! Invariant: whatever this reader accepts, `serde_json` accepts too, and
//! reads the same strings from it. What it does not read plainly is
//! [`Unusual`], and the caller then asks `serde_json`, which decides: a
//! `\u` escape, a control byte in a string, a number that is not a short
//! integer (`serde_json` may refuse one out of range where it builds a
//! value), an escaped key, nesting past [`MAX_DEPTH`], anything malformed.

use std::borrow::Cow;

/// Levels of nesting followed (`serde_json` refuses past 128).
const MAX_DEPTH: usize = 64;
/// Bytes an escaped string is given room for at first, at most.
const ROOM_AT_MOST: usize = 4096;
/// Digits of an integer read plainly: any such fits an `i64`/`u64`.
const MAX_DIGITS: usize = 18;

/// The text is not one this reader vouches for; ask `serde_json`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unusual;

/// What a read gives, or that the text is [`Unusual`].
pub(crate) type Scanned<T> = Result<T, Unusual>;

/// The fields read so far, so that a repeated one is caught (`serde`
/// refuses a struct's field given twice).
#[derive(Default)]
pub(crate) struct Seen(u32);

impl Seen {
    /// `value`, read for the field numbered `field`, unless that field was
    /// read before.
    pub(crate) fn once<T>(&mut self, field: u32, value: Scanned<T>) -> Scanned<T> {
        let bit = 1 << field;
        if self.0 & bit != 0 {
            return Err(Unusual);
        }
        self.0 |= bit;
        value
    }
}

/// A position in the text of one JSON value.
pub(crate) struct Scanner<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Scanner<'t> {
    /// A reader at the start of `text`.
    pub(crate) fn new(text: &'t str) -> Self {
        Scanner { text, at: 0 }
    }

    fn bytes(&self) -> &'t [u8] {
        self.text.as_bytes()
    }

    fn skip_space(&mut self) {
        // Nearly always no space at all (logrus writes none): one test of
        // the byte, which no white space is above.
        if self.bytes().get(self.at).is_none_or(|&b| b > b' ') {
            return;
        }
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte past white space, not consumed: what kind of value
    /// is here (`{`, `"`, a digit…).
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.bytes().get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Scanned<()> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Unusual)
        }
    }

    /// Reads an object, calling `field` with each key and the reader on its
    /// value; `field` must read or skip that value.
    pub(crate) fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &'t str) -> Scanned<()>,
    ) -> Scanned<()> {
        if self.opens_empty(b'{', b'}')? {
            return Ok(());
        }
        loop {
            let key = self.key()?;
            self.expect(b':')?;
            self.skip_space();
            field(self, key)?;
            if self.closes_after_item(b'}')? {
                return Ok(());
            }
        }
    }

    /// Takes the `open` byte of an object or array; `true` when `close`
    /// follows at once (and is taken too).
    fn opens_empty(&mut self, open: u8, close: u8) -> Scanned<bool> {
        self.expect(open)?;
        let empty = self.peek() == Some(close);
        self.at += usize::from(empty);
        Ok(empty)
    }

    /// After an item of an object or array: `true` when `close` ends it,
    /// `false` after a comma (each taken); anything else is unusual.
    fn closes_after_item(&mut self, close: u8) -> Scanned<bool> {
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.at += 1;
                Ok(true)
            }
            _ => Err(Unusual),
        }
    }

    /// A key, which must hold no escape (a struct's field names are
    /// matched on the decoded text).
    fn key(&mut self) -> Scanned<&'t str> {
        match self.string()? {
            Cow::Borrowed(key) => Ok(key),
            Cow::Owned(_) => Err(Unusual),
        }
    }

    /// Whether the value here is `null`, which is then consumed.
    pub(crate) fn null(&mut self) -> bool {
        self.skip_space();
        self.word(b"null").is_ok()
    }

    /// A string, or `None` for `null` (what an `Option<&str>` field reads).
    pub(crate) fn string_or_null(&mut self) -> Scanned<Option<Cow<'t, str>>> {
        if self.null() {
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// A string, borrowed from the text unless it holds an escape.
    pub(crate) fn string(&mut self) -> Scanned<Cow<'t, str>> {
        self.expect(b'"')?;
        let start = self.at;
        let stop = start + first_special(&self.bytes()[start..]).ok_or(Unusual)?;
        if self.bytes()[stop] == b'"' {
            self.at = stop + 1;
            return Ok(Cow::Borrowed(&self.text[start..stop]));
        }
        self.escaped_string(start, stop)
    }

    /// The rest of a string from `start` whose first special byte, at
    /// `stop`, is not its closing quote. Apart from [`Scanner::string`]: a
    /// Hydra line's thirty-odd strings nearly all end at their first
    /// special byte, and the escapes' copying made each read of one save
    /// and restore what it does not use. Decoded in the one pass that finds
    /// its end, into room for the rest of the text (up to [`ROOM_AT_MOST`]),
    /// so that it is allocated once: grown escape by escape, Hydra's notice in place of a query
    /// (four escaped quotes) was allocated and then reallocated twice (the
    /// Hydra slice of benches/README.md: 3.1 M of its 1,032 M
    /// instructions), and measuring it in a pass of its own first read a
    /// Keycloak JSON line's message, a quote escaped every few bytes, twice.
    #[cold]
    #[inline(never)]
    fn escaped_string(&mut self, start: usize, mut stop: usize) -> Scanned<Cow<'t, str>> {
        // What is decoded is never longer than what is written, and the
        // rest of the text holds the string; past a few kilobytes (a stack
        // trace in a field) the string grows as it must, so that a long
        // line's strings do not each take the rest of it.
        let mut owned = String::with_capacity((self.text.len() - start).min(ROOM_AT_MOST));
        let mut from = start;
        loop {
            match self.bytes()[stop] {
                b'"' => break,
                b'\\' => {
                    let escaped = self.unescaped_at(stop + 1)?;
                    owned.push_str(&self.text[from..stop]);
                    owned.push(escaped);
                }
                _ => return Err(Unusual),
            }
            from = stop + 2;
            stop = from + first_special(&self.bytes()[from..]).ok_or(Unusual)?;
        }
        owned.push_str(&self.text[from..stop]);
        self.at = stop + 1;
        Ok(Cow::Owned(owned))
    }

    /// The character the escape letter at `at` (after a backslash)
    /// stands for; a `\u` escape, or anything else, is [`Unusual`].
    fn unescaped_at(&self, at: usize) -> Scanned<char> {
        Ok(match self.bytes().get(at) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            _ => return Err(Unusual),
        })
    }

    /// An integer of at most [`MAX_DIGITS`] digits, as written
    /// (`-` included).
    pub(crate) fn integer(&mut self) -> Scanned<&'t str> {
        self.skip_space();
        let start = self.at;
        let bytes = self.bytes();
        let digits_at = start + usize::from(bytes.get(start) == Some(&b'-'));
        let digits = bytes[digits_at.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let leading_zero = digits > 1 && bytes[digits_at] == b'0';
        let end = digits_at + digits;
        let more = matches!(bytes.get(end), Some(b'.' | b'e' | b'E'));
        if digits == 0 || digits > MAX_DIGITS || leading_zero || more {
            return Err(Unusual);
        }
        self.at = end;
        Ok(&self.text[start..end])
    }

    /// Passes over the value here, whatever it is, checking it as it goes.
    pub(crate) fn skip_value(&mut self) -> Scanned<()> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: usize) -> Scanned<()> {
        match self.peek().ok_or(Unusual)? {
            b'"' => self.string().map(drop),
            b'{' if depth < MAX_DEPTH => self.object(|s, _| s.skip_nested(depth + 1)),
            b'[' if depth < MAX_DEPTH => self.array(depth + 1),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            b'-' | b'0'..=b'9' => self.integer().map(drop),
            _ => Err(Unusual),
        }
    }

    fn array(&mut self, depth: usize) -> Scanned<()> {
        if self.opens_empty(b'[', b']')? {
            return Ok(());
        }
        loop {
            self.skip_nested(depth)?;
            if self.closes_after_item(b']')? {
                return Ok(());
            }
        }
    }

    fn word(&mut self, word: &[u8]) -> Scanned<()> {
        if self.bytes()[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(Unusual)
        }
    }

    /// Nothing but white space is left (`serde_json::from_str` refuses
    /// trailing characters).
    pub(crate) fn end(&mut self) -> Scanned<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(Unusual),
        }
    }
}

/// Where the first byte a string cannot hold plainly sits (a quote, a
/// backslash, a control byte), sixteen bytes a step with SSE2 (which every
/// x86-64 processor has), the rest a byte at a time.
fn first_special(hay: &[u8]) -> Option<usize> {
    let mut at = 0;
    #[cfg(target_arch = "x86_64")]
    while at + 16 <= hay.len() {
        if let Some(i) = sse2::first_special16(&hay[at..at + 16]) {
            return Some(at + i);
        }
        at += 16;
    }
    hay[at..]
        .iter()
        .position(|&b| is_special(b))
        .map(|i| at + i)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// The first special byte of sixteen.
    #[inline]
    pub(super) fn first_special16(step: &[u8]) -> Option<usize> {
        assert!(step.len() >= 16);
        // SAFETY: the assert above keeps the 16-byte unaligned load inside
        // `step`; SSE2 is part of every x86-64 target.
        let marks = unsafe {
            let x = _mm_loadu_si128(step.as_ptr().cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
            // Unsigned `x < 0x20`: the smaller of `x` and 0x1f is `x`.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
        };
        (marks != 0).then(|| marks.trailing_zeros() as usize)
    }
}

fn is_special(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

#[cfg(test)]
#[path = "json_scan_tests.rs"]
mod tests;
