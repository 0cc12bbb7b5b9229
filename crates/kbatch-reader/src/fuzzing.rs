//! A fuzzing entry point: the fetch supervisor, its loops and the policy, run over a client
//! whose every Fetch (and Metadata) answer is made from fuzz bytes, with the real engine
//! decoding what the loops deliver. Built for the `fuzzing` feature (the cargo-fuzz target in
//! `fuzz/`) and for this crate's tests, which replay the committed seeds and regressions.
//!
//! What is checked, besides "no panic":
//!
//! * every chunk handed to the engine is complete batches that walk cleanly with their CRCs,
//!   taken from the *first* copy of its partition in a response served, with aborted
//!   transactions from that same copy;
//! * per partition, chunks move the position strictly forward, and none comes after the
//!   partition reached its end;
//! * the job sees each partition's records in strictly increasing offsets, all inside the
//!   planned range (so none twice);
//! * a supervisor that ends `Ok` has delivered every partition to its end (never a short
//!   success), and the engine agrees.
//!
//! Time is tokio's paused clock, so throttles and backoffs cost nothing; the budgets (on the
//! real clock) never run out within one input, so every run ends by the script: when the fuzz
//! bytes are used up, a Fetch fails with a non-retriable error and Metadata answers plainly.
//!
//! The input, read one byte at a time (0 once it is used up):
//!
//! * setup: a flags byte (partition count 1–4, read_uncommitted), then per partition a byte
//!   (topic `t` or `u`, range start 0–15) and a byte (range length 0–39, leader 1–3);
//! * each Fetch takes a kind byte (connection error, timeout, fatal error, a top-level error
//!   code, or a response; grouping of partitions under topics, reversed order), a throttle
//!   byte, then per partition asked: omitted, once, twice (two different copies) or once plus
//!   a partition that was not asked — each copy an error code or diverging epoch or replica
//!   hint or odd watermarks, records (raw bytes, or batches near the fetch offset: gaps,
//!   overlaps, epochs, transactions, markers, codecs; then cut, flipped or padded) and
//!   aborted transactions;
//! * each Metadata takes a byte: leaders move, a partition or topic is missing or leaderless,
//!   Metadata fails, or the topic was recreated (a new id).
#![allow(missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kbatch_engine::{EngineConfig, EngineError, Job, JobError, PartitionSpec, PartitionStats};
use kbatch_engine::{Progress, Work};
use kbatch_records::testenc::{Batch, Rec};
use kbatch_records::{walk, Compression, Isolation, Record};
use kbatch_wire::{
    codes, BrokerMeta, FetchPartitionRequest, FetchPartitionResponse, FetchRequest, FetchResponse,
    ListOffsetsRequest, ListOffsetsResponse, MetadataResponse, PartitionMeta, TopicMeta, WireError,
};

use crate::client::Client;
use crate::{Config, PartitionPlan, ReadError};

const TOPIC_IDS: [(&str, [u8; 16]); 2] = [("t", [7; 16]), ("u", [8; 16])];
/// The producer id of transactional batches and aborted-transaction entries.
const PRODUCER: i64 = 7;

/// The fuzz bytes, read front to back.
struct Script {
    data: Vec<u8>,
    pos: usize,
}

impl Script {
    fn next(&mut self) -> Option<u8> {
        let b = self.data.get(self.pos).copied();
        self.pos += usize::from(b.is_some());
        b
    }

    /// The next byte, 0 once the script is used up.
    fn byte(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }

    /// A small signed delta, -8..=7.
    fn delta(&mut self) -> i64 {
        i64::from(self.byte() % 16) - 8
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = end;
        &self.data[start..end]
    }
}

/// A partition's copy in one response, as served (what a delivery must come from).
struct Served {
    topic: String,
    partition: i32,
    records: Vec<u8>,
    aborted: Vec<(i64, i64)>,
}

