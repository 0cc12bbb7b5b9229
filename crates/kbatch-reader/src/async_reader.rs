//! The async API: the same reads from inside an application's tokio runtime.

use std::future::Future;
use std::sync::Arc;

use kbatch_engine::{Job, Outcome, Progress};
use kbatch_wire::Cluster;

use crate::run::CatchPanic;
use crate::{
    panic_message, plan, run, Config, PartitionOffsets, PartitionPlan, ReadError, ReadSpec,
};

/// `fut`, with a panic in it returned as [`ReadError::Panicked`] naming `what` was under way
/// and the one topic concerned, if there is one.
async fn caught<T>(
    what: &'static str,
    topics: &[String],
    fut: impl Future<Output = Result<T, ReadError>>,
) -> Result<T, ReadError> {
    match CatchPanic::new(fut).await {
        Ok(result) => result,
        Err(payload) => {
            let topic = match topics {
                [one] => Some(one.clone()),
                _ => None,
            };
            Err(ReadError::Panicked {
                what,
                topic,
                partition: None,
                message: panic_message(&*payload),
            })
        }
    }
}

/// A connection to one cluster, for async programs. Its I/O runs on the runtime it is called
/// from (any flavour); [`AsyncReader::run`] decodes on the engine's worker threads and relays
/// fetched data from one blocking-pool thread, so no runtime thread ever blocks.
///
/// ```no_run
/// # async fn f() -> Result<(), kbatch_reader::ReadError> {
/// use std::sync::Arc;
/// use kbatch_reader::{AsyncReader, Config, Count, ReadSpec};
///
/// let config = Config { bootstrap: vec!["127.0.0.1:9092".into()], ..Config::default() };
/// let reader = AsyncReader::connect(config).await?;
/// let plan = reader.plan(&ReadSpec::topics(["web_stream"])).await?;
/// let outcome = reader.run(plan, Arc::new(Count), None).await?;
/// println!("{} records", outcome.stats.iter().map(|s| s.records).sum::<u64>());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AsyncReader {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) config: Arc<Config>,
}

impl AsyncReader {
    /// Connect to the first reachable bootstrap broker (within `config.timeout`).
    pub async fn connect(config: Config) -> Result<AsyncReader, ReadError> {
        caught("connecting", &[], Self::connect_inner(config)).await
    }

    async fn connect_inner(config: Config) -> Result<AsyncReader, ReadError> {
        if config.bootstrap.is_empty() {
            return Err(ReadError::Config("no bootstrap address".into()));
        }
        if config.frame_limit < config.fetch_max_bytes.max(0) as usize + (1 << 20) {
            return Err(ReadError::Config(format!(
                "frame limit {} must exceed fetch max bytes {} by at least 1 MiB",
                config.frame_limit, config.fetch_max_bytes
            )));
        }
        config
            .check()
            .map_err(|e| ReadError::Config(e.to_string()))?;
        // One deadline for the whole bootstrap, however many addresses it tries.
        let deadline = plan::deadline(tokio::time::Instant::now(), &config);
        let cluster =
            Cluster::connect_until(&config.bootstrap, config.wire(), Some(deadline)).await?;
        Ok(AsyncReader {
            cluster: Arc::new(cluster),
            config: Arc::new(config),
        })
    }

    /// The configuration this reader was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Leader, earliest, high watermark and last stable offset of each partition of `topics`
    /// (all partitions, or only `partitions`).
    pub async fn offsets(
        &self,
        topics: &[String],
        partitions: Option<&[i32]>,
    ) -> Result<Vec<PartitionOffsets>, ReadError> {
        let mut spec = ReadSpec::topics(topics.iter().cloned());
        spec.partitions = partitions.map(<[i32]>::to_vec);
        let cluster = &*self.cluster;
        caught(
            "asking for offsets",
            topics,
            plan::offsets(cluster, &self.config, &spec),
        )
        .await
    }

    /// The names of the cluster's topics, sorted, internal ones (`__consumer_offsets`,
    /// `__transaction_state`) left out as a Java consumer's pattern subscription leaves them
    /// out: what a `subscribePattern` is matched against.
    pub async fn topics(&self) -> Result<Vec<String>, ReadError> {
        let meta = caught("listing topics", &[], async {
            Ok(self.cluster.metadata(None).await?)
        })
        .await?;
        let mut names: Vec<String> = meta
            .topics
            .into_iter()
            .filter(|t| t.error_code == 0 && !t.is_internal)
            .map(|t| t.name)
            .collect();
        names.sort_unstable();
        Ok(names)
    }

    /// Resolve `spec` into one range per partition (ListOffsets is asked once, now).
    pub async fn plan(&self, spec: &ReadSpec) -> Result<Vec<PartitionPlan>, ReadError> {
        caught(
            "planning",
            &spec.topics,
            plan::plan(&*self.cluster, &self.config, spec),
        )
        .await
    }

    /// Fetch and decode every planned range, running `job` on each data record. The job and
    /// progress are shared (`Arc`) because decoding runs on other threads while this future
    /// waits; `progress`, if given, must have been made from the same plan.
    pub async fn run<J>(
        &self,
        plan: Vec<PartitionPlan>,
        job: Arc<J>,
        progress: Option<Arc<Progress>>,
    ) -> Result<Outcome<J::Output>, ReadError>
    where
        J: Job + Send + Sync + 'static,
        J::Output: Send + 'static,
    {
        let io = tokio::runtime::Handle::current();
        let (cluster, config) = (self.cluster.clone(), self.config.clone());
        let planned = plan.clone();
        let relay = tokio::task::spawn_blocking(move || {
            run::run(&io, &cluster, &config, &plan, &*job, progress.as_deref())
        });
        // `run::run` catches its own panics; this boundary is the last line.
        match relay.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => {
                Err(ReadError::panicked("reading", &planned, &*e.into_panic()))
            }
            Err(_) => Err(ReadError::Cancelled),
        }
    }
}
