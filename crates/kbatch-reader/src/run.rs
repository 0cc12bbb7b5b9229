//! One run: the engine's workers decode on std threads while the fetch loops run on a tokio
//! runtime, and the calling thread relays fetched chunks between them. Shared by the blocking
//! [`Reader`](crate::Reader) (its own runtime) and [`AsyncReader`](crate::AsyncReader) (the
//! application's runtime, from a blocking-pool thread).

use std::sync::Arc;

use kbatch_engine::{Job, Outcome, PartitionSpec, Progress};
use kbatch_wire::Cluster;
use tokio::runtime::Handle;

use crate::{fetch, Config, PartitionPlan, ReadError};

/// Run `job` over `plan`, blocking the calling thread, with the fetch loops on `io`. The
/// calling thread must not be one of `io`'s workers (it blocks on them).
pub(crate) fn run<J: Job>(
    io: &Handle,
    cluster: &Arc<Cluster>,
    config: &Arc<Config>,
    plan: &[PartitionPlan],
    job: &J,
    progress: Option<&Progress>,
) -> Result<Outcome<J::Output>, ReadError> {
    let specs: Vec<PartitionSpec> = plan.iter().map(|p| p.spec.clone()).collect();
    let own;
    let progress = match progress {
        Some(p) => p,
        None => {
            own = Progress::new(&specs);
            &own
        }
    };
    let outcome = kbatch_engine::run(
        &config.engine,
        job,
        &specs,
        config.isolation,
        progress,
        |feeder| {
            let depth = config.engine.channel_capacity.max(1);
            let (tx, mut rx) = tokio::sync::mpsc::channel(depth);
            let task = io.spawn(fetch::supervise(
                cluster.clone(),
                config.clone(),
                plan.to_vec(),
                tx,
            ));
            while let Some(work) = rx.blocking_recv() {
                if feeder.send(work).is_err() {
                    break;
                }
            }
            drop(rx);
            if feeder.halted() {
                task.abort();
                return Ok(());
            }
            match io.block_on(task) {
                Ok(result) => result,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Ok(()),
            }
        },
    )?;
    Ok(outcome)
}
