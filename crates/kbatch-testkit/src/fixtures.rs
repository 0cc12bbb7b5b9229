//! `kbatch-testkit fixtures --out DIR`: capture record bytes from a real broker.
//!
//! Starts a broker, writes each fixture's topic with Kafka's Java producer, then fetches
//! partition 0 back with kbatch's wire client (read_committed: every batch — aborted data and
//! markers included — is captured exactly as the broker serves it, with the aborted
//! transactions the broker reports only to read_committed fetches). Each fixture is a
//! `.bin` of concatenated complete record batches plus an entry in `manifest.json`: how it was
//! made, the aborted transactions the broker reported, and the expected data-record count and
//! value checksum computed *from what was produced*, not from kbatch's decoder.

use std::collections::BTreeSet;
use std::path::Path;

use kbatch_wire::{
    Connection, FetchPartitionRequest, FetchRequest, ListOffsetsRequest, WireConfig,
};
use serde_json::json;

use crate::{trending, Broker, ProduceOp, ProducedRecord, ProducerSettings, KAFKA_VERSION};

/// FNV-1a over the values (null = 0xff marker) in offset order: the fixtures' checksum.
pub fn checksum<'a>(values: impl Iterator<Item = Option<&'a [u8]>>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for &b in v.unwrap_or(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        h ^= 0x0a;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Captured partition 0: complete batches, aborted transactions `(producer, first offset)`, end.
type Captured = (Vec<u8>, Vec<(i64, i64)>, i64);

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// One read_committed Fetch of partition 0 at `offset`: the raw record bytes as served
/// (possibly ending in a partial batch) and the aborted transactions reported.
async fn fetch_raw(
    conn: &Connection,
    topic: &str,
    offset: i64,
    partition_max_bytes: i32,
) -> Result<(Vec<u8>, Vec<(i64, i64)>), String> {
    let req = FetchRequest {
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 8 << 20,
        // read_committed: the broker still serves every batch (aborted data and markers
        // included) but only then reports the aborted transactions.
        isolation_level: 1,
        topics: vec![(
            topic.to_string(),
            vec![FetchPartitionRequest {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes,
                current_leader_epoch: -1,
                last_fetched_epoch: -1,
            }],
        )],
    };
    let resp = conn.fetch(&req).await.map_err(|e| e.to_string())?;
    let p = &resp.topics[0].1[0];
    Ok((p.records.to_vec(), p.aborted_transactions.to_vec()))
}

fn capture(bootstrap: &str, topic: &str) -> Result<Captured, String> {
    runtime()?.block_on(async {
        let conn = Connection::connect(bootstrap, &WireConfig::default())
            .await
            .map_err(|e| e.to_string())?;
        let lo = conn
            .list_offsets(&ListOffsetsRequest {
                isolation_level: 0,
                topics: vec![(topic.to_string(), vec![(0, -1)])],
            })
            .await
            .map_err(|e| e.to_string())?;
        let hwm = lo.topics[0].1[0].offset;
        let mut bytes = Vec::new();
        let mut aborted = BTreeSet::new();
        let mut next = 0i64;
        while next < hwm {
            let (records, txns) = fetch_raw(&conn, topic, next, 8 << 20).await?;
            let walk = kbatch_records::walk(&records, true).map_err(|e| e.to_string())?;
            bytes.extend_from_slice(&records[..walk.complete_len]);
            aborted.extend(txns);
            next = walk.next_offset.ok_or("no complete batch in a response")?;
        }
        Ok((bytes, aborted.into_iter().collect(), hwm))
    })
}

/// Record counts of the batches in `bytes`, read from the raw v2 headers (length at byte 8,
/// record count at byte 57), independently of kbatch's decoder.
fn batch_record_counts(bytes: &[u8]) -> Vec<i32> {
    let mut counts = Vec::new();
    let mut at = 0;
    while at + 61 <= bytes.len() {
        let len = i32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        counts.push(i32::from_be_bytes(
            bytes[at + 57..at + 61].try_into().unwrap(),
        ));
        at += 12 + len;
    }
    counts
}

fn rec(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: Vec<(String, Option<Vec<u8>>)>,
) -> ProduceOp {
    ProduceOp::Record(ProducedRecord {
        partition: 0,
        timestamp: None,
        key: key.map(<[u8]>::to_vec),
        value: value.map(<[u8]>::to_vec),
        headers,
    })
}

/// Make every fixture into `out`; with `librdkafka_producer` (the benches' `rdkafka_produce`),
/// also a topic written by librdkafka.
pub fn make(out: &Path, librdkafka_producer: Option<&Path>) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let broker = Broker::start().map_err(|e| e.to_string())?;
    let mut manifest = Vec::new();

    // One per codec: 20,000 sample browsing events, 1 partition, producer-side compression.
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("fixture-{codec}");
        broker
            .create_topic(&topic, 1, &[])
            .map_err(|e| e.to_string())?;
        let lines = trending::lines(20_000, 20, 1, 11);
        let values: Vec<Option<Vec<u8>>> = lines
            .iter()
            .map(|l| {
                if l.starts_with('R') {
                    None
                } else {
                    Some(l.splitn(4, '\t').nth(3).unwrap_or("").as_bytes().to_vec())
                }
            })
            .collect();
        let settings = ProducerSettings {
            compression: Some(codec.into()),
            linger_ms: Some(50),
            batch_size: Some(256 << 10),
            ..ProducerSettings::default()
        };
        let n = lines.len();
        crate::produce_lines(&broker.bootstrap, &topic, &settings, n, lines.into_iter())
            .map_err(|e| e.to_string())?;
        let (bytes, aborted, hwm) = capture(&broker.bootstrap, &topic)?;
        std::fs::write(out.join(format!("trending-{codec}.bin")), &bytes)
            .map_err(|e| e.to_string())?;
        manifest.push(json!({
            "file": format!("trending-{codec}.bin"), "producer": format!("Kafka Java producer {KAFKA_VERSION}, compression.type={codec}, linger.ms=50, batch.size=262144"),
            "records": n, "aborted": 0, "control": 0, "end": hwm, "aborted_transactions": aborted,
            "value_checksum": format!("{:016x}", checksum(values.iter().map(|v| v.as_deref()))),
        }));
    }

    // A transactional partition: commit 30, abort 20, 5 plain, commit 10 (marker last).
    {
        let topic = "fixture-txn";
        broker
            .create_topic(topic, 1, &[])
            .map_err(|e| e.to_string())?;
        let txn = ProducerSettings {
            transactional_id: Some("fixture-tx".into()),
            compression: Some("zstd".into()),
            ..ProducerSettings::default()
        };
        let v = |i: usize| format!("{{\"id\":{i}}}").into_bytes();
        let mut committed: Vec<Vec<u8>> = Vec::new();
        let mut ops = vec![ProduceOp::BeginTxn];
        for i in 0..30 {
            ops.push(rec(None, Some(&v(i)), vec![]));
            committed.push(v(i));
        }
        ops.push(ProduceOp::CommitTxn);
        ops.push(ProduceOp::BeginTxn);
        for i in 30..50 {
            ops.push(rec(None, Some(&v(i)), vec![]));
        }
        ops.push(ProduceOp::AbortTxn);
        broker
            .produce(topic, &txn, &ops)
            .map_err(|e| e.to_string())?;
        let plain: Vec<ProduceOp> = (50..55)
            .map(|i| {
                committed.push(v(i));
                rec(Some(b"k"), Some(&v(i)), vec![])
            })
            .collect();
        broker
            .produce(topic, &ProducerSettings::default(), &plain)
            .map_err(|e| e.to_string())?;
        let mut ops = vec![ProduceOp::BeginTxn];
        for i in 55..65 {
            ops.push(rec(None, Some(&v(i)), vec![]));
            committed.push(v(i));
        }
        ops.push(ProduceOp::CommitTxn);
        broker
            .produce(topic, &txn, &ops)
            .map_err(|e| e.to_string())?;
        let (bytes, aborted, hwm) = capture(&broker.bootstrap, topic)?;
        std::fs::write(out.join("txn.bin"), &bytes).map_err(|e| e.to_string())?;
        manifest.push(json!({
            "file": "txn.bin", "producer": format!("Kafka Java producer {KAFKA_VERSION}, transactional (zstd) and plain"),
            "records": committed.len(), "aborted": 20, "control": 3, "end": hwm, "aborted_transactions": aborted,
            "value_checksum": format!("{:016x}", checksum(committed.iter().map(|v| Some(v.as_slice())))),
        }));
    }

    // Tombstones, null keys, empty values, duplicate header keys, a null header value.
    {
        let topic = "fixture-nulls";
        broker
            .create_topic(topic, 1, &[])
            .map_err(|e| e.to_string())?;
        let h = |k: &str, v: Option<&[u8]>| (k.to_string(), v.map(<[u8]>::to_vec));
        let values: Vec<Option<Vec<u8>>> = vec![
            None,
            Some(vec![]),
            Some(b"v".to_vec()),
            Some(b"{}".to_vec()),
        ];
        let ops = vec![
            rec(Some(b"k0"), None, vec![]),
            rec(
                None,
                Some(b""),
                vec![h("dup", Some(b"1")), h("dup", Some(b"2"))],
            ),
            rec(Some(b""), Some(b"v"), vec![h("null", None)]),
            rec(None, Some(b"{}"), vec![]),
        ];
        broker
            .produce(
                topic,
                &ProducerSettings {
                    linger_ms: Some(50),
                    ..ProducerSettings::default()
                },
                &ops,
            )
            .map_err(|e| e.to_string())?;
        let (bytes, aborted, hwm) = capture(&broker.bootstrap, topic)?;
        std::fs::write(out.join("nulls.bin"), &bytes).map_err(|e| e.to_string())?;
        manifest.push(json!({
            "file": "nulls.bin", "producer": format!("Kafka Java producer {KAFKA_VERSION}, uncompressed"),
            "records": 4, "aborted": 0, "control": 0, "end": hwm, "aborted_transactions": aborted,
            "value_checksum": format!("{:016x}", checksum(values.iter().map(|v| v.as_deref()))),
        }));
    }
    manifest.push(compacted(&broker, out)?);
    manifest.push(straddling(&broker, out)?);
    if let Some(bin) = librdkafka_producer {
        manifest.push(librdkafka_snappy(&broker, out, bin)?);
    }
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())? + "\n";
    std::fs::write(out.join("manifest.json"), text).map_err(|e| e.to_string())?;
    Ok(())
}

