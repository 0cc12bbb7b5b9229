//! Decode workers, routing, the final merge.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use kbatch_records::{AbortedTxn, Chunk, Decoder, Isolation, RecordsError, Stop};

use crate::{Job, JobError, PartitionSpec, PartitionStats, Progress};

/// Engine settings. Memory held in flight is bounded by
/// `threads × channel_capacity × (the reader's max fetch bytes)` plus each worker's
/// decompression scratch (≤ `decompress_cap`) plus the jobs' aggregation state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Decode workers; 0 means one per available core.
    pub threads: usize,
    /// Chunks queued per worker before the feeder waits (back-pressure).
    pub channel_capacity: usize,
    /// Largest decompressed batch accepted, in bytes.
    pub decompress_cap: usize,
    /// Verify each batch's CRC32C while decoding. The reader turns this off because its header
    /// walk has already verified every batch it hands over.
    pub verify_crc: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            threads: 0,
            channel_capacity: 4,
            decompress_cap: kbatch_records::DEFAULT_DECOMPRESS_CAP,
            verify_crc: true,
        }
    }
}

/// One partition's complete record batches from one Fetch response.
#[derive(Debug, Clone)]
pub struct Work {
    /// Index of the partition in the run's specs.
    pub partition: usize,
    /// Complete batches only (the reader cuts a truncated trailing batch off).
    pub bytes: Bytes,
    /// The response's aborted transactions for this partition.
    pub aborted: Vec<AbortedTxn>,
}

/// Feeding stopped because the run is halting (a worker failed or the job asked to stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendError;

/// What the reader's fetch loops push work into. Borrowed for the duration of [`run`]'s `feed`.
pub struct Feeder<'a> {
    senders: Vec<Sender<Work>>,
    route: &'a [usize],
    shared: &'a Shared,
}

impl Feeder<'_> {
    /// Queue work for the worker that owns its partition, waiting while that worker's channel
    /// is full.
    pub fn send(&self, work: Work) -> Result<(), SendError> {
        if self.halted() {
            return Err(SendError);
        }
        self.senders[self.route[work.partition]]
            .send(work)
            .map_err(|_| SendError)
    }

    /// Queue work without waiting: `Ok(None)` when queued, `Ok(Some(work))` when the worker's
    /// channel is full (async callers wait and retry instead of blocking their runtime).
    pub fn try_send(&self, work: Work) -> Result<Option<Work>, SendError> {
        if self.halted() {
            return Err(SendError);
        }
        match self.senders[self.route[work.partition]].try_send(work) {
            Ok(()) => Ok(None),
            Err(TrySendError::Full(w)) => Ok(Some(w)),
            Err(TrySendError::Disconnected(_)) => Err(SendError),
        }
    }

    /// True once a worker failed or the job asked to stop: feeding should end.
    pub fn halted(&self) -> bool {
        self.shared.halt.load(Ordering::Relaxed)
    }
}

/// A finished run.
#[derive(Debug)]
pub struct Outcome<O> {
    /// The job's output.
    pub output: O,
    /// Per-partition counts, in the order of the specs.
    pub stats: Vec<PartitionStats>,
    /// The job asked to stop early ([`JobError::Stop`]); the stats cover what was decoded.
    pub stopped: bool,
}

/// Why a run failed. Not `non_exhaustive`: the reader gives every variant a kind by an
/// exhaustive match.
#[derive(Debug, thiserror::Error)]
pub enum EngineError<E> {
    /// A batch could not be decoded (CRC, codec, corrupt header): nothing from it was counted.
    #[error("{topic}/{partition}: {source}")]
    Decode {
        /// Topic.
        topic: Arc<str>,
        /// Partition.
        partition: i32,
        /// What the decoder found.
        #[source]
        source: RecordsError,
    },
    /// The job refused a record.
    #[error("{topic}/{partition} offset {offset}: {message}")]
    Job {
        /// Topic.
        topic: Arc<str>,
        /// Partition.
        partition: i32,
        /// The record's offset.
        offset: i64,
        /// The job's reason.
        message: String,
    },
    /// Feeding ended before a partition was decoded to its end: a bug in the feeder, reported
    /// rather than returning a short count.
    #[error(
        "{topic}/{partition}: decoding stopped at offset {decoded}, before the range end {end}"
    )]
    Incomplete {
        /// Topic.
        topic: Arc<str>,
        /// Partition.
        partition: i32,
        /// Where decoding stopped.
        decoded: i64,
        /// Where it should have reached.
        end: i64,
    },
    /// The feeder (the reader) failed.
    #[error(transparent)]
    Feed(E),
}

