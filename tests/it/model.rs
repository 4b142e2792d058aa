//! A model-based test of the whole daemon (issue 11, "Proof"): random
//! sequences of what happens to a watched folder and to the process that
//! watches it, run against the real `grantwatch watch` binary, and a model
//! of what must be seen once the sequence has settled.
//!
//! Operations: append failed token requests (JSON Lines, one line each) and
//! failed and successful ones (Rails/Doorkeeper records of four lines, which
//! a partial write cuts anywhere) to a file, write a
//! partial line and finish it later (across a restart sometimes), rename
//! rotation (the rotated file stays in the folder), gzip of a rotated file
//! (logrotate's `compress`: `watch` leaves `.gz` files out), copytruncate (the copy
//! goes outside the folder, as the README asks), truncation, deletion, a new
//! file, `kill -9` (restarted at once or after more operations), SIGTERM and
//! restart, and another process holding the write lock for up to 3 s.
//!
//! The model: every request id written is either *required* (it cannot be
//! lost: nothing destroyed it before the daemon read it) or *optional* (a
//! truncation, copytruncate or deletion took it before the daemon confirmed
//! reading it; if its line was written in two parts, the daemon may have
//! held the first and then stores it as the cut line it is, with no request
//! id or a cut one, or a Rails record without its end, so without a
//! failure: the README's "held partial line" of a truncated file).
//! Once settled, every required failed request has exactly one
//! failure row with the cause its text names, every required successful one
//! has its event and no failure, an optional one is stored at most once and
//! then diagnosed like a required one, no request has two events of one kind,
//! no other request id exists (beyond one event and one failure per cut
//! line), and the diagnosis cursor covers every event.
//! Settling is polled with a generous deadline, never timed.
//!
//! Seeds are printed with each failure; `GRANTWATCH_MODEL_SEED=N` replays
//! one, `GRANTWATCH_MODEL_SEQUENCES=N` runs N (default 3) and
//! `GRANTWATCH_MODEL_JOBS=J` runs J at once (default 3: a sequence mostly
//! waits), `GRANTWATCH_MODEL_OPS=K` makes each K operations long (default 12)
//! and `GRANTWATCH_MODEL_BINARY=PATH` drives another build (the long run on a
//! release build: benches/README.md).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::watch::{Daemon, append, spawn_command};

mod check;
use check::{differences, seen, stored};

/// One request the model knows: what it must be diagnosed as (`None`: a
/// successful request, no failure) and whether it may have been lost.
#[derive(Clone, Debug)]
pub(super) struct Expected {
    cause: Option<&'static str>,
    required: bool,
}

/// Failed JSON Lines requests: the OAuth error, its description, and the
/// cause that text names (the providers' catalog).
const JSON_FAILURES: &[(&str, &str, &str)] = &[
    ("invalid_grant", "Code was already redeemed.", "code_reused"),
    (
        "invalid_client",
        "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        "invalid_client_credentials",
    ),
    (
        "invalid_scope",
        "The requested scope is invalid, unknown, or malformed.",
        "scope_invalid",
    ),
    (
        "invalid_grant",
        "Missing required parameter: code_verifier.",
        "pkce_missing",
    ),
    (
        "invalid_redirect_uri",
        "The requested redirect uri is malformed or doesn't match client redirect URI.",
        "redirect_uri_mismatch",
    ),
    (
        "unauthorized_client",
        "The client is not authorized to perform this request using this method.",
        "grant_type_not_allowed",
    ),
];

/// The cause of the Rails requests written (a password grant answered 400).
const RAILS_CAUSE: &str = "invalid_resource_owner_credentials";

/// What a watched file holds: its format decides how requests are written.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Json,
    Rails,
}

/// A file under the watched folder, as the model sees it.
struct File {
    path: PathBuf,
    kind: Kind,
    /// Request ids written since the daemon last confirmed reading this
    /// file: a destructive operation makes these optional.
    unconfirmed: Vec<String>,
    /// Rotations so far (the rotated names).
    rotations: u32,
}

