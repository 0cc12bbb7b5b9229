//! One run: the engine's workers decode on std threads while the fetch loops run on a tokio
//! runtime, and the calling thread relays fetched chunks between them. Shared by the blocking
//! [`Reader`](crate::Reader) (its own runtime) and [`AsyncReader`](crate::AsyncReader) (the
//! application's runtime, from a blocking-pool thread).
//!
//! No end without an end: the run ends well only when the fetch task returned `Ok` and the
//! engine decoded every range to its end. A fetch task that panicked or was cancelled, and a
//! decode worker (or the job) that panicked, end the run with a [`ReadError`] naming what was
//! being read — a panic never unwinds out of here, and never looks like a finished read.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use kbatch_engine::{Job, Outcome, PartitionSpec, Progress};
use tokio::runtime::Handle;

use crate::client::Client;
use crate::{fetch, Config, PartitionPlan, ReadError};

/// `fut`, with a panic while it is polled caught and returned as the panic's payload: the
/// boundary of the async API's calls, which run in the caller's task.
pub(crate) struct CatchPanic<F: Future>(Pin<Box<F>>);

impl<F: Future> CatchPanic<F> {
    pub(crate) fn new(fut: F) -> Self {
        CatchPanic(Box::pin(fut))
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        // A future that panicked is never polled again: `self` is ready with the panic.
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// Run `job` over `plan`, blocking the calling thread, with the fetch loops on `io`. The
/// calling thread must not be one of `io`'s workers (it blocks on them).
pub(crate) fn run<C: Client, J: Job>(
    io: &Handle,
    cluster: &Arc<C>,
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
    // A decode worker's panic (the engine re-raises it here once every worker ended) or one
    // on this relaying thread.
    let ran = catch_unwind(AssertUnwindSafe(|| {
        run_engine(io, cluster, config, plan, job, &specs, progress)
    }));
    match ran {
        Ok(outcome) => outcome,
        Err(payload) => Err(ReadError::panicked("reading", plan, &*payload)),
    }
}

fn run_engine<C: Client, J: Job>(
    io: &Handle,
    cluster: &Arc<C>,
    config: &Arc<Config>,
    plan: &[PartitionPlan],
    job: &J,
    specs: &[PartitionSpec],
    progress: &Progress,
) -> Result<Outcome<J::Output>, ReadError> {
    let outcome = kbatch_engine::run(
        &config.engine,
        job,
        specs,
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
                Err(e) if e.is_panic() => {
                    Err(ReadError::panicked("reading", plan, &*e.into_panic()))
                }
                // Nobody aborts it but the halt above: its runtime shut down.
                Err(_) => Err(ReadError::Cancelled),
            }
        },
    )?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    //! A run ends with an error naming the read when one of its parts panics — the fetch
    //! task (a scripted client that panics) or a decode worker (a job that panics) — never
    //! with an unwinding panic, never with a short outcome.

    use std::sync::Arc;

    use kbatch_engine::{Count, Job, JobError, PartitionSpec, PartitionStats};
    use kbatch_records::Record;
    use kbatch_wire::{
        BrokerMeta, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
        MetadataResponse, PartitionMeta, TopicMeta, WireError,
    };

    use super::run;
    use crate::client::Client;
    use crate::fetch::policy::tests::{batch, part};
    use crate::{Config, ErrorKind, PartitionPlan, ReadError};

    /// One topic `t`, partition 0, five records; `panic_on_fetch` makes every fetch panic.
    struct Scripted {
        panic_on_fetch: bool,
    }

    impl Client for Scripted {
        async fn metadata(&self, _topics: &[String]) -> Result<MetadataResponse, WireError> {
            Ok(MetadataResponse {
                brokers: vec![BrokerMeta {
                    node_id: 1,
                    host: "scripted".into(),
                    port: 1,
                    rack: None,
                }],
                controller_id: 1,
                topics: vec![TopicMeta {
                    error_code: 0,
                    name: "t".into(),
                    topic_id: [0; 16],
                    is_internal: false,
                    partitions: vec![PartitionMeta {
                        error_code: 0,
                        partition: 0,
                        leader: 1,
                        leader_epoch: 0,
                        replicas: vec![1],
                        isr: vec![1],
                    }],
                }],
            })
        }

        async fn list_offsets(
            &self,
            _node: i32,
            _req: &ListOffsetsRequest,
        ) -> Result<ListOffsetsResponse, WireError> {
            unreachable!("a run does not plan")
        }

        async fn fetch(&self, _node: i32, _req: &FetchRequest) -> Result<FetchResponse, WireError> {
            if self.panic_on_fetch {
                panic!("scripted fetch panics");
            }
            Ok(FetchResponse {
                throttle_time_ms: 0,
                error_code: 0,
                session_id: 0,
                topics: vec![("t".into(), vec![part(0, batch(0, 5, 0), 5)])],
            })
        }

        fn broker_name(&self, node: i32) -> String {
            format!("node {node}")
        }
    }

    fn plan() -> Vec<PartitionPlan> {
        vec![PartitionPlan {
            spec: PartitionSpec {
                topic: Arc::from("t"),
                partition: 0,
                start: 0,
                end: 5,
            },
            leader: 1,
            leader_epoch: 0,
            topic_id: [0; 16],
        }]
    }

    /// Counts, and panics at its third record.
    struct PanicsAtThird;

    impl Job for PanicsAtThird {
        type Partial = u64;
        type Output = u64;
        fn partial(&self) -> u64 {
            0
        }
        fn update(&self, p: &mut u64, _: usize, _: &Record<'_>) -> Result<(), JobError> {
            *p += 1;
            if *p == 3 {
                panic!("job panics at its third record");
            }
            Ok(())
        }
        fn merge(&self, into: &mut u64, other: u64) {
            *into += other;
        }
        fn finish(&self, p: u64, _: &[PartitionStats]) -> u64 {
            p
        }
    }

    fn run_with<J: Job>(
        client: Scripted,
        job: &J,
    ) -> Result<kbatch_engine::Outcome<J::Output>, ReadError>
    where
        J::Output: Send,
    {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = Arc::new(Config {
            bootstrap: vec!["scripted:1".into()],
            ..Config::default()
        });
        run(rt.handle(), &Arc::new(client), &config, &plan(), job, None)
    }

    #[test]
    fn the_scripted_read_completes() {
        let outcome = run_with(
            Scripted {
                panic_on_fetch: false,
            },
            &Count,
        )
        .expect("complete");
        assert_eq!(outcome.stats[0].records, 5);
    }

    #[test]
    fn a_panicking_fetch_task_fails_the_run_naming_the_partition() {
        let e = run_with(
            Scripted {
                panic_on_fetch: true,
            },
            &Count,
        )
        .expect_err("a panicked fetch is not a complete read");
        assert!(matches!(e, ReadError::Panicked { .. }), "{e:?}");
        assert!(e.to_string().contains("scripted fetch panics"), "{e}");
        assert_eq!((e.topic(), e.partition()), (Some("t"), Some(0)));
        assert_eq!(e.kind(), ErrorKind::Internal);
    }

    #[test]
    fn a_panicking_job_fails_the_run_with_its_message() {
        let e = run_with(
            Scripted {
                panic_on_fetch: false,
            },
            &PanicsAtThird,
        )
        .expect_err("a panicked decode is not a complete read");
        assert!(
            e.to_string().contains("job panics at its third record"),
            "{e}"
        );
        assert_eq!(e.kind(), ErrorKind::Internal);
    }
}
