//! The tailer against real temporary files, one test per way a log file
//! changes under a reader. A tiny store commits each `Lines` with its
//! checkpoint (keyed by file, as the daemon will), so restarts are tested
//! the way they will happen; the clock is fake.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;
use crate::source::MAX_LINE_BYTES;

struct Harness {
    specs: Vec<PathBuf>,
    config: TailConfig,
    tailer: Tailer,
    now: Instant,
    /// Committed lines, with the file they came from.
    stored: Vec<(FileKey, Vec<u8>)>,
    checkpoints: HashMap<FileKey, Checkpoint>,
    notices: Vec<TailEvent>,
    events: Vec<TailEvent>,
}

impl Harness {
    fn new(specs: &[PathBuf]) -> Harness {
        Harness::with(specs, TailConfig::default())
    }

    fn with(specs: &[PathBuf], config: TailConfig) -> Harness {
        Harness {
            specs: specs.to_vec(),
            tailer: Tailer::new(specs, Vec::new(), config.clone()).expect("tailer"),
            config,
            now: Instant::now(),
            stored: Vec::new(),
            checkpoints: HashMap::new(),
            notices: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Polls, commits, and returns the lines read, as text.
    fn poll(&mut self) -> Vec<String> {
        let events = self.tailer.poll(self.now).expect("poll");
        let mut lines = Vec::new();
        for e in &events {
            match e {
                TailEvent::Lines(l) => {
                    assert_eq!(
                        l.lines().count() as u64,
                        l.end_line_no + 1 - l.first_line_no
                    );
                    for line in l.lines() {
                        lines.push(String::from_utf8_lossy(line).into_owned());
                        self.stored.push((l.file, line.to_vec()));
                    }
                    self.checkpoints.insert(l.file, l.checkpoint());
                }
                TailEvent::Closed { file, .. } => {
                    self.checkpoints.remove(file);
                    self.notices.push(e.clone());
                }
                _ => self.notices.push(e.clone()),
            }
        }
        self.events = events;
        lines
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// A new tailer from the committed checkpoints.
    fn restart(&mut self) {
        let cps = self.checkpoints.values().cloned().collect();
        self.tailer = Tailer::new(&self.specs, cps, self.config.clone()).expect("tailer");
    }

    fn took_notice(&self, pred: impl Fn(&TailEvent) -> bool) -> bool {
        self.notices.iter().any(pred)
    }
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

fn key_of(path: &Path) -> FileKey {
    let m = fs::metadata(path).expect("stat");
    FileKey {
        dev: m.dev(),
        inode: m.ino(),
    }
}

fn v(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

#[test]
fn appended_lines_are_read_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "a\nb\n");
    let mut h = Harness::new(std::slice::from_ref(&log));
    assert_eq!(h.poll(), v(&["a", "b"]));
    append(&log, "c\n");
    assert_eq!(h.poll(), v(&["c"]));
    assert!(h.poll().is_empty());
    let cp = &h.checkpoints[&key_of(&log)];
    assert_eq!((cp.offset, cp.line_no), (6, 3));
    assert_eq!(cp.head_hash, head_hash(b"a\nb\nc\n"));
}

#[test]
fn a_partial_line_waits_for_its_newline_or_the_quiet_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "a\npar");
    let mut h = Harness::new(std::slice::from_ref(&log));
    assert_eq!(h.poll(), v(&["a"]));
    h.advance(Duration::from_secs(1));
    assert!(h.poll().is_empty());
    append(&log, "tial\nno-newline");
    assert_eq!(h.poll(), v(&["partial"]));
    h.advance(Duration::from_millis(1999));
    assert!(h.poll().is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.poll(), v(&["no-newline"]));
    let cp = &h.checkpoints[&key_of(&log)];
    assert_eq!(cp.offset, fs::metadata(&log).expect("stat").len());
    assert_eq!(cp.line_no, 3);
    // What follows is a new line.
    append(&log, "-more\n");
    assert_eq!(h.poll(), v(&["-more"]));
}

#[test]
fn rename_rotation_drains_the_old_file_first_including_late_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    let old = dir.path().join("app.log.1");
    let mut writer = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("open");
    writer.write_all(b"l1\n").expect("write");
    let mut h = Harness::new(std::slice::from_ref(&log));
    assert_eq!(h.poll(), v(&["l1"]));
    let old_key = key_of(&log);
    fs::rename(&log, &old).expect("rotate");
    // The logger has not reopened yet: it still writes to the old file.
    writer.write_all(b"l2\n").expect("write");
    append(&log, "n1\n");
    assert_eq!(h.poll(), v(&["l2", "n1"]));
    assert!(h.took_notice(
        |e| matches!(e, TailEvent::Rotated { file, to: Some(to), .. }
        if *file == old_key && *to == old)
    ));
    // Still followed while the logger lags.
    writer.write_all(b"l3\n").expect("write");
    append(&log, "n2\n");
    assert_eq!(h.poll(), v(&["l3", "n2"]));
    let old_lines: Vec<_> = h.stored.iter().filter(|(k, _)| *k == old_key).collect();
    assert_eq!(old_lines.len(), 3);
    // Quiet for rotate_wait: closed, its checkpoint can go.
    h.advance(Duration::from_secs(31));
    assert!(h.poll().is_empty());
    assert!(h.took_notice(|e| matches!(e, TailEvent::Closed { file, .. } if *file == old_key)));
    assert!(!h.checkpoints.contains_key(&old_key));
}

