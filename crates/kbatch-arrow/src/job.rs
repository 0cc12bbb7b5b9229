//! The engine job that turns records into Arrow batches and hands them to the consumer.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use kbatch_reader::{Job, JobError, PartitionStats, Record};
use tokio::sync::mpsc::Sender;

use crate::builder::Rows;
use crate::recycle::Pools;

/// Rows of one partition range, in offset order.
#[derive(Debug, Clone)]
pub struct PartitionBatch {
    /// Index of the partition in the plan the stream was started with.
    pub index: usize,
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition id.
    pub partition: i32,
    /// The rows, in [`schema`](crate::schema)'s layout.
    pub batch: RecordBatch,
    /// No more rows of this range follow. A range whose rows ended exactly on a batch boundary
    /// is closed by an empty last batch; a range without any data record sends no batch at all.
    pub last: bool,
}

pub(crate) struct ArrowJob {
    pub(crate) schema: SchemaRef,
    /// `(topic, partition)` of each index of the run's plan.
    pub(crate) names: Vec<(Arc<str>, i32)>,
    pub(crate) batch_rows: usize,
    pub(crate) headers: bool,
    pub(crate) tx: Sender<PartitionBatch>,
}

/// A worker's pending rows, by plan index (a worker only ever sees its own partitions), and
/// whether a batch of that partition was sent already (so its end is announced even when no
/// rows are left for the last batch).
pub(crate) struct Pending {
    rows: Vec<Option<Rows>>,
    sent: Vec<bool>,
    /// The memory of this worker's batches, taken back as the consumer drops them.
    pools: Pools,
}

impl ArrowJob {
    fn send(&self, pending: &mut Pending, index: usize, last: bool) -> Result<(), JobError> {
        let (topic, partition) = &self.names[index];
        let Some(rows) = pending.rows[index].as_mut() else {
            return Ok(());
        };
        if rows.len() == 0 && !(last && pending.sent[index]) {
            return Ok(());
        }
        let first_offset = rows.first_offset();
        let batch = rows
            .cut(&mut pending.pools, &self.schema, topic, *partition)
            .map_err(|e| JobError::Fail {
                offset: first_offset.unwrap_or(-1),
                message: format!("cannot build an Arrow batch: {e}"),
            })?;
        if last {
            pending.rows[index] = None;
        }
        pending.sent[index] = true;
        let batch = PartitionBatch {
            index,
            topic: topic.clone(),
            partition: *partition,
            batch,
            last,
        };
        // Blocks this decode worker while the consumer is behind: the engine's channels then
        // fill and the fetches pause. A consumer that went away stops the run.
        self.tx.blocking_send(batch).map_err(|_| JobError::Stop)
    }
}

impl Job for ArrowJob {
    type Partial = Pending;
    type Output = ();

    fn partial(&self) -> Pending {
        Pending {
            rows: (0..self.names.len()).map(|_| None).collect(),
            sent: vec![false; self.names.len()],
            pools: Pools::default(),
        }
    }

    fn update(&self, p: &mut Pending, index: usize, r: &Record<'_>) -> Result<(), JobError> {
        let pools = &mut p.pools;
        let rows =
            p.rows[index].get_or_insert_with(|| Rows::new(pools, self.batch_rows, self.headers));
        if !rows.fits(r) {
            // 2 GiB of keys or values in one batch: cut it before this record.
            self.send(p, index, false)?;
        }
        let rows = p.rows[index].as_mut().expect("rows made above");
        rows.push(r).map_err(|e| JobError::Fail {
            offset: e.offset,
            message: format!("bad header: {}", e.reason),
        })?;
        if rows.len() >= self.batch_rows {
            self.send(p, index, false)?;
        }
        Ok(())
    }

    fn partition_done(&self, p: &mut Pending, index: usize) -> Result<(), JobError> {
        self.send(p, index, true)
    }

    /// Nothing to combine: every batch was handed over as it was cut.
    fn merge(&self, _: &mut Pending, _: Pending) {}

    fn finish(&self, _: Pending, _: &[PartitionStats]) {}
}
