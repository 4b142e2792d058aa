//! What identifies a log file and bounds how it is read, shared by the
//! one-shot reader (`ingest/`) and the follower (`tail/`) so the two agree
//! byte for byte: a file generation is known by the hash of its first
//! [`HEAD_BYTES`] (stored with its offset; a restart compares them), lines
//! are cut at [`MAX_LINE_BYTES`], and a file is judged text or binary on
//! its first [`SNIFF_BYTES`].

use sha2::{Digest, Sha256};

/// Bytes of a file's head that identify its content.
pub const HEAD_BYTES: usize = 1024;

/// Lines longer than this are cut (the rest of the line is dropped) and
/// counted.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Bytes sniffed to tell a log from binary data.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The hash of a file's first bytes (at most [`HEAD_BYTES`] of `head`), in
/// the store's form: hex of the first 8 bytes of SHA-256.
pub fn head_hash(head: &[u8]) -> String {
    Sha256::digest(&head[..head.len().min(HEAD_BYTES)])
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_head_counts() {
        let mut long = vec![b'a'; HEAD_BYTES];
        let same = head_hash(&long);
        long.extend_from_slice(b"more lines after the head");
        assert_eq!(head_hash(&long), same);
        assert_eq!(head_hash(b"").len(), 16);
        assert_ne!(head_hash(b"a\n"), head_hash(b"b\n"));
    }
}
