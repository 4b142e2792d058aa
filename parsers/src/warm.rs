//! The parsers' warm-up: they build their phrase catalog and their
//! multi-pattern matchers (Aho-Corasick automata) on first use. In `watch`
//! that first use was the first line a watched file gave: the first append
//! after a start waited for it (its read round took tens of times a later
//! one's; `perf` put most of it in building the automata and in the kernel
//! zeroing the fresh pages they took, benches/README.md). In `analyze` on
//! several cores it was the range reader meeting the first failure, while
//! the others waited for what it built. Feeding each format's parser a few
//! lines at start pays that before any line arrives.
//!
//! Invariant: nothing here is stored or counted; the parsers are dropped.

use crate::file_parser::FileParser;
use crate::format::CONCRETE_FORMATS;
use crate::parser::Context;
use crate::registry::detect;

/// Lines of the shapes the parsers look into: a Rails request of the token
/// endpoint, a JSON error body, a client's error line, a logfmt record.
const LINES: [&str; 5] = [
    "I, [2026-01-01T00:00:00.000000 #1]  INFO -- : [6f1c2a3e-0000-4000-8000-000000000000] Started POST \"/oauth/token\" for 10.0.0.1 at 2026-01-01 00:00:00 +0000",
    "I, [2026-01-01T00:00:00.000000 #1]  INFO -- : [6f1c2a3e-0000-4000-8000-000000000000] Completed 400 Bad Request in 12ms",
    "{\"time\":\"2026-01-01T00:00:00Z\",\"level\":\"error\",\"msg\":\"token request failed\",\"error\":\"invalid_grant\",\"error_description\":\"The provided authorization grant is invalid, expired or revoked\"}",
    "01-01 00:00:00.000  1234  1234 E OAuth   : token request failed: invalid_grant (400) Code was already redeemed.",
    "time=2026-01-01T00:00:00Z level=error msg=\"token request failed\" error=invalid_grant status=400",
];

/// Builds what the parsers build on first use (see the module doc).
pub fn warm_up() {
    let _ = detect(&LINES);
    for format in CONCRETE_FORMATS {
        let mut parser = FileParser::new(format, Context::default());
        let mut events = Vec::new();
        for (i, line) in LINES.iter().enumerate() {
            let _ = parser.feed(i as u64 + 1, line, &mut events);
        }
        parser.flush(&mut events);
    }
}
