//! The `grantwatch` command line: parses arguments, runs a command, maps
//! errors to exit codes (2 for bad usage or unreadable input, with one line
//! on stderr; 3 for an `analyze` that could not read some files inside a
//! folder and reported the rest).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use grantwatch::commands::{self, AnalyzeOptions};
use grantwatch::config_file;
use grantwatch::daemon;
use grantwatch::report;
use grantwatch::settings::{self, ReadingArgs, ServingArgs, WatchArgs};
use grantwatch::web;

/// mimalloc instead of the system allocator: correlation reads thousands of
/// short rows with many small strings, and glibc's malloc took a tenth of the
/// time of `analyze` (see benches/README.md). The `system-alloc` feature
/// leaves it out, for heaptrack and massif, which see only malloc.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(feature = "system-alloc"))]
use grantwatch::memory::mi;

/// How long `watch` and `analyze` let mimalloc keep freed pages before it
/// gives them back to the system, in milliseconds. mimalloc (v3) keeps them
/// a second; under a flood of shippers' requests that second's churn stayed
/// resident: the 500-client held flood peaked at 223 MB with 1,000 ms,
/// 184–186 MB with 100, 182 with 10 and 175 with 0, which cost throughput
/// (benches/README.md, "The 500-client flood's memory, measured apart").
/// `analyze` of 3 GB on two cores peaked at 66 MB with 1,000 ms and 62 MB
/// with 100, in the same time (benches/README.md, issue 14's diagnosis on
/// every core).
#[cfg(not(feature = "system-alloc"))]
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// Sets [`PURGE_DELAY_MS`] (for `watch` and `analyze`).
fn purge_freed_memory_promptly() {
    #[cfg(not(feature = "system-alloc"))]
    // SAFETY: sets an option of the allocator linked into this binary;
    // every value is valid for it.
    unsafe {
        mi::mi_option_set(mi::OPTION_PURGE_DELAY, PURGE_DELAY_MS);
    }
}

/// Lets mimalloc commit its arenas' memory as it is used, not the whole
/// arena at once (`mi_option_arena_eager_commit`, 4 in its headers; its
/// default, 2, commits eagerly on systems with overcommit). Eager commit
/// made a tiny `analyze` 46 MB resident against 22 MB, and a 1 GB one on two
/// cores 81 MB against 63 MB, for the same time (benches/README.md).
fn commit_arena_memory_lazily() {
    #[cfg(not(feature = "system-alloc"))]
    // SAFETY: sets an option of the allocator linked into this binary;
    // 0 is one of its documented values.
    unsafe {
        mi::mi_option_set(mi::OPTION_ARENA_EAGER_COMMIT, 0);
    }
}

