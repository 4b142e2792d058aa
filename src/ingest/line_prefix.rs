//! The line number each range of a file read in ranges starts at, counted
//! by all the range readers together before any of them parses.
//!
//! A range's line numbers are the file's, so its reader must know how many
//! lines come before its start. Counting them alone made the last reader
//! count all the ranges before its own before parsing a line: on two cores
//! the second reader read half the file once more while the first parsed,
//! and ended last (benches/README.md); on n cores the last one counts
//! (n - 1) / n of the file alone. Here the bytes before the last range's
//! start are cut into blocks that every reader takes in turn, so the
//! counting is shared, and a reader waits only for the blocks before its
//! own start.
//!
//! Invariants: every range start is a block boundary, so the lines before a
//! start are the sum of whole blocks' newlines; a block is counted once; a
//! reader never waits on a block nobody can take (each waiter counts until
//! none is left first), and an error, a stop or a reader's panic while
//! counting wakes every waiter.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

/// Bytes of a block: as a chunk, so a reader's buffer is no larger than
/// the one it parses with.
const BLOCK_BYTES: u64 = 1 << 20;

/// The blocks of one file's prefix and what is known of them.
pub(super) struct LinePrefix {
    file: File,
    /// Block `i` is the bytes `bounds[i]..bounds[i + 1]`.
    bounds: Vec<u64>,
    /// The next block not yet taken.
    next: AtomicUsize,
    counted: Mutex<Counted>,
    changed: Condvar,
}

/// Newlines of each block counted so far (`None`: not yet), and whether a
/// block will never be (a reader failed or was stopped).
struct Counted {
    lines: Vec<Option<u64>>,
    failed: bool,
}

/// Why a reader could not learn its start's line number.
#[derive(Debug, thiserror::Error)]
pub(super) enum PrefixError {
    #[error(transparent)]
    Io(#[from] io::Error),
    /// Another reader failed to read a block (its own error is reported
    /// by that reader), or the read was stopped.
    #[error("counting the lines before a range stopped")]
    Stopped,
}

impl LinePrefix {
    /// The blocks of `path` before the last of `starts` (sorted, the first
    /// 0), cut at every start.
    pub(super) fn new(path: &Path, starts: &[u64]) -> io::Result<LinePrefix> {
        let mut bounds = vec![0];
        for pair in starts.windows(2) {
            let (from, to) = (pair[0], pair[1]);
            let mut at = from;
            while to - at > BLOCK_BYTES {
                at += BLOCK_BYTES;
                bounds.push(at);
            }
            bounds.push(to);
        }
        let blocks = bounds.len() - 1;
        Ok(LinePrefix {
            file: File::open(path)?,
            bounds,
            next: AtomicUsize::new(0),
            counted: Mutex::new(Counted {
                lines: vec![None; blocks],
                failed: false,
            }),
            changed: Condvar::new(),
        })
    }

