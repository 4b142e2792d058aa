//! Parser throughput: realistic logs built in memory, fed line by line
//! through [`FileParser`] the way the daemon does (memchr to split, UTF-8
//! check per line). Figures and the command are in `benches/README.md`.
//!
//! - `rails/1pct_oauth`: a tagged production log with the Logger prefix,
//!   ~64 MB, concurrent requests interleaved, about 1% of them OAuth, the
//!   rest ordinary app requests with SQL and render lines.
//! - `rails/all_oauth`: every request is OAuth (authorize, code exchange,
//!   refresh, revoke), ~16 MB.
//! - `lograge/1pct_oauth`: key=value and JSON lograge lines, ~32 MB.
//! - `file/NAME`: each file named in `GRANTWATCH_BENCH_FILES` (paths joined
//!   by `:`), its format detected from its first lines and its lines fed as
//!   `analyze` feeds them (the quiet rule's hints, one search per file): what
//!   reading a generated Keycloak or Hydra log costs with nothing stored.
//! - `redact/NAME`: the redactor alone on every line of each such file, as
//!   the Keycloak parser calls it on every event line.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use grantwatch_parsers::quiet::Hint;
use grantwatch_parsers::redact::Redactor;
use grantwatch_parsers::{Context, DETECT_LINES, FileParser, Format, detect};

/// A small deterministic generator (xorshift), so every run parses the same
/// bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
    fn b64(&mut self, len: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..len)
            .map(|_| char::from(A[self.below(64) as usize]))
            .collect()
    }
    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-a{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(3),
            self.hex(12)
        )
    }
}

const CLIENT: &str = "Zr9kq3bB4u2xq0X9mB7Yt0a6v1c8d2e3f4g5h6i7j8k";

/// The message bodies of one request, without prefix and tag.
fn ordinary_request(rng: &mut Rng, at: &str) -> Vec<String> {
    let id = rng.below(900) + 10;
    let user = rng.below(9000) + 1000;
    vec![
        format!("Started GET \"/products/{id}?ref=home\" for 10.0.3.{} at {at} +0000", rng.below(250)),
        "Processing by ProductsController#show as HTML".into(),
        format!("  Parameters: {{\"ref\"=>\"home\", \"id\"=>\"{id}\"}}"),
        format!("  User Load (0.5ms)  SELECT \"users\".* FROM \"users\" WHERE \"users\".\"id\" = $1 ORDER BY \"users\".\"id\" ASC LIMIT $2  [[\"id\", {user}], [\"LIMIT\", 1]]"),
        format!("  Product Load (0.4ms)  SELECT \"products\".* FROM \"products\" WHERE \"products\".\"id\" = $1 LIMIT $2  [[\"id\", {id}], [\"LIMIT\", 1]]"),
        format!("  Review Load (1.1ms)  SELECT \"reviews\".* FROM \"reviews\" WHERE \"reviews\".\"product_id\" = $1 ORDER BY \"reviews\".\"created_at\" DESC  [[\"product_id\", {id}]]"),
        "  Rendered products/_review.html.erb (Duration: 0.9ms | Allocations: 412)".into(),
        "  Rendered products/show.html.erb within layouts/application (Duration: 4.1ms | Allocations: 2311)".into(),
        "  Rendered layout layouts/application.html.erb (Duration: 9.8ms | Allocations: 5120)".into(),
        "Completed 200 OK in 14ms (Views: 10.1ms | ActiveRecord: 2.0ms | Allocations: 7001)".into(),
    ]
}

