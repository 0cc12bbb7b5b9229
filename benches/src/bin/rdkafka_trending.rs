//! The comparison reader: the trending job done with rust-rdkafka (librdkafka built from its
//! bundled source), the way a careful Rust engineer would write it.
//!
//! - `BaseConsumer` (no async runtime to pay for), `enable.auto.commit=false`,
//!   `isolation.level=read_committed`, fetch sizes and local queue sized for a batch read,
//!   `enable.partition.eof=true`.
//! - The range of every partition is fixed at start: `[low, high)` from `fetch_watermarks`.
//!   librdkafka's `query_watermark_offsets` sends the consumer's `isolation.level` in its
//!   ListOffsets requests (`rd_kafka_ListOffsetsRequest`, librdkafka 2.12), so under
//!   read_committed `high` is the last stable offset; on the benchmark's topics (no
//!   transactions) it equals the high watermark. `franz_trending` fixes the same ends.
//! - Every partition is assigned at its explicit start offset and polled until it is done:
//!   the last message in range was seen, or partition EOF arrived, or the consumer's position
//!   reached the end. Waiting only for "offset end-1 seen" would hang on a range that ends in
//!   a transaction marker (kcat #33); EOF and position cover that. A run that makes no
//!   progress for `--stall-secs` fails, naming the partitions and where they stopped.
//! - Values parsed by serde_json into a borrowed struct (`Cow` fields, so escaped strings are
//!   unescaped), counted in a hashbrown map probed with a borrowed key (no allocation on a
//!   hit): [`kbatch_benches::count_serde`]. Null values and anything that does not parse into
//!   an event count as invalid.
//! - Competition rank per category (1 + products with strictly more views), rank <= `--top`,
//!   sorted by category, rank, product (byte-wise). Prints `{"records","invalid","top"}` as
//!   `kbatch trending --format json` does, so the harness compares them.
//!
//! Usage: rdkafka_trending --bootstrap HOST:PORT --topic T [--top N] [--stall-secs S]
//!        [-X librdkafka.property=value]...

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kbatch_benches::{count_serde, Counts};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

struct Args {
    bootstrap: String,
    topic: String,
    top: u64,
    stall: Duration,
    extra: Vec<(String, String)>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        bootstrap: "localhost:9092".into(),
        topic: String::new(),
        top: 1,
        stall: Duration::from_secs(60),
        extra: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bootstrap" => a.bootstrap = value,
            "--topic" => a.topic = value,
            "--top" => {
                a.top = value
                    .parse()
                    .map_err(|_| format!("--top {value:?}: not a number"))?
            }
            "--stall-secs" => {
                a.stall = Duration::from_secs(
                    value
                        .parse()
                        .map_err(|_| format!("--stall-secs {value:?}: not a number"))?,
                )
            }
            "-X" => {
                let (k, v) = value
                    .split_once('=')
                    .ok_or_else(|| format!("-X {value:?}: expected property=value"))?;
                a.extra.push((k.into(), v.into()));
            }
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    if a.topic.is_empty() {
        return Err("--topic is required".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rdkafka_trending: {e}");
            eprintln!("usage: rdkafka_trending --bootstrap HOST:PORT --topic T [--top N] [--stall-secs S] [-X prop=value]...");
            ExitCode::FAILURE
        }
    }
}

fn consumer(a: &Args) -> Result<BaseConsumer, KafkaError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &a.bootstrap)
        // Required by librdkafka even though nothing is committed and no group is joined
        // (`assign`, not `subscribe`).
        .set("group.id", "kbatch-bench-rdkafka")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "error")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("fetch.max.bytes", "33554432")
        .set("max.partition.fetch.bytes", "1048576")
        .set("fetch.wait.max.ms", "100")
        // The local queue is per partition: deep enough that the fetcher never waits for the
        // application on a batch read. librdkafka 2.x also pauses a partition's fetches for
        // fetch.queue.backoff.ms (default 1 s) whenever that queue is over its thresholds,
        // which a reader consuming as fast as it can should not pay (with the default, 2 M zstd
        // events took 5.6 s instead of 1.7 s). Measured here on 2 M events, 8 partitions: these sizes are as fast as
        // any larger ones tried (8 MiB per partition fetch, 64 MiB / 1 M message queues) and
        // keep peak RSS at a third to a sixth of theirs, so the RSS comparison is not against
        // a bloated configuration.
        .set("queued.max.messages.kbytes", "16384")
        .set("queued.min.messages", "20000")
        .set("fetch.queue.backoff.ms", "5");
    for (k, v) in &a.extra {
        cfg.set(k, v);
    }
    cfg.create()
}

