//! Blocks of a scratch file that is no longer written (the rows file,
//! `rows.rs`; the evidence file once sealed, `spill.rs`), kept for the
//! threads that read it back: a direct-mapped cache of [`BLOCK`]-byte
//! blocks shared by the threads that diagnose.
//!
//! A failure's diagnosis reads a few dozen records of a few hundred bytes,
//! most of them written within minutes of each other (its candidates, its
//! client's window, its evidence), and the failures after it read the same
//! stretch of the file again. A `pread` for each record was most of what
//! reading a record cost (a Keycloak gigabyte read about 950,000 records
//! for 46,000 failures, benches/README.md); one for a block answers the
//! records around it too.
//!
//! Invariants: the file is never written once it is read through a cache
//! and its length is fixed (a block's bytes never change, so a slot is
//! never stale); a slot holds a block only once it has been read whole; a
//! read wider than two blocks goes to the file and is not kept.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Bytes a block: a page, about fifteen Keycloak records. Blocks of 16 KB
/// were read a third as often, and each copy out of the page cache cost
/// more than the reads saved (benches/README.md).
pub(super) const BLOCK: u64 = 4 * 1024;

/// Slots: 1 MB when every one holds a block, as the cache of single
/// records this replaced, about two minutes of a busy Keycloak's records;
/// a Rails analysis's peak memory has little room to spare
/// (benches/README.md).
const SLOTS: u64 = 256;

/// No block: a slot never filled, or whose read failed.
const NONE: u64 = u64::MAX;

/// One slot: the number of the block it holds and its bytes (shorter than
/// [`BLOCK`] only for the file's last block).
#[derive(Debug)]
struct Slot {
    block: u64,
    bytes: Vec<u8>,
}

/// A cache of one file's blocks; the file and its length are the caller's.
#[derive(Debug)]
pub(super) struct BlockCache {
    slots: Box<[Mutex<Slot>]>,
}

impl Default for BlockCache {
    /// [`SLOTS`] slots.
    fn default() -> Self {
        BlockCache::with_slots(SLOTS)
    }
}

impl BlockCache {
    /// A cache of `slots` blocks (one at least): fewer for a file read
    /// back in about the order it was written (the evidence file), whose
    /// blocks are seldom asked for again once passed.
    pub(super) fn with_slots(slots: u64) -> Self {
        BlockCache {
            slots: (0..slots.max(1))
                .map(|_| {
                    Mutex::new(Slot {
                        block: NONE,
                        bytes: Vec::new(),
                    })
                })
                .collect(),
        }
    }

    /// Fills `buf` with the bytes of `file` (`len` bytes long) at
    /// `offset`, from the blocks held when they are, else reading the
    /// blocks it spans and keeping them; an error like
    /// [`FileExt::read_exact_at`]'s when the file does not hold them.
    pub(super) fn read_exact_at(
        &self,
        file: &File,
        len: u64,
        buf: &mut [u8],
        offset: u64,
    ) -> io::Result<()> {
        let end = offset.saturating_add(buf.len() as u64);
        if buf.is_empty() || end > len || (end - 1) / BLOCK > offset / BLOCK + 1 {
            return file.read_exact_at(buf, offset);
        }
        let mut at = offset;
        let mut filled = 0;
        while filled < buf.len() {
            let block = at / BLOCK;
            let held = self.held(file, len, block)?;
            let from = usize::try_from(at - block * BLOCK).map_err(io::Error::other)?;
            let take = (buf.len() - filled).min(held.bytes.len() - from);
            buf[filled..filled + take].copy_from_slice(&held.bytes[from..from + take]);
            filled += take;
            at += take as u64;
        }
        Ok(())
    }

    /// `read(bytes)` of the `size` bytes of `file` (`len` bytes long) at
    /// `offset`, read in place from the block that holds them when one
    /// does (read and kept first if need be): a record read back by id was
    /// copied into a buffer of its own, allocated and zeroed each time
    /// (benches/README.md). Bytes across two blocks are gathered with
    /// [`BlockCache::read_exact_at`]. The block's slot stays locked while
    /// `read` runs: it must not read this cache again.
    pub(super) fn read_in_place<T>(
        &self,
        file: &File,
        len: u64,
        (offset, size): (u64, usize),
        read: impl FnOnce(&[u8]) -> T,
    ) -> io::Result<T> {
        let end = offset.saturating_add(size as u64);
        if size == 0 || end > len || (end - 1) / BLOCK != offset / BLOCK {
            let mut buf = vec![0; size];
            self.read_exact_at(file, len, &mut buf, offset)?;
            return Ok(read(&buf));
        }
        let block = offset / BLOCK;
        let held = self.held(file, len, block)?;
        let from = usize::try_from(offset - block * BLOCK).map_err(io::Error::other)?;
        Ok(read(&held.bytes[from..from + size]))
    }

    /// The slot of `block`, locked, holding that block (read from `file`,
    /// `len` bytes long, unless it held it already).
    fn held(&self, file: &File, len: u64, block: u64) -> io::Result<MutexGuard<'_, Slot>> {
        let slots = self.slots.len() as u64;
        let slot = &self.slots[usize::try_from(block % slots).unwrap_or(0)];
        // A poisoned slot (a thread panicked while it read) says by its
        // block number whether its bytes are whole.
        let mut held = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if held.block != block {
            held.block = NONE;
            let start = block * BLOCK;
            let size = usize::try_from((len - start).min(BLOCK)).map_err(io::Error::other)?;
            held.bytes.resize(size, 0);
            file.read_exact_at(&mut held.bytes, start)?;
            held.block = block;
        }
        Ok(held)
    }
}

#[cfg(test)]
#[path = "block_cache_tests.rs"]
mod tests;
