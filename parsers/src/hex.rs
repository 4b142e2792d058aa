//! Lowercase hex of bytes, the one way every id and fingerprint the project
//! shows is written (a failure's id, a file's head hash, a secret's
//! fingerprint, a session's token).
//!
//! A byte's two digits come from a table: formatting each byte through
//! `format!("{b:02x}")` cost a failure's id about as many instructions as
//! the SHA-256 it spells (benches/README.md).
//!
//! Invariant: [`lower_hex`] gives what `format!("{b:02x}")` of each byte,
//! joined, gives.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` in lowercase hex, two digits a byte.
pub fn lower_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_is_its_two_formatted_digits() {
        let all: Vec<u8> = (0..=255).collect();
        let formatted: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(lower_hex(&all), formatted);
        assert_eq!(lower_hex(&[]), "");
        assert_eq!(lower_hex(&[0x0a, 0xf0]), "0af0");
    }
}
