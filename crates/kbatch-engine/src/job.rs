//! The job trait: what a computation over records looks like to the engine.

use std::sync::Arc;

use kbatch_records::{Record, TimeBounds};

/// One partition's half-open range `[start, end)`, as planned by the reader.
///
/// The engine refers to partitions by their index in the slice of `PartitionSpec`s it was
/// started with; jobs receive that index with every record so they can keep per-partition
/// figures (invalid counts, samples) without hashing the topic name on the record path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSpec {
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition id.
    pub partition: i32,
    /// First offset in range.
    pub start: i64,
    /// First offset past the range.
    pub end: i64,
}

/// What the engine counted for one partition once the run finished: the one per-partition
/// counts type. Reports (`count`, `trending`, Python's stats) serialize it as is, or flatten
/// it next to their own figures, so the counts cannot drift apart between front ends.
///
/// `records + skipped + aborted + control + compaction gaps = end - start`: every offset in
/// range is accounted for by exactly one of these (gaps are offsets that no longer exist in the
/// log).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionStats {
    /// Topic name.
    #[serde(serialize_with = "serialize_str")]
    pub topic: Arc<str>,
    /// Partition id.
    pub partition: i32,
    /// First offset in range.
    pub start: i64,
    /// First offset past the range.
    pub end: i64,
    /// Data records in range: records of non-control batches, minus aborted ones under
    /// read_committed. Every one of them was passed to [`Job::update`].
    pub records: u64,
    /// Records of aborted transactions skipped under read_committed.
    pub aborted: u64,
    /// Control records (transaction markers) in range; never passed to jobs.
    pub control: u64,
    /// Data records in range of batches skipped whole, undecoded, because their header proves
    /// no record lies within [`Job::timestamps`]; never passed to [`Job::update`] (0 unless
    /// the job narrows its timestamps; not part of the engine's own reports).
    #[serde(skip)]
    pub skipped: u64,
    /// Batches skipped that way.
    #[serde(skip)]
    pub skipped_batches: u64,
    /// Their wire bytes, never decompressed (also counted in `bytes`).
    #[serde(skip)]
    pub skipped_bytes: u64,
    /// Record-batch bytes decoded for this partition (not part of reports).
    #[serde(skip)]
    pub bytes: u64,
    /// Where decoding ended: the offset after the last fully decoded batch (≥ `end` when done;
    /// not part of reports).
    #[serde(skip)]
    pub decoded: i64,
}

impl PartitionStats {
    /// The stats of `[start, end)` before anything was decoded: every count zero, `decoded`
    /// at `start`.
    pub fn empty(topic: Arc<str>, partition: i32, start: i64, end: i64) -> PartitionStats {
        PartitionStats {
            topic,
            partition,
            start,
            end,
            records: 0,
            aborted: 0,
            control: 0,
            skipped: 0,
            skipped_batches: 0,
            skipped_bytes: 0,
            bytes: 0,
            decoded: start,
        }
    }
}

fn serialize_str<S: serde::Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

/// Why a job refused a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// Stop the run quietly: the job's consumer went away (e.g. stdout is a closed pipe).
    /// The run ends successfully with [`crate::Outcome::stopped`] set.
    Stop,
    /// Fail the run at this record (e.g. `--strict` and an invalid event). The engine adds the
    /// topic and partition to the message.
    Fail {
        /// Offset of the record that failed.
        offset: i64,
        /// What was wrong with it.
        message: String,
    },
}

/// A computation the engine runs over every data record in range.
///
/// The engine gives each decode worker one `Partial`, and routes every partition to exactly one
/// worker: a partition's records are only ever seen by one `Partial`, in offset order, and no
/// `Partial` is shared between threads, so `update` needs no locks. When every partition is
/// done, the workers' partials are combined with `merge` (so `merge` must be commutative and
/// associative in effect: any order and any split of partitions across workers must give the
/// same `finish` output) and `finish` turns the result into the job's output.
pub trait Job: Sync {
    /// Per-worker aggregation state.
    type Partial: Send;
    /// What the run produces.
    type Output;

    /// A fresh, empty partial for one worker.
    fn partial(&self) -> Self::Partial;

    /// The record timestamps this job can use. A batch wholly in range whose header proves
    /// that none of its records lies within (`BatchHeader::may_hold`) is skipped without
    /// decompressing it; its records are counted in [`PartitionStats::skipped`] and never
    /// passed to [`Job::update`]. So a job narrowing this must treat a record outside these
    /// bounds exactly as a skipped one (records of decoded batches still arrive whatever
    /// their timestamp). The default takes every timestamp: nothing is skipped.
    fn timestamps(&self) -> TimeBounds {
        TimeBounds::ANY
    }

    /// Account for one data record of partition `partition` (an index into the run's specs).
    fn update(
        &self,
        partial: &mut Self::Partial,
        partition: usize,
        record: &Record<'_>,
    ) -> Result<(), JobError>;

    /// Called after each fetched chunk of a partition was fully passed to `update`: a place to
    /// flush buffered output without doing it per record. The default does nothing.
    fn chunk_done(&self, _partial: &mut Self::Partial) -> Result<(), JobError> {
        Ok(())
    }

    /// Called once when partition `partition`'s range is fully decoded (every record in range
    /// was passed to `update`), right after that chunk's `chunk_done`: a streaming job emits the
    /// partition's tail here instead of holding it to `finish`. Not called for a range that
    /// never needed a fetch (empty), nor after the run halted. The default does nothing.
    fn partition_done(
        &self,
        _partial: &mut Self::Partial,
        _partition: usize,
    ) -> Result<(), JobError> {
        Ok(())
    }

    /// Fold `other` into `into`.
    fn merge(&self, into: &mut Self::Partial, other: Self::Partial);

    /// Turn the merged partial into the output; `stats` are the engine's per-partition counts,
    /// in the order of the run's specs.
    fn finish(&self, partial: Self::Partial, stats: &[PartitionStats]) -> Self::Output;
}

/// The simplest job: counting is done by the engine itself (it tallies every decoded record),
/// so the job only has to exist. `kbatch count` runs it; it is the honest ceiling of a full
/// decode (CRC, decompression, every record walked) that benchmarks compare against.
#[derive(Debug, Default, Clone, Copy)]
pub struct Count;

impl Job for Count {
    type Partial = ();
    type Output = ();

    fn partial(&self) {}

    #[inline]
    fn update(&self, _: &mut (), _: usize, _: &Record<'_>) -> Result<(), JobError> {
        Ok(())
    }

    fn merge(&self, _: &mut (), _: ()) {}

    fn finish(&self, _: (), _: &[PartitionStats]) {}
}
