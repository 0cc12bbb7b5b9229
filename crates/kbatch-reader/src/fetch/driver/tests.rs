//! The drivers over a scripted cluster: leader moves, dead brokers, throttling, lagging or
//! truncated logs, a recreated topic — cases a real broker produces only by chance, checked
//! here for exactness (every batch delivered once, in order) and for bounded, paced retries.
//!
//! Every test runs on tokio's paused clock: budgets, throttles and backoffs pass in virtual
//! time, which moves only when every task waits, so the time bounds asserted here are exact
//! and do not depend on how busy the machine is.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kbatch_engine::{PartitionSpec, Work};
use kbatch_wire::{
    codes, BrokerMeta, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataResponse, PartitionMeta, TopicMeta, WireError,
};
use tokio::sync::mpsc;

use super::supervise;
use crate::backoff::now;
use crate::client::Client;
use crate::fetch::policy::tests::{batch, part};
use crate::{Config, PartitionPlan, ReadError};

const BATCH: i32 = 5;

/// One fetch the fake answered: when, to which node, (partition, offset) asked.
type FetchLog = Vec<(Instant, i32, Vec<(i32, i64)>)>;
/// Changes the fake's state before each fetch.
type Hook = Box<dyn FnMut(&mut State) + Send>;

/// A cluster of one topic `t` held in memory; `hook` may change it before each fetch.
struct State {
    leaders: HashMap<i32, (i32, i32)>,
    /// What Metadata says, when it lags behind `leaders`.
    stale_meta: Option<HashMap<i32, (i32, i32)>>,
    topic_id: [u8; 16],
    exists: bool,
    logs: HashMap<i32, Vec<u8>>,
    batches: HashMap<i32, Vec<(i64, usize, usize)>>,
    hwm: HashMap<i32, i64>,
    dead: HashSet<i32>,
    throttle_once: i32,
    duplicate_errors: bool,
    /// Only the first partition of a request gets data (a response filled by it).
    first_only: bool,
    /// Error codes answered, one per fetch, before the real answer.
    scripted: Vec<i16>,
    /// Answer every fetch with batches that all lie below the fetch offset.
    stale_data: bool,
    /// From this moment the topic is a new incarnation (new id; its batches carry epoch 99).
    recreate_at: Option<Instant>,
    /// Every partition that gets data is listed a second time, with other data.
    second_copy: Option<SecondCopy>,
    fetches: FetchLog,
    metadata_calls: usize,
    hook: Option<Hook>,
}

impl State {
    /// Once `recreate_at` has passed, the topic is a new incarnation: a new id, and batches
    /// at the same offsets written in epoch 99.
    fn maybe_recreate(&mut self) {
        if self.recreate_at.is_none_or(|t| now() < t) {
            return;
        }
        self.recreate_at = None;
        self.topic_id = [9; 16];
        for (p, log) in self.logs.iter_mut() {
            let mut fresh = Vec::new();
            for (base, _, _) in &self.batches[p] {
                fresh.extend(batch(*base, BATCH, 99));
            }
            *log = fresh;
        }
    }
}

/// What the second copy of a partition listed twice holds.
#[derive(Debug, Clone, Copy)]
enum SecondCopy {
    /// The first 20 bytes of the first copy.
    Shorter,
    /// Four batches from the same offset, written in epoch 99, one aborted transaction.
    Longer,
    /// As many batches as the first copy, written in epoch 99, one aborted transaction.
    Other,
}

struct Fake(Mutex<State>);