#[test]
fn a_rotated_file_still_matched_is_followed_under_its_new_path_not_reread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    let old = dir.path().join("app.log.1");
    append(&log, "a\nb\n");
    let mut h = Harness::new(&[dir.path().join("app.log*")]);
    assert_eq!(h.poll(), v(&["a", "b"]));
    let old_key = key_of(&log);
    fs::rename(&log, &old).expect("rotate");
    append(&old, "c\n");
    append(&log, "new\n");
    assert_eq!(h.poll(), v(&["c", "new"]));
    let lines = h
        .events
        .iter()
        .find_map(|e| match e {
            TailEvent::Lines(l) if l.file == old_key => Some(l.clone()),
            _ => None,
        })
        .expect("old file's lines");
    assert_eq!(lines.path, old);
    assert_eq!(lines.first_line_no, 3);
    // Long after: matched files are never closed.
    h.advance(Duration::from_secs(3600));
    assert!(h.poll().is_empty());
    assert_eq!(h.tailer.followed().len(), 2);
}

#[test]
fn copytruncate_reads_from_0_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    fs::create_dir(dir.path().join("archive")).expect("mkdir");
    append(&log, "a\nb\n");
    let mut h = Harness::new(std::slice::from_ref(&log));
    assert_eq!(h.poll(), v(&["a", "b"]));
    fs::copy(&log, dir.path().join("archive/app.log.1")).expect("copy");
    OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    assert!(h.poll().is_empty());
    assert!(h.took_notice(|e| matches!(e, TailEvent::Truncated { .. })));
    append(&log, "c\n");
    assert_eq!(h.poll(), v(&["c"]));
    assert_eq!(h.checkpoints[&key_of(&log)].line_no, 1);
}

#[test]
fn a_truncated_file_regrown_past_the_offset_is_still_seen_as_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "x1\nx2\n");
    let mut h = Harness::new(std::slice::from_ref(&log));
    assert_eq!(h.poll(), v(&["x1", "x2"]));
    // `> app.log` then a longer line before the next poll: size > offset,
    // but the head changed.
    File::create(&log).expect("truncate");
    append(&log, "a-longer-line\n");
    assert_eq!(h.poll(), v(&["a-longer-line"]));
    assert!(h.took_notice(|e| matches!(e, TailEvent::Truncated { .. })));
    let cp = &h.checkpoints[&key_of(&log)];
    assert_eq!((cp.offset, cp.line_no), (14, 1));
}

#[test]
fn delete_and_recreate_reads_the_rest_of_the_old_then_the_new_from_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    let mut writer = File::create(&log).expect("create");
    writer.write_all(b"o1\n").expect("write");
    let mut h = Harness::new(&[dir.path().to_path_buf()]);
    assert_eq!(h.poll(), v(&["o1"]));
    let old_key = key_of(&log);
    writer.write_all(b"o2\n").expect("write");
    fs::remove_file(&log).expect("delete");
    assert_eq!(h.poll(), v(&["o2"]));
    assert!(h.took_notice(|e| matches!(e, TailEvent::Removed { file, .. } if *file == old_key)));
    append(&log, "n1\n");
    assert_eq!(h.poll(), v(&["n1"]));
    assert_ne!(key_of(&log), old_key);
    h.advance(Duration::from_secs(31));
    h.poll();
    assert!(h.took_notice(|e| matches!(e, TailEvent::Closed { file, .. } if *file == old_key)));
}

#[test]
fn an_editor_save_replaces_the_file_which_is_read_from_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "a\nb\n");
    let mut h = Harness::new(std::slice::from_ref(&log));
    assert_eq!(h.poll(), v(&["a", "b"]));
    let tmp = dir.path().join(".app.log.swp");
    fs::write(&tmp, "a\nb\nedited\n").expect("write temp");
    fs::rename(&tmp, &log).expect("save");
    assert_eq!(h.poll(), v(&["a", "b", "edited"]));
    assert!(h.took_notice(|e| matches!(e, TailEvent::Replaced { path, .. } if *path == log)));
}

