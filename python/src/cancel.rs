//! Stopping a decode run that Python gave up on (Ctrl-C).
//!
//! Aborting the task that awaits `AsyncReader::run` does not stop the run itself: it relays
//! fetched data to the engine on a blocking thread. A job that any thread can tell to stop
//! does: at the next record or fetched chunk it returns `JobError::Stop`, the engine halts and
//! the run ends, its fetch loops with it.
//!
//! It also holds the one fault kbatch's own tests inject: with the test-only environment
//! variable [`PANIC_AFTER`] set to `N`, the job panics at its `N`-th record (counted over all
//! workers), so `python/tests` can check that a panic mid-read raises `kbatch.InternalError`
//! instead of returning a short result. Never set it otherwise.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use kbatch_reader::{Job, JobError, PartitionStats, Record};

/// The test-only environment variable that makes a read panic mid-way (tests only).
pub const PANIC_AFTER: &str = "KBATCH_TEST_PANIC_AFTER";

/// `N` from [`PANIC_AFTER`], if set (tests only).
pub fn panic_after() -> Option<u64> {
    std::env::var(PANIC_AFTER).ok()?.trim().parse().ok()
}

/// `job`, stoppable through [`Stop`].
pub struct Cancellable<J> {
    job: J,
    stop: Arc<AtomicBool>,
    /// [`PANIC_AFTER`]'s record number, and the records seen (tests only).
    panic_at: Option<u64>,
    seen: AtomicU64,
}

/// Tells a [`Cancellable`] job to stop.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Stop the job at its next record or chunk.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl<J> Cancellable<J> {
    /// `job`, and the handle that stops it.
    pub fn new(job: J) -> (Cancellable<J>, Stop) {
        let stop = Stop::default();
        (
            Cancellable {
                job,
                stop: stop.0.clone(),
                panic_at: panic_after(),
                seen: AtomicU64::new(0),
            },
            stop,
        )
    }

    fn check(&self) -> Result<(), JobError> {
        if self.stop.load(Ordering::Relaxed) {
            Err(JobError::Stop)
        } else {
            Ok(())
        }
    }
}

impl<J: Job> Job for Cancellable<J> {
    type Partial = J::Partial;
    type Output = J::Output;

    fn partial(&self) -> Self::Partial {
        self.job.partial()
    }

    fn timestamps(&self) -> kbatch_reader::TimeBounds {
        self.job.timestamps()
    }

    fn update(
        &self,
        partial: &mut Self::Partial,
        partition: usize,
        record: &Record<'_>,
    ) -> Result<(), JobError> {
        // One relaxed load per record: a large chunk still stops within milliseconds.
        self.check()?;
        if let Some(n) = self.panic_at {
            if self.seen.fetch_add(1, Ordering::Relaxed) + 1 == n {
                panic!("{PANIC_AFTER}={n}: the test hook panics at record {n}");
            }
        }
        self.job.update(partial, partition, record)
    }

    fn chunk_done(&self, partial: &mut Self::Partial) -> Result<(), JobError> {
        self.check()?;
        self.job.chunk_done(partial)
    }

    fn merge(&self, into: &mut Self::Partial, other: Self::Partial) {
        self.job.merge(into, other)
    }

    fn finish(&self, partial: Self::Partial, stats: &[PartitionStats]) -> Self::Output {
        self.job.finish(partial, stats)
    }
}