struct State {
    script: Script,
    plans: Vec<PartitionPlan>,
    /// Per plan: (leader, leader epoch) as Metadata says now.
    leaders: Vec<(i32, i32)>,
    topic_ids: Vec<(&'static str, [u8; 16])>,
    /// Per response served: the first copy of each partition in it.
    served: Vec<Vec<Served>>,
}

struct Scripted(Mutex<State>);

impl Scripted {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A Kafka error code: mostly the ones a Fetch can carry, sometimes any.
fn code(b: u8) -> i16 {
    const FETCH: [i16; 12] = [
        codes::OFFSET_OUT_OF_RANGE,
        codes::CORRUPT_MESSAGE,
        codes::UNKNOWN_TOPIC_OR_PARTITION,
        codes::LEADER_NOT_AVAILABLE,
        codes::NOT_LEADER_OR_FOLLOWER,
        codes::REQUEST_TIMED_OUT,
        codes::REPLICA_NOT_AVAILABLE,
        codes::KAFKA_STORAGE_ERROR,
        codes::FENCED_LEADER_EPOCH,
        codes::UNKNOWN_LEADER_EPOCH,
        codes::OFFSET_NOT_AVAILABLE,
        codes::TOPIC_AUTHORIZATION_FAILED,
    ];
    if b < 128 {
        FETCH[usize::from(b) % FETCH.len()]
    } else {
        i16::from(b) - 130 // -2..=125, unknown codes included
    }
}

fn extreme(b: u8) -> i64 {
    [i64::MIN, -1, 0, i64::MAX][usize::from(b % 4)]
}

/// One batch at `base`: data records (with offset gaps sometimes), transactional data, a
/// transaction marker, or compressed data.
fn one_batch(s: &mut Script, base: i64) -> Vec<u8> {
    let (b, c) = (s.byte(), s.byte());
    let n = 1 + i32::from(b % 6);
    let step = 1 + i32::from((b >> 3) % 2); // 2: every other offset (compacted)
    let recs: Vec<Rec> = (0..n).map(|d| Rec::value(d * step, "{}")).collect();
    let mut batch = match (c >> 2) % 8 {
        5 => Batch::plain(base, &recs).txn(PRODUCER),
        6 => Batch::marker(base, PRODUCER, c & 0x80 != 0),
        7 => {
            let codec = [
                Compression::Gzip,
                Compression::Snappy,
                Compression::Lz4,
                Compression::Zstd,
            ][usize::from(c >> 5) % 4];
            Batch::with(base, &recs, codec, c & 0x80 != 0)
        }
        _ => Batch::plain(base, &recs),
    };
    batch.partition_leader_epoch = i32::from(c % 4);
    batch.encode()
}

/// Record bytes for a partition fetched at `off`.
fn records(s: &mut Script, off: i64) -> Vec<u8> {
    let r = s.byte();
    let mut out = match r % 8 {
        0 => Vec::new(),
        1 => {
            let n = usize::from(s.byte());
            s.take(n).to_vec()
        }
        _ => {
            let mut out = Vec::new();
            let mut next = off.saturating_add(i64::from(s.byte() % 8) - 4);
            for _ in 0..1 + (r >> 3) % 4 {
                let batch = one_batch(s, next);
                let last_delta = i64::from(i32::from_be_bytes([
                    batch[23], batch[24], batch[25], batch[26],
                ]));
                out.extend(batch);
                // The next batch follows, after a gap or overlapping the last offset.
                let gap = i64::from(s.byte() % 4) - 1;
                next = next.saturating_add(last_delta + 1).saturating_add(gap);
            }
            out
        }
    };
    match s.byte() % 16 {
        1 if !out.is_empty() => {
            let cut = (1 + usize::from(s.byte())).min(out.len());
            out.truncate(out.len() - cut);
        }
        2 if !out.is_empty() => {
            let at = usize::from(u16::from_be_bytes([s.byte(), s.byte()])) % out.len();
            out[at] ^= 1 << (s.byte() % 8);
        }
        3 => {
            let n = usize::from(s.byte() % 16);
            let pad = s.take(n).to_vec();
            out.extend(pad);
        }
        _ => {}
    }
    out
}

/// One copy of `partition`'s answer to a fetch at `off` of a range ending at `end`.
fn copy(s: &mut Script, partition: i32, off: i64, end: i64) -> FetchPartitionResponse {
    let mut r = FetchPartitionResponse {
        partition,
        error_code: codes::NONE,
        high_watermark: end,
        last_stable_offset: end,
        log_start_offset: 0,
        aborted_transactions: vec![],
        preferred_read_replica: -1,
        diverging_epoch: None,
        records: Vec::new().into(),
    };
    match s.byte() % 16 {
        10 => r.error_code = code(s.byte()),
        11 => r.error_code = i16::from_be_bytes([s.byte(), s.byte()]),
        12 => r.diverging_epoch = Some((i32::from(s.byte() % 8) - 1, off + s.delta())),
        13 => r.preferred_read_replica = i32::from(s.byte() % 4),
        14 => {
            r.high_watermark = off + s.delta();
            r.last_stable_offset = r.high_watermark - i64::from(s.byte() % 4);
            r.log_start_offset = off + s.delta();
        }
        15 => {
            r.high_watermark = extreme(s.byte());
            r.last_stable_offset = extreme(s.byte());
            r.log_start_offset = extreme(s.byte());
        }
        _ => {}
    }
    r.records = records(s, off).into();
    if s.byte().is_multiple_of(4) {
        r.aborted_transactions = vec![(PRODUCER, off + s.delta())];
    }
    r
}

impl State {
    fn end_of(&self, topic: &str, partition: i32) -> i64 {
        self.plans
            .iter()
            .find(|p| *p.spec.topic == *topic && p.spec.partition == partition)
            .map_or(0, |p| p.spec.end)
    }

