//! Batches as a stream for async and blocking consumers, and the whole read as one ordered set.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use kbatch_reader::{AsyncReader, Outcome, PartitionPlan, PartitionStats, Progress, ReadError};
use tokio::runtime::Handle;
use tokio::sync::mpsc::{self, Receiver};
use tokio::task::JoinHandle;

use crate::job::{ArrowJob, PartitionBatch};
use crate::schema::schema;

/// Rows per batch unless told otherwise: large enough that per-batch costs vanish, small
/// enough that a few batches per worker stay well inside memory.
pub const DEFAULT_BATCH_ROWS: usize = 64 * 1024;

/// Batches in flight between the decode workers and the consumer. Small on purpose: beyond
/// it, workers wait, and the engine's back-pressure pauses the fetches.
const IN_FLIGHT: usize = 2;

/// How batches are cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrowOptions {
    /// Rows per batch (at least 1); a partition's last batch may be shorter.
    pub batch_rows: usize,
    /// Add the `headers` column (Spark's `includeHeaders`).
    pub headers: bool,
}

impl Default for ArrowOptions {
    fn default() -> Self {
        ArrowOptions {
            batch_rows: DEFAULT_BATCH_ROWS,
            headers: true,
        }
    }
}

/// A running read whose records arrive as Arrow batches.
///
/// Batches of one partition arrive in offset order; batches of different partitions
/// interleave (each partition is decoded by one worker, and workers run side by side).
/// Dropping the stream stops the read: the workers find nobody to hand batches to and halt.
///
/// The stream ends (`None`) only when the read's task returned its outcome: a task that
/// panicked, was cancelled, or stopped without one ends the stream with an error instead.
pub struct BatchStream {
    schema: SchemaRef,
    rx: Receiver<PartitionBatch>,
    run: Option<JoinHandle<Result<Outcome<()>, ReadError>>>,
    stats: Option<Vec<PartitionStats>>,
    handle: Handle,
    /// What is read: what a panic is reported about.
    plan: Vec<PartitionPlan>,
}

impl std::fmt::Debug for BatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchStream")
            .field("running", &self.run.is_some())
            .finish_non_exhaustive()
    }
}

impl BatchStream {
    /// Start reading `plan`. Must be called inside a tokio runtime: the read runs as a task
    /// on it. `progress`, if given, must have been made from the same plan.
    pub fn start(
        reader: &AsyncReader,
        plan: Vec<PartitionPlan>,
        options: ArrowOptions,
        progress: Option<Arc<Progress>>,
    ) -> BatchStream {
        let schema = schema(options.headers);
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        let job = Arc::new(ArrowJob {
            schema: schema.clone(),
            names: plan
                .iter()
                .map(|p| (p.spec.topic.clone(), p.spec.partition))
                .collect(),
            batch_rows: options.batch_rows.max(1),
            headers: options.headers,
            tx,
        });
        let reader = reader.clone();
        let planned = plan.clone();
        let run = tokio::spawn(async move { reader.run(plan, job, progress).await });
        BatchStream::over(schema, rx, run, planned)
    }

    /// A stream of the batches `rx` receives, ended by what `run` returns.
    fn over(
        schema: SchemaRef,
        rx: Receiver<PartitionBatch>,
        run: JoinHandle<Result<Outcome<()>, ReadError>>,
        plan: Vec<PartitionPlan>,
    ) -> BatchStream {
        BatchStream {
            schema,
            rx,
            run: Some(run),
            stats: None,
            handle: Handle::current(),
            plan,
        }
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch; `None` once every batch was delivered and the read ended well (then
    /// [`BatchStream::stats`] has the per-partition counts); `Some(Err)` once if it failed.
    pub async fn next(&mut self) -> Option<Result<PartitionBatch, ReadError>> {
        if let Some(batch) = self.rx.recv().await {
            return Some(Ok(batch));
        }
        // The job (and with it the sender) is dropped only when the run is over.
        let run = self.run.take()?;
        match run.await {
            Ok(Ok(outcome)) => {
                self.stats = Some(outcome.stats);
                None
            }
            Ok(Err(e)) => Some(Err(e)),
            Err(e) if e.is_panic() => Some(Err(ReadError::panicked(
                "reading",
                &self.plan,
                &*e.into_panic(),
            ))),
            Err(_) => Some(Err(ReadError::Cancelled)),
        }
    }

    /// [`BatchStream::next`] for a thread outside the runtime (a Python thread, a plain
    /// thread); it panics when called from inside an async context, as `block_on` does.
    pub fn blocking_next(&mut self) -> Option<Result<PartitionBatch, ReadError>> {
        let handle = self.handle.clone();
        handle.block_on(self.next())
    }

    /// The engine's per-partition counts (records, aborted, control), once the stream ended.
    pub fn stats(&self) -> Option<&[PartitionStats]> {
        self.stats.as_deref()
    }
}

/// The whole read, ordered by topic, partition and offset (the stream's batches, reordered),
/// without empty batches; and the per-partition counts.
pub async fn read_all(
    reader: &AsyncReader,
    plan: Vec<PartitionPlan>,
    options: ArrowOptions,
) -> Result<(SchemaRef, Vec<RecordBatch>, Vec<PartitionStats>), ReadError> {
    collect(BatchStream::start(reader, plan, options, None)).await
}

/// Every batch of `stream` until its end, reordered (what [`read_all`] returns).
async fn collect(
    mut stream: BatchStream,
) -> Result<(SchemaRef, Vec<RecordBatch>, Vec<PartitionStats>), ReadError> {
    let mut batches = Vec::new();
    while let Some(b) = stream.next().await {
        let b = b?;
        if b.batch.num_rows() > 0 {
            batches.push(b);
        }
    }
    // Stable: a partition's batches keep their (offset) order.
    batches.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    let stats = stream.stats.take().unwrap_or_default();
    Ok((
        stream.schema(),
        batches.into_iter().map(|b| b.batch).collect(),
        stats,
    ))
}

#[cfg(test)]
mod tests;
