//! The seam every module keeps (as `store`'s `sql_stays_in_the_store`
//! keeps SQL in the store): no two source files import each other, so each
//! dependency between files points one way and a file can be read knowing
//! only what it imports. Reads every file under `src/` and `parsers/src/`,
//! builds the graph of the paths each file names (`use crate::a::b`,
//! `use super::x`, `crate::a::f(..)`, `child::f(..)` for a declared child,
//! names brought in by `use`), resolves each to the file that defines the
//! longest module prefix of it, and fails naming every pair of files that
//! point at each other. Declaring a child (`mod child;`) is not an import;
//! a child naming its parent (`super::X`) is.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// A module path within one crate (`["store", "failures"]`).
type ModPath = Vec<String>;

/// The code of `text` with comments removed and the insides of string and
/// character literals blanked, so a path in a doc comment or a string is
/// not taken for one in code.
fn code_of(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
            }
            'r' if !c
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
                && matches!(c.get(i + 1), Some('"') | Some('#')) =>
            {
                let mut hashes = 0;
                let mut j = i + 1;
                while c.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if c.get(j) != Some(&'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                while j < c.len() {
                    if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
            }
            '"' => {
                i += 1;
                while i < c.len() && c[i] != '"' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            '\'' if c.get(i + 1) == Some(&'\\') => {
                // The quote, the backslash and the escaped character.
                i += 3;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            }
            '\'' if c.get(i + 2) == Some(&'\'') => {
                i += 3;
                out.push_str("' '");
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

/// Identifiers and the punctuation a path is made of.
fn tokens(code: &str) -> Vec<String> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_alphanumeric() || c[i] == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[start..i].iter().collect());
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push("::".to_owned());
            i += 2;
        } else if c[i].is_whitespace() {
            i += 1;
        } else {
            out.push(c[i].to_string());
            i += 1;
        }
    }
    out
}

/// The paths a `use` tree starting at `t[*i]` names (each with the name
/// it is known by in the file), up to its `;`.
fn use_tree(t: &[String], i: &mut usize, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
    let mut path = prefix.to_vec();
    while *i < t.len() {
        match t[*i].as_str() {
            "{" => {
                *i += 1;
                loop {
                    use_tree(t, i, &path, out);
                    match t.get(*i).map(String::as_str) {
                        Some(",") => *i += 1,
                        Some("}") => {
                            *i += 1;
                            return;
                        }
                        _ => return,
                    }
                    if t.get(*i).map(String::as_str) == Some("}") {
                        *i += 1;
                        return;
                    }
                }
            }
            "::" => *i += 1,
            "*" => {
                *i += 1;
                out.push((path.clone(), String::new()));
                return;
            }
            "," | "}" | ";" => {
                if path.len() > prefix.len() {
                    let mut full = path.clone();
                    if full.last().map(String::as_str) == Some("self") {
                        full.pop();
                    }
                    let name = full.last().cloned().unwrap_or_default();
                    out.push((full, name));
                }
                return;
            }
            "as" => {
                let alias = t.get(*i + 1).cloned().unwrap_or_default();
                *i += 2;
                if path.last().map(String::as_str) == Some("self") {
                    path.pop();
                }
                out.push((path.clone(), alias));
                path.truncate(prefix.len());
            }
            seg => {
                path.push(seg.to_owned());
                *i += 1;
            }
        }
    }
}

/// One source file: its crate, its module path, what it names.
struct File {
    krate: String,
    module: ModPath,
    rel: String,
}

/// The module path a file defines, from its path under its crate's `src`.
fn module_of(rel: &Path) -> (String, ModPath) {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    match parts.as_slice() {
        [only] if only == "lib" => (String::new(), Vec::new()),
        [only] if only == "main" => ("bin:main".to_owned(), Vec::new()),
        [bin, name] if bin == "bin" => (format!("bin:{name}"), Vec::new()),
        _ => {
            let mut m = parts;
            if m.last().map(String::as_str) == Some("mod") {
                m.pop();
            }
            (String::new(), m)
        }
    }
}

/// What one file names.
#[derive(Default)]
struct Scan {
    /// The absolute module paths it names.
    paths: Vec<ModPath>,
    /// The names its `use` lines bring in at its top level and what they
    /// stand for: another file naming one through this file (a re-export,
    /// `crate::Format`; a child's `super::ok` where the parent has
    /// `use common::ok`) names the file that defines the item, not this one.
    reexports: HashMap<String, ModPath>,
}

