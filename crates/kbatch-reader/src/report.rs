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
    pub partitions: Vec<PartitionStats>,
}

impl CountReport {
    /// The report of a run's per-partition stats (`Outcome::stats`).
    pub fn from_stats(stats: &[PartitionStats]) -> CountReport {
        CountReport {
            records: stats.iter().map(|s| s.records).sum(),
            partitions: stats.to_vec(),
        }
    }
}