    fn response(&mut self, kind: u8, req: &FetchRequest) -> FetchResponse {
        let throttle_time_ms = match self.script.byte() % 8 {
            5 => i32::from(self.script.byte()),
            6 => i32::MAX,
            7 => -1 - i32::from(self.script.byte()),
            _ => 0,
        };
        let mut pairs: Vec<(String, FetchPartitionResponse)> = Vec::new();
        for (topic, parts) in &req.topics {
            for &FetchPartitionRequest {
                partition,
                fetch_offset: off,
                ..
            } in parts
            {
                let end = self.end_of(topic, partition);
                let s = &mut self.script;
                match s.byte() % 8 {
                    0 => {}
                    6 => {
                        pairs.push((topic.clone(), copy(s, partition, off, end)));
                        pairs.push((topic.clone(), copy(s, partition, off, end)));
                    }
                    7 => {
                        pairs.push((topic.clone(), copy(s, partition, off, end)));
                        let b = s.byte();
                        let other = if b & 1 == 0 { "t" } else { "u" };
                        let p = partition.wrapping_add(i32::from(b >> 1) % 4);
                        pairs.push((other.to_string(), copy(s, p, off, end)));
                    }
                    _ => pairs.push((topic.clone(), copy(s, partition, off, end))),
                }
            }
        }
        if kind & 0x20 != 0 {
            pairs.reverse();
        }
        let mut firsts: Vec<Served> = Vec::new();
        for (t, p) in &pairs {
            if !firsts
                .iter()
                .any(|f| f.topic == *t && f.partition == p.partition)
            {
                firsts.push(Served {
                    topic: t.clone(),
                    partition: p.partition,
                    records: p.records.to_vec(),
                    aborted: p.aborted_transactions.clone(),
                });
            }
        }
        self.served.push(firsts);
        let mut topics: Vec<(String, Vec<FetchPartitionResponse>)> = Vec::new();
        for (t, p) in pairs {
            // Grouped: consecutive partitions of a topic under one entry (as brokers do);
            // otherwise one entry per partition, a topic named again and again.
            match topics.last_mut() {
                Some((last, ps)) if kind & 0x10 != 0 && *last == t => ps.push(p),
                _ => topics.push((t, vec![p])),
            }
        }
        FetchResponse {
            throttle_time_ms,
            error_code: codes::NONE,
            session_id: 0,
            topics,
        }
    }

