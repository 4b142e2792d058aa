//! The quiet path of `analyze` (one needle search per chunk, the lines
//! without needles skimmed by their parser: `grantwatch_parsers::quiet`)
//! must change nothing: every file of `sample_logs/`, a generated Rails log
//! with many OAuth flows in flight, the same wrapped in CRI and in docker
//! json-file (also with `/` and `a` escaped, so needles are only in the
//! decoded text), and a log of
//! the Rails parser's corner cases give, fed with hints in chunks, exactly
//! the events, line counts and pending lines of feeding every line.

use std::path::Path;

use grantwatch::generate::{GenOptions, generate};
use grantwatch_parsers::quiet::Hint;
use grantwatch_parsers::{Context, FileParser, Format, LineCounts, sniff};

use crate::helpers::root;

/// Events (as JSON), counts, the oldest pending line after each chunk, and
/// how many lines the search left to the parser's skim.
type Outcome = (Vec<String>, LineCounts, Vec<Option<u64>>, usize);

fn format_of(text: &str) -> Format {
    let first: Vec<&str> = text
        .lines()
        .take(grantwatch_parsers::DETECT_LINES)
        .collect();
    sniff(&first, None).format
}

/// Chunks of whole lines of at most about `size` bytes, as the reader
/// hands them out.
fn chunks(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = match rest.get(..size.min(rest.len())).and_then(|h| h.rfind('\n')) {
            Some(nl) if rest.len() > size => nl + 1,
            _ if rest.len() > size => rest.find('\n').map_or(rest.len(), |nl| nl + 1),
            _ => rest.len(),
        };
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out
}

fn read(text: &str, format: Format, hinted: bool, chunk: usize) -> Outcome {
    let mut parser = FileParser::new(format, Context::default());
    let quiet = if hinted { parser.quiet_skip() } else { None };
    let mut events = Vec::new();
    let mut pending = Vec::new();
    let mut line_no = 0;
    let mut quiet_lines = 0;
    for piece in chunks(text, chunk) {
        let piece = piece.strip_suffix('\n').unwrap_or(piece);
        let mut candidates = quiet.as_deref().map(|q| q.lines(piece));
        let mut out = Vec::new();
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', piece.as_bytes()).chain([piece.len()]) {
            line_no += 1;
            let hint = candidates
                .as_mut()
                .map_or(Hint::Feed, |c| c.line(start, end));
            quiet_lines += usize::from(hint == Hint::Quiet);
            parser.feed_hinted(line_no, &piece[start..end], hint, &mut out);
            start = end + 1;
        }
        events.extend(
            out.iter()
                .map(|e| serde_json::to_string(e).unwrap_or_default()),
        );
        pending.push(parser.oldest_pending_line());
    }
    let mut out = Vec::new();
    parser.flush(&mut out);
    events.extend(
        out.iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default()),
    );
    (events, parser.counts(), pending, quiet_lines)
}

fn assert_same(name: &str, text: &str, format: Format) {
    let fed = read(text, format, false, 4096);
    assert!(
        fed.1.parsed + fed.1.skipped + fed.1.unknown > 0,
        "{name}: nothing read"
    );
    for chunk in [4096, 64 * 1024] {
        let hinted = read(text, format, true, chunk);
        assert_eq!(fed.1, hinted.1, "{name}: line counts");
        assert_eq!(fed.0.len(), hinted.0.len(), "{name}: number of events");
        for (a, b) in fed.0.iter().zip(&hinted.0) {
            assert_eq!(a, b, "{name}: an event differs");
        }
        if chunk == 4096 {
            assert_eq!(fed.2, hinted.2, "{name}: pending lines");
        }
        if format == Format::Rails {
            assert!(hinted.3 > 0, "{name}: no line was left to the skim");
        }
    }
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_sample_log_reads_the_same_with_the_quiet_path() {
    let mut files = Vec::new();
    files_under(&root().join("sample_logs"), &mut files);
    let mut rails = 0;
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let format = format_of(&text);
        rails += usize::from(format == Format::Rails);
        assert_same(&path.display().to_string(), &text, format);
    }
    assert!(
        rails >= 3,
        "only {rails} Rails samples: the quiet path was not exercised"
    );
}

fn generated(oauth_share: f64, seed: u64) -> String {
    let opts = GenOptions {
        target_bytes: 3 << 20,
        oauth_share,
        seed,
        ..GenOptions::default()
    };
    let mut out = Vec::new();
    generate(&opts, &mut out).unwrap_or_default();
    String::from_utf8(out).unwrap_or_default()
}

