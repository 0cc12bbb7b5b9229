//! Counters readable while a run is going on (for progress bars and embedders' metrics).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::PartitionSpec;

/// Live counters of one run. Workers bump them once per decoded chunk (never per record), so
/// reading them costs the record path nothing.
#[derive(Debug)]
pub struct Progress {
    records: AtomicU64,
    bytes: AtomicU64,
    decoded: Vec<AtomicI64>,
    ranges: Vec<(i64, i64)>,
}

impl Progress {
    /// Counters for the partitions of a run, all at their start offsets.
    pub fn new(specs: &[PartitionSpec]) -> Progress {
        Progress {
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            decoded: specs.iter().map(|s| AtomicI64::new(s.start)).collect(),
            ranges: specs.iter().map(|s| (s.start, s.end)).collect(),
        }
    }

    /// Data records decoded so far.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// Record-batch bytes decoded so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Partition `index`'s decoded position and its end offset.
    pub fn position(&self, index: usize) -> (i64, i64) {
        (
            self.decoded[index].load(Ordering::Relaxed),
            self.ranges[index].1,
        )
    }

    /// Offsets decoded out of offsets in range, over all partitions: exact, because end
    /// offsets are fixed when the run starts.
    pub fn fraction(&self) -> (u64, u64) {
        let mut done = 0u64;
        let mut total = 0u64;
        for (i, &(start, end)) in self.ranges.iter().enumerate() {
            let pos = self.decoded[i]
                .load(Ordering::Relaxed)
                .clamp(start, end.max(start));
            done += (pos - start) as u64;
            total = total.saturating_add(end.saturating_sub(start).max(0) as u64);
        }
        (done, total)
    }

    pub(crate) fn advance(&self, index: usize, decoded: i64, records: u64, bytes: u64) {
        self.decoded[index].fetch_max(decoded, Ordering::Relaxed);
        self.records.fetch_add(records, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}
