//! Helpers shared by the end-to-end tests.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use kbatch_testkit::{
    shared_broker, shared_cluster, Broker, Cluster, ProduceOp, Produced, ProducedRecord,
    ProducerSettings,
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

/// A record value in RELIABILITY.md's harness convention: JSON with a unique `id` and the
/// partition `p` it was sent to (padding makes records a realistic size).
pub fn id_value(id: u64, partition: i32) -> String {
    format!(
        r#"{{"id":{id},"p":{partition},"pad":"{}"}}"#,
        "x".repeat(24)
    )
}

/// What a topic must read back as: every record's value at the (partition, offset) that
/// Kafka's Java producer reported for it. Built from the producer, never from kbatch.
#[derive(Debug, Clone)]
pub struct Expected {
    pub topic: String,
    pub records: BTreeMap<(i64, i64), String>,
}

/// The outcome of checking one `dump`'s output against [`Expected`] (Jepsen's names).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Audit {
    /// Lines read.
    pub lines: u64,
    /// Expected records that never came.
    pub lost: u64,
    /// Records that came more than once.
    pub duplicated: u64,
    /// Records at a (partition, offset) never produced, or with other content there.
    pub unexpected: u64,
    /// Lines whose offset did not increase within their partition.
    pub nonmonotonic: u64,
    /// The first few problems, for the failure message.
    pub samples: Vec<String>,
}

impl Audit {
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.unexpected == 0 && self.nonmonotonic == 0
    }

    fn note(&mut self, what: String) {
        if self.samples.len() < 5 {
            self.samples.push(what);
        }
    }
}

/// (count, sum, xor) of the `id` field of values.
fn id_figures<'a>(values: impl Iterator<Item = &'a str>) -> (u64, u64, u64) {
    values.fold((0, 0, 0), |(n, sum, xor), v| {
        let id = serde_json::from_str::<Value>(v)
            .ok()
            .and_then(|j| j["id"].as_u64())
            .unwrap_or(u64::MAX);
        (n + 1, sum.wrapping_add(id), xor ^ id)
    })
}

impl Expected {
    /// Pair each produced record's value (in send order) with where the producer says it
    /// landed.
    pub fn new(topic: &str, values: &[(i32, String)], produced: &[Produced]) -> Expected {
        assert_eq!(
            values.len(),
            produced.len(),
            "producer acknowledged every record"
        );
        let mut records = BTreeMap::new();
        for ((p, v), at) in values.iter().zip(produced) {
            assert_eq!(
                *p, at.partition,
                "the record went to the partition it was sent to"
            );
            let old = records.insert((i64::from(at.partition), at.offset), v.clone());
            assert!(old.is_none(), "the producer reported {at:?} twice");
        }
        Expected {
            topic: topic.to_string(),
            records,
        }
    }

    /// How many records are expected.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// The same expectation restricted to `partitions` (for `--partitions` reads).
    pub fn only(&self, partitions: &[i64]) -> Expected {
        Expected {
            topic: self.topic.clone(),
            records: self
                .records
                .iter()
                .filter(|((p, _), _)| partitions.contains(p))
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
        }
    }

