//! Shared helpers of the integration tests: running the built binary,
//! reading its JSON Lines, and a database analyzed from the sample logs
//! for the dashboard's tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// The `grantwatch` binary cargo built for these tests.
pub fn grantwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_grantwatch"))
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes `src` gzipped (fast level) to `dst`, as logrotate's `compress`
/// leaves an old log.
pub fn gzip_file(src: &Path, dst: &Path) {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(dst).expect("create .gz"),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(src).expect("read"))
        .expect("compress");
    enc.finish().expect("finish .gz");
}

/// The line numbers of a failure's evidence (`analyze --json`), in its
/// order.
pub fn evidence_lines(failure: &serde_json::Value) -> Vec<u64> {
    failure["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["line"].as_u64())
        .collect()
}

/// Runs `grantwatch analyze --json` over `paths` and parses its output.
pub fn analyze_json(paths: &[&Path]) -> Vec<serde_json::Value> {
    analyze_json_with(&[], paths)
}

/// [`analyze_json`] with more options (`--year` for logcat, …).
pub fn analyze_json_with(options: &[&str], paths: &[&Path]) -> Vec<serde_json::Value> {
    let out = grantwatch()
        .arg("analyze")
        .arg("--json")
        .args(options)
        .args(paths)
        .output()
        .expect("run grantwatch");
    assert!(out.status.success(), "analyze failed: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Analyzes `paths` into the database at `db` (made when missing).
pub fn analyze_into(paths: Vec<PathBuf>, db: &Path) {
    let opts = grantwatch::commands::AnalyzeOptions {
        paths,
        db: Some(db.to_path_buf()),
        ..Default::default()
    };
    drop(grantwatch::commands::analyze(&opts, &mut |_| {}, &mut |_| {}).expect("analyze"));
}

/// Writes `record` as the one line of a JSON Lines log `file_name` in `dir`,
/// analyzes it into `dir/hostile.db` and returns that database's path (the
/// escaping tests plant markup in log fields this way).
pub fn analyze_one_record(dir: &Path, file_name: &str, record: &serde_json::Value) -> PathBuf {
    let log = dir.join(file_name);
    std::fs::write(&log, format!("{record}\n")).expect("write");
    let db = dir.join("hostile.db");
    analyze_into(vec![log], &db);
    db
}

/// A database analyzed from every sample log, in a temporary folder
/// removed with it (each test builds its own: tests run in parallel, and
/// under nextest in processes of their own). The page and API tests add
/// their own methods to it.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub db: PathBuf,
}

impl Fixture {
    pub fn sample() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("sample.db");
        analyze_into(vec![root().join("sample_logs")], &db);
        Fixture { _dir: dir, db }
    }

    pub fn app(&self) -> axum::Router {
        grantwatch::web::router(grantwatch::web::AppState::new(&self.db))
    }

    pub fn store(&self) -> grantwatch::store::Store {
        grantwatch::store::Store::open_read_only(&self.db).expect("open")
    }

    /// A connection for the test's own SQL ([`read_sql`]).
    pub fn sql(&self) -> rusqlite::Connection {
        read_sql(&self.db)
    }
}

/// An answer of the router, read whole.
pub struct Reply {
    pub status: axum::http::StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8")
    }
}

/// Sends `request` through `app` without a socket and reads the answer.
pub async fn send(app: axum::Router, request: axum::http::Request<axum::body::Body>) -> Reply {
    use tower::ServiceExt as _;
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// `GET uri` through `app`.
pub async fn get(app: axum::Router, uri: &str) -> Reply {
    let request = axum::http::Request::get(uri)
        .body(axum::body::Body::empty())
        .expect("request");
    send(app, request).await
}

/// The failures of a database, sorted: (time, request, client, cause,
/// confidence), what must agree.
pub type Diagnoses = Vec<(Option<i64>, Option<String>, Option<String>, String, String)>;

/// A read-only connection to the database at `db`, waiting up to 5 s for
/// a writer's lock: for tests that check what was stored with their own
/// SQL, apart from the store's queries.
pub fn read_sql(db: &Path) -> rusqlite::Connection {
    try_read_sql(db).expect("open db")
}

/// [`read_sql`], for a database that may not exist yet.
pub fn try_read_sql(db: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

pub fn diagnoses(db: &Path) -> Diagnoses {
    let conn = read_sql(db);
    let mut stmt = conn
        .prepare("SELECT ts_ms, request_id, client_id, cause, confidence FROM failures")
        .expect("prepare");
    let mut rows: Diagnoses = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    rows.sort();
    rows
}

/// The names of the indexes of `events` in the database at `db`, sorted
/// (opened read-write: a database left by a killed process may need its
/// journal rolled back).
pub fn event_indexes(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open");
    let mut names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("names");
    names.sort();
    names
}
