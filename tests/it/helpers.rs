//! Shared helpers of the integration tests: running the built binary and
//! reading its JSON Lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `grantwatch` binary cargo built for these tests.
pub fn grantwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_grantwatch"))
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `grantwatch analyze --json` over `paths` and parses its output.
pub fn analyze_json(paths: &[&Path]) -> Vec<serde_json::Value> {
    let out = grantwatch()
        .arg("analyze")
        .arg("--json")
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
