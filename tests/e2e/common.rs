//! Helpers shared by the end-to-end tests.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kbatch_testkit::{
    shared_broker, Broker, ProduceOp, Produced, ProducedRecord, ProducerSettings,
};
use serde_json::Value;

/// The broker shared by every test of this binary (started on first use).
pub fn broker() -> &'static Broker {
    shared_broker()
}

/// A topic name no other test (or earlier run) uses.
pub fn topic(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// What one `kbatch` run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Parse stdout as one JSON document, failing with the run's stderr on error.
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "kbatch failed: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// Run the kbatch binary with `args`; `--bootstrap` of the shared broker is added unless the
/// args carry their own.
pub fn kbatch(args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbatch"));
    cmd.args(args);
    if !args.iter().any(|a| a.starts_with("--bootstrap")) {
        cmd.arg("--bootstrap").arg(&broker().bootstrap);
    }
    cmd.env_remove("KBATCH_BOOTSTRAP");
    let started = Instant::now();
    let out = cmd.output().expect("running kbatch");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// A record with a value (and optional key) for `partition`.
pub fn rec(partition: i32, key: Option<&str>, value: &str) -> ProduceOp {
    ProduceOp::Record(ProducedRecord {
        partition,
        key: key.map(|k| k.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        ..ProducedRecord::default()
    })
}

/// Produce `ops` with Kafka's Java producer.
pub fn produce(topic: &str, settings: &ProducerSettings, ops: &[ProduceOp]) -> Vec<Produced> {
    broker()
        .produce(topic, settings, ops)
        .unwrap_or_else(|e| panic!("producing to {topic}: {e}\n{}", broker().log_tail(30)))
}

/// Create a topic on the shared broker.
pub fn create_topic(name: &str, partitions: i32, configs: &[(&str, &str)]) {
    broker()
        .create_topic(name, partitions, configs)
        .unwrap_or_else(|e| panic!("creating {name}: {e}\n{}", broker().log_tail(30)));
}

/// Per-partition figures from `count`/`trending` JSON: partition → (start, end, records, aborted, control).
pub fn partitions(doc: &Value) -> Vec<(i64, i64, i64, u64, u64, u64)> {
    doc["partitions"]
        .as_array()
        .expect("partitions array")
        .iter()
        .map(|p| {
            (
                p["partition"].as_i64().unwrap(),
                p["start"].as_i64().unwrap(),
                p["end"].as_i64().unwrap(),
                p["records"].as_u64().unwrap(),
                p["aborted"].as_u64().unwrap(),
                p["control"].as_u64().unwrap(),
            )
        })
        .collect()
}
