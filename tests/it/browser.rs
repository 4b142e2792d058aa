//! The dashboard in a real browser: headless Chromium (Debian's `chromium`,
//! installed by `.ci/run`) loads the overview, searches a request id the way
//! the search box does (a GET form), opens that request's failure, opens a
//! redirect_uri mismatch from the filtered list and finds the difference
//! marked, and saves a screenshot of each page (in `target/screenshots/`).
//!
//! Without Chromium the test says so and passes on a developer machine, but
//! fails in CI (`CI` set), where `.ci/run` installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::helpers::{grantwatch, root};

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Runs headless Chromium on `url` with `mode` (`--dump-dom` or
/// `--screenshot=FILE`); what it printed.
fn browse(chromium: &Path, profile: &Path, mode: &str, url: &str) -> String {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The path of the first link to a failure page in `page`.
fn first_failure_link(page: &str) -> String {
    let id = page
        .split("href=\"/failures/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no link to a failure in {page}"));
    format!("/failures/{id}")
}

#[test]
fn overview_search_and_failure_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium (.ci/run installs it)"
        );
        eprintln!("skipped: no chromium on this machine (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("g.db");
    let analyzed = grantwatch()
        .args(["analyze", "--db"])
        .arg(&db)
        .arg(root().join("sample_logs/rails"))
        .stdout(Stdio::null())
        .status()
        .expect("analyze");
    assert!(analyzed.success());
    let mut server = grantwatch()
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let stderr = server.stderr.take().expect("stderr");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let addr = loop {
        let line = lines.next().expect("a line").expect("utf-8");
        if let Some(rest) = line.split("on http://").nth(1) {
            break rest.split_whitespace().next().expect("addr").to_owned();
        }
    };
    let base = format!("http://{addr}");
    let profile = dir.path().join("profile");
    let shots = root().join("target/screenshots");
    std::fs::create_dir_all(&shots).expect("screenshots folder");

    let overview = browse(&chromium, &profile, "--dump-dom", &format!("{base}/"));
    assert!(overview.contains("Overview"), "{overview}");
    assert!(overview.contains("<svg"), "the chart is drawn");
    browse(
        &chromium,
        &profile,
        &format!("--screenshot={}", shots.join("overview.png").display()),
        &format!("{base}/"),
    );
    assert!(shots.join("overview.png").exists());

    // The request of the PKCE mismatch in the Rails sample, searched as the
    // search box sends it.
    let rid = "6284f118-3187-4ec8-b318-7c48a2aa1487";
    let found = browse(
        &chromium,
        &profile,
        "--dump-dom",
        &format!("{base}/requests?id={rid}"),
    );
    let failure_url = format!("{base}{}", first_failure_link(&found));
    let failure = browse(&chromium, &profile, "--dump-dom", &failure_url);
    assert!(failure.contains("pkce_verifier_mismatch"), "{failure}");
    assert!(failure.contains("Fix"), "{failure}");
    browse(
        &chromium,
        &profile,
        &format!("--screenshot={}", shots.join("failure.png").display()),
        &failure_url,
    );
    assert!(shots.join("failure.png").exists());

    // The newest redirect_uri mismatch of the Rails samples (Rails 8: the
    // app sent `com.example.app://` to the token endpoint after
    // `com.example.app:/` to authorize), from the list filtered by its
    // cause: the extra slash is marked.
    let list = browse(
        &chromium,
        &profile,
        "--dump-dom",
        &format!("{base}/failures?cause=redirect_uri_mismatch"),
    );
    let redirect_url = format!("{base}{}", first_failure_link(&list));
    let redirect = browse(&chromium, &profile, "--dump-dom", &redirect_url);
    assert!(
        redirect.contains("<code>com.example.app:/<mark>/</mark>oauth2redirect</code>"),
        "{redirect}"
    );
    browse(
        &chromium,
        &profile,
        &format!(
            "--screenshot={}",
            shots.join("failure-redirect.png").display()
        ),
        &redirect_url,
    );
    assert!(shots.join("failure-redirect.png").exists());
    let _ = server.kill();
    let _ = server.wait();
}