/// What `code`, the file of module `here`, names.
fn named_paths(code: &str, here: &ModPath) -> Scan {
    let t = tokens(code);
    // Inline modules (`mod tests { .. }`) open at a brace depth.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut children: BTreeSet<String> = BTreeSet::new();
    let mut aliases: HashMap<String, Vec<String>> = HashMap::new();
    let mut raw: Vec<(ModPath, Vec<String>)> = Vec::new();
    let mut public: Vec<(String, Vec<String>)> = Vec::new();
    let current = |inline: &[(String, usize)]| {
        let mut m = here.clone();
        m.extend(inline.iter().map(|(n, _)| n.clone()));
        m
    };
    let mut i = 0;
    while i < t.len() {
        match t[i].as_str() {
            "{" => {
                depth += 1;
                i += 1;
            }
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            "mod" if t.get(i + 2).is_some_and(|s| s == "{") => {
                depth += 1;
                inline.push((t[i + 1].clone(), depth));
                i += 3;
            }
            "mod" if t.get(i + 2).is_some_and(|s| s == ";") => {
                if inline.is_empty() {
                    children.insert(t[i + 1].clone());
                }
                i += 3;
            }
            "use" => {
                i += 1;
                let mut found = Vec::new();
                use_tree(&t, &mut i, &[], &mut found);
                for (path, name) in found {
                    if !name.is_empty() && name != "_" {
                        aliases.insert(name.clone(), path.clone());
                        if inline.is_empty() {
                            public.push((name, path.clone()));
                        }
                    }
                    raw.push((current(&inline), path));
                }
            }
            first
                if first
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
                    && t.get(i + 1).is_some_and(|s| s == "::")
                    && (i == 0 || t[i - 1] != "::")
                    // `pub(in crate::web)` is a visibility, not an import.
                    && !(i >= 2 && t[i - 1] == "in" && t[i - 2] == "(") =>
            {
                let mut path = vec![first.to_owned()];
                let mut j = i + 1;
                while t.get(j).is_some_and(|s| s == "::")
                    && t.get(j + 1)
                        .is_some_and(|s| s.chars().all(|c| c.is_alphanumeric() || c == '_'))
                {
                    path.push(t[j + 1].clone());
                    j += 2;
                }
                raw.push((current(&inline), path));
                i = j;
            }
            _ => i += 1,
        }
    }
    let names = Names {
        here,
        children: &children,
        aliases: &aliases,
    };
    Scan {
        paths: raw
            .into_iter()
            .filter_map(|(from, path)| names.resolve(&path, &from, 0))
            .collect(),
        reexports: public
            .into_iter()
            .filter_map(|(name, path)| Some((name, names.resolve(&path, here, 1)?)))
            .collect(),
    }
}

/// What the names of one file resolve against.
struct Names<'a> {
    /// The file's module.
    here: &'a ModPath,
    /// Its declared child files (`mod child;`).
    children: &'a BTreeSet<String>,
    /// Names its `use` lines bring in, and the paths they stand for.
    aliases: &'a HashMap<String, Vec<String>>,
}

impl Names<'_> {
    /// The absolute module path `path`, named in module `from`, stands for;
    /// `None` for another crate's.
    fn resolve(&self, path: &[String], from: &ModPath, hops: usize) -> Option<ModPath> {
        let (head, rest) = path.split_first()?;
        let mut abs = match head.as_str() {
            "crate" => Vec::new(),
            "self" => from.clone(),
            "super" => {
                let ups = path.iter().take_while(|s| *s == "super").count();
                let mut m = from.clone();
                m.truncate(m.len().checked_sub(ups)?);
                m.extend(path[ups..].iter().cloned());
                return Some(m);
            }
            h if from == self.here && self.children.contains(h) => {
                let mut m = from.clone();
                m.push(h.to_owned());
                m
            }
            // A name brought in by `use` (a module or an item), resolved
            // from the file's module: `use` lines sit at its top.
            h if hops == 0 => {
                let mut p = self.aliases.get(h)?.clone();
                p.extend(rest.iter().cloned());
                return self.resolve(&p, self.here, 1);
            }
            _ => return None,
        };
        abs.extend(rest.iter().cloned());
        Some(abs)
    }
}

