//! A sorted slice searched through a sample of its keys, every
//! [`STEP`]th one kept apart: the sample (a sixty-fourth of the slice,
//! small enough to stay in the processor's cache) is searched first, then
//! the one stretch of [`STEP`] keys the answer lies in. A plain binary
//! search of a Keycloak gigabyte's 1.5 million client keys missed the
//! cache at nearly every probe: 14–19% of its diagnosis's samples; through
//! the sample `EventIndex::newest` went from 2.8% to 1.8% of the whole
//! run's (benches/README.md).
//!
//! Invariant: [`Sampled::count_at_most`] answers what `partition_point`
//! answers over the whole slice, for the slice the sample was taken of.

/// Keys between two sampled ones.
const STEP: usize = 64;

/// Every [`STEP`]th key of a sorted slice, from the first.
#[derive(Debug, Default)]
pub(super) struct Sampled<K>(Vec<K>);

impl<K: Ord + Copy> Sampled<K> {
    /// The sample of `sorted`, whose keys (`key`) are in order.
    pub(super) fn of<T>(sorted: &[T], key: impl Fn(&T) -> K) -> Sampled<K> {
        Sampled(sorted.iter().step_by(STEP).map(key).collect())
    }

    /// How many items of `sorted` have a key at most `bound`:
    /// `sorted.partition_point(|t| key(t) <= bound)`.
    pub(super) fn count_at_most<T>(&self, sorted: &[T], key: impl Fn(&T) -> K, bound: K) -> usize {
        // The sampled keys at most `bound`: the answer is past the last of
        // them and at most the first beyond.
        let j = self.0.partition_point(|&k| k <= bound);
        let lo = (j.saturating_sub(1) * STEP).min(sorted.len());
        let hi = (j * STEP).min(sorted.len()).max(lo);
        lo + sorted[lo..hi].partition_point(|t| key(t) <= bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bound, in slices of every length around the step, with runs
    /// of equal keys: the same count as a search of the whole slice.
    #[test]
    fn the_count_is_partition_points() {
        let mut rng = fastrand::Rng::with_seed(3);
        for len in [0, 1, 2, STEP - 1, STEP, STEP + 1, 3 * STEP + 5, 1_000] {
            let mut sorted: Vec<u32> = (0..len).map(|_| rng.u32(0..50)).collect();
            sorted.sort_unstable();
            let sample = Sampled::of(&sorted, |&k| k);
            for bound in 0..52 {
                assert_eq!(
                    sample.count_at_most(&sorted, |&k| k, bound),
                    sorted.partition_point(|&k| k <= bound),
                    "{len} keys, bound {bound}"
                );
            }
        }
    }
}
