//! The comparison reader: the trending job done with rust-rdkafka (librdkafka built from its
//! bundled source), the way a careful Rust engineer would write it.
//!
//! `BaseConsumer`, every partition assigned at its earliest offset, polled until each reaches
//! the high watermark read at start (by position or partition EOF, so a trailing transaction
//! marker cannot hang it); values parsed by serde_json into a borrowed struct (`Cow` fields, so
//! escaped strings are unescaped); counts in a hashbrown map probed with borrowed keys (no
//! allocation on a hit); competition rank per category. Prints the same `records`, `invalid`
//! and `top` as `kbatch trending --format json`.
//!
//! Usage: rdkafka_trending --bootstrap HOST:PORT --topic T [--top N]

use std::collections::BTreeMap;
use std::time::Duration;

use hashbrown::HashMap;
use kbatch_benches::count_serde;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bootstrap = arg(&args, "--bootstrap").expect("--bootstrap");
    let topic = arg(&args, "--topic").expect("--topic");
    let top: u64 = arg(&args, "--top").map_or(1, |t| t.parse().expect("--top N"));

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "kbatch-bench-rdkafka")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "error")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("fetch.max.bytes", "33554432")
        .set("max.partition.fetch.bytes", "8388608")
        .set("fetch.wait.max.ms", "100")
        .set("queued.max.messages.kbytes", "65536")
        // librdkafka 2.x pauses a partition's fetches for fetch.queue.backoff.ms (default 1 s)
        // whenever its local queue is over the thresholds: for a batch read that consumes as
        // fast as it can, a short backoff and a deeper message queue keep the fetcher busy.
        .set("queued.min.messages", "1000000")
        .set("fetch.queue.backoff.ms", "5")
        .create()
        .expect("creating the consumer");

    let timeout = Duration::from_secs(30);
    let meta = consumer
        .fetch_metadata(Some(&topic), timeout)
        .expect("metadata");
    let partitions: Vec<i32> = meta.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut tpl = TopicPartitionList::new();
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    for &p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(&topic, p, timeout)
            .expect("watermarks");
        if high > low {
            tpl.add_partition_offset(&topic, p, Offset::Offset(low))
                .unwrap();
            ends.insert(p, high);
        }
    }
    consumer.assign(&tpl).expect("assign");

    let mut counts: HashMap<(String, String), u64> = HashMap::new();
    let (mut records, mut invalid) = (0u64, 0u64);
    let mut pending = ends.len();
    let mut done: BTreeMap<i32, bool> = ends.keys().map(|&p| (p, false)).collect();
    while pending > 0 {
        let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let msg = match msg {
            Ok(m) => m,
            Err(KafkaError::PartitionEOF(p)) => {
                if let Some(d) = done.get_mut(&p) {
                    if !*d {
                        *d = true;
                        pending -= 1;
                    }
                }
                continue;
            }
            Err(e) => panic!("consumer error: {e}"),
        };
        let p = msg.partition();
        let end = ends[&p];
        if msg.offset() >= end {
            continue;
        }
        records += 1;
        if !count_serde(&mut counts, msg.payload()) {
            invalid += 1;
        }
        if msg.offset() + 1 >= end && !done[&p] {
            done.insert(p, true);
            pending -= 1;
        }
    }

    // Competition rank per category; category, rank, product order (byte-wise).
    let mut by_cat: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
    for ((c, p), n) in &counts {
        by_cat.entry(c).or_default().push((*n, p));
    }
    let mut rows = Vec::new();
    for (c, mut ps) in by_cat {
        ps.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let (mut rank, mut prev) = (0u64, None);
        for (i, (n, p)) in ps.into_iter().enumerate() {
            if prev != Some(n) {
                rank = i as u64 + 1;
                prev = Some(n);
            }
            if rank > top {
                break;
            }
            rows.push(serde_json::json!({"category": c, "product": p, "views": n, "rank": rank}));
        }
    }
    println!(
        "{}",
        serde_json::json!({"records": records, "invalid": invalid, "top": rows})
    );
}