impl Fake {
    /// `parts` partitions of `batches` batches of 5 records each, led by `leader_of(p)`.
    fn new(parts: i32, batches: i64, leader_of: impl Fn(i32) -> i32) -> Arc<Fake> {
        let mut st = State {
            leaders: HashMap::new(),
            stale_meta: None,
            topic_id: [7; 16],
            exists: true,
            logs: HashMap::new(),
            batches: HashMap::new(),
            hwm: HashMap::new(),
            dead: HashSet::new(),
            throttle_once: 0,
            duplicate_errors: false,
            first_only: false,
            scripted: vec![],
            stale_data: false,
            recreate_at: None,
            second_copy: None,
            fetches: vec![],
            metadata_calls: 0,
            hook: None,
        };
        for p in 0..parts {
            st.leaders.insert(p, (leader_of(p), 1));
            let mut log = Vec::new();
            let mut index = Vec::new();
            for b in 0..batches {
                let bytes = batch(b * BATCH as i64, BATCH, 1);
                index.push((b * BATCH as i64, log.len(), bytes.len()));
                log.extend(bytes);
            }
            st.logs.insert(p, log);
            st.batches.insert(p, index);
            st.hwm.insert(p, batches * BATCH as i64);
        }
        Arc::new(Fake(Mutex::new(st)))
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }

    /// Change the cluster with `f` just before its `n`-th fetch (1-based) is answered.
    fn at_fetch(&self, n: usize, mut f: impl FnMut(&mut State) + Send + 'static) {
        self.with(|st| {
            let mut seen = 0;
            st.hook = Some(Box::new(move |st| {
                seen += 1;
                if seen == n {
                    f(st);
                }
            }));
        });
    }

    fn plans(&self) -> Vec<PartitionPlan> {
        self.with(|st| {
            // Planned from what Metadata says.
            let leaders = st.stale_meta.clone().unwrap_or_else(|| st.leaders.clone());
            let mut ps: Vec<i32> = leaders.keys().copied().collect();
            ps.sort();
            ps.iter()
                .map(|&p| PartitionPlan {
                    spec: PartitionSpec {
                        topic: Arc::from("t"),
                        partition: p,
                        start: 0,
                        end: st.hwm[&p],
                    },
                    leader: leaders[&p].0,
                    leader_epoch: leaders[&p].1,
                    topic_id: st.topic_id,
                })
                .collect()
        })
    }
}

