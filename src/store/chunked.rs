//! A vector grown in chunks of a fixed size and joined once, exactly
//! sized: what a bulk load gathers its events' keys in (`event_index.rs`).
//!
//! A `Vec` that doubles holds up to twice its items, and while it grows it
//! holds its old buffer and the new one at once; the index's three vectors
//! grow at the same counts, so a Rails log of 3 GB, whose 132,000 events
//! just passed 131,072, peaked at 59–61 MB against 55–57 MB in chunks
//! (benches/README.md). Here growth costs one chunk, and the join copies
//! chunk by chunk into a vector of the exact length, each chunk freed once
//! copied, so the peak stays near the keys' own size.
//!
//! Invariant: [`Chunked::into_vec`] gives the items in the order pushed.

/// Items per chunk: 16,384 keys of 16–24 bytes, a few hundred kilobytes.
const CHUNK: usize = 16_384;

/// Items in the order pushed, held in chunks of [`CHUNK`].
#[derive(Debug)]
pub(super) struct Chunked<T> {
    full: Vec<Vec<T>>,
    last: Vec<T>,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            full: Vec::new(),
            last: Vec::new(),
        }
    }
}

impl<T> Chunked<T> {
    pub(super) fn push(&mut self, item: T) {
        if self.last.len() == CHUNK {
            let full = std::mem::replace(&mut self.last, Vec::with_capacity(CHUNK));
            self.full.push(full);
        } else if self.last.capacity() == 0 {
            self.last.reserve_exact(CHUNK);
        }
        self.last.push(item);
    }

    pub(super) fn len(&self) -> usize {
        self.full.len() * CHUNK + self.last.len()
    }

    /// The items in one vector of their exact length.
    pub(super) fn into_vec(self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        for chunk in self.full {
            out.extend(chunk);
        }
        out.extend(self.last);
        out
    }
}

impl<T> Extend<T> for Chunked<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_items_come_back_in_order_and_exactly_sized() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7] {
            let mut chunked = Chunked::default();
            chunked.extend(0..n);
            assert_eq!(chunked.len(), n);
            let joined = chunked.into_vec();
            assert_eq!(joined.len(), n);
            assert_eq!(joined.capacity(), n, "{n} items: no room left over");
            assert!(joined.iter().copied().eq(0..n), "{n} items in order");
        }
    }
}