    /// Check dump output: each line of this topic at a produced (partition, offset) with
    /// the produced value, offsets strictly increasing per partition, nothing twice, nothing
    /// missing; and per partition, the count, sum and XOR of ids equal the produced ones.
    pub fn audit(&self, stdout: &str) -> Audit {
        let mut a = Audit::default();
        let mut seen: BTreeMap<(i64, i64), String> = BTreeMap::new();
        let mut last: BTreeMap<i64, i64> = BTreeMap::new();
        for line in stdout.lines() {
            a.lines += 1;
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                a.unexpected += 1;
                a.note(format!("not JSON: {line}"));
                continue;
            };
            let (Some(p), Some(o)) = (v["partition"].as_i64(), v["offset"].as_i64()) else {
                a.unexpected += 1;
                a.note(format!("no partition/offset: {line}"));
                continue;
            };
            let value = v["value"].as_str().unwrap_or_default().to_string();
            if v["topic"].as_str() != Some(self.topic.as_str()) {
                a.unexpected += 1;
                a.note(format!("other topic: {line}"));
            }
            if let Some(prev) = last.insert(p, o) {
                if o <= prev {
                    a.nonmonotonic += 1;
                    a.note(format!("{p}: offset {o} after {prev}"));
                }
            }
            match self.records.get(&(p, o)) {
                Some(want) if *want == value => {}
                Some(want) => {
                    a.unexpected += 1;
                    a.note(format!("{p}@{o}: {value} instead of {want}"));
                }
                None => {
                    a.unexpected += 1;
                    a.note(format!("{p}@{o} was never produced: {value}"));
                }
            }
            if seen.insert((p, o), value).is_some() {
                a.duplicated += 1;
                a.note(format!("{p}@{o} twice"));
            }
        }
        for k in self.records.keys() {
            if !seen.contains_key(k) {
                a.lost += 1;
                a.note(format!("{}@{} lost", k.0, k.1));
            }
        }
        // The harness convention's figures, per partition: count, sum and XOR of ids.
        let partitions: std::collections::BTreeSet<i64> =
            self.records.keys().map(|k| k.0).collect();
        for p in partitions {
            let want = id_figures(
                self.records
                    .range((p, i64::MIN)..=(p, i64::MAX))
                    .map(|(_, v)| v.as_str()),
            );
            let got = id_figures(
                seen.range((p, i64::MIN)..=(p, i64::MAX))
                    .map(|(_, v)| v.as_str()),
            );
            if want != got {
                a.note(format!(
                    "partition {p}: (count, sum, xor) of ids {got:?}, produced {want:?}"
                ));
                a.unexpected += u64::from(a.clean());
            }
        }
        a
    }

    /// Assert that `run` exited 0 and read the topic exactly.
    pub fn assert_exact(&self, run: &Run, what: &str) {
        assert_eq!(
            run.code, 0,
            "{what}: kbatch exited {} after {:?}: {}",
            run.code, run.elapsed, run.stderr
        );
        let a = self.audit(&run.stdout);
        assert!(
            a.clean() && a.lines as usize == self.len(),
            "{what}: {} lines for {} records: {a:?}",
            a.lines,
            self.len()
        );
    }
}

/// A `kbatch` run in progress whose output the test reads as it comes. While the test does
/// not read, kbatch soon blocks writing to the full pipe (and its fetchers stop behind the
/// full decode queues), so a fault injected between [`Reading::read_lines`] calls lands
/// mid-read, deterministically.
pub struct Reading {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
    stdout: String,
    stderr: Option<std::thread::JoinHandle<String>>,
    started: Instant,
}

/// Start `kbatch ARGS` (give `--bootstrap`) with its output piped back to the test.
pub fn start_kbatch(args: &[&str]) -> Reading {
    assert!(args.iter().any(|a| a.starts_with("--bootstrap")));
    let mut child = Command::new(env!("CARGO_BIN_EXE_kbatch"))
        .args(args)
        .env_remove("KBATCH_BOOTSTRAP")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting kbatch");
    let mut err = child.stderr.take().expect("piped stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    Reading {
        out: BufReader::new(child.stdout.take().expect("piped stdout")),
        child,
        stdout: String::new(),
        stderr: Some(stderr),
        started: Instant::now(),
    }
}

impl Reading {
    /// Read up to `n` more lines (fewer if kbatch ends first); how many were read.
    pub fn read_lines(&mut self, n: usize) -> usize {
        let mut got = 0;
        while got < n {
            match self.out.read_line(&mut self.stdout) {
                Ok(0) | Err(_) => break,
                Ok(_) => got += 1,
            }
        }
        got
    }