#[test]
fn files_with_identical_first_lines_are_two_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["a.log", "b.log"] {
        append(&dir.path().join(name), "same header\nsame line\n");
    }
    let mut h = Harness::new(&[dir.path().join("*.log")]);
    assert_eq!(h.poll().len(), 4);
    assert_eq!(h.checkpoints.len(), 2);
    h.restart();
    assert!(h.poll().is_empty());
    append(&dir.path().join("b.log"), "more\n");
    assert_eq!(h.poll(), v(&["more"]));
}

#[test]
fn a_reused_inode_with_other_content_is_read_from_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "first file line 1\nfirst file line 2\n");
    let mut h = Harness::new(std::slice::from_ref(&log));
    h.poll();
    // Whether or not the file system hands the inode out again, a new file
    // must be read from 0.
    fs::remove_file(&log).expect("delete");
    append(&log, "second file, longer first line\n");
    h.restart();
    assert_eq!(h.poll(), v(&["second file, longer first line"]));
    // Forced: a checkpoint with this very inode but another head.
    let key = key_of(&log);
    h.checkpoints.insert(
        key,
        Checkpoint {
            path: log.clone(),
            dev: key.dev,
            inode: key.inode,
            head_hash: head_hash(b"something else entirely"),
            offset: 10,
            line_no: 1,
        },
    );
    h.restart();
    assert_eq!(h.poll(), v(&["second file, longer first line"]));
    assert!(h.took_notice(|e| matches!(e, TailEvent::Replaced { .. })));
}

#[test]
fn a_line_over_the_limit_is_cut_and_counted_and_the_next_survives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    let mut data = vec![b'x'; MAX_LINE_BYTES + 100];
    data.extend_from_slice(b"\nnext\n");
    fs::write(&log, &data).expect("write");
    for budget in [4 << 20, 64 << 10] {
        let config = TailConfig {
            poll_read_bytes: budget,
            ..TailConfig::default()
        };
        let mut h = Harness::with(std::slice::from_ref(&log), config);
        let mut cut = 0;
        let mut lines = Vec::new();
        for _ in 0..40 {
            h.poll();
            for e in &h.events {
                if let TailEvent::Lines(l) = e {
                    cut += l.cut_lines;
                    lines.extend(l.lines().map(<[u8]>::len));
                }
            }
        }
        assert_eq!(lines, [MAX_LINE_BYTES, 4], "budget {budget}");
        assert_eq!(cut, 1);
        assert_eq!(h.checkpoints[&key_of(&log)].offset, data.len() as u64);
    }
}

#[test]
fn a_restart_resumes_at_the_committed_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "a\nb\n");
    let mut h = Harness::new(std::slice::from_ref(&log));
    assert_eq!(h.poll(), v(&["a", "b"]));
    append(&log, "c\n");
    h.restart();
    assert_eq!(h.poll(), v(&["c"]));
    // Killed before committing: the lines read are read again, once.
    append(&log, "d\n");
    let uncommitted = h.tailer.poll(h.now).expect("poll");
    assert_eq!(uncommitted.len(), 1);
    h.restart();
    assert_eq!(h.poll(), v(&["d"]));
    assert!(h.poll().is_empty());
}

#[test]
fn a_file_rotated_while_down_is_found_by_inode_and_finished() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "a\n");
    let mut h = Harness::new(std::slice::from_ref(&log));
    assert_eq!(h.poll(), v(&["a"]));
    append(&log, "b\n");
    fs::rename(&log, dir.path().join("app.log.1")).expect("rotate");
    append(&log, "new\n");
    h.restart();
    assert_eq!(h.poll(), v(&["b", "new"]));
    assert!(h.took_notice(|e| matches!(e, TailEvent::Rotated { to: Some(_), .. })));
    // Rotated and then deleted while down: gone, its checkpoint dropped.
    let gone = key_of(&dir.path().join("app.log.1"));
    fs::remove_file(dir.path().join("app.log.1")).expect("delete");
    h.restart();
    assert!(h.poll().is_empty());
    assert!(!h.checkpoints.contains_key(&gone));
}

#[test]
fn a_file_truncated_while_down_is_read_from_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "aaaa\nbbbb\n");
    let mut h = Harness::new(std::slice::from_ref(&log));
    h.poll();
    File::create(&log).expect("truncate");
    append(&log, "c\n");
    h.restart();
    assert_eq!(h.poll(), v(&["c"]));
    assert!(h.took_notice(|e| matches!(e, TailEvent::Truncated { .. })));
}