impl Client for Fake {
    async fn metadata(&self, _topics: &[String]) -> Result<MetadataResponse, WireError> {
        self.with(|st| {
            st.metadata_calls += 1;
            st.maybe_recreate();
            let leaders = st.stale_meta.clone().unwrap_or_else(|| st.leaders.clone());
            let mut partitions: Vec<PartitionMeta> = leaders
                .iter()
                .map(|(&p, &(leader, epoch))| PartitionMeta {
                    error_code: codes::NONE,
                    partition: p,
                    leader,
                    leader_epoch: epoch,
                    replicas: vec![1, 2, 3],
                    isr: vec![1, 2, 3],
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            Ok(MetadataResponse {
                brokers: (1..=3)
                    .map(|n| BrokerMeta {
                        node_id: n,
                        host: "fake".into(),
                        port: n,
                        rack: None,
                    })
                    .collect(),
                controller_id: 1,
                topics: vec![TopicMeta {
                    error_code: if st.exists {
                        codes::NONE
                    } else {
                        codes::UNKNOWN_TOPIC_OR_PARTITION
                    },
                    name: "t".into(),
                    topic_id: st.topic_id,
                    is_internal: false,
                    partitions: if st.exists { partitions } else { vec![] },
                }],
            })
        })
    }

    async fn list_offsets(
        &self,
        _node: i32,
        _req: &ListOffsetsRequest,
    ) -> Result<ListOffsetsResponse, WireError> {
        unreachable!("the fetch drivers never ask ListOffsets")
    }

    async fn fetch(&self, node: i32, req: &FetchRequest) -> Result<FetchResponse, WireError> {
        // Answer after a moment, as a broker would, so other tasks run in between.
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.with(|st| {
            let asked: Vec<(i32, i64)> = req.topics[0]
                .1
                .iter()
                .map(|p| (p.partition, p.fetch_offset))
                .collect();
            st.fetches.push((now(), node, asked));
            if let Some(mut hook) = st.hook.take() {
                hook(st);
                st.hook = Some(hook);
            }
            st.maybe_recreate();
            if st.dead.contains(&node) {
                return Err(WireError::Connect {
                    addr: format!("fake:{node}"),
                    reason: "Connection refused".into(),
                });
            }
            let mut parts = Vec::new();
            let scripted = (!st.scripted.is_empty()).then(|| st.scripted.remove(0));
            for (k, p) in req.topics[0].1.iter().enumerate() {
                let mut r = part(p.partition, vec![], st.hwm[&p.partition]);
                let mut dup = None;
                if let Some(code) = scripted {
                    r.error_code = code;
                } else if st.stale_data {
                    r.records = Bytes::from(batch(0, BATCH, 1));
                } else if st.first_only && k > 0 {
                    // The response is full: nothing for the partitions after the first.
                } else if !st.exists {
                    r.error_code = codes::UNKNOWN_TOPIC_OR_PARTITION;
                } else if st.leaders[&p.partition].0 != node {
                    r.error_code = codes::NOT_LEADER_OR_FOLLOWER;
                    if st.duplicate_errors {
                        parts.push(r.clone());
                    }
                } else {
                    // Up to two batches from the one holding the fetch offset, below the HWM.
                    let hwm = st.hwm[&p.partition];
                    let log = &st.logs[&p.partition];
                    let picked: Vec<_> = st.batches[&p.partition]
                        .iter()
                        .filter(|(base, _, _)| base + BATCH as i64 > p.fetch_offset)
                        .filter(|(base, _, _)| base + (BATCH as i64) <= hwm)
                        .take(2)
                        .collect();
                    if let (Some(first), Some(last)) = (picked.first(), picked.last()) {
                        r.records = Bytes::copy_from_slice(&log[first.1..last.1 + last.2]);
                        let other = |n: usize| {
                            let mut d = r.clone();
                            d.records = (0..n as i64)
                                .flat_map(|k| batch(first.0 + k * BATCH as i64, BATCH, 99))
                                .collect::<Vec<u8>>()
                                .into();
                            d.aborted_transactions = vec![(7, first.0)];
                            d
                        };
                        dup = match st.second_copy {
                            None => None,
                            Some(SecondCopy::Shorter) => {
                                let mut d = r.clone();
                                d.records = r.records.slice(..20);
                                Some(d)
                            }
                            Some(SecondCopy::Longer) => Some(other(4)),
                            Some(SecondCopy::Other) => Some(other(picked.len())),
                        };
                    }
                }
                parts.push(r);
                parts.extend(dup);
            }
            let throttle = std::mem::take(&mut st.throttle_once);
            Ok(FetchResponse {
                throttle_time_ms: throttle,
                error_code: codes::NONE,
                session_id: 0,
                topics: vec![("t".into(), parts)],
            })
        })
    }

    fn broker_name(&self, node: i32) -> String {
        format!("node {node}")
    }
}

fn config(timeout_ms: u64) -> Arc<Config> {
    Arc::new(Config {
        timeout: Duration::from_millis(timeout_ms),
        retry_backoff: Duration::from_millis(10),
        retry_backoff_max: Duration::from_millis(80),
        ..Config::default()
    })
}

/// Run the supervisor; returns its result and every work it handed on, in order.
async fn run_works(fake: &Arc<Fake>, config: Arc<Config>) -> (Result<(), ReadError>, Vec<Work>) {
    let (tx, mut rx) = mpsc::channel::<Work>(4);
    let collect = tokio::spawn(async move {
        let mut works = Vec::new();
        while let Some(w) = rx.recv().await {
            works.push(w);
        }
        works
    });
    let result = supervise(fake.clone(), config, fake.plans(), tx).await;
    (result, collect.await.unwrap())
}

/// The batches of one work: (base offset, its bytes).
fn batches_of(w: &Work) -> Vec<(i64, &[u8])> {
    let mut out = Vec::new();
    let mut rest: &[u8] = &w.bytes;
    while rest.len() >= 12 {
        let base = i64::from_be_bytes(rest[..8].try_into().unwrap());
        let len = i32::from_be_bytes(rest[8..12].try_into().unwrap()) as usize + 12;
        out.push((base, &rest[..len]));
        rest = &rest[len..];
    }
    assert!(rest.is_empty(), "a work ends inside a batch");
    out
}

/// Run the supervisor; returns its result and the base offsets delivered per partition index.
async fn run(
    fake: &Arc<Fake>,
    config: Arc<Config>,
) -> (Result<(), ReadError>, HashMap<usize, Vec<i64>>) {
    let (result, works) = run_works(fake, config).await;
    let mut got: HashMap<usize, Vec<i64>> = HashMap::new();
    for w in &works {
        for (base, _) in batches_of(w) {
            got.entry(w.partition).or_default().push(base);
        }
    }
    (result, got)
}

/// A run that failed on its budget of `budget_ms` ended once the budget was spent, and no
/// later than one backoff step (`config`'s 80 ms cap, jittered up to × 1.2) and a fetch
/// after it. Virtual time (the tests run on a paused clock): exact, whatever the load.
fn within_budget(elapsed: Duration, budget_ms: u64) {
    let budget = Duration::from_millis(budget_ms);
    assert!(
        elapsed >= budget && elapsed <= budget + Duration::from_millis(100),
        "ended after {elapsed:?} of virtual time, budget {budget:?}"
    );
}

/// Every batch of every partition exactly once, in order.
fn assert_exact(fake: &Fake, got: &HashMap<usize, Vec<i64>>) {
    fake.with(|st| {
        for (p, hwm) in &st.hwm {
            let want: Vec<i64> = (0..hwm / BATCH as i64).map(|b| b * BATCH as i64).collect();
            assert_eq!(got.get(&(*p as usize)), Some(&want), "partition {p}");
        }
    });
}

#[tokio::test(start_paused = true)]
async fn a_dead_leader_is_left_for_the_new_one_from_the_cursor() {
    // p0, p1 on node 1, p2 on node 2. After 6 fetches node 1 dies; its partitions move to
    // node 3, but Metadata keeps naming node 1 for a while (the controller has not noticed).
    let fake = Fake::new(3, 40, |p| if p < 2 { 1 } else { 2 });
    fake.with(|st| {
        let mut n = 0;
        st.hook = Some(Box::new(move |st| {
            n += 1;
            if n == 6 {
                st.dead.insert(1);
                st.stale_meta = Some(st.leaders.clone());
                for p in [0, 1] {
                    st.leaders.insert(p, (3, 2));
                }
            }
            if n == 14 {
                st.stale_meta = None;
            }
        }));
    });
    let (result, got) = run(&fake, config(5_000)).await;
    result.unwrap();
    assert_exact(&fake, &got);
    fake.with(|st| {
        assert!(
            st.fetches.iter().any(|(_, node, _)| *node == 3),
            "node 3 never asked"
        );
        // Resumed where it stopped: node 3's first fetch of p0 is not from the start.
        let first = st
            .fetches
            .iter()
            .find(|(_, node, asked)| *node == 3 && asked.iter().any(|a| a.0 == 0))
            .unwrap();
        assert!(
            first.2.iter().any(|&(p, off)| p == 0 && off > 0),
            "{first:?}"
        );
    });
}

#[tokio::test(start_paused = true)]
async fn a_partition_listed_twice_delivers_exactly_its_first_copy() {
    // RELIABILITY case 30: every answer lists each partition twice, the second copy shorter,
    // longer, or other data with another aborted list. The first copy decides the step and
    // is what is delivered, with its own (empty) aborted list; the second is never used.
    for second in [SecondCopy::Shorter, SecondCopy::Longer, SecondCopy::Other] {
        let fake = Fake::new(2, 10, |_| 1);
        fake.with(|st| st.second_copy = Some(second));
        let (result, works) = run_works(&fake, config(5_000)).await;
        result.unwrap_or_else(|e| panic!("{second:?}: {e}"));
        for w in &works {
            assert!(w.aborted.is_empty(), "{second:?}: {:?}", w.aborted);
            for (base, bytes) in batches_of(w) {
                assert_eq!(bytes, batch(base, BATCH, 1), "{second:?}: batch {base}");
            }
        }
        let mut got: HashMap<usize, Vec<i64>> = HashMap::new();
        for w in &works {
            for (base, _) in batches_of(w) {
                got.entry(w.partition).or_default().push(base);
            }
        }
        assert_exact(&fake, &got);
    }
}

#[tokio::test(start_paused = true)]
async fn a_leader_error_listed_twice_does_not_break_the_reroute() {
    // The old loop pushed such a partition twice into its reroute list and panicked.
    let fake = Fake::new(2, 10, |_| 1);
    fake.with(|st| {
        st.duplicate_errors = true;
        let mut n = 0;
        st.hook = Some(Box::new(move |st| {
            n += 1;
            if n == 2 {
                st.leaders.insert(0, (2, 2));
            }
        }));
    });
    let (result, got) = run(&fake, config(5_000)).await;
    result.unwrap();
    assert_exact(&fake, &got);
}

#[tokio::test(start_paused = true)]
async fn a_persistent_leader_error_is_paced_and_bounded() {
    // Metadata keeps naming node 1, which keeps saying it is not the leader.
    let fake = Fake::new(1, 10, |_| 1);
    fake.with(|st| {
        st.stale_meta = Some(st.leaders.clone());
        st.leaders.insert(0, (2, 2));
    });
    let started = now();
    let (result, _) = run(&fake, config(800)).await;
    let elapsed = now() - started;
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.starts_with("t/0 at offset 0: no progress for")
            && msg.contains("NOT_LEADER_OR_FOLLOWER"),
        "{msg}"
    );
    // Virtual time: the budget, then at most one backoff step (80 ms × 1.2) and a fetch.
    within_budget(elapsed, 800);
    // Paced: doubling from 10 ms up to 80 ms, not hundreds of Metadata + Fetch rounds in 0.8 s.
    let (meta, fetches) = fake.with(|st| (st.metadata_calls, st.fetches.len()));
    assert!(
        meta <= 25 && fetches <= 25,
        "metadata {meta}, fetches {fetches}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dead_broker_without_successor_ends_within_the_budget() {
    let fake = Fake::new(1, 10, |_| 1);
    fake.with(|st| {
        st.dead.insert(1);
    });
    let started = now();
    let (result, _) = run(&fake, config(600)).await;
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.contains("Connection refused") && msg.contains("t/0 at offset 0"),
        "{msg}"
    );
    within_budget(now() - started, 600);
}

#[tokio::test(start_paused = true)]
async fn throttling_is_honoured() {
    let fake = Fake::new(1, 6, |_| 1);
    fake.with(|st| st.throttle_once = 300);
    let (result, got) = run(&fake, config(5_000)).await;
    result.unwrap();
    assert_exact(&fake, &got);
    fake.with(|st| {
        let gap = st.fetches[1].0 - st.fetches[0].0;
        assert!(
            gap >= Duration::from_millis(300),
            "second fetch after {gap:?}"
        );
    });
}

#[tokio::test(start_paused = true)]
async fn a_stuck_partition_fails_at_its_budget_while_another_progresses() {
    // p1's high watermark drops to 0 after planning (a truncated log); p0, on the same broker,
    // has 500 ms of data to go. The loop used to pipeline every fetch after progress and so
    // checked budgets only once p0 was done; p1 must fail when its own budget is spent.
    let fake = Fake::new(2, 1_000, |_| 1);
    fake.at_fetch(1, |st| {
        st.hwm.insert(1, 0);
    });
    let started = now();
    let (result, got) = run(&fake, config(100)).await;
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("t/1: log truncated below offset 0"), "{msg}");
    within_budget(now() - started, 100);
    let p0 = got.get(&0).map_or(0, |b| b.len());
    assert!(
        p0 < 1_000,
        "p0 read to its end ({p0} batches) before p1 failed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lagging_high_watermark_is_waited_for() {
    // After the leader moves, the new leader's HWM lags behind what was read for 200 ms.
    let fake = Fake::new(1, 20, |_| 1);
    let planned_end = fake.with(|st| st.hwm[&0]);
    fake.with(|st| {
        let mut n = 0;
        let mut moved_at = None;
        st.hook = Some(Box::new(move |st| {
            n += 1;
            if n == 3 {
                st.leaders.insert(0, (2, 2));
                st.hwm.insert(0, 10);
                moved_at = Some(now());
            }
            if moved_at.is_some_and(|t| now() - t > Duration::from_millis(200)) {
                st.hwm.insert(0, planned_end);
            }
        }));
    });
    let (result, got) = run(&fake, config(5_000)).await;
    result.unwrap();
    assert_exact(&fake, &got);
}

#[tokio::test(start_paused = true)]
async fn a_high_watermark_that_never_comes_back_is_truncation() {
    let fake = Fake::new(1, 20, |_| 1);
    fake.at_fetch(3, |st| {
        st.leaders.insert(0, (2, 2));
        st.hwm.insert(0, 10);
    });
    let (result, _) = run(&fake, config(600)).await;
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.contains("t/0: log truncated below offset 20 on broker node 2"),
        "{msg}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_topic_recreated_mid_read_is_an_error() {
    // The leader moves and, meanwhile, the topic got a new id: found at the reroute.
    let fake = Fake::new(1, 20, |_| 1);
    fake.at_fetch(3, |st| {
        st.topic_id = [9; 16];
        st.leaders.insert(0, (2, 1));
    });
    let (result, _) = run(&fake, config(5_000)).await;
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.contains("topic \"t\" was recreated (topic id now 0909"),
        "{msg}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_topic_recreated_without_any_fetch_error_is_caught_at_the_end() {
    let fake = Fake::new(1, 20, |_| 1);
    fake.at_fetch(3, |st| {
        st.topic_id = [9; 16];
    });
    let (result, _) = run(&fake, config(5_000)).await;
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("was recreated"), "{msg}");
}

