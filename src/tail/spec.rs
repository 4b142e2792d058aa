//! What to follow: the path specs given to `watch` (a file, a folder, or a
//! glob such as `/var/log/app/*.log`) and their expansion into candidate
//! files, done again on every poll so that new files are found.
//!
//! Invariants: expansion never fails on a missing path (a file may appear
//! later; a folder may be mounted later), it returns each path once, in a
//! stable (sorted) order. A folder spec is read recursively, as `analyze`
//! reads folders (the bundled `sample_logs/` holds one folder per source),
//! leaving out documents beside the logs (a README). Compressed files are left out: a rotated
//! `app.log.2.gz` matched by `app.log*` is not a log being written, and
//! reading it as text would store garbage (`analyze` reads those once).

use std::io;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

/// One path spec.
#[derive(Clone, Debug)]
pub(crate) enum PathSpec {
    /// A file, or a folder whose files are followed (decided at each poll:
    /// the path may not exist yet).
    Literal(PathBuf),
    /// A glob, matched against the entries under its literal base folder.
    Glob {
        /// The longest leading part of the pattern without glob characters.
        base: PathBuf,
        /// Folder levels below `base` to look at (`None`: any, for `**`).
        depth: Option<usize>,
        matcher: GlobMatcher,
    },
}

/// Extensions of compressed files, skipped by folder and glob expansion.
const COMPRESSED: [&str; 6] = ["gz", "bz2", "xz", "zst", "zip", "lz4"];

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

impl PathSpec {
    /// Parses one spec. A path with glob characters is a glob; an invalid
    /// glob is an `InvalidInput` error (bad usage, reported at start).
    pub(crate) fn parse(path: &Path) -> io::Result<PathSpec> {
        let text = path.to_string_lossy();
        if !has_glob_chars(&text) {
            return Ok(PathSpec::Literal(path.to_path_buf()));
        }
        let mut base = PathBuf::new();
        let mut rest = 0usize;
        let mut globbing = false;
        let mut recursive = false;
        for comp in path.components() {
            let s = comp.as_os_str().to_string_lossy();
            if !globbing && !has_glob_chars(&s) {
                base.push(comp);
                continue;
            }
            globbing = true;
            rest += 1;
            recursive |= matches!(comp, Component::Normal(_)) && s.contains("**");
        }
        if base.as_os_str().is_empty() {
            base.push(".");
        }
        let matcher = GlobBuilder::new(&text)
            // `*` stays within one folder level, as in a shell.
            .literal_separator(true)
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
            .compile_matcher();
        Ok(PathSpec::Glob {
            base,
            depth: (!recursive).then_some(rest),
            matcher,
        })
    }

    /// The folder whose changes mean "poll now" (for the waker).
    pub(crate) fn watch_dir(&self) -> (PathBuf, bool) {
        match self {
            PathSpec::Literal(p) if p.is_dir() => (p.clone(), true),
            PathSpec::Literal(p) => (parent_of(p), false),
            PathSpec::Glob { base, depth, .. } => (base.clone(), depth.is_none_or(|d| d > 1)),
        }
    }

    /// Adds the candidate file paths of this spec to `out`.
    pub(crate) fn expand(&self, out: &mut Vec<PathBuf>) {
        match self {
            PathSpec::Literal(p) => {
                if p.is_dir() {
                    out.extend(
                        walkdir::WalkDir::new(p)
                            .min_depth(1)
                            .follow_links(true)
                            .into_iter()
                            .filter_map(Result::ok)
                            .filter(|e| e.file_type().is_file())
                            .map(walkdir::DirEntry::into_path)
                            .filter(|p| !is_compressed(p) && !crate::source::is_documentation(p)),
                    );
                } else {
                    // Named explicitly: followed whatever its name.
                    out.push(p.clone());
                }
            }
            PathSpec::Glob {
                base,
                depth,
                matcher,
            } => {
                let mut walk = walkdir::WalkDir::new(base).min_depth(1).follow_links(true);
                if let Some(d) = depth {
                    walk = walk.max_depth(*d);
                }
                out.extend(
                    walk.into_iter()
                        .filter_map(Result::ok)
                        .filter(|e| !e.file_type().is_dir())
                        .map(walkdir::DirEntry::into_path)
                        .filter(|p| matcher.is_match(p) && !is_compressed(p)),
                );
            }
        }
    }
}

fn is_compressed(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| COMPRESSED.iter().any(|c| e.eq_ignore_ascii_case(c)))
}

/// The folder holding `path` (`.` for a bare file name).
pub(crate) fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Expands all specs: each path once, sorted.
pub(crate) fn expand_all(specs: &[PathSpec]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for spec in specs {
        spec.expand(&mut out);
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_folders_and_globs_expand_without_compressed_files_or_documents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for name in ["app.log", "app.log.1", "app.log.2.gz", "other.txt"] {
            std::fs::write(d.join(name), b"x\n").expect("write");
        }
        std::fs::create_dir(d.join("old")).expect("mkdir");
        std::fs::write(d.join("old/app.log.3"), b"x\n").expect("write");

        let names = |spec: &str| -> Vec<String> {
            let spec = PathSpec::parse(&d.join(spec)).expect("spec");
            expand_all(&[spec])
                .iter()
                .map(|p| p.strip_prefix(d).expect("under").display().to_string())
                .collect()
        };
        assert_eq!(names("app.log*"), ["app.log", "app.log.1"]);
        assert_eq!(names("*.log"), ["app.log"]);
        assert_eq!(names("**/app.log.*"), ["app.log.1", "old/app.log.3"]);
        std::fs::write(d.join("README.md"), b"# logs\n").expect("write");
        assert_eq!(
            names(""),
            ["app.log", "app.log.1", "old/app.log.3", "other.txt"]
        );
        assert_eq!(names("missing.log"), ["missing.log"]);
        assert!(PathSpec::parse(Path::new("/tmp/[z")).is_err());
    }
}