/// Tells why OAuth 2.0 / OpenID Connect token requests fail, from the logs of
/// the authorization server and its clients.
#[derive(Parser, Debug)]
#[command(name = "grantwatch", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read files or folders once and print one diagnosis per failed token request.
    Analyze {
        /// Print JSON Lines, one object per failure, in time order.
        #[arg(long)]
        json: bool,
        /// Keep the results in this SQLite database (default: a scratch one).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
        #[command(flatten)]
        reading: ReadingArgs,
        /// Read a large file on this many cores at most [default: all]
        /// (without --db: a database kept is filled on one core).
        #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Smallest range of a file one core reads (tests make it small to
        /// cross many range boundaries).
        #[arg(long, hide = true, value_name = "BYTES", default_value_t = commands::Split::default().min_range_bytes)]
        range_bytes: u64,
        /// Bytes a range reader parses at once (tests make it small).
        #[arg(long, hide = true, value_name = "BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..=(1 << 30)))]
        chunk_bytes: u64,
        /// Event ids per unit of the diagnosis on several cores (tests make
        /// it small to cross many unit boundaries).
        #[arg(long, hide = true, value_name = "EVENTS", default_value_t = grantwatch::diagnose::Cores::default().unit_events, value_parser = clap::value_parser!(i64).range(1..))]
        diagnose_unit: i64,
        /// Events a bulk load stores before it keeps their keys in memory
        /// instead of four SQL indexes (tests make it small).
        #[arg(long, hide = true, value_name = "EVENTS", value_parser = clap::value_parser!(i64).range(1..))]
        index_from_events: Option<i64>,
        /// Log files or folders (read recursively; *.gz is decompressed).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Tail files, folders or globs, diagnose failures as they arrive, and
    /// serve the JSON API and metrics.
    Watch {
        /// A TOML file with the same settings and `[[source]]` tables (the
        /// command line wins over it).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Box<WatchArgs>,
        /// Replay PATHS as if written now (a first run: `watch --replay-now
        /// sample_logs/`): each line's time moved to the present, written at
        /// the pace it was logged (gaps over a minute cut to one).
        #[arg(long)]
        replay_now: bool,
        /// With --replay-now: this many times faster (e.g. 60: an hour of
        /// logs in a minute) [default: 1].
        #[arg(long, value_name = "FACTOR", requires = "replay_now")]
        replay_speed: Option<f64>,
        /// Log files, folders or globs (quote globs: '/var/log/app/*.log');
        /// none: only what shippers send.
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Tell the whole story of one request id across every log in a database.
    Lookup {
        /// The database written by `analyze --db` or `watch`.
        #[arg(long, value_name = "PATH", default_value = "grantwatch.db")]
        db: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The request id.
        request_id: String,
    },
    /// Serve the JSON API and the metrics over an existing database.
    Serve {
        /// The database written by `analyze --db` or `watch`.
        #[arg(long, value_name = "PATH", default_value = "grantwatch.db")]
        db: PathBuf,
        #[command(flatten)]
        serving: ServingArgs,
    },
}

/// Runs [`commit_arena_memory_lazily`] before `main`, as an ELF
/// constructor: the runtime allocates (and mimalloc makes its first arena)
/// before `main` starts, and an arena keeps the commit policy it was made
/// with.
#[cfg(all(target_os = "linux", not(feature = "system-alloc")))]
#[used]
#[unsafe(link_section = ".init_array")]
static COMMIT_LAZILY_BEFORE_MAIN: extern "C" fn() = {
    extern "C" fn before_main() {
        commit_arena_memory_lazily();
    }
    before_main
};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            // One line on stderr, exit status 2: clap's message without its
            // usage block and its tip.
            let text = err.to_string();
            let parts: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!(
                "grantwatch: {}",
                parts.join(" ").trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(code) => code,
        // `grantwatch analyze ... | head` is fine, whichever stage's error
        // the closed pipe came wrapped in.
        Err(err) if is_closed_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("grantwatch: {}", one_line(&err));
            ExitCode::from(2)
        }
    }
}

/// Whether `err` is the reader of standard output going away, as such or
/// as the report's write error (which wraps it transparently, or inside a
/// JSON error: the chain does not hold it).
fn is_closed_pipe(err: &anyhow::Error) -> bool {
    let kind = match err.downcast_ref::<report::Error>() {
        Some(report::Error::Io(e)) => Some(e.kind()),
        // A failure's JSON written straight to the output.
        Some(report::Error::Json(e)) => e.io_error_kind(),
        _ => err.downcast_ref::<std::io::Error>().map(|e| e.kind()),
    };
    kind == Some(std::io::ErrorKind::BrokenPipe)
}

