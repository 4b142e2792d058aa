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
//! Invariant: [`Chunked::into_vec`] gives the items in the order pushed;
//! [`Chunked::into_grouped`] gives them stably sorted by group, every slot
//! of its vector written before the vector is handed out.

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

impl<T: Copy> Chunked<T> {
    /// The items in one vector of their exact length, grouped: those of
    /// group 0 first, then those of group 1, and so on, each group's in
    /// the order pushed (a counting sort by `group_of`, whose answers are
    /// below `groups`), with where each group starts (one more entry: the
    /// end). Each chunk is freed once placed, as [`Chunked::into_vec`]
    /// frees it.
    pub(super) fn into_grouped(
        self,
        groups: usize,
        group_of: impl Fn(&T) -> usize,
    ) -> (Vec<T>, Vec<usize>) {
        let items = self
            .full
            .iter()
            .chain(std::iter::once(&self.last))
            .flatten();
        let starts = group_starts(groups, items.map(&group_of));
        let len = self.len();
        let mut next = starts.clone();
        // Slots written as the chunks are taken apart, not filled first:
        // a filled vector is resident whole while every chunk still is
        // (a Keycloak gigabyte's peak rose by about 30 MB).
        let mut out: Vec<T> = Vec::with_capacity(len);
        let slots = &mut out.spare_capacity_mut()[..len];
        for chunk in self.full.into_iter().chain(std::iter::once(self.last)) {
            for item in chunk {
                let slot = &mut next[group_of(&item)];
                slots[*slot].write(item);
                *slot += 1;
            }
        }
        // Each group's cursor ended where the next group starts: it wrote
        // its own slots, every one, and no other's.
        assert!(
            next[..groups] == starts[1..],
            "an item changed its group while it was placed"
        );
        // SAFETY: the first `len` slots are all written: the groups' ranges
        // `starts[g]..starts[g + 1]` tile `0..len`, and each group's cursor
        // went through its range one slot a write (the assertion above).
        unsafe { out.set_len(len) };
        (out, starts)
    }
}

/// Where each of `groups` groups starts when items of the groups
/// `members` names are laid out group by group (one more entry: the end).
pub(super) fn group_starts(groups: usize, members: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut starts = vec![0usize; groups + 1];
    for group in members {
        starts[group + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    starts
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

    /// Grouped, the items are those `into_vec` gives, stably sorted by
    /// group, and each group starts where the answer says.
    #[test]
    fn grouped_items_are_a_stable_sort_by_group() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7] {
            for groups in [1, 2, 7, 40] {
                let group_of = |&(g, _): &(usize, usize)| g;
                let items: Vec<(usize, usize)> = (0..n).map(|i| (i * 7919 % groups, i)).collect();
                let mut chunked = Chunked::default();
                chunked.extend(items.iter().copied());
                let (grouped, starts) = chunked.into_grouped(groups, group_of);
                let mut expected = items.clone();
                expected.sort_by_key(group_of);
                assert_eq!(grouped, expected, "{n} items, {groups} groups");
                assert_eq!(starts.len(), groups + 1);
                for g in 0..groups {
                    let members = &grouped[starts[g]..starts[g + 1]];
                    assert!(members.iter().all(|m| m.0 == g), "{n} items, group {g}");
                }
                assert_eq!(starts[groups], n);
            }
        }
    }

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
