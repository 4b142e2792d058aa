//! The texts an index numbers (client ids, addresses): each numbered in
//! the order first seen, its bytes kept one after the other in one
//! string, and found by its hash in a table of numbers alone.
//!
//! The writer numbers two texts of every event it stores. With each text
//! a key allocated on its own (a `HashMap<Box<str>, u32>`), the comparison
//! that confirms a match read a line of memory the rest of the load had
//! pushed out of the cache: the lookups were about 3% of a Keycloak
//! gigabyte's samples, for 8,229 addresses and 6 clients
//! (benches/README.md). Here a match reads the texts' string, a few
//! hundred kilobytes that stay cached.
//!
//! Invariants: number `n` is the `n`-th distinct text given to
//! [`Names::number`]; [`Names::get`] gives a text's number exactly when
//! it was numbered; no number reaches [`super::event_index`]'s
//! `NO_ADDRESS` (`u32::MAX`), and the texts together hold less than 4 GiB.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// A fast hasher for short keys, already built for `hashbrown`.
type Fast = foldhash::fast::RandomState;

/// Texts numbered in the order first seen.
#[derive(Debug, Default)]
pub(super) struct Names {
    /// Every text, one after the other.
    texts: String,
    /// Where each text ends in `texts`, by number (it starts where the one
    /// before ends).
    ends: Vec<u32>,
    /// The numbers, by their text's hash.
    table: HashTable<u32>,
    hasher: Fast,
    /// Memory held, about.
    pub(super) bytes: usize,
}

impl Names {
    /// The number of `name`, given it if it has none; `None` when no
    /// number is left (or the texts would pass 4 GiB).
    pub(super) fn number(&mut self, name: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        let (texts, ends) = (&self.texts, &self.ends);
        if let Some(&n) = self.table.find(hash, |&n| text_of(texts, ends, n) == name) {
            return Some(n);
        }
        let n = u32::try_from(self.ends.len())
            .ok()
            .filter(|&n| n < u32::MAX)?;
        let end = u32::try_from(self.texts.len() + name.len()).ok()?;
        self.texts.push_str(name);
        self.ends.push(end);
        self.bytes += name.len() + 16;
        let (texts, ends, hasher) = (&self.texts, &self.ends, &self.hasher);
        self.table
            .insert_unique(hash, n, |&m| hasher.hash_one(text_of(texts, ends, m)));
        Some(n)
    }

    /// The number of `name`, if it has one.
    pub(super) fn get(&self, name: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        self.table
            .find(hash, |&n| text_of(&self.texts, &self.ends, n) == name)
            .copied()
    }

    /// How many texts are numbered.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }
}

/// The text numbered `n`.
fn text_of<'t>(texts: &'t str, ends: &[u32], n: u32) -> &'t str {
    let n = n as usize;
    let start = match n.checked_sub(1) {
        Some(before) => ends[before] as usize,
        None => 0,
    };
    &texts[start..ends[n] as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers are given in the order first seen and found again, among
    /// texts that share prefixes, hashes' buckets and an empty text.
    #[test]
    fn texts_are_numbered_in_the_order_first_seen() {
        let mut names = Names::default();
        let texts: Vec<String> = (0..5_000)
            .map(|i| format!("10.{}.{}.{}", i % 7, i / 7 % 256, i % 251))
            .chain(["".to_string(), "10.0.0".to_string()])
            .collect();
        let mut first_seen: Vec<&str> = Vec::new();
        for text in texts.iter().chain(&texts) {
            if !first_seen.contains(&text.as_str()) {
                first_seen.push(text);
            }
            let n = names.number(text).expect("numbered");
            assert_eq!(first_seen[n as usize], text);
            assert_eq!(names.get(text), Some(n));
        }
        assert_eq!(names.len(), first_seen.len());
        assert_eq!(names.get("10.9.9.9"), None);
    }
}
