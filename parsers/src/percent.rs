//! Percent-decoding of query and form values: the redactor fingerprints a
//! secret's decoded value, and the providers', the extractor's and
//! `common.rs`'s readers of query strings decode what they read. A leaf of
//! its own: the redactor asks the providers whether a value is an OAuth
//! error name, so the providers cannot also import the redactor for this.

use std::borrow::Cow;

/// Percent-decodes a query or form value (`+` is a space). Invalid escapes
/// are kept as they are.
pub fn percent_decode(raw: &str) -> Cow<'_, str> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}
