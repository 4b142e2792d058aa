//! The proof of the tailer's promise: a model-based test drives random
//! sequences of append, rotate, copytruncate, truncate, delete, recreate,
//! editor replace and daemon restart (including a killed process) against
//! real temporary files, and asserts that the stored lines equal what was
//! written: zero lost, zero duplicated, per-file order kept.
//!
//! The "store" is a Vec of committed lines plus the checkpoints committed
//! with them, keyed by file, exactly as the daemon commits them in one
//! transaction. A poll's lines are committed when the next action starts,
//! unless that action is `Kill`, which drops them (the process died before
//! its transaction) and starts a new tailer from what was committed.
//!
//! What a real tailer inherently cannot see, and how the model handles it:
//! lines appended and then truncated, copied away or deleted before any
//! poll read them are gone for any tailer. So every destructive action
//! first drains (polls and commits until nothing is left), which is what
//! makes "everything written is stored" the right expectation; the
//! no-duplicate assertion is never weakened. Rotated generations stay
//! matched by the spec (`app.log*` or the folder), because a file rotated
//! out of an exact-path spec twice before any poll is unknowable (unit tests
//! cover exact-path rotation, including rotation while down). Copytruncate
//! copies go to `archive/`, out of the specs: a copy under a matched name is
//! another file with the same lines, and would rightly be read again.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use grantwatch::tail::{Checkpoint, FileKey, TailConfig, TailEvent, Tailer};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Action {
    /// The logger writes this many whole lines.
    Append(u8),
    /// The logger writes the first half of a line (finished later).
    AppendPartial,
    Poll,
    /// logrotate `create`: generations shifted, the oldest deleted; the
    /// logger keeps writing to the renamed file until `Reopen`.
    RotateRename,
    Reopen,
    /// logrotate `copytruncate`, copy into `archive/`.
    CopyTruncate,
    /// `> app.log`.
    Truncate,
    /// `rm app.log`, and the logger creates it again.
    DeleteRecreate,
    /// An editor's save: a temp file with new lines renamed over app.log.
    EditorReplace(u8),
    /// Clean stop and start: what was polled is committed.
    Restart,
    /// The process is killed: the last poll's lines were not committed.
    Kill,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (1u8..5).prop_map(Action::Append),
        2 => Just(Action::AppendPartial),
        6 => Just(Action::Poll),
        2 => Just(Action::RotateRename),
        1 => Just(Action::Reopen),
        1 => Just(Action::CopyTruncate),
        1 => Just(Action::Truncate),
        1 => Just(Action::DeleteRecreate),
        1 => (1u8..3).prop_map(Action::EditorReplace),
        1 => Just(Action::Restart),
        2 => Just(Action::Kill),
    ]
}

/// Generations kept by the rotation (app.log.1 ..= app.log.GENERATIONS).
const GENERATIONS: usize = 3;

struct World {
    dir: tempfile::TempDir,
    specs: Vec<PathBuf>,
    config: TailConfig,
    tailer: Tailer,
    now: Instant,
    /// The logger's descriptor (maybe on a rotated file) and whether it was
    /// renamed away since opening.
    writer: Option<(File, bool)>,
    /// The rest of a half-written line.
    pending_half: Option<String>,
    next_id: u64,
    copies: usize,
    /// The last poll's events, not committed yet.
    uncommitted: Vec<TailEvent>,
    stored: Vec<(FileKey, u64)>,
    checkpoints: HashMap<FileKey, Checkpoint>,
}

impl World {
    fn new(glob: bool, budget: usize) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        // Logs in `logs/`, rotated copies beside it in `archive/`: out of the
        // specs (a folder spec is read recursively).
        fs::create_dir(dir.path().join("logs")).expect("mkdir");
        fs::create_dir(dir.path().join("archive")).expect("mkdir");
        let specs = vec![if glob {
            dir.path().join("logs/app.log*")
        } else {
            dir.path().join("logs")
        }];
        let config = TailConfig {
            // The fake clock never reaches these: partial lines are only
            // handed out with their newline, rotated files never closed.
            quiet_period: Duration::from_secs(3600),
            rotate_wait: Duration::from_secs(3600),
            poll_read_bytes: budget,
            ..TailConfig::default()
        };
        World {
            tailer: Tailer::new(&specs, Vec::new(), config.clone()).expect("tailer"),
            dir,
            specs,
            config,
            now: Instant::now(),
            writer: None,
            pending_half: None,
            next_id: 0,
            copies: 0,
            uncommitted: Vec::new(),
            stored: Vec::new(),
            checkpoints: HashMap::new(),
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("logs/app.log")
    }