pub(crate) struct Shared {
    halt: AtomicBool,
    stopped: AtomicBool,
    failure: Mutex<Option<WorkerFailure>>,
}

enum WorkerFailure {
    Decode(usize, RecordsError),
    Job(usize, i64, String),
}

impl Shared {
    fn fail(&self, failure: WorkerFailure) {
        let mut slot = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(failure);
        }
        self.halt.store(true, Ordering::Relaxed);
    }
}

/// Per-partition figures a worker keeps for the partitions it owns.
#[derive(Clone, Copy)]
struct Acc {
    records: u64,
    aborted: u64,
    control: u64,
    bytes: u64,
    skipped: u64,
    skipped_batches: u64,
    skipped_bytes: u64,
    decoded: i64,
    /// `Job::partition_done` was called: a refetched chunk past the end must not call it again.
    done: bool,
}

/// Run `job` over the partitions in `specs`, fed by `feed`.
///
/// `feed` runs on the calling thread while the workers decode; it must push every partition's
/// batches up to the partition's end (in offset order per partition) and return. Work that
/// overlaps what a partition already decoded is skipped below the decoded position, so a feeder
/// that refetches after a connection error can never make a record count twice.
pub fn run<J, E, F>(
    config: &EngineConfig,
    job: &J,
    specs: &[PartitionSpec],
    isolation: Isolation,
    progress: &Progress,
    feed: F,
) -> Result<Outcome<J::Output>, EngineError<E>>
where
    J: Job,
    F: FnOnce(&Feeder<'_>) -> Result<(), E>,
{
    let workers = worker_count(config.threads, specs.len());
    let route = assign(specs, workers);
    let shared = Shared {
        halt: AtomicBool::new(false),
        stopped: AtomicBool::new(false),
        failure: Mutex::new(None),
    };
    let capacity = config.channel_capacity.max(1);

    let (fed, results) = std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = bounded::<Work>(capacity);
            senders.push(tx);
            let shared = &shared;
            handles.push(
                std::thread::Builder::new()
                    .name(format!("kbatch-decode-{w}"))
                    .spawn_scoped(scope, move || {
                        worker(config, job, specs, isolation, progress, shared, rx)
                    })
                    .expect("spawning a decode worker thread"),
            );
        }
        let feeder = Feeder {
            senders,
            route: &route,
            shared: &shared,
        };
        let fed = feed(&feeder);
        drop(feeder);
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        (fed, results)
    });

    if let Some(failure) = shared
        .failure
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
    {
        return Err(match failure {
            WorkerFailure::Decode(i, source) => EngineError::Decode {
                topic: specs[i].topic.clone(),
                partition: specs[i].partition,
                source,
            },
            WorkerFailure::Job(i, offset, message) => EngineError::Job {
                topic: specs[i].topic.clone(),
                partition: specs[i].partition,
                offset,
                message,
            },
        });
    }
    fed.map_err(EngineError::Feed)?;
    let stopped = shared.stopped.load(Ordering::Relaxed);

    let mut accs: Vec<Option<Acc>> = vec![None; specs.len()];
    let mut merged: Option<J::Partial> = None;
    for (partial, owned) in results {
        for (i, acc) in owned {
            accs[i] = Some(acc);
        }
        match merged.as_mut() {
            None => merged = Some(partial),
            Some(into) => job.merge(into, partial),
        }
    }
    let merged = merged.unwrap_or_else(|| job.partial());

    let mut stats = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let acc = accs[i].unwrap_or(Acc::new(spec.start));
        if !stopped && acc.decoded < spec.end {
            return Err(EngineError::Incomplete {
                topic: spec.topic.clone(),
                partition: spec.partition,
                decoded: acc.decoded,
                end: spec.end,
            });
        }
        stats.push(PartitionStats {
            topic: spec.topic.clone(),
            partition: spec.partition,
            start: spec.start,
            end: spec.end,
            records: acc.records,
            aborted: acc.aborted,
            control: acc.control,
            bytes: acc.bytes,
            skipped: acc.skipped,
            skipped_batches: acc.skipped_batches,
            skipped_bytes: acc.skipped_bytes,
            decoded: acc.decoded,
        });
    }
    let output = job.finish(merged, &stats);
    Ok(Outcome {
        output,
        stats,
        stopped,
    })
}