/// A compacted partition with gaps: two producers (one batch each) write ten keys five times
/// over, the last write of key `k9` a tombstone; a third record after the segment rolls keeps
/// the first segment out of the active one, and the log cleaner then leaves the last record of
/// each key (offsets 90–99, the tombstone kept for `delete.retention.ms`) and the third
/// record (100). The first producer's batch loses every record; the broker keeps it as an
/// empty batch (the producer's last), so reading must advance over a batch with no records.
fn compacted(broker: &Broker, out: &Path) -> Result<serde_json::Value, String> {
    let topic = "fixture-compacted";
    broker
        .create_topic(
            topic,
            1,
            &[
                ("cleanup.policy", "compact"),
                ("segment.ms", "100"),
                ("min.cleanable.dirty.ratio", "0.01"),
                ("min.compaction.lag.ms", "0"),
                ("delete.retention.ms", "86400000"),
            ],
        )
        .map_err(|e| e.to_string())?;
    let key = |i: usize| format!("k{}", i % 10).into_bytes();
    let value = |i: usize| (i != 99).then(|| format!("{{\"v\":{i}}}").into_bytes());
    let one_batch = ProducerSettings {
        linger_ms: Some(1000),
        ..ProducerSettings::default()
    };
    for range in [0..50, 50..100] {
        let mut ops: Vec<ProduceOp> = range
            .map(|i| rec(Some(&key(i)), value(i).as_deref(), vec![]))
            .collect();
        ops.push(ProduceOp::Flush);
        broker
            .produce(topic, &one_batch, &ops)
            .map_err(|e| e.to_string())?;
    }
    // Older than segment.ms: this append rolls the segment, so 0..=99 can be cleaned.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    broker
        .produce(
            topic,
            &ProducerSettings::default(),
            &[rec(Some(&key(100)), value(100).as_deref(), vec![])],
        )
        .map_err(|e| e.to_string())?;
    let survivors: Vec<Option<Vec<u8>>> = (90..=100).map(value).collect();
    // The cleaner runs every log.cleaner.backoff.ms (250 ms in the testkit's broker).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let (bytes, aborted, hwm) = loop {
        let c = capture(&broker.bootstrap, topic)?;
        let left: i32 = batch_record_counts(&c.0).iter().sum();
        if left as usize == survivors.len() {
            break c;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{topic}: the log cleaner left {left} records, expected {}",
                survivors.len()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let empty = batch_record_counts(&bytes)
        .iter()
        .filter(|&&n| n == 0)
        .count();
    std::fs::write(out.join("compacted.bin"), &bytes).map_err(|e| e.to_string())?;
    Ok(json!({
        "file": "compacted.bin",
        "producer": format!("Kafka Java producer {KAFKA_VERSION}, uncompressed, two producers then one; cleanup.policy=compact, compacted by the broker's log cleaner"),
        "records": survivors.len(), "aborted": 0, "control": 0, "end": hwm,
        "removed_by_compaction": hwm as usize - survivors.len(), "empty_batches": empty,
        "aborted_transactions": aborted,
        "value_checksum": format!("{:016x}", checksum(survivors.iter().map(|v| v.as_deref()))),
    }))
}

/// A Fetch response whose partition data ends inside a batch: three uncompressed batches of
/// 100 records (flushed apart), fetched with `partition_max_bytes` = the first batch plus half
/// of the second. The broker cuts the second batch; decoding must deliver the first batch's
/// 100 records and stop with next offset 100, not fail.
fn straddling(broker: &Broker, out: &Path) -> Result<serde_json::Value, String> {
    let topic = "fixture-straddle";
    broker
        .create_topic(topic, 1, &[])
        .map_err(|e| e.to_string())?;
    let value = |i: usize| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(80)).into_bytes();
    let mut ops = Vec::new();
    for i in 0..300 {
        ops.push(rec(None, Some(&value(i)), vec![]));
        if i % 100 == 99 {
            ops.push(ProduceOp::Flush);
        }
    }
    let settings = ProducerSettings {
        linger_ms: Some(1000),
        ..ProducerSettings::default()
    };
    broker
        .produce(topic, &settings, &ops)
        .map_err(|e| e.to_string())?;
    let (whole, _, _) = capture(&broker.bootstrap, topic)?;
    let counts = batch_record_counts(&whole);
    if counts != [100, 100, 100] {
        return Err(format!(
            "{topic}: expected three batches of 100, got {counts:?}"
        ));
    }
    let len_at =
        |at: usize| 12 + i32::from_be_bytes(whole[at + 8..at + 12].try_into().unwrap()) as usize;
    let first = len_at(0);
    let limit = first + len_at(first) / 2;
    let (bytes, aborted) = runtime()?.block_on(async {
        let conn = Connection::connect(&broker.bootstrap, &WireConfig::default())
            .await
            .map_err(|e| e.to_string())?;
        fetch_raw(&conn, topic, 0, limit as i32).await
    })?;
    if bytes.len() != limit {
        return Err(format!(
            "{topic}: asked for {limit} bytes, the broker served {}",
            bytes.len()
        ));
    }
    std::fs::write(out.join("straddle.bin"), &bytes).map_err(|e| e.to_string())?;
    Ok(json!({
        "file": "straddle.bin",
        "producer": format!("Kafka Java producer {KAFKA_VERSION}, uncompressed, 3 batches of 100; one Fetch with partition_max_bytes={limit} (first batch {first} bytes + half the second)"),
        "records": 100, "aborted": 0, "control": 0, "end": 100, "truncated_tail_bytes": bytes.len() - first,
        "aborted_transactions": aborted,
        "value_checksum": format!("{:016x}", checksum((0..100).map(value).collect::<Vec<_>>().iter().map(|v| Some(v.as_slice())))),
    }))
}

