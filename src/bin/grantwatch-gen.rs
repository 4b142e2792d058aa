//! `grantwatch-gen`: writes a large realistic Rails + Doorkeeper log with
//! known failure causes, for benchmarks and accuracy checks. The injected
//! causes go to `OUT.expected.jsonl`, one `{"request_id","cause"}` per line.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use grantwatch::generate::{GenOptions, generate};

/// Writes a realistic Rails + Doorkeeper production log with known causes.
#[derive(Parser, Debug)]
#[command(name = "grantwatch-gen", version)]
struct Args {
    /// Approximate size: bytes, or with a K, M or G suffix.
    #[arg(long, default_value = "64M", value_parser = parse_size)]
    size: u64,
    /// Share of requests that are OAuth flows.
    #[arg(long, default_value_t = 0.01)]
    oauth_share: f64,
    /// Share of OAuth flows that fail.
    #[arg(long, default_value_t = 0.3)]
    failure_share: f64,
    /// PRNG seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The log file to write.
    out: PathBuf,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|_| format!("bad size {s:?}: write it like 64M or 1G"))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let opts = GenOptions {
        target_bytes: args.size,
        oauth_share: args.oauth_share,
        failure_share: args.failure_share,
        seed: args.seed,
        ..GenOptions::default()
    };
    let file =
        File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let expected = generate(&opts, &mut out)?;
    out.flush()?;
    let exp_path = PathBuf::from(format!("{}.expected.jsonl", args.out.display()));
    let mut exp = BufWriter::new(File::create(&exp_path)?);
    for e in &expected {
        serde_json::to_writer(&mut exp, e)?;
        exp.write_all(b"\n")?;
    }
    exp.flush()?;
    eprintln!(
        "wrote {} ({} injected failures in {})",
        args.out.display(),
        expected.len(),
        exp_path.display()
    );
    Ok(())
}