    fn metadata(&mut self) -> Result<MetadataResponse, WireError> {
        let mut missing: Option<usize> = None;
        let mut leaderless: Option<usize> = None;
        let mut unknown_topic: Option<&str> = None;
        let mut absent_topic: Option<&str> = None;
        if let Some(m) = self.script.next() {
            let pick = usize::from(m >> 4) % self.plans.len().max(1);
            match m % 16 {
                0..=5 => {
                    for (i, l) in self.leaders.iter_mut().enumerate() {
                        if (m >> 4) & (1 << (i % 4)) != 0 {
                            *l = (1 + l.0 % 3, l.1 + 1);
                        }
                    }
                }
                6 => missing = Some(pick),
                7 => leaderless = Some(pick),
                8 => unknown_topic = Some(if m & 0x10 == 0 { "t" } else { "u" }),
                9 => absent_topic = Some(if m & 0x10 == 0 { "t" } else { "u" }),
                10 => {
                    return Err(WireError::Connect {
                        addr: "scripted".into(),
                        reason: "scripted metadata failure".into(),
                    })
                }
                11 => {
                    // Recreated under the same name: the run must end naming it.
                    let t = if m & 0x10 == 0 { 0 } else { 1 };
                    self.topic_ids[t].1 = [9; 16];
                }
                12 => {
                    let t = if m & 0x10 == 0 { 0 } else { 1 };
                    self.topic_ids[t].1 = [0; 16]; // a broker without topic ids
                }
                _ => {}
            }
        }
        let mut topics = Vec::new();
        for &(name, id) in &self.topic_ids {
            if absent_topic == Some(name) {
                continue;
            }
            let mut partitions = Vec::new();
            for (i, p) in self.plans.iter().enumerate() {
                if *p.spec.topic != *name || missing == Some(i) {
                    continue;
                }
                let (leader, epoch) = self.leaders[i];
                let none = leaderless == Some(i);
                partitions.push(PartitionMeta {
                    error_code: if none {
                        codes::LEADER_NOT_AVAILABLE
                    } else {
                        codes::NONE
                    },
                    partition: p.spec.partition,
                    leader: if none { -1 } else { leader },
                    leader_epoch: epoch,
                    replicas: vec![1, 2, 3],
                    isr: vec![1, 2, 3],
                });
            }
            let unknown = unknown_topic == Some(name);
            topics.push(TopicMeta {
                error_code: if unknown {
                    codes::UNKNOWN_TOPIC_OR_PARTITION
                } else {
                    codes::NONE
                },
                name: name.into(),
                topic_id: id,
                is_internal: false,
                partitions: if unknown { vec![] } else { partitions },
            });
        }
        Ok(MetadataResponse {
            brokers: (1..=3)
                .map(|n| BrokerMeta {
                    node_id: n,
                    host: "scripted".into(),
                    port: n,
                    rack: None,
                })
                .collect(),
            controller_id: 1,
            topics,
        })
    }
}

impl Client for Scripted {
    async fn metadata(&self, _topics: &[String]) -> Result<MetadataResponse, WireError> {
        self.with(State::metadata)
    }

    async fn list_offsets(
        &self,
        _node: i32,
        _req: &ListOffsetsRequest,
    ) -> Result<ListOffsetsResponse, WireError> {
        Err(WireError::Protocol {
            addr: "scripted".into(),
            reason: "the fetch drivers never ask ListOffsets".into(),
        })
    }