fn run(a: &Args) -> Result<(), String> {
    let topic = a.topic.as_str();
    let consumer = consumer(a).map_err(|e| format!("creating the consumer: {e}"))?;
    let timeout = Duration::from_secs(30);
    let meta = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| format!("metadata of {topic} from {}: {e}", a.bootstrap))?;
    let t = meta
        .topics()
        .first()
        .ok_or_else(|| format!("no metadata for {topic}"))?;
    if let Some(e) = t.error() {
        return Err(format!("metadata of {topic}: {e:?}"));
    }
    let mut tpl = TopicPartitionList::new();
    // partition -> end offset (exclusive), for partitions with records in range.
    let mut pending: BTreeMap<i32, i64> = BTreeMap::new();
    for p in t.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), timeout)
            .map_err(|e| format!("watermarks of {topic}/{}: {e}", p.id()))?;
        if high > low {
            tpl.add_partition_offset(topic, p.id(), Offset::Offset(low))
                .map_err(|e| format!("{topic}/{}: {e}", p.id()))?;
            pending.insert(p.id(), high);
        }
    }
    consumer
        .assign(&tpl)
        .map_err(|e| format!("assigning {topic}: {e}"))?;

    let mut counts = Counts::new();
    let (mut records, mut invalid) = (0u64, 0u64);
    let mut last_progress = Instant::now();
    while !pending.is_empty() {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(msg)) => {
                last_progress = Instant::now();
                let p = msg.partition();
                let Some(&end) = pending.get(&p) else {
                    continue; // a partition already done: records past its end
                };
                if msg.offset() >= end {
                    pending.remove(&p);
                    continue;
                }
                records += 1;
                if !count_serde(&mut counts, msg.payload()) {
                    invalid += 1;
                }
                if msg.offset() + 1 >= end {
                    pending.remove(&p);
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => return Err(format!("consuming {topic}: {e}")),
            None => {
                // Idle: a range may end in records the consumer skips (transaction markers,
                // aborted batches), so ask where each pending partition stands.
                let pos = consumer
                    .position()
                    .map_err(|e| format!("position in {topic}: {e}"))?;
                for e in pos.elements() {
                    if let (Offset::Offset(o), Some(&end)) =
                        (e.offset(), pending.get(&e.partition()))
                    {
                        if o >= end {
                            pending.remove(&e.partition());
                        }
                    }
                }
                if !pending.is_empty() && last_progress.elapsed() > a.stall {
                    let at: Vec<String> = pos
                        .elements()
                        .iter()
                        .filter_map(|e| {
                            pending.get(&e.partition()).map(|end| {
                                format!("{}: at {:?}, end {end}", e.partition(), e.offset())
                            })
                        })
                        .collect();
                    return Err(format!(
                        "no progress on {topic} for {:?}; unfinished partitions: {}",
                        a.stall,
                        at.join("; ")
                    ));
                }
            }
        }
    }

    // Competition rank per category; category, rank, product order (byte-wise, as str's Ord).
    let mut by_cat: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
    for ((c, p), n) in &counts {
        by_cat.entry(c).or_default().push((*n, p));
    }
    let mut rows = Vec::new();
    for (c, mut ps) in by_cat {
        ps.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(y.1)));
        let (mut rank, mut prev) = (0u64, None);
        for (i, (n, p)) in ps.into_iter().enumerate() {
            if prev != Some(n) {
                rank = i as u64 + 1;
                prev = Some(n);
            }
            if rank > a.top {
                break;
            }
            rows.push(serde_json::json!({"category": c, "product": p, "views": n, "rank": rank}));
        }
    }
    println!(
        "{}",
        serde_json::json!({"records": records, "invalid": invalid, "top": rows})
    );
    Ok(())
}