#[tokio::test(start_paused = true)]
async fn a_topic_deleted_mid_read_fails_once_the_budget_is_spent() {
    let fake = Fake::new(1, 20, |_| 1);
    fake.at_fetch(3, |st| {
        st.exists = false;
    });
    let (result, _) = run(&fake, config(600)).await;
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("topic \"t\" was deleted"), "{msg}");
}

#[tokio::test(start_paused = true)]
async fn a_partition_never_first_in_a_full_response_still_gets_its_turn() {
    // RELIABILITY case 4: only the first partition of each request gets data.
    let fake = Fake::new(4, 10, |_| 1);
    fake.with(|st| st.first_only = true);
    let (result, got) = run(&fake, config(5_000)).await;
    result.unwrap();
    assert_exact(&fake, &got);
}

#[tokio::test(start_paused = true)]
async fn scripted_retriable_errors_three_times_each_then_success() {
    // RELIABILITY case 24: leader-class errors refresh metadata; the read ends exact.
    let fake = Fake::new(2, 8, |_| 1);
    let script: Vec<i16> = [
        codes::NOT_LEADER_OR_FOLLOWER,
        codes::FENCED_LEADER_EPOCH,
        codes::UNKNOWN_LEADER_EPOCH,
        codes::KAFKA_STORAGE_ERROR,
        codes::REPLICA_NOT_AVAILABLE,
        codes::OFFSET_NOT_AVAILABLE,
        codes::REQUEST_TIMED_OUT,
    ]
    .iter()
    .flat_map(|&c| [c, c, c])
    .collect();
    fake.with(|st| st.scripted = script);
    let (result, got) = run(&fake, config(10_000)).await;
    result.unwrap();
    assert_exact(&fake, &got);
    let (meta, scripted_left) = fake.with(|st| (st.metadata_calls, st.scripted.len()));
    assert_eq!(scripted_left, 0);
    // 18 leader-class answers, each rerouted through Metadata (batched per round), plus the
    // final topic-id check; REQUEST_TIMED_OUT is retried without Metadata.
    assert!(meta >= 10, "metadata asked {meta} times");
}