    fn generation(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("logs/app.log.{n}"))
    }

    fn line(&mut self) -> String {
        let id = self.next_id;
        self.next_id += 1;
        // Varying lengths, so offsets do not line up across files.
        format!("L{id:06}-{}\n", "x".repeat((id % 7) as usize))
    }

    fn write(&mut self, text: &str) {
        if self.writer.is_none() {
            self.reopen();
        }
        let (w, _) = self.writer.as_mut().expect("writer");
        w.write_all(text.as_bytes()).expect("write");
    }

    fn reopen(&mut self) {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("open log");
        self.writer = Some((f, false));
    }

    fn finish_half(&mut self) {
        if let Some(rest) = self.pending_half.take() {
            self.write(&rest);
        }
    }

    fn commit(&mut self) {
        for e in std::mem::take(&mut self.uncommitted) {
            match e {
                TailEvent::Lines(l) => {
                    for line in l.lines() {
                        let text = String::from_utf8_lossy(line);
                        let id = text
                            .get(1..7)
                            .and_then(|s| s.parse::<u64>().ok())
                            .unwrap_or_else(|| panic!("not a line written: {text:?}"));
                        self.stored.push((l.file, id));
                    }
                    self.checkpoints.insert(l.file, l.checkpoint());
                }
                // The daemon forgets a closed file's checkpoint: test that
                // this is safe.
                TailEvent::Closed { file, .. } => {
                    self.checkpoints.remove(&file);
                }
                _ => {}
            }
        }
    }

    fn poll(&mut self) -> bool {
        self.commit();
        self.now += Duration::from_millis(10);
        self.uncommitted = self.tailer.poll(self.now).expect("poll");
        self.uncommitted
            .iter()
            .any(|e| matches!(e, TailEvent::Lines(_)))
    }

    /// Polls and commits until nothing is left to read. With a budget
    /// smaller than a line, a poll may read a piece of a line and hand out
    /// nothing: lines are at most 15 bytes, so 4 empty polls in a row with
    /// the 7-byte budget mean the end.
    fn drain(&mut self) {
        let mut empty = 0;
        for _ in 0..10_000 {
            if self.poll() {
                empty = 0;
            } else {
                empty += 1;
            }
            if empty == 4 {
                self.commit();
                return;
            }
        }
        panic!("the tailer never ran dry");
    }

    fn restart(&mut self) {
        let cps = self.checkpoints.values().cloned().collect();
        self.tailer = Tailer::new(&self.specs, cps, self.config.clone()).expect("tailer");
    }

    fn truncate(path: &Path) {
        if let Ok(f) = OpenOptions::new().write(true).open(path) {
            f.set_len(0).expect("truncate");
        }
    }

    fn apply(&mut self, action: &Action) {
        if !matches!(action, Action::Kill | Action::Poll) {
            self.commit();
        }
        match action {
            Action::Append(n) => {
                self.finish_half();
                for _ in 0..*n {
                    let line = self.line();
                    self.write(&line);
                }
            }
            Action::AppendPartial => {
                self.finish_half();
                let line = self.line();
                let (head, rest) = line.split_at(line.len() / 2);
                self.write(head);
                self.pending_half = Some(rest.to_string());
            }
            Action::Poll => {
                self.poll();
            }
            Action::RotateRename => {
                // Loggers write whole lines; a line cut by a rotation is the
                // quiet period's business (unit-tested).
                self.finish_half();
                if self.writer.as_ref().is_some_and(|(_, renamed)| *renamed) {
                    self.reopen();
                }
                if !self.log().exists() {
                    return;
                }
                if self.generation(GENERATIONS).exists() {
                    self.drain(); // the oldest is deleted: read it first
                    fs::remove_file(self.generation(GENERATIONS)).expect("rm oldest");
                }
                for n in (1..GENERATIONS).rev() {
                    if self.generation(n).exists() {
                        fs::rename(self.generation(n), self.generation(n + 1)).expect("shift");
                    }
                }
                fs::rename(self.log(), self.generation(1)).expect("rotate");
                if let Some((_, renamed)) = self.writer.as_mut() {
                    *renamed = true;
                }
            }
            Action::Reopen => {
                self.finish_half();
                self.reopen();
            }
            Action::CopyTruncate => {
                self.finish_half();
                self.drain();
                if self.log().exists() {
                    self.copies += 1;
                    let copy = self
                        .dir
                        .path()
                        .join(format!("archive/app.log.{}", self.copies));
                    fs::copy(self.log(), copy).expect("copy");
                    Self::truncate(&self.log());
                }
            }
            Action::Truncate => {
                self.finish_half();
                self.drain();
                Self::truncate(&self.log());
            }
            Action::DeleteRecreate => {
                self.finish_half();
                self.drain();
                let _ = fs::remove_file(self.log());
                self.writer = None;
                self.reopen();
            }
            Action::EditorReplace(n) => {
                self.finish_half();
                self.drain();
                let tmp = self.dir.path().join("archive/.app.log.swp");
                let mut text = String::new();
                for _ in 0..*n {
                    text.push_str(&self.line());
                }
                fs::write(&tmp, text).expect("write temp");
                fs::rename(&tmp, self.log()).expect("save over");
                self.writer = None;
            }
            Action::Restart => self.restart(),
            Action::Kill => {
                self.uncommitted.clear();
                self.restart();
            }
        }
    }

    fn check(mut self) {
        self.finish_half();
        self.drain();
        let mut ids: Vec<u64> = self.stored.iter().map(|(_, id)| *id).collect();
        ids.sort_unstable();
        let dups: Vec<u64> = ids
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        assert!(dups.is_empty(), "stored twice: {dups:?}");
        let expected: Vec<u64> = (0..self.next_id).collect();
        let lost: Vec<u64> = expected
            .iter()
            .filter(|id| ids.binary_search(id).is_err())
            .copied()
            .collect();
        assert!(lost.is_empty(), "lost: {lost:?}");
        assert_eq!(ids, expected);
        // Per file, lines were stored in the order they were written.
        let mut last: HashMap<FileKey, u64> = HashMap::new();
        for (key, id) in &self.stored {
            if let Some(prev) = last.insert(*key, *id) {
                assert!(prev < *id, "file {key:?}: {id} stored after {prev}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Failures print the shrunk sequence; no regression files in tests/.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_written_line_is_stored_exactly_once(
        glob in any::<bool>(),
        small_budget in any::<bool>(),
        actions in prop::collection::vec(action(), 1..40),
    ) {
        // A budget below one line's length makes lines span polls.
        let budget = if small_budget { 7 } else { 4 << 20 };
        let mut world = World::new(glob, budget);
        for a in &actions {
            world.apply(a);
        }
        world.check();
    }
}