/// One sequence's state: the folder, the daemon, the model.
struct Run {
    rng: fastrand::Rng,
    dir: tempfile::TempDir,
    logs: PathBuf,
    db: PathBuf,
    daemon: Option<Daemon>,
    files: Vec<File>,
    /// Request ids written in two parts (a partial line finished later).
    partials: HashSet<String>,
    /// Of those, the ones a destructive operation may have cut: the daemon
    /// may hold the first part when the file is truncated, and then stores
    /// it as the cut line it is (README: those bytes were real).
    cut: Vec<String>,
    /// Rotated files not compressed yet, with the ids they hold unread.
    rotated: Vec<(PathBuf, Vec<String>)>,
    expected: BTreeMap<String, Expected>,
    next_id: u32,
    /// Files created so far (their names' numbers).
    made: usize,
    log: Vec<String>,
}

impl Run {
    fn new(seed: u64) -> Run {
        let dir = tempfile::tempdir().expect("tempdir");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("archive")).expect("mkdir");
        let db = dir.path().join("w.db");
        Run {
            rng: fastrand::Rng::with_seed(seed),
            dir,
            logs,
            db,
            daemon: None,
            files: Vec::new(),
            rotated: Vec::new(),
            partials: HashSet::new(),
            cut: Vec::new(),
            expected: BTreeMap::new(),
            next_id: 0,
            made: 0,
            log: Vec::new(),
        }
    }

    fn note(&mut self, what: String) {
        self.log.push(what);
    }

    /// A fresh request id and the log time of its lines (one second apart,
    /// so every line's time is distinct and increasing).
    /// Rails tags carry UUIDs, so those files get UUID-shaped ids (`0…`
    /// failed, `1…` successful).
    fn fresh(&mut self, kind: Kind, fail: bool) -> (String, u32) {
        self.next_id += 1;
        let n = self.next_id;
        let id = match kind {
            Kind::Json => format!("{}-{n:05}", if fail { "fail" } else { "ok" }),
            Kind::Rails => format!("{}00000aa-0000-4000-8000-{n:012}", u8::from(!fail)),
        };
        (id, n)
    }

    fn new_file(&mut self) {
        let kind = if self.rng.u8(0..3) == 0 {
            Kind::Rails
        } else {
            Kind::Json
        };
        // Names are never reused by this operation (a deleted file's name
        // is, by the delete operation itself).
        self.made += 1;
        let n = self.made;
        let path = self.logs.join(match kind {
            Kind::Json => format!("app-{n}.jsonl"),
            Kind::Rails => format!("rails-{n}.log"),
        });
        std::fs::write(&path, "").expect("create");
        self.note(format!("new file {}", name(&path)));
        self.files.push(File {
            path,
            kind,
            unconfirmed: Vec::new(),
            rotations: 0,
        });
    }

    /// The text of one request for file `f` and records what it must become.
    fn request(&mut self, f: usize) -> String {
        // A client's "requesting a token" line would be read as the request
        // of the error line after it (one case, as a client logs them), so
        // successful requests are Rails server records only.
        let kind = self.files[f].kind;
        let fail = kind == Kind::Json || self.rng.u8(0..3) != 0;
        let (id, t) = self.fresh(kind, fail);
        let time = clock(t);
        let (text, cause) = match (kind, fail) {
            (Kind::Json, _) => {
                let (error, description, cause) =
                    JSON_FAILURES[self.rng.usize(..JSON_FAILURES.len())];
                (
                    format!(
                        "{{\"time\":\"2025-03-11T{time}.000Z\",\"request_id\":\"{id}\",\"error\":\"{error}\",\"error_description\":\"{description}\"}}\n"
                    ),
                    Some(cause),
                )
            }
            (Kind::Rails, fail) => (rails(&id, &time, fail), fail.then_some(RAILS_CAUSE)),
        };
        self.expected.insert(
            id.clone(),
            Expected {
                cause,
                required: true,
            },
        );
        self.files[f].unconfirmed.push(id);
        text
    }

    fn start(&mut self) {
        if self.daemon.is_none() {
            self.daemon = Some(start(&self.db, &self.logs));
            self.note("start".into());
        }
    }

    fn kill_9(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.child.kill().expect("kill -9");
            d.child.wait().expect("wait");
            self.note("kill -9".into());
        }
    }

    fn sigterm(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let code = sigterm(&mut d);
            self.note(format!("SIGTERM: exit {code:?}"));
            assert_eq!(code, Some(0), "SIGTERM exits 0\n{}", self.log.join("\n"));
        }
    }

    /// Before a destructive operation on file `f`: either wait until the
    /// daemon has stored what the file holds (its ids stay required), or
    /// let the operation take what was not read yet (they become optional).
    fn before_destroying(&mut self, f: usize) {
        let ids = std::mem::take(&mut self.files[f].unconfirmed);
        self.confirm_or_forfeit(ids);
    }

    /// Waits until `ids` are stored (they stay required), or makes them
    /// optional: what comes next may destroy them unread.
    fn confirm_or_forfeit(&mut self, ids: Vec<String>) {
        if self.daemon.is_some() && self.rng.bool() {
            let db = self.db.clone();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !ids.iter().all(|id| stored(&db, id)) {
                assert!(
                    Instant::now() < deadline,
                    "{} never stored\n{}",
                    ids.join(", "),
                    self.log.join("\n")
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            self.note(format!("confirmed {} ids", ids.len()));
        } else {
            for id in &ids {
                if let Some(e) = self.expected.get_mut(id) {
                    e.required = false;
                }
                if self.partials.contains(id) {
                    self.cut.push(id.clone());
                }
            }
        }
    }

    /// One random operation.
    fn step(&mut self) {
        if self.files.is_empty() {
            self.new_file();
        }
        let f = self.rng.usize(..self.files.len());
        let path = self.files[f].path.clone();
        match self.rng.u8(0..100) {
            0..=34 => {
                let n = self.rng.usize(1..=20);
                let text: String = (0..n).map(|_| self.request(f)).collect();
                append(&path, &text);
                self.note(format!("append {n} to {}", name(&path)));
            }
            35..=44 => {
                // A partial write finished later, across a restart sometimes.
                let text = self.request(f);
                if let Some(id) = self.files[f].unconfirmed.last() {
                    self.partials.insert(id.clone());
                }
                let cut = self.rng.usize(1..text.len());
                append(&path, &text[..cut]);
                self.note(format!("partial {cut}/{} to {}", text.len(), name(&path)));
                self.pause();
                match self.rng.u8(0..4) {
                    0 => {
                        self.kill_9();
                        self.start();
                    }
                    1 => {
                        self.sigterm();
                        self.start();
                    }
                    _ => {}
                }
                append(&path, &text[cut..]);
                self.note(format!("finished the line in {}", name(&path)));
            }
            45..=52 => {
                self.files[f].rotations += 1;
                let mut to = path.clone().into_os_string();
                to.push(format!(".{}", self.files[f].rotations));
                std::fs::rename(&path, &to).expect("rotate");
                std::fs::write(&path, "").expect("recreate");
                // What the rotated file holds is read to its end, unless a
                // later gzip takes it first.
                let ids = std::mem::take(&mut self.files[f].unconfirmed);
                self.rotated.push((PathBuf::from(to), ids));
                self.note(format!("rotate {}", name(&path)));
            }
            53..=57 => {
                self.before_destroying(f);
                let copy = self.dir.path().join("archive").join(format!(
                    "{}.{}",
                    name(&path),
                    self.next_id
                ));
                std::fs::copy(&path, copy).expect("copy");
                std::fs::File::create(&path).expect("truncate");
                self.note(format!("copytruncate {}", name(&path)));
            }
            58..=62 => {
                self.before_destroying(f);
                std::fs::File::create(&path).expect("truncate");
                self.note(format!("truncate {}", name(&path)));
            }
            63..=66 => {
                self.before_destroying(f);
                std::fs::remove_file(&path).expect("delete");
                self.note(format!("delete {}", name(&path)));
                let file = self.files.remove(f);
                // Sometimes a new file takes the deleted one's name (and
                // often its inode).
                if self.rng.bool() {
                    std::fs::write(&file.path, "").expect("recreate");
                    self.note(format!("recreate {}", name(&file.path)));
                    self.files.push(File {
                        unconfirmed: Vec::new(),
                        ..file
                    });
                }
            }
            67..=72 => {
                self.new_file();
            }
            73..=80 => {
                self.kill_9();
                if self.rng.bool() {
                    self.start();
                }
            }
            81..=86 => {
                self.sigterm();
                self.start();
            }
            87..=90 => self.hold_lock(),
            91..=94 if !self.rotated.is_empty() => {
                // logrotate's compress: the rotated file becomes `.gz`,
                // which `watch` leaves out.
                let (from, ids) = self
                    .rotated
                    .swap_remove(self.rng.usize(..self.rotated.len()));
                self.confirm_or_forfeit(ids);
                let mut to = from.clone().into_os_string();
                to.push(".gz");
                crate::helpers::gzip_file(&from, Path::new(&to));
                std::fs::remove_file(&from).expect("remove rotated");
                self.note(format!("gzip {}", name(&from)));
            }
            _ => self.start(),
        }
        self.pause();
    }

    /// A short random pause (often none): lets operations land both
    /// between and inside the daemon's reads.
    fn pause(&mut self) {
        if self.rng.bool() {
            std::thread::sleep(Duration::from_millis(self.rng.u64(0..150)));
        }
    }

    /// Another process takes the write lock for 0.5-3 s while lines are
    /// appended, then releases it.
    fn hold_lock(&mut self) {
        if !self.db.exists() || self.files.is_empty() {
            return;
        }
        let Ok(locker) = rusqlite::Connection::open(&self.db) else {
            return;
        };
        locker
            .busy_timeout(Duration::from_secs(10))
            .expect("timeout");
        locker
            .execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        let held = Duration::from_millis(self.rng.u64(500..3000));
        let f = self.rng.usize(..self.files.len());
        let n = self.rng.usize(1..=10);
        let text: String = (0..n).map(|_| self.request(f)).collect();
        append(&self.files[f].path.clone(), &text);
        std::thread::sleep(held);
        locker.execute_batch("ROLLBACK").expect("release");
        let path = self.files[f].path.clone();
        self.note(format!(
            "lock held {} ms, {n} appended to {}",
            held.as_millis(),
            name(&path)
        ));
    }
}

/// Starts `grantwatch watch` of `logs` into `db`: the binary cargo built
/// for the tests, or `GRANTWATCH_MODEL_BINARY` (the long run drives a
/// release build with this debug test harness).
fn start(db: &Path, logs: &Path) -> Daemon {
    let binary = std::env::var_os("GRANTWATCH_MODEL_BINARY").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_grantwatch")),
        PathBuf::from,
    );
    let mut cmd = std::process::Command::new(binary);
    cmd.args([
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--poll-interval-ms",
        "50",
        "--db",
    ])
    .arg(db)
    .arg(logs);
    spawn_command(cmd)
}