#[tokio::test(start_paused = true)]
async fn a_persistent_retriable_error_ends_at_the_budget_naming_it() {
    // RELIABILITY case 25: CORRUPT_MESSAGE forever.
    let fake = Fake::new(1, 8, |_| 1);
    fake.with(|st| st.scripted = vec![codes::CORRUPT_MESSAGE; 10_000]);
    let started = now();
    let (result, _) = run(&fake, config(700)).await;
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.starts_with("t/0 at offset 0: no progress for") && msg.contains("CORRUPT_MESSAGE"),
        "{msg}"
    );
    within_budget(now() - started, 700);
    let fetches = fake.with(|st| st.fetches.len());
    assert!(fetches < 20, "{fetches} fetches in 0.7 s: not backing off");
}

#[tokio::test(start_paused = true)]
async fn data_that_never_moves_the_cursor_backs_off_then_fails() {
    // RELIABILITY case 30: every answer holds only batches below the fetch offset.
    let fake = Fake::new(1, 8, |_| 1);
    let (result, _) = {
        let fake2 = fake.clone();
        fake.with(|st| {
            let mut n = 0;
            st.hook = Some(Box::new(move |st| {
                n += 1;
                if n == 2 {
                    st.stale_data = true;
                }
            }));
        });
        run(&fake2, config(700)).await
    };
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.contains("no complete batch past the fetch position"),
        "{msg}"
    );
    let fetches = fake.with(|st| st.fetches.len());
    assert!(fetches < 20, "{fetches} fetches in 0.7 s: not backing off");
}