fn oauth_request(rng: &mut Rng, at: &str) -> Vec<String> {
    let ip = format!("198.51.100.{}", rng.below(250));
    let started = |m: &str, p: &str| format!("Started {m} \"{p}\" for {ip} at {at} +0000");
    match rng.below(4) {
        0 => {
            let (challenge, state, code) = (rng.b64(43), rng.hex(16), rng.b64(43));
            vec![
                started("GET", &format!("/oauth/authorize?client_id={CLIENT}&redirect_uri=com.example.app%3A%2Foauth2redirect&response_type=code&scope=read&state={state}&code_challenge={challenge}&code_challenge_method=S256")),
                "Processing by Doorkeeper::AuthorizationsController#new as HTML".into(),
                format!("  Parameters: {{\"client_id\"=>\"{CLIENT}\", \"redirect_uri\"=>\"com.example.app:/oauth2redirect\", \"response_type\"=>\"code\", \"scope\"=>\"read\", \"state\"=>\"{state}\", \"code_challenge\"=>\"{challenge}\", \"code_challenge_method\"=>\"S256\"}}"),
                "  Doorkeeper::Application Load (0.4ms)  SELECT \"oauth_applications\".* FROM \"oauth_applications\" WHERE \"oauth_applications\".\"uid\" = $1 LIMIT $2".into(),
                format!("Redirected to com.example.app:/oauth2redirect?code={code}&state={state}"),
                "Completed 302 Found in 18ms (ActiveRecord: 4.1ms | Allocations: 4410)".into(),
            ]
        }
        1 => {
            let (code, verifier) = (rng.b64(43), rng.b64(43));
            vec![
                started("POST", "/oauth/token"),
                "Processing by Doorkeeper::TokensController#create as */*".into(),
                format!("  Parameters: {{\"grant_type\"=>\"authorization_code\", \"code\"=>\"{code}\", \"redirect_uri\"=>\"com.example.app:/oauth2redirect\", \"client_id\"=>\"{CLIENT}\", \"code_verifier\"=>\"{verifier}\"}}"),
                "  Doorkeeper::AccessGrant Load (0.5ms)  SELECT \"oauth_access_grants\".* FROM \"oauth_access_grants\" WHERE \"oauth_access_grants\".\"token\" = $1 LIMIT $2  [[\"token\", \"[FILTERED]\"], [\"LIMIT\", 1]]".into(),
                "  TRANSACTION (0.2ms)  BEGIN".into(),
                "  Doorkeeper::AccessToken Create (0.9ms)  INSERT INTO \"oauth_access_tokens\" (\"token\", \"refresh_token\") VALUES ($1, $2) RETURNING \"id\"  [[\"token\", \"[FILTERED]\"], [\"refresh_token\", \"[FILTERED]\"]]".into(),
                "  TRANSACTION (1.2ms)  COMMIT".into(),
                "Completed 200 OK in 19ms (Views: 0.1ms | ActiveRecord: 5.8ms | Allocations: 5131)".into(),
            ]
        }
        2 => vec![
            started("POST", "/oauth/token"),
            "Processing by Doorkeeper::TokensController#create as */*".into(),
            format!("  Parameters: {{\"grant_type\"=>\"refresh_token\", \"refresh_token\"=>\"[FILTERED]\", \"client_id\"=>\"{CLIENT}\"}}"),
            "  Doorkeeper::AccessToken Load (0.5ms)  SELECT \"oauth_access_tokens\".* FROM \"oauth_access_tokens\" WHERE \"oauth_access_tokens\".\"refresh_token\" = $1 LIMIT $2  [[\"refresh_token\", \"[FILTERED]\"], [\"LIMIT\", 1]]".into(),
            "Completed 400 Bad Request in 14ms (Views: 0.2ms | ActiveRecord: 2.9ms | Allocations: 3172)".into(),
        ],
        _ => vec![
            started("POST", "/oauth/revoke"),
            "Processing by Doorkeeper::TokensController#revoke as */*".into(),
            format!("  Parameters: {{\"token\"=>\"[FILTERED]\", \"token_type_hint\"=>\"refresh_token\", \"client_id\"=>\"{CLIENT}\"}}"),
            "Completed 200 OK in 8ms (Views: 0.1ms | ActiveRecord: 1.9ms | Allocations: 1880)".into(),
        ],
    }
}

/// A tagged production log with the Logger prefix: `concurrency` requests
/// in flight at once, their lines interleaved; one in `oauth_every` is OAuth.
fn rails_log(target: usize, oauth_every: u64) -> Vec<u8> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(target + 4096);
    let mut active: Vec<(String, u32, std::vec::IntoIter<String>)> = Vec::new();
    let mut micros: u64 = 0;
    while out.len() < target {
        while active.len() < 4 {
            micros += 1_000 + rng.below(20_000);
            let at = clock(micros, false);
            let lines = if rng.below(oauth_every) == 0 {
                oauth_request(&mut rng, &at)
            } else {
                ordinary_request(&mut rng, &at)
            };
            active.push((rng.uuid(), 7 + rng.below(4) as u32, lines.into_iter()));
        }
        let i = rng.below(active.len() as u64) as usize;
        micros += rng.below(900);
        let (tag, pid, lines) = &mut active[i];
        match lines.next() {
            Some(body) => {
                let sev = if body.starts_with("  ") && body.contains("Load (") {
                    ('D', "DEBUG")
                } else {
                    ('I', " INFO")
                };
                let line = format!(
                    "{}, [{} #{pid}] {} -- : [{tag}] {body}\n",
                    sev.0,
                    clock(micros, true),
                    sev.1
                );
                out.extend_from_slice(line.as_bytes());
            }
            None => {
                active.swap_remove(i);
            }
        }
    }
    out
}

fn clock(micros: u64, logger: bool) -> String {
    let secs = micros / 1_000_000;
    let (h, m, s) = (9 + secs / 3600 % 14, secs / 60 % 60, secs % 60);
    if logger {
        format!("2025-03-11T{h:02}:{m:02}:{s:02}.{:06}", micros % 1_000_000)
    } else {
        format!("2025-03-11 {h:02}:{m:02}:{s:02}")
    }
}