    async fn fetch(&self, node: i32, req: &FetchRequest) -> Result<FetchResponse, WireError> {
        self.with(|st| {
            let addr = format!("scripted:{node}");
            let Some(kind) = st.script.next() else {
                return Err(WireError::Protocol {
                    addr,
                    reason: "the script ended".into(),
                });
            };
            match kind % 16 {
                0 => Err(WireError::Io {
                    addr,
                    reason: "scripted connection reset".into(),
                }),
                1 => Err(WireError::Timeout {
                    addr,
                    api: "Fetch",
                    after: Duration::from_secs(1),
                }),
                2 => Err(WireError::Protocol {
                    addr,
                    reason: "scripted protocol violation".into(),
                }),
                3 => Ok(FetchResponse {
                    throttle_time_ms: 0,
                    error_code: code(st.script.byte()),
                    session_id: 0,
                    topics: vec![],
                }),
                _ => Ok(st.response(kind, req)),
            }
        })
    }

    fn broker_name(&self, node: i32) -> String {
        format!("node {node}")
    }
}

/// Records every record the engine passes to the job.
struct Recorder(Mutex<Vec<(usize, i64)>>);

impl Job for Recorder {
    type Partial = ();
    type Output = ();

    fn partial(&self) {}

    fn update(&self, _: &mut (), partition: usize, record: &Record<'_>) -> Result<(), JobError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((partition, record.offset));
        Ok(())
    }

    fn merge(&self, _: &mut (), _: ()) {}