fn worker_count(threads: usize, partitions: usize) -> usize {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    threads.min(partitions).max(1)
}

/// Partition index → worker: largest ranges first, each to the least-loaded worker, so one
/// worker does not get two big partitions while another idles. Deterministic for given specs.
fn assign(specs: &[PartitionSpec], workers: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| {
        (
            std::cmp::Reverse(specs[i].end.saturating_sub(specs[i].start)),
            i,
        )
    });
    let mut load = vec![0i64; workers];
    let mut route = vec![0; specs.len()];
    for i in order {
        let w = (0..workers).min_by_key(|&w| (load[w], w)).unwrap_or(0);
        load[w] = load[w].saturating_add(specs[i].end.saturating_sub(specs[i].start).max(1));
        route[i] = w;
    }
    route
}

impl Acc {
    fn new(start: i64) -> Acc {
        Acc {
            records: 0,
            aborted: 0,
            control: 0,
            bytes: 0,
            skipped: 0,
            skipped_batches: 0,
            skipped_bytes: 0,
            decoded: start,
            done: false,
        }
    }
}

type WorkerResult<P> = (P, Vec<(usize, Acc)>);

fn worker<J: Job>(
    config: &EngineConfig,
    job: &J,
    specs: &[PartitionSpec],
    isolation: Isolation,
    progress: &Progress,
    shared: &Shared,
    rx: Receiver<Work>,
) -> WorkerResult<J::Partial> {
    let mut decoder = Decoder::new(config.decompress_cap)
        .verify_crc(config.verify_crc)
        .skip_outside(job.timestamps());
    let mut partial = job.partial();
    let mut owned: Vec<(usize, Acc)> = Vec::new();
    for work in rx.iter() {
        if shared.halt.load(Ordering::Relaxed) {
            // Keep draining so a feeder blocked on this channel wakes up and sees the halt.
            continue;
        }
        let i = work.partition;
        let spec = &specs[i];
        let slot = match owned.iter().position(|(p, _)| *p == i) {
            Some(s) => s,
            None => {
                owned.push((i, Acc::new(spec.start)));
                owned.len() - 1
            }
        };
        let acc = &mut owned[slot].1;
        let chunk = Chunk {
            bytes: &work.bytes,
            start: acc.decoded.max(spec.start),
            end: spec.end,
            isolation,
            aborted: &work.aborted,
        };
        match decoder.decode(&chunk, |record| job.update(&mut partial, i, record)) {
            Ok((tally, next)) => {
                acc.records += tally.records;
                acc.aborted += tally.aborted;
                acc.control += tally.control;
                acc.bytes += tally.bytes;
                acc.skipped += tally.skipped;
                acc.skipped_batches += tally.skipped_batches;
                acc.skipped_bytes += tally.skipped_bytes;
                if let Some(next) = next {
                    acc.decoded = acc.decoded.max(next);
                }
                progress.advance(i, acc.decoded, tally.records, tally.bytes);
                let mut done = job.chunk_done(&mut partial);
                if done.is_ok() && !acc.done && acc.decoded >= spec.end {
                    acc.done = true;
                    done = job.partition_done(&mut partial, i);
                }
                match done {
                    Ok(()) => {}
                    Err(JobError::Stop) => halt_stopped(shared),
                    Err(JobError::Fail { offset, message }) => {
                        shared.fail(WorkerFailure::Job(i, offset, message))
                    }
                }
            }
            Err(Stop::Records(e)) => shared.fail(WorkerFailure::Decode(i, e)),
            Err(Stop::Job(JobError::Stop)) => halt_stopped(shared),
            Err(Stop::Job(JobError::Fail { offset, message })) => {
                shared.fail(WorkerFailure::Job(i, offset, message))
            }
        }
    }
    (partial, owned)
}

fn halt_stopped(shared: &Shared) {
    shared.stopped.store(true, Ordering::Relaxed);
    shared.halt.store(true, Ordering::Relaxed);
}

#[cfg(test)]
mod tests;