fn lograge_log(target: usize) -> Vec<u8> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut out = Vec::with_capacity(target + 4096);
    let mut n = 0u64;
    while out.len() < target {
        n += 1;
        let (path, ctrl, status) = if rng.below(100) == 0 {
            (
                "/oauth/token".to_string(),
                "Doorkeeper::TokensController",
                400,
            )
        } else {
            (
                format!("/products/{}", rng.below(900)),
                "ProductsController",
                200,
            )
        };
        let id = rng.uuid();
        let line = if n.is_multiple_of(2) {
            format!(
                "I, [2025-03-11T09:41:{:02}.{:06} #7]  INFO -- : method=POST path={path} format=*/* controller={ctrl} action=create status={status} duration=12.84 view=0.17 db=2.91 request_id={id} remote_ip=10.0.3.{} params={{\"grant_type\"=>\"refresh_token\", \"refresh_token\"=>\"[FILTERED]\", \"client_id\"=>\"{CLIENT}\"}}\n",
                n % 60,
                n % 1_000_000,
                rng.below(250)
            )
        } else {
            format!(
                "{{\"method\":\"POST\",\"path\":\"{path}\",\"format\":\"*/*\",\"controller\":\"{ctrl}\",\"action\":\"create\",\"status\":{status},\"duration\":12.84,\"view\":0.17,\"db\":2.91,\"request_id\":\"{id}\",\"remote_ip\":\"10.0.3.7\",\"params\":{{\"grant_type\":\"refresh_token\",\"client_id\":\"{CLIENT}\"}},\"time\":\"2025-03-11T09:41:07.318Z\"}}\n"
            )
        };
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// Feeds every line of `buf` through a fresh parser; returns the number of
/// events (so the work cannot be optimised away).
fn parse_all(format: Format, buf: &[u8]) -> usize {
    let mut parser = FileParser::new(format, Context::default());
    let mut out = Vec::new();
    let mut events = 0;
    let mut start = 0;
    for (n, end) in memchr::memchr_iter(b'\n', buf).enumerate() {
        if let Ok(line) = std::str::from_utf8(&buf[start..end]) {
            parser.feed(n as u64 + 1, line, &mut out);
            events += out.len();
            out.clear();
        }
        start = end + 1;
    }
    parser.flush(&mut out);
    events + out.len()
}

/// Feeds every line of `buf` as `analyze` does: the parser's quiet needles
/// searched once, each line fed with its hint. Returns the number of events.
fn parse_hinted(format: Format, buf: &str) -> usize {
    let mut parser = FileParser::new(format, Context::default());
    let quiet = parser.quiet_skip();
    let mut candidates = quiet.as_deref().map(|q| q.lines(buf));
    let mut out = Vec::new();
    let mut events = 0;
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', buf.as_bytes()).chain([buf.len()]);
    for (n, end) in ends.enumerate() {
        let hint = candidates
            .as_mut()
            .map_or(Hint::Feed, |c| c.line(start, end));
        parser.feed_hinted(n as u64 + 1, &buf[start..end], hint, &mut out);
        events += out.len();
        out.clear();
        start = end + 1;
    }
    parser.flush(&mut out);
    events + out.len()
}

/// The files of `GRANTWATCH_BENCH_FILES`, each with its name and detected
/// format; a file that cannot be read as UTF-8 text is reported and left out.
fn bench_files() -> Vec<(String, Format, String)> {
    let Some(paths) = std::env::var_os("GRANTWATCH_BENCH_FILES") else {
        return Vec::new();
    };
    std::env::split_paths(&paths)
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| eprintln!("{}: {e}", path.display()))
                .ok()?;
            let first: Vec<&str> = text.lines().take(DETECT_LINES).collect();
            let format = detect(&first);
            let name = path.file_name()?.to_string_lossy().into_owned();
            Some((name, format, text))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cases = [
        ("rails/1pct_oauth", Format::Rails, rails_log(64 << 20, 100)),
        ("rails/all_oauth", Format::Rails, rails_log(16 << 20, 1)),
        ("lograge/1pct_oauth", Format::Lograge, lograge_log(32 << 20)),
    ];
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    for (name, format, buf) in &cases {
        assert!(parse_all(*format, buf) > 0, "{name}: no events");
        group.throughput(Throughput::Bytes(buf.len() as u64));
        group.bench_function(*name, |b| b.iter(|| parse_all(*format, black_box(buf))));
    }
    let files = bench_files();
    for (name, format, text) in &files {
        assert!(parse_hinted(*format, text) > 0, "{name}: no events");
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("file/{name}"), |b| {
            b.iter(|| parse_hinted(*format, black_box(text)))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("redact");
    group.sample_size(10);
    let redactor = Redactor::default();
    for (name, _, text) in &files {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name.as_str(), |b| {
            b.iter(|| {
                let lines = black_box(text).lines();
                lines
                    .map(|l| redactor.redact(l).secrets.len())
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