/// Every pair of files under `roots` that import each other.
fn mutual_imports(roots: &[(&str, PathBuf)]) -> Vec<(String, String)> {
    let mut files: Vec<File> = Vec::new();
    let mut texts = Vec::new();
    for (name, root) in roots {
        for entry in walkdir::WalkDir::new(root) {
            let entry = entry.expect("walk the sources");
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(root).expect("under its root");
            let (krate, module) = module_of(rel);
            files.push(File {
                krate: format!("{name}{krate}"),
                module,
                rel: format!("{name}/{}", rel.display()),
            });
            texts.push(code_of(
                &std::fs::read_to_string(path).expect("read a source file"),
            ));
        }
    }
    let by_module: HashMap<(&str, &[String]), usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| ((f.krate.as_str(), f.module.as_slice()), i))
        .collect();
    let scans: Vec<Scan> = files
        .iter()
        .zip(&texts)
        .map(|(f, text)| named_paths(text, &f.module))
        .collect();
    // The file that defines what `path` names: the longest module prefix's
    // file, or, when that file re-exports the next name, the re-export's.
    let locate = |krate: &str, path: &[String]| {
        let mut path = path.to_vec();
        for _ in 0..8 {
            let (n, j) = (0..=path.len())
                .rev()
                .find_map(|n| Some((n, *by_module.get(&(krate, &path[..n]))?)))?;
            match path.get(n).and_then(|name| scans[j].reexports.get(name)) {
                Some(to) => {
                    let mut next = to.clone();
                    next.extend(path[n + 1..].iter().cloned());
                    path = next;
                }
                None => return Some(j),
            }
        }
        None
    };
    let mut edges: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        for path in &scans[i].paths {
            if let Some(j) = locate(&f.krate, path).filter(|&j| j != i) {
                edges.entry(i).or_default().insert(j);
            }
        }
    }
    let mut pairs = Vec::new();
    for (&a, tos) in &edges {
        for &b in tos {
            if a < b && edges.get(&b).is_some_and(|back| back.contains(&a)) {
                let (x, y) = (files[a].rel.clone(), files[b].rel.clone());
                pairs.push(if x < y { (x, y) } else { (y, x) });
            }
        }
    }
    pairs.sort();
    pairs
}

fn roots() -> Vec<(&'static str, PathBuf)> {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![
        ("src", top.join("src")),
        ("parsers/src", top.join("parsers/src")),
    ]
}

/// `pairs` one a line.
fn lines_of<'p>(pairs: impl Iterator<Item = &'p (String, String)>) -> String {
    pairs.map(|(a, b)| format!("{a} <-> {b}\n")).collect()
}

/// No pair at all: the last of those the first scan found (a parent
/// `mod.rs` using its children while they used its types) went when its
/// shared types moved to files of their own (`store/handle.rs`,
/// `web/state.rs`, `envelope/model.rs`, `tail/tailer.rs`, ...). A type two
/// files share goes to a third that both import.
#[test]
fn no_two_source_files_import_each_other() {
    let pairs = mutual_imports(&roots());
    let found = lines_of(pairs.iter());
    assert!(found.is_empty(), "files that import each other:\n{found}");
}

#[test]
fn a_pair_that_imports_each_other_is_found_and_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("watch")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "pub mod watch;\npub mod other;\n").expect("write");
    std::fs::write(
        src.join("watch.rs"),
        "//! use crate::other; in a comment is not an import\nmod progress;\nuse progress::checkpoint;\npub(crate) struct Followed;\n",
    )
    .expect("write");
    std::fs::write(
        src.join("watch/progress.rs"),
        "use super::Followed;\npub fn checkpoint(_: &Followed) {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
    )
    .expect("write");
    std::fs::write(
        src.join("other.rs"),
        "pub fn f() { let _ = \"crate::watch::x\"; crate::watch::progress::checkpoint; }\n",
    )
    .expect("write");
    let pairs = mutual_imports(&[("src", src)]);
    assert_eq!(
        pairs,
        [(
            "src/watch.rs".to_owned(),
            "src/watch/progress.rs".to_owned()
        )]
    );
}
