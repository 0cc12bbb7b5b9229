//! The library's one configuration struct; every CLI flag maps onto a field.

use std::time::Duration;

use kbatch_engine::EngineConfig;
use kbatch_records::Isolation;
use kbatch_wire::WireConfig;

/// How to read. `Config::default()` is what the CLI uses without flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bootstrap addresses (`host:port`); the first that answers is used.
    pub bootstrap: Vec<String>,
    /// Bounds connecting, each request, and the retries of one failing step: an unreachable
    /// or silent broker ends the run within it (default 30 s).
    pub timeout: Duration,
    /// read_committed (default, like librdkafka and the Java consumer) or read_uncommitted.
    pub isolation: Isolation,
    /// Fetch `max_bytes`: the most one Fetch response may carry (default 8 MiB). The fetch
    /// sizes bound memory together with `engine.channel_capacity` (the chunks that may wait per
    /// worker), so they are kept small: on loopback 1 MiB / 8 MiB reads as fast as
    /// 8 MiB / 32 MiB did, at about a third of the peak RSS (measured in `benches/`).
    pub fetch_max_bytes: i32,
    /// Fetch `partition_max_bytes` (default 1 MiB). A batch bigger than this is still returned
    /// whole (KIP-74).
    pub partition_max_bytes: i32,
    /// Fetch `max_wait_ms` (default 500).
    pub fetch_max_wait_ms: i32,
    /// Largest response frame accepted (default 100 MiB); must exceed `fetch_max_bytes`.
    pub frame_limit: usize,
    /// First retry backoff (default 100 ms; doubles up to `retry_backoff_max`, with jitter).
    pub retry_backoff: Duration,
    /// Longest retry backoff (default 1 s, as the Java client's and librdkafka's
    /// `retry.backoff.max.ms`).
    pub retry_backoff_max: Duration,
    /// Decode workers (0 = one per core), queued chunks per worker, decompression cap.
    pub engine: EngineConfig,
    /// Client id sent to brokers.
    pub client_id: String,
    /// A request not answered within this closes its connection and counts as that broker
    /// failing (its partitions are rerouted). `None`: half of `timeout`, so a stalled broker
    /// leaves time within the budget to find the partition's next leader.
    pub request_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        // The fetch loop's header walk verifies every batch's CRC before handing it over.
        let engine = EngineConfig {
            verify_crc: false,
            ..EngineConfig::default()
        };
        Config {
            bootstrap: vec!["localhost:9092".into()],
            timeout: Duration::from_secs(30),
            isolation: Isolation::ReadCommitted,
            fetch_max_bytes: 8 << 20,
            partition_max_bytes: 1 << 20,
            fetch_max_wait_ms: 500,
            frame_limit: 100 << 20,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            engine,
            client_id: "kbatch".into(),
            request_timeout: None,
        }
    }
}

impl Config {
    pub(crate) fn wire(&self) -> WireConfig {
        let request = self
            .request_timeout
            .unwrap_or(self.timeout / 2)
            .min(self.timeout)
            .max(Duration::from_millis(1));
        WireConfig {
            client_id: self.client_id.clone(),
            frame_limit: self.frame_limit,
            request_timeout: request,
            connect_timeout: request,
        }
    }

    pub(crate) fn isolation_level(&self) -> i8 {
        match self.isolation {
            Isolation::ReadUncommitted => 0,
            Isolation::ReadCommitted => 1,
        }
    }
}