/// `text` in docker json-file lines: lines with quotes are decoded (owned
/// text); `escaped` also writes `/` and `a` as `\/` and `\u0061` (valid
/// JSON), so that needles such as `/oauth/`, `invalid`, `reason` and
/// ` phase initiated.` are only in the decoded text.
fn docker(text: &str, escaped: bool) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let mut log = serde_json::to_string(&format!("{l}\n")).unwrap_or_default();
            if escaped {
                log = log.replace('/', "\\/").replace('a', "\\u0061");
            }
            format!(
                "{{\"log\":{log},\"stream\":\"stdout\",\"time\":\"2025-03-11T08:00:00.{i:09}Z\"}}\n"
            )
        })
        .collect()
}

#[test]
fn a_generated_log_and_its_cri_and_docker_wrappings_read_the_same_with_the_quiet_path() {
    for (share, seed) in [(0.01, 42), (0.3, 7)] {
        let text = generated(share, seed);
        assert!(text.len() > 1 << 20);
        assert_same("generated", &text, Format::Rails);
        let cri: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| format!("2025-03-11T08:00:00.{i:09}Z stdout F {l}\n"))
            .collect();
        assert_same("generated, CRI", &cri, Format::Rails);
        assert_same("generated, docker", &docker(&text, false), Format::Rails);
        assert_same(
            "generated, docker, escaped",
            &docker(&text, true),
            Format::Rails,
        );
    }
}

/// Lines the quiet path must not get wrong: a Doorkeeper controller under a
/// path without `/oauth/` (its `Started` line was only remembered), an
/// OmniAuth phase, a `Started` word before a phase, lograge bodies, lines
/// without the Logger prefix, error words in skipped lines, and a request
/// left open across chunks.
#[test]
fn the_rails_parsers_corner_cases_read_the_same_with_the_quiet_path() {
    let p = |sev: &str, rid: &str, body: &str| {
        format!("{sev}, [2025-03-11T09:00:00.000000 #7]  INFO -- : [{rid}] {body}\n")
    };
    let a = "a5a054ed-1111-2222-3333-444455556666";
    let b = "b5a054ed-1111-2222-3333-444455556666";
    let mut log = String::new();
    log += "  SQL before any request line\n";
    log += &p("I", a, "Completed 200 OK in 3ms");
    log += &p(
        "I",
        a,
        "Started GET \"/products/1\" for 10.0.0.1 at 2025-03-11 09:00:00 +0000",
    );
    log += &p("D", a, "  Product Load (0.4ms)  SELECT 1");
    log += &p("I", a, "Completed 200 OK in 3ms");
    for _ in 0..40 {
        log += &p(
            "I",
            b,
            "Started POST \"/api/login\" for 10.0.0.2 at 2025-03-11 09:00:01 +0000",
        );
        log += &p("D", b, "  User Load (0.2ms)  SELECT 1");
        log += &p(
            "I",
            b,
            "Processing by Doorkeeper::TokensController#create as JSON",
        );
        log += &p(
            "I",
            b,
            "  Parameters: {\"grant_type\"=>\"authorization_code\"}",
        );
        log += &p("I", b, "Completed 400 Bad Request in 9ms");
        log += &p("I", a, "(google_oauth2) Callback phase initiated.");
        log += &p("I", a, "Started phase initiated.");
        log += &p("I", a, "method=GET path=/x status=200");
        log += "  a line without the Logger prefix\n";
        log += &p("I", a, "  Rendered x.html.erb (reason: none)");
        log += &p(
            "E",
            a,
            "OAuth2::Error (invalid_grant: The provided authorization grant is invalid)",
        );
        log += &p(
            "I",
            b,
            "Started POST \"/oauth/token\" for 10.0.0.2 at 2025-03-11 09:00:02 +0000",
        );
        for _ in 0..30 {
            log += &p("D", a, "  Product Load (0.4ms)  SELECT 1");
        }
        log += &p("I", b, "Completed 200 OK in 9ms");
    }
    assert_eq!(format_of(&log), Format::Rails);
    assert_same("corner cases", &log, Format::Rails);
    assert_same("corner cases, docker", &docker(&log, false), Format::Rails);
    assert_same(
        "corner cases, docker, escaped",
        &docker(&log, true),
        Format::Rails,
    );
}