#[test]
fn a_checkpoint_behind_what_was_read_knows_the_file_by_the_bytes_read() {
    // A consumer holding a record back commits a resume point before the
    // lines it read (here 0) with a fingerprint of what it read.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "held 1\nheld 2\n");
    let key = key_of(&log);
    let behind = |h: &mut Harness| {
        let cp = Checkpoint {
            path: log.clone(),
            dev: key.dev,
            inode: key.inode,
            head_hash: fingerprint(b"held 1\nheld 2\n", 0),
            offset: 0,
            line_no: 0,
        };
        h.checkpoints.insert(key, cp);
        h.restart();
    };
    let mut h = Harness::new(std::slice::from_ref(&log));
    // Grown while down: the same file, read again from the resume point.
    append(&log, "more\n");
    behind(&mut h);
    assert_eq!(h.poll(), v(&["held 1", "held 2", "more"]));
    assert!(h.notices.is_empty(), "{:?}", h.notices);
    // Rewritten in place while down, longer than what was read: a new
    // file under the old key, said so (a hash of the 0 bytes before the
    // resume point took it for the old one).
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .expect("open");
    f.write_all(b"other 1\nother 2\nother 3\n")
        .expect("rewrite");
    drop(f);
    assert_eq!(key_of(&log), key);
    behind(&mut h);
    assert_eq!(h.poll(), v(&["other 1", "other 2", "other 3"]));
    assert!(h.took_notice(|e| matches!(e, TailEvent::Replaced { file: Some(k), .. } if *k == key)));
    // Shorter than what was read (though not than the resume point):
    // truncated.
    fs::write(&log, "x\n").expect("rewrite");
    behind(&mut h);
    assert_eq!(h.poll(), v(&["x"]));
    assert!(h.took_notice(|e| matches!(e, TailEvent::Truncated { .. })));
}

/// The files behind share one poll's budget equally, each moving by whole
/// lines; a file behind alone takes the whole budget.
#[test]
fn the_read_budget_is_shared_fairly_between_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (big, small) = (dir.path().join("big.log"), dir.path().join("small.log"));
    let line = "0123456789abcdef\n";
    append(&big, &line.repeat(40_000));
    append(&small, line);
    let budget = 4 * crate::tail::config::MIN_SHARE;
    let config = TailConfig {
        poll_read_bytes: budget,
        ..TailConfig::default()
    };
    let mut h = Harness::with(&[dir.path().to_path_buf()], config);
    let read_to = |h: &Harness, path: &PathBuf| h.checkpoints[&key_of(path)].offset;
    // Whole lines of 17 bytes, as far as `share` reaches.
    let lines_within = |share: usize| (share / line.len() * line.len()) as u64;
    h.poll();
    assert_eq!(read_to(&h, &small), line.len() as u64);
    assert_eq!(
        read_to(&h, &big),
        lines_within(budget / 2),
        "two behind: half each"
    );
    let before = read_to(&h, &big);
    h.poll();
    let gained = read_to(&h, &big) - before;
    assert_eq!(
        gained,
        lines_within(budget),
        "alone behind: the whole budget"
    );
}

#[test]
fn binary_bytes_and_crlf_pass_through_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    fs::write(&log, b"\x00\xff\xfe bin\r\n\x1b[31mred\n").expect("write");
    let mut h = Harness::new(std::slice::from_ref(&log));
    h.poll();
    let lines: Vec<_> = h.stored.iter().map(|(_, l)| l.clone()).collect();
    assert_eq!(
        lines,
        [b"\x00\xff\xfe bin\r".to_vec(), b"\x1b[31mred".to_vec()]
    );
}

#[test]
fn new_files_in_a_folder_or_glob_are_found_and_missing_specs_are_fine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let mut h = Harness::new(&[logs.clone(), dir.path().join("other/*.log")]);
    assert!(h.poll().is_empty());
    fs::create_dir(&logs).expect("mkdir");
    append(&logs.join("x.log"), "x\n");
    assert_eq!(h.poll(), v(&["x"]));
    fs::create_dir(dir.path().join("other")).expect("mkdir");
    append(&dir.path().join("other/y.log"), "y\n");
    append(&dir.path().join("other/y.txt"), "not matched\n");
    assert_eq!(h.poll(), v(&["y"]));
}

#[test]
fn an_unreadable_file_is_reported_once_and_does_not_stop_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.log");
    append(&bad, "secret\n");
    fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o000)).expect("chmod");
    if File::open(&bad).is_ok() {
        return; // running as root: permissions are not enforced
    }
    append(&dir.path().join("good.log"), "ok\n");
    let mut h = Harness::new(&[dir.path().to_path_buf()]);
    assert_eq!(h.poll(), v(&["ok"]));
    h.poll();
    let reports = h
        .notices
        .iter()
        .filter(|e| matches!(e, TailEvent::Unreadable { .. }))
        .count();
    assert_eq!(reports, 1);
}