    /// Counts blocks until none is left to take, then waits until every
    /// block before `start` (a range start) is counted: the lines before
    /// it. `stop` ends the counting and the wait.
    pub(super) fn lines_before(&self, start: u64, stop: &AtomicBool) -> Result<u64, PrefixError> {
        self.count_what_is_left(stop)?;
        let upto = self.bounds.partition_point(|&b| b < start);
        let mut counted = self.lock();
        loop {
            let before = &counted.lines[..upto.min(counted.lines.len())];
            if before.iter().all(Option::is_some) {
                return Ok(before.iter().flatten().sum());
            }
            if counted.failed {
                return Err(PrefixError::Stopped);
            }
            counted = self
                .changed
                .wait(counted)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Takes and counts blocks until none is left; a failure (or a stop) is
    /// told to every waiter.
    fn count_what_is_left(&self, stop: &AtomicBool) -> io::Result<()> {
        let mut buf = Vec::new();
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i + 1 >= self.bounds.len() {
                return Ok(());
            }
            // Told on drop unless told here: a reader that panics while
            // counting wakes the others with an error.
            let mut taken = Taken {
                prefix: self,
                block: i,
                told: false,
            };
            // A stop leaves this block uncounted: its waiters are woken,
            // and this reader ends as they do.
            if stop.load(Ordering::Relaxed) {
                taken.tell(None);
                return Ok(());
            }
            let counted = self.count_block(i, &mut buf);
            taken.tell(counted.as_ref().ok().copied());
            counted?;
        }
    }

    /// The newlines of block `i`.
    fn count_block(&self, i: usize, buf: &mut Vec<u8>) -> io::Result<u64> {
        let (from, to) = (self.bounds[i], self.bounds[i + 1]);
        let len = usize::try_from(to - from).map_err(io::Error::other)?;
        buf.resize(len, 0);
        self.file.read_exact_at(buf, from)?;
        Ok(memchr::memchr_iter(b'\n', buf).count() as u64)
    }

    /// The state, even if a reader panicked while holding it (each update
    /// is one assignment).
    fn lock(&self) -> std::sync::MutexGuard<'_, Counted> {
        self.counted.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A block a reader took: what became of it is told to the waiters once.
struct Taken<'p> {
    prefix: &'p LinePrefix,
    block: usize,
    told: bool,
}

impl Taken<'_> {
    /// Records the block's newlines, or that it will have none, and wakes
    /// every waiter.
    fn tell(&mut self, counted: Option<u64>) {
        let mut state = self.prefix.lock();
        match counted {
            Some(lines) => state.lines[self.block] = Some(lines),
            None => state.failed = true,
        }
        drop(state);
        self.told = true;
        self.prefix.changed.notify_all();
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if !self.told {
            self.tell(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newlines_before(bytes: &[u8], at: u64) -> u64 {
        bytes[..at as usize].iter().filter(|&&b| b == b'\n').count() as u64
    }

    /// Starts inside blocks and on their edges, counted by as many threads
    /// as ranges, each asking for its own start: every answer is the
    /// newlines before that start.
    #[test]
    fn each_start_gets_the_lines_before_it_whoever_counted_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let line = b"I, [2025-03-11T09:00:00.0 #9]  INFO -- : a line\n";
        let bytes: Vec<u8> = line.iter().copied().cycle().take(5 << 20).collect();
        std::fs::write(&path, &bytes).expect("write");
        let n = bytes.len() as u64;
        for starts in [
            vec![0, n / 2],
            vec![0, BLOCK_BYTES, 2 * BLOCK_BYTES + 1, n - 3],
            vec![0, 7, BLOCK_BYTES - 1, 3 * BLOCK_BYTES + 17],
        ] {
            let prefix = LinePrefix::new(&path, &starts).expect("prefix");
            let stop = AtomicBool::new(false);
            let got: Vec<u64> = std::thread::scope(|s| {
                let handles: Vec<_> = starts
                    .iter()
                    .map(|&start| {
                        let (prefix, stop) = (&prefix, &stop);
                        s.spawn(move || prefix.lines_before(start, stop).expect("count"))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("join"))
                    .collect()
            });
            let want: Vec<u64> = starts.iter().map(|&s| newlines_before(&bytes, s)).collect();
            assert_eq!(got, want, "{starts:?}");
        }
    }

    /// A file cut short after the blocks were planned: the reader that
    /// meets the end says so, and one waiting for that block is woken with
    /// an error instead of waiting for ever.
    #[test]
    fn a_block_that_cannot_be_read_fails_every_waiter() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        std::fs::write(&path, vec![b'\n'; 3 << 20]).expect("write");
        let prefix = LinePrefix::new(&path, &[0, 3 << 20]).expect("prefix");
        std::fs::write(&path, b"short\n").expect("truncate");
        let stop = AtomicBool::new(false);
        let (first, second) = std::thread::scope(|s| {
            let a = s.spawn(|| prefix.lines_before(3 << 20, &stop));
            let b = s.spawn(|| prefix.lines_before(3 << 20, &stop));
            (a.join().expect("join"), b.join().expect("join"))
        });
        assert!(first.is_err() && second.is_err(), "{first:?} {second:?}");
        // A reader that comes later is told too.
        assert!(prefix.lines_before(3 << 20, &stop).is_err());
    }

    /// A read stopped before its blocks are counted: the readers end with
    /// [`PrefixError::Stopped`], none waits.
    #[test]
    fn a_stopped_read_ends_the_wait() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        std::fs::write(&path, vec![b'\n'; 3 << 20]).expect("write");
        let prefix = LinePrefix::new(&path, &[0, 1 << 20, 3 << 20]).expect("prefix");
        let stop = AtomicBool::new(true);
        for start in [1 << 20, 3 << 20] {
            let got = prefix.lines_before(start, &stop);
            assert!(matches!(got, Err(PrefixError::Stopped)), "{got:?}");
        }
        assert_eq!(prefix.lines_before(0, &stop).expect("start"), 0);
    }
}