#[tokio::test(start_paused = true)]
async fn an_endless_throttle_ends_at_the_budget_as_throttled() {
    // RELIABILITY case 32: throttle_time_ms = i32::MAX.
    let fake = Fake::new(1, 8, |_| 1);
    fake.with(|st| {
        st.throttle_once = i32::MAX;
        st.stale_data = true;
    });
    let started = now();
    let (result, _) = run(&fake, config(700)).await;
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.contains("throttled by the broker for 2147483647 ms"),
        "{msg}"
    );
    within_budget(now() - started, 700);
    assert_eq!(
        fake.with(|st| st.fetches.len()),
        1,
        "asked again while throttled"
    );
}

#[tokio::test(start_paused = true)]
async fn a_topic_recreated_while_the_reader_waits_is_caught_before_its_new_log_is_read() {
    // The consumer of the work stops for 1.5 s (a `dump` whose reader paused); meanwhile the
    // topic is deleted and recreated with data at the same offsets. Nothing of the new log may
    // be delivered: the next fetch after the pause must check the topic id first.
    let fake = Fake::new(1, 200, |_| 1);
    let (tx, mut rx) = mpsc::channel::<Work>(1);
    let f2 = fake.clone();
    let collect = tokio::spawn(async move {
        let mut epochs = Vec::new();
        let mut first = true;
        while let Some(w) = rx.recv().await {
            let mut rest: &[u8] = &w.bytes;
            while rest.len() >= 16 {
                epochs.push(i32::from_be_bytes(rest[12..16].try_into().unwrap()));
                let len = i32::from_be_bytes(rest[8..12].try_into().unwrap()) as usize + 12;
                rest = &rest[len..];
            }
            if first {
                first = false;
                f2.with(|st| st.recreate_at = Some(now() + Duration::from_millis(300)));
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
        }
        epochs
    });
    let result = supervise(fake.clone(), config(5_000), fake.plans(), tx).await;
    let epochs = collect.await.unwrap();
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("topic \"t\" was recreated"), "{msg}");
    assert!(!epochs.is_empty());
    assert!(
        epochs.iter().all(|&e| e == 1),
        "new-incarnation batches delivered: {epochs:?}"
    );
}
