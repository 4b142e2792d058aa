//! Telling a log from data that is not one, and reading a log past the
//! binary runs inside it (a hole of NULs left by a crash, a stray control
//! sequence, a binary blob a logger dumped).
//!
//! Invariants:
//! - A file is judged on a share of its first bytes, never on one byte: it
//!   is binary data only when more than [`BINARY_PERCENT`] percent of its
//!   head is control bytes or invalid UTF-8. One NUL does not hide a file.
//! - Inside a log, a line holding binary bytes is not thrown away whole:
//!   what follows its last binary byte is still a line (after a hole of NULs
//!   the logger's next line starts right there). Lines with binary bytes are
//!   counted, and so are the runs of consecutive such lines ([`BinaryRuns`]).

/// Share (percent) of a head's bytes that must be binary for the file to be
/// taken for binary data rather than a log with some stray bytes.
pub const BINARY_PERCENT: usize = 30;

/// Why a file of binary data is skipped.
pub const BINARY_DATA: &str = "binary data";

/// Whether `b` is a byte text logs do not hold: NUL and the C0 controls
/// except tab, line feed, vertical tab, form feed, carriage return and
/// escape (colour codes).
pub fn is_binary_byte(b: u8) -> bool {
    b < 0x09 || (b > 0x0d && b < 0x20 && b != 0x1b)
}

/// Bytes of `head` that are binary or part of invalid UTF-8 (a sequence cut
/// by the end of `head` is not counted).
fn suspicious_bytes(head: &[u8]) -> usize {
    let mut n = head.iter().filter(|&&b| is_binary_byte(b)).count();
    let mut rest = head;
    while let Err(e) = std::str::from_utf8(rest) {
        let Some(len) = e.error_len() else { break };
        n += len;
        rest = &rest[e.valid_up_to() + len..];
    }
    n
}

/// Why a file is not a log, from its first bytes (`None`: it is one).
pub fn not_a_log(head: &[u8]) -> Option<&'static str> {
    if head.is_empty() {
        return None;
    }
    if suspicious_bytes(head) * 100 > head.len() * BINARY_PERCENT {
        return Some(BINARY_DATA);
    }
    None
}

/// Whether `bytes` hold any binary byte. Blocks are folded without an early
/// exit inside them so the compiler can vectorize: the reader asks this
/// once per chunk and looks at single lines only when it says yes. A
/// block (128 bytes) is first asked the cheaper question (a byte below 0x20 other than
/// the newline, which every block of a log holds): a log's blocks rarely
/// hold another, and only those that do are asked which bytes they are.
pub fn has_binary_bytes(bytes: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, asked just above.
        return unsafe { binary_blocks_avx2(bytes) };
    }
    binary_blocks(bytes)
}

/// [`binary_blocks`] compiled for AVX2: thirty-two bytes a comparison
/// instead of SSE2's sixteen (the x86-64 baseline the build targets).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn binary_blocks_avx2(bytes: &[u8]) -> bool {
    binary_blocks(bytes)
}

/// [`has_binary_bytes`]'s loop, inlined into each caller so that it is
/// vectorised for the caller's instruction set.
#[inline(always)]
fn binary_blocks(bytes: &[u8]) -> bool {
    bytes.chunks(128).any(|block| {
        block
            .iter()
            .fold(false, |acc, &b| acc | ((b & 0xe0 == 0) & (b != b'\n')))
            && block.iter().any(|&b| is_binary_byte(b))
    })
}

/// A line as the parsers get it: `(had binary bytes, its text)`, the text
/// being what follows the last binary byte (empty for a line that is all
/// binary).
pub fn text_of_line(line: &str) -> (bool, &str) {
    match line.bytes().rposition(is_binary_byte) {
        None => (false, line),
        // The byte is ASCII, so `at + 1` is a character boundary.
        Some(at) => (true, &line[at + 1..]),
    }
}