/// Sample events written by **librdkafka** with snappy: it frames snappy as a raw block (the
/// Java client uses the xerial stream framing), the other spelling a decoder must read. The
/// manifest records which framing the first batch's payload has, read from its first bytes.
fn librdkafka_snappy(broker: &Broker, out: &Path, bin: &Path) -> Result<serde_json::Value, String> {
    use std::io::Write;
    let topic = "fixture-rdkafka-snappy";
    broker
        .create_topic(topic, 1, &[])
        .map_err(|e| e.to_string())?;
    // The codec fixtures' events (same seed), less the tombstones a line cannot carry: the
    // valid events are the same, so the aggregates must be too (RELIABILITY case 18).
    let values: Vec<Vec<u8>> = trending::lines(20_000, 20, 1, 11)
        .iter()
        .filter(|l| !l.starts_with('R'))
        .map(|l| l.splitn(4, '\t').nth(3).unwrap_or("").as_bytes().to_vec())
        .collect();
    let mut child = std::process::Command::new(bin)
        .args([
            "--bootstrap",
            &broker.bootstrap,
            "--topic",
            topic,
            "--compression",
            "snappy",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    {
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        for v in &values {
            stdin.write_all(v).map_err(|e| e.to_string())?;
            stdin.write_all(b"\n").map_err(|e| e.to_string())?;
        }
    }
    let done = child.wait_with_output().map_err(|e| e.to_string())?;
    let acked = String::from_utf8_lossy(&done.stdout).trim().to_string();
    if !done.status.success() || acked != values.len().to_string() {
        return Err(format!(
            "{}: {} ({acked} acknowledged)",
            bin.display(),
            done.status
        ));
    }
    let (bytes, aborted, hwm) = capture(&broker.bootstrap, topic)?;
    // Attributes are the int16 at byte 21 (codec in the low 3 bits: 2 = snappy); the payload
    // starts at byte 61.
    if bytes.len() < 69 || bytes[22] & 7 != 2 {
        return Err(format!("{topic}: the first batch is not snappy-compressed"));
    }
    let framing = if bytes[61..69] == *b"\x82SNAPPY" {
        "xerial"
    } else {
        "raw"
    };
    std::fs::write(out.join("rdkafka-snappy.bin"), &bytes).map_err(|e| e.to_string())?;
    Ok(json!({
        "file": "rdkafka-snappy.bin",
        "producer": "librdkafka (bundled with the rdkafka crate 0.39), compression.codec=snappy, linger.ms=50, idempotent",
        "records": values.len(), "aborted": 0, "control": 0, "end": hwm,
        "aborted_transactions": aborted, "snappy_framing": framing,
        "value_checksum": format!("{:016x}", checksum(values.iter().map(|v| Some(v.as_slice())))),
    }))
}