    /// Read everything else and wait for the exit; kbatch is killed (and the run fails with
    /// code -1) if it has not ended `limit` after it started.
    pub fn finish(mut self, limit: Duration) -> Run {
        let pid = self.child.id();
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let left = limit.saturating_sub(self.started.elapsed());
        let killer = std::thread::spawn(move || {
            if wait.recv_timeout(left).is_err() {
                // Our own child, still unreaped (its handle is held until `wait` returns).
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        });
        let _ = self.out.read_to_string(&mut self.stdout);
        let status = self.child.wait().expect("waiting for kbatch");
        let _ = done.send(());
        let _ = killer.join();
        let mut stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if status.code().is_none() {
            stderr.push_str(&format!("\n(killed after {limit:?}: {status})"));
        }
        Run {
            code: status.code().unwrap_or(-1),
            stdout: std::mem::take(&mut self.stdout),
            stderr,
            elapsed: self.started.elapsed(),
        }
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shared 3-node cluster (see `kbatch_testkit::shared_cluster`) and its [`big_topic`],
/// healed: every node up, every partition fully in sync under its preferred leader. Holding
/// the guard serialises the tests that disturb nodes.
pub fn failover_cluster() -> (MutexGuard<'static, Cluster>, &'static Expected) {
    let mut c = shared_cluster();
    c.heal(&[])
        .unwrap_or_else(|e| panic!("restarting nodes: {e}\n{}", c.logs(30)));
    let big = big_topic(&c);
    c.heal(&[&big.topic])
        .unwrap_or_else(|e| panic!("healing the cluster: {e}\n{}", c.logs(30)));
    (c, big)
}

/// `kbatch dump` of `big` on the cluster with [`SMALL_FETCHES`]; the bootstrap list starts
/// at node `first` (keep it off a node the test disturbs: these tests are about leaders).
pub fn dump_args(c: &Cluster, big: &Expected, first: u32, timeout: &str) -> Vec<String> {
    let mut a: Vec<String> = ["dump", "--topic", &big.topic, "--bootstrap"]
        .map(String::from)
        .to_vec();
    a.push(c.bootstrap_from(first));
    a.extend(["--timeout", timeout, "--channel-depth", "1"].map(String::from));
    a.extend(SMALL_FETCHES.map(String::from));
    a
}

/// Records of [`big_topic`].
pub const BIG_RECORDS: u64 = 200_000;
/// Partitions of [`big_topic`].
pub const BIG_PARTITIONS: i32 = 6;

/// Fetch sizes small enough that a read of [`big_topic`] takes hundreds of round trips
/// (so faults land mid-read and kbatch holds little of the topic in memory at any time).
pub const SMALL_FETCHES: [&str; 4] = [
    "--partition-max-bytes",
    "16384",
    "--fetch-max-bytes",
    "65536",
];

/// One topic on the shared cluster that the failover tests read (and never write):
/// [`BIG_RECORDS`] records round-robin over [`BIG_PARTITIONS`] partitions, replication
/// factor 3, written with acks=all while every node was in sync. Produced once per process.
pub fn big_topic(c: &Cluster) -> &'static Expected {
    static BIG: OnceLock<Expected> = OnceLock::new();
    BIG.get_or_init(|| {
        let t = topic("failover-big");
        c.create_topic(&t, BIG_PARTITIONS, &[])
            .unwrap_or_else(|e| panic!("creating {t}: {e}\n{}", c.logs(30)));
        let values: Vec<(i32, String)> = (0..BIG_RECORDS)
            .map(|id| {
                let p = (id % BIG_PARTITIONS as u64) as i32;
                (p, id_value(id, p))
            })
            .collect();
        let lines = values.iter().map(|(p, v)| format!("V\t{p}\t{v}"));
        let produced = c
            .produce_lines(&t, &ProducerSettings::default(), values.len(), lines)
            .unwrap_or_else(|e| panic!("producing {t}: {e}\n{}", c.logs(30)));
        Expected::new(&t, &values, &produced)
    })
}

/// The audit itself (no broker): a clean read passes; a lost, doubled, reordered, foreign or
/// altered record is each caught.
#[test]
fn audit_catches_every_kind_of_error() {
    let values: Vec<(i32, String)> = (0..4)
        .map(|id| ((id % 2) as i32, id_value(id, (id % 2) as i32)))
        .collect();
    let produced: Vec<Produced> = (0..4)
        .map(|id| Produced {
            partition: (id % 2) as i32,
            offset: id / 2,
        })
        .collect();
    let want = Expected::new("t", &values, &produced);
    let line = |p: i64, o: i64, v: &str| {
        serde_json::json!({"topic": "t", "partition": p, "offset": o, "value": v}).to_string()
    };
    let lines: Vec<String> = want
        .records
        .iter()
        .map(|((p, o), v)| line(*p, *o, v))
        .collect();
    let clean = want.audit(&lines.join("\n"));
    assert!(clean.clean() && clean.lines == 4, "{clean:?}");

    let lost = want.audit(&lines[1..].join("\n"));
    assert_eq!((lost.lost, lost.clean()), (1, false), "{lost:?}");
    let doubled = want.audit(&[&lines[..], &lines[..1]].concat().join("\n"));
    assert_eq!(doubled.duplicated, 1, "{doubled:?}");
    assert_eq!(doubled.nonmonotonic, 1, "{doubled:?}");
    let swapped = want.audit(
        &[&lines[1], &lines[0], &lines[2], &lines[3]]
            .map(String::as_str)
            .join("\n"),
    );
    assert_eq!(swapped.nonmonotonic, 1, "{swapped:?}");
    let altered = line(0, 0, &id_value(99, 0));
    let other = want.audit(&[altered.as_str(), &lines[1], &lines[2], &lines[3]].join("\n"));
    assert!(other.unexpected >= 1 && !other.clean(), "{other:?}");
    let foreign = line(0, 7, &id_value(0, 0));
    let extra = want.audit(&[&lines.join("\n"), foreign.as_str()].join("\n"));
    assert!(extra.unexpected >= 1, "{extra:?}");
}

/// The `id` inside each value `kbatch dump` printed (values are JSON objects with an `id`).
pub fn dumped_ids(stdout: &str) -> Vec<u64> {
    stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let inner: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
            inner["id"].as_u64().unwrap()
        })
        .collect()
}