/// Lines with binary bytes in one file, and the runs they form.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BinaryRuns {
    /// Runs of consecutive lines with binary bytes.
    pub runs: u64,
    /// Lines with binary bytes.
    pub lines: u64,
    /// The last line seen had binary bytes.
    in_run: bool,
}

impl BinaryRuns {
    /// Notes the next line of the file.
    pub fn note(&mut self, binary: bool) {
        if binary {
            self.lines += 1;
            self.runs += u64::from(!self.in_run);
        }
        self.in_run = binary;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two-step test against the plain definition: every byte value,
    /// alone and among newlines, tabs and text, at each place of a block
    /// and across a block's end.
    #[test]
    fn a_binary_byte_is_found_wherever_it_sits() {
        let text = b"I, [2025-03-11T09:00:00.0 #9]  INFO -- : line\twith a tab\r\n".repeat(3);
        for b in 0..=u8::MAX {
            for at in [0, 1, 31, 63, 64, 65, 127, 128, 129, text.len() - 1] {
                let mut bytes = text.clone();
                bytes[at] = b;
                let binary = bytes.iter().any(|&c| is_binary_byte(c));
                assert_eq!(has_binary_bytes(&bytes), binary, "byte {b:#04x} at {at}");
                // The portable loop too, wherever the test runs.
                assert_eq!(binary_blocks(&bytes), binary, "byte {b:#04x} at {at}");
            }
        }
        assert!(!has_binary_bytes(&text));
        assert!(!has_binary_bytes(b""));
    }

    #[test]
    fn binary_is_told_apart_from_logs_and_json_documents() {
        assert_eq!(
            not_a_log(b"[0e1d7c2a-77b0] Started POST \"/oauth/token\"\n"),
            None
        );
        assert_eq!(not_a_log(b"{\"a\":1}\n{\"a\":2}\n"), None);
        // JSON documents are read: an error body or an export of records.
        assert_eq!(not_a_log(b"{\n  \"a\": 1\n}\n"), None);
        assert_eq!(not_a_log(b"[\n {\"a\": 1},\n {\"a\": 2}\n]"), None);
        assert_eq!(not_a_log(b"[{\"a\": 1},\n{\"a\": 2}"), None);
        assert!(not_a_log(b"\x7fELF\x02\x01\x01\x00\x00\x00").is_some());
    }

    #[test]
    fn one_nul_or_a_short_binary_run_does_not_make_a_log_binary() {
        let mut log = b"I, [2025-03-11T09:10:01.000000 #7]  INFO -- : hello\n".repeat(20);
        log.insert(30, 0);
        assert_eq!(not_a_log(&log), None);
        let mut holed = vec![0u8; 200];
        holed.extend(b"I, [2025-03-11T09:10:01.000000 #7]  INFO -- : hello\n".repeat(20));
        assert_eq!(not_a_log(&holed), None);
        // Random bytes (compressed or encrypted data) are binary.
        let mut rng = fastrand::Rng::with_seed(7);
        let noise: Vec<u8> = (0..4096).map(|_| rng.u8(..)).collect();
        assert_eq!(not_a_log(&noise), Some("binary data"));
        assert_eq!(not_a_log(&[0u8; 64]), Some("binary data"));
        // Latin-1 accents in a log are a few invalid bytes, not binary.
        assert_eq!(not_a_log(b"user Jos\xe9 signed in\nuser Ren\xe9e\n"), None);
    }

    #[test]
    fn the_text_after_a_binary_run_is_kept_and_runs_are_counted() {
        assert_eq!(text_of_line("plain"), (false, "plain"));
        assert_eq!(text_of_line("\0\0\0I, [x] INFO"), (true, "I, [x] INFO"));
        assert_eq!(text_of_line("\u{1}\u{2}"), (true, ""));
        assert_eq!(
            text_of_line("tab\tand \u{1b}[0m colour"),
            (false, "tab\tand \u{1b}[0m colour")
        );
        let mut runs = BinaryRuns::default();
        for binary in [false, true, true, false, true, false, false] {
            runs.note(binary);
        }
        assert_eq!((runs.runs, runs.lines), (2, 3));
    }
}