    fn finish(&self, _: (), _: &[PartitionStats]) {}
}

fn setup(s: &mut Script) -> (Vec<PartitionPlan>, Isolation) {
    let flags = s.byte();
    let isolation = if flags & 4 != 0 {
        Isolation::ReadUncommitted
    } else {
        Isolation::ReadCommitted
    };
    let plans = (0..1 + i32::from(flags % 4))
        .map(|partition| {
            let (a, b) = (s.byte(), s.byte());
            let (topic, topic_id) = TOPIC_IDS[usize::from(a >> 7)];
            let start = i64::from(a % 16);
            PartitionPlan {
                spec: PartitionSpec {
                    topic: Arc::from(topic),
                    partition,
                    start,
                    end: start + i64::from(b % 40),
                },
                leader: 1 + i32::from(b / 40 % 3),
                leader_epoch: 1,
                topic_id,
            }
        })
        .collect();
    (plans, isolation)
}

/// What the fetch loops handed on so far, per partition: the position after the last chunk.
struct Deliveries {
    specs: Vec<PartitionSpec>,
    next: Vec<i64>,
}

impl Deliveries {
    fn check(&mut self, w: &Work, client: &Scripted) {
        let spec = &self.specs[w.partition];
        let walked = walk(&w.bytes, true)
            .unwrap_or_else(|e| panic!("delivered bytes that do not walk: {e}"));
        assert_eq!(
            walked.complete_len,
            w.bytes.len(),
            "delivered a partial batch"
        );
        let next = walked.next_offset.expect("delivered no batch");
        let prev = self.next[w.partition];
        assert!(
            prev < spec.end,
            "delivered after the end: {prev} >= {}",
            spec.end
        );
        assert!(next > prev, "delivered without moving: {next} <= {prev}");
        self.next[w.partition] = next;
        let from_first_copy = client.with(|st| {
            st.served.iter().flatten().any(|s| {
                *s.topic == *spec.topic
                    && s.partition == spec.partition
                    && s.records.starts_with(&w.bytes)
                    && w.aborted.iter().all(|a| {
                        s.aborted
                            .iter()
                            .any(|&(pid, first)| a.producer_id == pid && a.first_offset == first)
                    })
            })
        });
        assert!(
            from_first_copy,
            "delivered bytes or aborted transactions that no response's first copy of {}/{} had",
            spec.topic, spec.partition
        );
    }
}

/// Run the supervisor over a scripted cluster made from `data`, and the engine over what it
/// delivers; panics when a promise is broken.
pub fn fetch_responses(data: &[u8]) {
    let mut script = Script {
        data: data.to_vec(),
        pos: 0,
    };
    let (plans, isolation) = setup(&mut script);
    let specs: Vec<PartitionSpec> = plans.iter().map(|p| p.spec.clone()).collect();
    let client = Arc::new(Scripted(Mutex::new(State {
        script,
        leaders: plans.iter().map(|p| (p.leader, p.leader_epoch)).collect(),
        plans: plans.clone(),
        topic_ids: TOPIC_IDS.to_vec(),
        served: Vec::new(),
    })));
    let config = Arc::new(Config {
        isolation,
        retry_backoff: Duration::ZERO,
        retry_backoff_max: Duration::ZERO,
        engine: EngineConfig {
            threads: 1,
            channel_capacity: 2,
            ..Config::default().engine
        },
        ..Config::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    let job = Recorder(Mutex::new(Vec::new()));
    let progress = Progress::new(&specs);
    let mut deliveries = Deliveries {
        next: specs.iter().map(|s| s.start).collect(),
        specs: specs.clone(),
    };
    let mut supervised: Option<Result<(), String>> = None;
    let outcome = kbatch_engine::run(
        &config.engine,
        &job,
        &specs,
        isolation,
        &progress,
        |feeder| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(config.engine.channel_capacity);
                let task = tokio::spawn(crate::fetch::supervise(
                    client.clone(),
                    config.clone(),
                    plans.clone(),
                    tx,
                ));
                while let Some(work) = rx.recv().await {
                    deliveries.check(&work, &client);
                    if feeder.send(work).is_err() {
                        break;
                    }
                }
                drop(rx);
                if feeder.halted() {
                    task.abort();
                    return Ok(());
                }
                let r: Result<(), ReadError> = match task.await {
                    Ok(r) => r,
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                };
                supervised = Some(r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                r
            })
        },
    );

    let seen = job.0.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut last: HashMap<usize, i64> = HashMap::new();
    for (i, offset) in seen {
        let spec = &specs[i];
        assert!(
            (spec.start..spec.end).contains(&offset),
            "record {offset} outside [{}, {})",
            spec.start,
            spec.end
        );
        if let Some(prev) = last.insert(i, offset) {
            assert!(
                offset > prev,
                "record {offset} after {prev}: out of order or twice"
            );
        }
    }
    if let Some(Ok(())) = supervised {
        for (i, spec) in specs.iter().enumerate() {
            assert!(
                spec.start >= spec.end || deliveries.next[i] >= spec.end,
                "the fetch loops ended Ok with {}/{} at {} of [{}, {})",
                spec.topic,
                spec.partition,
                deliveries.next[i],
                spec.start,
                spec.end
            );
        }
        if let Err(e @ EngineError::Incomplete { .. }) = &outcome {
            panic!("the fetch loops ended Ok but the engine did not: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Replays every committed input in `fuzz/<dir>`; returns how many.
    fn replay(dir: &str) -> usize {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir);
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = e.expect("a directory entry").path();
            let data = std::fs::read(&path).expect("a committed input");
            eprintln!("{}", path.display());
            super::fetch_responses(&data);
            n += 1;
        }
        n
    }

    /// The seeds: reads that end exactly, and leader moves, throttles, transactions, codecs,
    /// truncation, corruption, diverging epochs, errors — each keeping every promise.
    #[test]
    fn fuzz_seeds_keep_every_promise() {
        assert!(replay("seeds/fetch_driver") >= 10);
    }

    /// Inputs the fuzzer found breaking a promise: a partition listed twice in one response
    /// with different data (a shorter second copy made the driver panic slicing it; a longer
    /// one delivered bytes never walked, with the other copy's aborted transactions).
    #[test]
    fn fuzz_regressions_keep_every_promise() {
        assert!(replay("regressions/fetch_driver") >= 2);
    }
}
