//! Invalid records as a job's partial keeps them, for trending and top alike: per partition
//! (how many, and the lowest offsets with their reasons) and by reason.
#![forbid(unsafe_code)]

use kbatch_engine::PartitionStats;

use crate::report::InvalidSample;
use crate::Invalid;

/// How many invalid offsets each partition keeps as samples (the lowest ones).
pub const SAMPLES_PER_PARTITION: usize = 5;

/// Invalid records of one partition.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PartitionInvalid {
    /// How many.
    pub count: u64,
    /// The lowest offsets, with reasons (at most [`SAMPLES_PER_PARTITION`], ascending).
    pub samples: Vec<(i64, Invalid)>,
}

/// One partial's invalid records: per partition index and by reason.
#[derive(Debug, Default, Clone)]
pub(crate) struct Invalids {
    partitions: Vec<PartitionInvalid>,
    /// Indexed as [`Invalid::ALL`] (the enum's order).
    reasons: [u64; Invalid::ALL.len()],
}

impl Invalids {
    fn partition_mut(&mut self, partition: usize) -> &mut PartitionInvalid {
        if self.partitions.len() <= partition {
            self.partitions
                .resize_with(partition + 1, PartitionInvalid::default);
        }
        &mut self.partitions[partition]
    }

    /// One invalid record. Records of a partition arrive in offset order, so the first
    /// samples kept are the lowest.
    pub(crate) fn note(&mut self, partition: usize, offset: i64, why: Invalid) {
        self.reasons[why as usize] += 1;
        let p = self.partition_mut(partition);
        p.count += 1;
        if p.samples.len() < SAMPLES_PER_PARTITION {
            p.samples.push((offset, why));
        }
    }

    /// `n` invalid records of reason `why` known only by reason (a shard's figures).
    pub(crate) fn add_reason(&mut self, why: Invalid, n: u64) {
        self.reasons[why as usize] += n;
    }

    /// Add another partial's: counts add, each partition keeps its lowest samples.
    pub(crate) fn merge(&mut self, other: Invalids) {
        for (mine, theirs) in self.reasons.iter_mut().zip(other.reasons) {
            *mine += theirs;
        }
        for (i, inv) in other.partitions.into_iter().enumerate() {
            if inv.count == 0 {
                continue;
            }
            let p = self.partition_mut(i);
            p.count += inv.count;
            p.samples.extend(inv.samples);
            p.samples.sort_unstable();
            p.samples.truncate(SAMPLES_PER_PARTITION);
        }
    }

    /// Per partition index.
    pub(crate) fn partitions(&self) -> &[PartitionInvalid] {
        &self.partitions
    }

    /// Invalid records of partition index `i` (none if it had none).
    pub(crate) fn count(&self, i: usize) -> u64 {
        self.partitions.get(i).map_or(0, |p| p.count)
    }

    /// Invalid records of every partition.
    pub(crate) fn total(&self) -> u64 {
        self.partitions.iter().map(|p| p.count).sum()
    }

    /// Every reason in [`Invalid::ALL`]'s order (zeros included) with its count.
    pub(crate) fn by_reason(&self) -> impl Iterator<Item = (Invalid, u64)> + '_ {
        Invalid::ALL
            .iter()
            .map(|&why| (why, self.reasons[why as usize]))
    }

    /// Invalid records counted by reason (equal to [`Invalids::total`] unless a shard's figures
    /// were added by reason).
    pub(crate) fn total_by_reason(&self) -> u64 {
        self.reasons.iter().sum()
    }

    /// The samples of every partition, named by the partitions' stats (index `i` is
    /// `stats[i]`), in partition then offset order.
    pub(crate) fn samples(&self, stats: &[PartitionStats]) -> Vec<InvalidSample> {
        let mut out = Vec::new();
        for (s, inv) in stats.iter().zip(&self.partitions) {
            for &(offset, why) in &inv.samples {
                out.push(InvalidSample {
                    topic: s.topic.to_string(),
                    partition: s.partition,
                    offset,
                    reason: why.as_str(),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_keeps_the_lowest_samples() {
        let mut a = Invalids::default();
        let mut b = Invalids::default();
        for o in [10, 12, 14, 16] {
            a.note(1, o, Invalid::BadJson);
        }
        for o in [1, 11, 13, 20] {
            b.note(1, o, Invalid::MissingField);
        }
        b.note(3, 7, Invalid::Tombstone);
        a.merge(b);
        assert_eq!(a.count(0), 0);
        assert_eq!(a.count(1), 8);
        assert_eq!(a.count(3), 1);
        assert_eq!(a.total(), 9);
        let offsets: Vec<i64> = a.partitions()[1].samples.iter().map(|s| s.0).collect();
        assert_eq!(offsets, [1, 10, 11, 12, 13]);
        let reasons: Vec<(Invalid, u64)> = a.by_reason().filter(|r| r.1 > 0).collect();
        assert_eq!(reasons.iter().map(|r| r.1).sum::<u64>(), 9, "{reasons:?}");
        assert!(reasons.contains(&(Invalid::MissingField, 4)));
        a.add_reason(Invalid::BadJson, 2);
        assert_eq!((a.total(), a.total_by_reason()), (9, 11));
    }

    #[test]
    fn a_partition_keeps_its_first_samples() {
        let mut a = Invalids::default();
        for o in 0..(SAMPLES_PER_PARTITION as i64 + 3) {
            a.note(0, o, Invalid::Empty);
        }
        assert_eq!(a.count(0), SAMPLES_PER_PARTITION as u64 + 3);
        assert_eq!(a.partitions()[0].samples.len(), SAMPLES_PER_PARTITION);
        assert_eq!(a.partitions()[0].samples[0], (0, Invalid::Empty));
    }
}