/// `HH:MM:SS` of second `t` of the day (9 o'clock on).
fn clock(t: u32) -> String {
    let s = 9 * 3600 + t;
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

fn name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// A Doorkeeper password grant as Rails logs it, answered 200 or 400.
fn rails(id: &str, time: &str, fail: bool) -> String {
    let p = |msg: &str| format!("I, [2025-03-11T{time}.000000 #7]  INFO -- : [{id}] {msg}\n");
    let mut out = p(&format!(
        "Started POST \"/oauth/token\" for 10.0.0.1 at 2025-03-11 {time} +0000"
    ));
    out += &p("Processing by Doorkeeper::TokensController#create as */*");
    out += &p(
        "  Parameters: {\"grant_type\"=>\"password\", \"username\"=>\"kim@example.com\", \"password\"=>\"[FILTERED]\", \"client_id\"=>\"app\"}",
    );
    out += &p(if fail {
        "Completed 400 Bad Request in 12ms (Views: 0.1ms | ActiveRecord: 2.0ms | Allocations: 2000)"
    } else {
        "Completed 200 OK in 12ms (Views: 0.1ms | ActiveRecord: 2.0ms | Allocations: 2000)"
    });
    out
}

fn sigterm(daemon: &mut Daemon) -> Option<i32> {
    let pid = daemon.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    daemon.child.wait().expect("wait").code()
}

/// One sequence of `ops` random operations from `seed`; the differences
/// left once it has settled (or after a 90 s deadline).
fn sequence(seed: u64, ops: usize) -> Result<usize, String> {
    let mut run = Run::new(seed);
    run.start();
    for _ in 0..ops {
        run.step();
    }
    run.start();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut agreed_since: Option<Instant> = None;
    let last = loop {
        let now = match seen(&run.db) {
            Ok(now) => differences(&run.expected, &run.cut, &now),
            Err(e) => vec![format!("reading the database: {e}")],
        };
        // Agreement must hold for a while: a late diagnosis or a second
        // copy of an event would show up after the first agreement.
        if now.is_empty() {
            let since = *agreed_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_millis(1500) {
                break now;
            }
        } else {
            agreed_since = None;
        }
        if Instant::now() > deadline {
            break now;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    run.sigterm();
    if std::env::var_os("GRANTWATCH_MODEL_KEEP").is_some() {
        eprintln!("kept {}", run.dir.keep().display());
    }
    if last.is_empty() {
        Ok(run.expected.len())
    } else {
        Err(format!(
            "model seed {seed}: the daemon differs from the model\n{}\noperations:\n{}",
            last.join("\n"),
            run.log.join("\n")
        ))
    }
}

/// Runs `seeds`, `jobs` at a time; the failures' reports.
fn run_all(seeds: Vec<u64>, ops: usize, jobs: usize) -> Vec<String> {
    let queue = std::sync::Mutex::new(seeds);
    let failures = std::sync::Mutex::new(Vec::new());
    let started = Instant::now();
    let done = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                // The guard is dropped inside `map_or`: no lock is held
                // while a sequence runs.
                while let Some(seed) = queue.lock().map_or(None, |mut q| q.pop()) {
                    let result =
                        std::panic::catch_unwind(|| sequence(seed, ops)).unwrap_or_else(|panic| {
                            let why = panic
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                                .unwrap_or_default();
                            Err(format!("model seed {seed}: panicked: {why}"))
                        });
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    match result {
                        Ok(requests) => eprintln!(
                            "model seed {seed}: ok, {requests} requests ({n} done, {:.0} s)",
                            started.elapsed().as_secs_f64()
                        ),
                        Err(report) => {
                            eprintln!("{report}");
                            if let Ok(mut f) = failures.lock() {
                                f.push(report);
                            }
                        }
                    }
                }
            });
        }
    });
    failures.into_inner().unwrap_or_default()
}

#[test]
fn the_daemon_agrees_with_the_model_after_random_faults() {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let ops = env("GRANTWATCH_MODEL_OPS").unwrap_or(12) as usize;
    let seeds: Vec<u64> = match env("GRANTWATCH_MODEL_SEED") {
        Some(seed) => vec![seed],
        None => (0..env("GRANTWATCH_MODEL_SEQUENCES").unwrap_or(3))
            .map(|_| fastrand::u64(..))
            .collect(),
    };
    let jobs = env("GRANTWATCH_MODEL_JOBS").unwrap_or(3) as usize;
    let total = seeds.len();
    let failures = run_all(seeds, ops, jobs);
    assert!(
        failures.is_empty(),
        "{} of {total} sequences failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
