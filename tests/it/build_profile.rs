//! `pgo/rustc.sh`, Cargo's rustc wrapper: an optimized build by the
//! compiler that made `pgo/grantwatch.profdata` gets the profile; another
//! compiler, whose LLVM may not read the profile, and every unoptimized
//! build get their arguments unchanged, so that a toolchain upgrade or a
//! debug build never fails for the profile's sake.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::root;

/// The compiler lines the profile was made with (`rustc -vV`'s).
fn made_with() -> String {
    std::fs::read_to_string(root().join("pgo/made-with.txt")).expect("pgo/made-with.txt")
}

/// The release of the compiler that made the profile.
fn profile_release() -> String {
    made_with()
        .lines()
        .find_map(|l| l.strip_prefix("release: "))
        .expect("a release line")
        .to_owned()
}

/// A stand-in for rustc in `dir`: `-vV` prints what the profile's compiler
/// prints but for its `release`, anything else is echoed back.
fn fake_rustc(dir: &Path, release: &str) -> PathBuf {
    let lines: String = made_with()
        .lines()
        .map(|l| match l.strip_prefix("release: ") {
            Some(_) => format!("release: {release}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    let version = dir.join(format!("version-{release}"));
    std::fs::write(&version, format!("rustc {release}\nbinary: rustc\n{lines}"))
        .expect("write the version");
    let path = dir.join(format!("rustc-{release}"));
    let script = format!(
        "#!/usr/bin/env bash\nif [ \"$1\" = -vV ]; then cat '{}'; exit 0; fi\necho \"$@\"\n",
        version.display()
    );
    std::fs::write(&path, script).expect("write the fake rustc");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// What the wrapper runs for `args`, given `rustc`.
fn wrapped(rustc: &Path, args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(root().join("pgo/rustc.sh"))
        .arg(rustc)
        .args(args)
        .output()
        .expect("run pgo/rustc.sh");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned()
}

#[test]
fn an_optimized_build_by_the_profile_s_compiler_gets_the_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rustc = fake_rustc(dir.path(), &profile_release());
    let profile = root().join("pgo/grantwatch.profdata");
    let expected = format!(
        "--crate-name a -C opt-level=3 a.rs -Cprofile-use={} -Cllvm-args=-no-pgo-warn-mismatch",
        profile.canonicalize().expect("the profile").display()
    );
    assert_eq!(
        wrapped(&rustc, &["--crate-name", "a", "-C", "opt-level=3", "a.rs"]),
        expected
    );
}

#[test]
fn another_compiler_or_an_unoptimized_build_passes_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = fake_rustc(dir.path(), "0.0.1");
    let args = ["--crate-name", "a", "-C", "opt-level=3", "a.rs"];
    assert_eq!(wrapped(&other, &args), args.join(" "));
    let same = fake_rustc(dir.path(), &profile_release());
    for args in [
        ["--crate-name", "a", "-C", "opt-level=0", "a.rs"],
        ["--crate-name", "a", "-C", "opt-level=s", "a.rs"],
    ] {
        assert_eq!(wrapped(&same, &args), args.join(" "));
    }
}