/// An error and its causes on one line, each once: the errors of the
/// stages name their cause in their own message (`cannot read PATH: why`),
/// and the chain would say it again.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Buffered: stdout alone is line-buffered, and `--json` writes each
    // failure in many small pieces that it would each search for a newline
    // (a thirtieth of a Rails analysis's instructions, benches/README.md).
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    match cli.command {
        Command::Analyze {
            json,
            db,
            reading,
            jobs,
            range_bytes,
            chunk_bytes,
            diagnose_unit,
            index_from_events,
            paths,
        } => {
            purge_freed_memory_promptly();
            // Ctrl-C during a long analysis leaves no scratch database.
            grantwatch::scratch::remove_on_interrupt()
                .context("watching for Ctrl-C to remove the scratch database")?;
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            let opts = AnalyzeOptions {
                paths,
                db,
                format: reading.format,
                context: reading.context(),
                settings: reading.diagnose_settings(),
                split: commands::Split {
                    jobs: jobs.map_or(cores, usize::from),
                    min_range_bytes: range_bytes,
                    chunk_bytes: chunk_bytes as usize,
                },
                cores: grantwatch::diagnose::Cores {
                    jobs: jobs.map_or(cores, usize::from),
                    unit_events: diagnose_unit,
                },
                index_from_events,
            };
            let bar = progress_bar();
            let analysis = commands::analyze(
                &opts,
                &mut |total| {
                    if let Some(b) = &bar {
                        b.set_length(total);
                        // Small inputs finish before a bar would help.
                        if total < LARGE_INPUT {
                            b.set_draw_target(indicatif::ProgressDrawTarget::hidden());
                        }
                    }
                },
                &mut |n| {
                    if let Some(b) = &bar {
                        b.inc(n);
                    }
                },
            )?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            // Files left out go to stderr whatever the output: the JSON
            // Lines on stdout stay one failure per line.
            report::left_out(&mut std::io::stderr().lock(), &analysis.read, json)?;
            if json {
                report::json_lines(&mut out, &analysis.store)?;
                // Never silent: stdout is the contract's JSON Lines, so a
                // file that was mostly not understood is said on stderr.
                for file in analysis.read.per_file.iter().filter(|f| f.mostly_unknown()) {
                    eprintln!("grantwatch: {}", file.describe());
                }
            } else {
                report::text(&mut out, &analysis)?;
            }
            if !analysis.read.unreadable.is_empty() {
                out.flush()?;
                return Ok(ExitCode::from(PARTIAL));
            }
        }
        Command::Lookup {
            db,
            json,
            request_id,
        } => {
            let store = commands::open_existing(&db)?;
            let story = store
                .request_story(&request_id)
                .with_context(|| format!("looking up {request_id}"))?;
            if story.events.is_empty() && story.failures.is_empty() {
                eprintln!(
                    "grantwatch: nothing in {} mentions request id {request_id:?}",
                    db.display()
                );
                return Ok(ExitCode::from(1));
            }
            if json {
                serde_json::to_writer_pretty(&mut out, &story)?;
                writeln!(out)?;
            } else {
                report::story(&mut out, &story)?;
            }
        }
        Command::Serve { db, serving } => {
            // A missing or unreadable database is one line and exit 2
            // before anything listens.
            drop(commands::open_existing(&db)?);
            let listen = serving
                .listen
                .as_deref()
                .unwrap_or(settings::DEFAULT_LISTEN);
            daemon::serve(db, listen, serving.token.as_deref())?;
            eprintln!("grantwatch: stopped");
        }
        Command::Watch {
            config,
            settings,
            replay_now,
            replay_speed,
            mut paths,
        } => {
            purge_freed_memory_promptly();
            // The replay writes the logs, times moved to now, into a folder
            // of its own, which is what the watcher follows.
            let replay = if replay_now {
                let replay = grantwatch::replay::start(&paths, replay_speed.unwrap_or(1.0))?;
                eprintln!(
                    "grantwatch: replaying {} as if written now, into {}",
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    replay.dir().display()
                );
                paths = vec![replay.dir().to_path_buf()];
                Some(replay)
            } else {
                None
            };
            let file = match &config {
                Some(path) => config_file::load(path)?,
                None => WatchArgs::default(),
            };
            let setup = settings::resolve(settings.over(file), paths)?;
            daemon::run(setup, web::shutdown_signal())?;
            drop(replay);
            eprintln!("grantwatch: stopped");
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The exit status of an `analyze` that read all but some files inside
/// the folders given (each named on stderr): the report covers the rest.
const PARTIAL: u8 = 3;

/// Inputs from this size on get a progress bar.
const LARGE_INPUT: u64 = 64 * 1024 * 1024;

/// A progress bar on stderr, only when stderr is a terminal.
fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

#[cfg(all(test, not(feature = "system-alloc")))]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_is_mimallocs_option_and_the_commands_shorten_it() {
        // SAFETY: reads an option of the linked allocator.
        let before = unsafe { mi::mi_option_get(mi::OPTION_PURGE_DELAY) };
        // v3's documented default: another option at this index would
        // hardly have it.
        assert_eq!(before, 1000);
        purge_freed_memory_promptly();
        // SAFETY: as above.
        assert_eq!(
            unsafe { mi::mi_option_get(mi::OPTION_PURGE_DELAY) },
            PURGE_DELAY_MS
        );
    }

    #[test]
    fn arena_memory_is_committed_lazily_from_before_main() {
        // The constructor ran before this test binary's main: the option is
        // already 0 (mimalloc's default is 2).
        // SAFETY: reads an option of the linked allocator.
        let now = unsafe { mi::mi_option_get(mi::OPTION_ARENA_EAGER_COMMIT) };
        assert_eq!(now, 0);
    }
}
