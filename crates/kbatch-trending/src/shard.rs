//! The trending job's partial of one shard as plain data, for engines that merge elsewhere.
//!
//! A distributed engine (Spark, through `kbatch.spark`'s pushdown) reads each shard — a set
//! of partition ranges — on some executor and merges the shards itself. What it must merge is
//! exactly what [`Trending`]'s `merge` merges: views per (category, product), plus the totals
//! (data records, invalid records by reason). Summing those over any split of the ranges gives
//! the counts of one run over their union, so ranking the sums gives the single-process report.

use kbatch_engine::{Job, JobError, PartitionStats};
use kbatch_records::Record;

use crate::job::{Partial, Trending};
use crate::Invalid;

/// One shard's counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShardPartial {
    /// `(category, product, views)` for every pair seen, ordered by category, product.
    pub pairs: Vec<(String, String, u64)>,
    /// Data records in the shard's ranges (valid + invalid), as [`crate::Report::records`].
    pub records: u64,
    /// Invalid records by reason code (only reasons that occurred), in [`crate::Invalid::ALL`]'s
    /// order; their sum is [`crate::Report::invalid`] of the same ranges.
    pub invalid: Vec<(&'static str, u64)>,
}

impl ShardPartial {
    /// The partial of trending's question run as `top` ([`crate::TopJob::trending`] under
    /// [`crate::TopShardJob`], how registry-framed values are counted): the same figures.
    pub fn from_top(shard: crate::TopShard) -> ShardPartial {
        let mut pairs: Vec<(String, String, u64)> = shard
            .cells
            .into_iter()
            .map(|c| {
                let n = match c.state {
                    crate::top::CellState::Count(n) => n,
                    // Trending's question counts; nothing else reaches here.
                    _ => 0,
                };
                (c.group.into_iter().next().unwrap_or_default(), c.item, n)
            })
            .collect();
        pairs.sort_unstable();
        let invalid = Invalid::ALL
            .iter()
            .filter_map(|why| {
                let n: u64 = shard
                    .invalid
                    .iter()
                    .filter(|(r, _)| r == why.as_str())
                    .map(|(_, n)| n)
                    .sum();
                (n > 0).then_some((why.as_str(), n))
            })
            .collect();
        ShardPartial {
            pairs,
            records: shard.records,
            invalid,
        }
    }
}

/// The trending job, finishing with the merged partial instead of a ranked report.
#[derive(Debug, Default, Clone, Copy)]
pub struct Shard;

/// Counting never fails and never ranks: `top` and `strict` do not matter here.
const COUNT: Trending = Trending {
    top: 1,
    strict: false,
};

impl Job for Shard {
    type Partial = Partial;
    type Output = ShardPartial;

    fn partial(&self) -> Partial {
        COUNT.partial()
    }

    #[inline]
    fn update(
        &self,
        p: &mut Partial,
        partition: usize,
        record: &Record<'_>,
    ) -> Result<(), JobError> {
        COUNT.update(p, partition, record)
    }

    fn merge(&self, into: &mut Partial, other: Partial) {
        COUNT.merge(into, other)
    }

    fn finish(&self, p: Partial, stats: &[PartitionStats]) -> ShardPartial {
        let mut pairs: Vec<(String, String, u64)> = p
            .pairs()
            .map(|(c, pr, n)| {
                // The extractor only accepts valid UTF-8, so nothing is replaced here.
                (
                    String::from_utf8_lossy(c).into_owned(),
                    String::from_utf8_lossy(pr).into_owned(),
                    n,
                )
            })
            .collect();
        pairs.sort_unstable();
        ShardPartial {
            pairs,
            records: stats.iter().map(|s| s.records).sum(),
            invalid: p
                .invalid_by_reason()
                .filter(|&(_, n)| n > 0)
                .map(|(why, n)| (why.as_str(), n))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Invalid;

    /// The reason counter is indexed by the enum's discriminant: that must be `ALL`'s order.
    #[test]
    fn reasons_are_indexed_in_all_order() {
        for (i, why) in Invalid::ALL.iter().enumerate() {
            assert_eq!(*why as usize, i, "{why:?}");
        }
    }
}
