//! The `count` result, in the one shape every front end prints or returns: the CLI's JSON and
//! the Python package's `kbatch.count()` dict are this struct's serde form, so they cannot
//! drift apart.

use kbatch_engine::PartitionStats;

/// Data records of a run, in total and per partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CountReport {
    /// Data records over every partition.
    pub records: u64,
    /// Per partition, in the run's order.
    pub partitions: Vec<CountPartition>,
}

/// One partition's counts: `records + aborted + control + compaction gaps = end − start`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CountPartition {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Range start.
    pub start: i64,
    /// Range end (exclusive).
    pub end: i64,
    /// Data records.
    pub records: u64,
    /// Records of aborted transactions skipped (read_committed).
    pub aborted: u64,
    /// Control records (transaction markers).
    pub control: u64,
}

impl CountReport {
    /// The report of a run's per-partition stats (`Outcome::stats`).
    pub fn from_stats(stats: &[PartitionStats]) -> CountReport {
        CountReport {
            records: stats.iter().map(|s| s.records).sum(),
            partitions: stats
                .iter()
                .map(|s| CountPartition {
                    topic: s.topic.to_string(),
                    partition: s.partition,
                    start: s.start,
                    end: s.end,
                    records: s.records,
                    aborted: s.aborted,
                    control: s.control,
                })
                .collect(),
        }
    }
}
