//! The last records read back from the rows file (`rows.rs`), by number:
//! a direct-mapped cache shared by the threads that diagnose.
//!
//! A failure's diagnosis reads the same events several times (its
//! candidates to group it, its client's window to gather it, its evidence
//! to record it), and failures close in time share their client's
//! window: a Keycloak gigabyte read 1.3 million records for 46,000
//! failures, each a `pread`, about 2.6 reads for each record it needed
//! (benches/README.md). A slot holds one record's bytes: a hit copies them
//! instead of asking the kernel.
//!
//! Invariants: the rows file is never written once it is read (a record's
//! bytes never change, so a slot is never stale); a slot is locked only
//! while its bytes are copied in or out, never across a read of the file.

use std::io;
use std::sync::Mutex;

/// Slots: about 1 MB of Keycloak records (each slot keeps room for the
/// largest record it held), and enough that the window of one client's
/// burst of failures stays in it (a simulation over the reads of a
/// Keycloak log: 1,024 slots answered 46% of them, 2,048 49%, 4,096 51%).
const SLOTS: usize = 2048;

/// One slot: the number of the record it holds (`usize::MAX`: none).
#[derive(Debug)]
struct Slot {
    record: usize,
    bytes: Vec<u8>,
}

#[derive(Debug)]
pub(super) struct RowCache {
    slots: Box<[Mutex<Slot>]>,
}

impl Default for RowCache {
    fn default() -> Self {
        RowCache {
            slots: (0..SLOTS)
                .map(|_| {
                    Mutex::new(Slot {
                        record: usize::MAX,
                        bytes: Vec::new(),
                    })
                })
                .collect(),
        }
    }
}

impl RowCache {
    /// Record `record`'s bytes into `buf`: from its slot when it holds
    /// them, else from `read` (which answers whether there is such a
    /// record), then kept in the slot.
    pub(super) fn read(
        &self,
        record: usize,
        buf: &mut Vec<u8>,
        read: impl FnOnce(&mut Vec<u8>) -> io::Result<bool>,
    ) -> io::Result<bool> {
        let slot = &self.slots[record % SLOTS];
        {
            // A poisoned slot (a thread panicked while copying) is only
            // bytes: its `record` says what they are, whatever happened.
            let held = slot.lock().unwrap_or_else(|e| e.into_inner());
            if held.record == record {
                buf.clear();
                buf.extend_from_slice(&held.bytes);
                return Ok(true);
            }
        }
        if !read(buf)? {
            return Ok(false);
        }
        let mut held = slot.lock().unwrap_or_else(|e| e.into_inner());
        held.record = record;
        held.bytes.clear();
        held.bytes.extend_from_slice(buf);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record read once is answered from its slot after, the same
    /// bytes; one that shares its slot replaces it; a record that does
    /// not exist is not kept.
    #[test]
    fn a_record_is_read_from_the_file_once_while_its_slot_holds_it() {
        let cache = RowCache::default();
        let reads = std::cell::Cell::new(0);
        let file = |record: usize, buf: &mut Vec<u8>| {
            reads.set(reads.get() + 1);
            buf.clear();
            buf.extend_from_slice(format!("record {record}").as_bytes());
            Ok(record < 10 * SLOTS)
        };
        let mut buf = Vec::new();
        assert!(cache.read(7, &mut buf, |b| file(7, b)).unwrap());
        assert_eq!(buf, b"record 7");
        buf.clear();
        assert!(cache.read(7, &mut buf, |b| file(7, b)).unwrap());
        assert_eq!(buf, b"record 7");
        assert_eq!(reads.get(), 1);
        let other = 7 + SLOTS;
        assert!(cache.read(other, &mut buf, |b| file(other, b)).unwrap());
        assert_eq!(buf, format!("record {other}").as_bytes());
        assert!(cache.read(7, &mut buf, |b| file(7, b)).unwrap());
        assert_eq!(buf, b"record 7");
        assert_eq!(reads.get(), 3);
        let missing = 10 * SLOTS + 7;
        assert!(!cache.read(missing, &mut buf, |b| file(missing, b)).unwrap());
        assert!(!cache.read(missing, &mut buf, |b| file(missing, b)).unwrap());
        assert_eq!(reads.get(), 5);
    }
}
