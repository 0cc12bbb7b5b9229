//! kbatch's embeddable reader: bounded reads of Kafka topics, computed on as they arrive.
//!
//! Three roles, and the seams between them:
//!
//! * the **reader** ([`Reader`]) talks to the cluster: it resolves a [`ReadSpec`] into one
//!   half-open offset range `[start, end)` per partition ([`Reader::plan`]: Metadata, then
//!   ListOffsets for earliest / latest / timestamps), then runs one fetch loop per broker that
//!   fetches every partition it leads up to its end ([`Reader::run`]);
//! * the **engine** ([`kbatch_engine`]) receives the fetched bytes on bounded channels and
//!   decodes them on worker threads, each owning the partitions routed to it;
//! * a **job** ([`Job`]) is what you compute: `update` per record on a per-worker partial,
//!   `merge` once at the end, `finish` into your output. [`Count`] is the simplest;
//!   `kbatch-trending` is the flagship.
//!
//! Every record in range is either passed to the job or accounted for (aborted, control), or
//! the run fails naming topic, partition and offset: nothing is skipped silently.
//!
//! ```no_run
//! use kbatch_reader::{Config, Count, ReadSpec, Reader};
//!
//! let config = Config { bootstrap: vec!["127.0.0.1:9092".into()], ..Config::default() };
//! let reader = Reader::connect(config)?;
//! let plan = reader.plan(&ReadSpec::topics(["web_stream"]))?;
//! let outcome = reader.run(&plan, &Count, None)?;
//! let total: u64 = outcome.stats.iter().map(|s| s.records).sum();
//! println!("{total} records");
//! # Ok::<(), kbatch_reader::ReadError>(())
//! ```
//!
//! Secured clusters are configured with the client keys Kafka users already have
//! (librdkafka's names or the Java client's), through [`Config::from_properties`]; the typed
//! result is [`Config::security`], and passwords stay [`Secret`]s that never print:
//!
//! ```no_run
//! use kbatch_reader::{Config, Count, ReadSpec};
//!
//! let (config, ignored) = Config::from_properties([
//!     ("bootstrap.servers", "broker-1:9093"),
//!     ("security.protocol", "SASL_SSL"),
//!     ("sasl.mechanism", "SCRAM-SHA-512"),
//!     ("sasl.username", "alice"),
//!     ("sasl.password", "…"),
//!     ("ssl.ca.location", "/etc/kafka/ca.pem"),
//! ])?;
//! assert!(ignored.ignored.is_empty());
//! let outcome = kbatch_reader::read(config, &ReadSpec::topics(["web_stream"]), &Count)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod async_reader;
mod backoff;
mod client;
mod config;
mod error;
mod fetch;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod plan;
mod report;
mod run;
mod spec;

use tokio::runtime::Runtime;

pub use async_reader::AsyncReader;
pub use config::{
    parse_properties, redact_url, Applied, ClientConfig, ClientConfigBuilder, Config, ConfigError,
    InputNames, PropertiesError, SchemaRegistryConfig, SecurityWarning, UsageError, BOOTSTRAP_ENV,
    SCHEMA_REGISTRY_PREFIX,
};
pub use error::{chain, one_line, panic_message, ErrorKind, ReadError};
pub use kbatch_engine::{
    Count, EngineConfig, Job, JobError, Outcome, PartitionSpec, PartitionStats, Progress,
};
pub use kbatch_records::{Isolation, Record, TimeBounds, TimestampType};
pub use kbatch_wire::{
    CaSource, ClientIdentity, PemSource, Protocol, SaslSettings, ScramHash, Secret, Security,
    TlsSettings,
};
pub use plan::{PartitionOffsets, PartitionPlan};
pub use report::CountReport;
pub use spec::{Bound, Position, ReadSpec, SpecError};

/// A connection to one cluster, and the runtime its I/O runs on: the blocking API, for
/// programs that are not async. It is a thin wrapper over [`AsyncReader`] that owns a
/// one-thread tokio runtime.
///
/// It also works when called from a thread that is inside a tokio runtime (a blocking helper
/// called from async code): tokio forbids blocking on a runtime from such a thread, so each
/// call then runs on a short-lived thread of its own while the caller waits — correct, but it
/// blocks the caller's runtime thread for the whole call; async code should prefer
/// [`AsyncReader`].
pub struct Reader {
    /// `None` only while dropping.
    rt: Option<Runtime>,
    inner: AsyncReader,
}

/// Run `f` here, or — when this thread is inside a tokio runtime, where blocking on a runtime
/// panics — on a scoped thread outside it, waiting for it. A panic in `f` comes back as itself.
fn outside_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            // Dropping a runtime waits for its threads, which tokio forbids inside a runtime.
            if tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            }
        }
    }
}

impl Reader {
    /// Connect to the first reachable bootstrap broker (within `config.timeout`).
    pub fn connect(config: Config) -> Result<Reader, ReadError> {
        // One I/O thread: the fetch loops only walk batch headers; decoding happens on the
        // engine's workers, and the calling thread relays fetched data to them.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kbatch-io")
            .enable_all()
            .build()
            .map_err(ReadError::Runtime)?;
        let connected = outside_runtime(|| rt.block_on(AsyncReader::connect(config)));
        let inner = match connected {
            Ok(inner) => inner,
            Err(e) => {
                rt.shutdown_background();
                return Err(e);
            }
        };
        Ok(Reader {
            rt: Some(rt),
            inner,
        })
    }

    fn rt(&self) -> &Runtime {
        self.rt.as_ref().expect("the runtime lives until drop")
    }

    /// The configuration this reader was made with.
    pub fn config(&self) -> &Config {
        self.inner.config()
    }

    /// Leader, earliest, high watermark and last stable offset of each partition of `topics`
    /// (all partitions, or only `partitions`).
    pub fn offsets(
        &self,
        topics: &[String],
        partitions: Option<&[i32]>,
    ) -> Result<Vec<PartitionOffsets>, ReadError> {
        outside_runtime(|| self.rt().block_on(self.inner.offsets(topics, partitions)))
    }

    /// Resolve `spec` into one range per partition (ListOffsets is asked once, now).
    pub fn plan(&self, spec: &ReadSpec) -> Result<Vec<PartitionPlan>, ReadError> {
        outside_runtime(|| self.rt().block_on(self.inner.plan(spec)))
    }

    /// Fetch and decode every planned range, running `job` on each data record.
    ///
    /// `progress`, if given, must have been made from the same plan
    /// (`Progress::new(&specs)`); it is updated while the run goes on, so another thread can
    /// draw a progress bar from it.
    pub fn run<J>(
        &self,
        plan: &[PartitionPlan],
        job: &J,
        progress: Option<&Progress>,
    ) -> Result<Outcome<J::Output>, ReadError>
    where
        J: Job,
        J::Output: Send,
    {
        outside_runtime(|| {
            run::run(
                self.rt().handle(),
                &self.inner.cluster,
                &self.inner.config,
                plan,
                job,
                progress,
            )
        })
    }
}

/// Plan and run in one call: the whole of `spec`, with `job`.
pub fn read<J>(config: Config, spec: &ReadSpec, job: &J) -> Result<Outcome<J::Output>, ReadError>
where
    J: Job,
    J::Output: Send,
{
    let reader = Reader::connect(config)?;
    let plan = reader.plan(spec)?;
    reader.run(&plan, job, None)
}
