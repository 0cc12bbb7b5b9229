//! Arrow batches of a real broker's records, produced by Kafka's Java producer (every codec,
//! nulls, headers, an aborted transaction, a log-append-time topic), compared column by column
//! with what was produced; read from inside an application's own tokio runtime.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMicrosecondType};
use arrow_array::RecordBatch;
use kbatch_arrow::rows::{owned_rows, OwnedHeader, OwnedRow};
use kbatch_arrow::{read_all, schema, ArrowOptions, BatchStream};
use kbatch_reader::{AsyncReader, Config, Progress, ReadSpec};
use kbatch_testkit::{shared_broker, ProduceOp, ProducedRecord, ProducerSettings};

type Headers = Vec<OwnedHeader>;
type Row = OwnedRow;

/// The batch's rows, after checking it has the schema with headers.
fn rows(batch: &RecordBatch) -> Vec<Row> {
    assert_eq!(batch.schema(), schema(true));
    owned_rows(batch)
}

fn record(i: usize, partitions: i32, ts: i64) -> ProducedRecord {
    let mut headers: Headers = Vec::new();
    if i.is_multiple_of(3) {
        headers.push(("trace".into(), Some(format!("t-{i}").into_bytes())));
        headers.push(("empty".into(), None));
    }
    if i.is_multiple_of(5) {
        headers.push(("bin".into(), Some(vec![0, 255, i as u8])));
    }
    ProducedRecord {
        partition: i as i32 % partitions,
        timestamp: Some(ts + i as i64),
        key: (!i.is_multiple_of(4)).then(|| format!("k{i}").into_bytes()),
        value: (i % 7 != 3).then(|| format!("{{\"i\":{i},\"ü\":\"€\"}}").into_bytes()),
        headers,
    }
}

/// Produce `ops` and return the rows a committed read must see (committed data records).
fn produce(topic: &str, settings: &ProducerSettings, ops: &[ProduceOp], typ: i32) -> Vec<Row> {
    let landed = shared_broker().produce(topic, settings, ops).unwrap();
    let mut want = Vec::new();
    let mut aborting = Vec::new();
    let mut landed = landed.into_iter();
    for op in ops {
        match op {
            ProduceOp::Record(r) => {
                let at = landed.next().expect("a landing per record");
                aborting.push(Row {
                    topic: topic.into(),
                    partition: at.partition,
                    offset: at.offset,
                    key: r.key.clone(),
                    value: r.value.clone(),
                    timestamp_us: r.timestamp.unwrap() * 1000,
                    timestamp_type: typ,
                    headers: r.headers.clone(),
                });
            }
            ProduceOp::AbortTxn => aborting.clear(),
            ProduceOp::CommitTxn | ProduceOp::BeginTxn => want.append(&mut aborting),
            _ => {}
        }
    }
    want.append(&mut aborting);
    want
}

async fn reader() -> AsyncReader {
    let config = Config {
        bootstrap: vec![shared_broker().bootstrap.clone()],
        ..Config::default()
    };
    AsyncReader::connect(config).await.unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn every_column_equals_what_the_java_producer_sent() {
    let topic = "arrow-exact";
    shared_broker().create_topic(topic, 3, &[]).unwrap();
    let base = 1_764_000_000_000;
    let mut want = Vec::new();
    let mut n = 0;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let ops: Vec<ProduceOp> = (n..n + 40)
            .map(|i| ProduceOp::Record(record(i, 3, base)))
            .collect();
        n += 40;
        let settings = ProducerSettings {
            compression: Some(codec.into()),
            ..ProducerSettings::default()
        };
        want.extend(produce(topic, &settings, &ops, 0));
    }
    // A transaction that aborts, then one that commits.
    let mut ops = vec![ProduceOp::BeginTxn];
    ops.extend((n..n + 9).map(|i| ProduceOp::Record(record(i, 3, base))));
    ops.push(ProduceOp::AbortTxn);
    ops.push(ProduceOp::BeginTxn);
    ops.extend((n + 9..n + 15).map(|i| ProduceOp::Record(record(i, 3, base))));
    ops.push(ProduceOp::CommitTxn);
    let txn = ProducerSettings {
        transactional_id: Some("arrow-exact-txn".into()),
        ..ProducerSettings::default()
    };
    want.extend(produce(topic, &txn, &ops, 0));
    want.sort();

    let reader = reader().await;
    let plan = reader.plan(&ReadSpec::topics([topic])).await.unwrap();
    let options = ArrowOptions {
        batch_rows: 7,
        headers: true,
    };
    let (_, batches, stats) = read_all(&reader, plan.clone(), options.clone())
        .await
        .unwrap();
    let got: Vec<Row> = batches.iter().flat_map(rows).collect();
    assert_eq!(got.len(), want.len());
    // Ordered by topic, partition, offset without sorting on our side.
    assert_eq!(got, want);
    assert_eq!(stats.iter().map(|s| s.aborted).sum::<u64>(), 9);
    assert!(batches
        .iter()
        .all(|b| b.num_rows() <= 7 && b.num_rows() > 0));

    // The stream: each partition in offset order, closed by exactly one `last` batch.
    let mut stream = BatchStream::start(&reader, plan, options, None);
    let mut seen: BTreeMap<i32, (Vec<i64>, usize)> = BTreeMap::new();
    while let Some(b) = stream.next().await {
        let b = b.unwrap();
        let entry = seen.entry(b.partition).or_default();
        assert_eq!(entry.1, 0, "a batch after the last one of {}", b.partition);
        entry.0.extend(rows(&b.batch).iter().map(|r| r.offset));
        entry.1 += usize::from(b.last);
    }
    for (p, (offsets, lasts)) in &seen {
        assert_eq!(*lasts, 1, "partition {p}");
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "partition {p}");
    }
    assert_eq!(stream.stats().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_append_time_topics_say_so_and_no_headers_column_when_not_asked() {
    let topic = "arrow-append-time";
    shared_broker()
        .create_topic(topic, 1, &[("message.timestamp.type", "LogAppendTime")])
        .unwrap();
    let ops: Vec<ProduceOp> = (0..5)
        .map(|i| ProduceOp::Record(record(i, 1, 1_000)))
        .collect();
    shared_broker()
        .produce(topic, &ProducerSettings::default(), &ops)
        .unwrap();
    let reader = reader().await;
    let plan = reader.plan(&ReadSpec::topics([topic])).await.unwrap();
    let options = ArrowOptions {
        headers: false,
        ..ArrowOptions::default()
    };
    let (schema, batches, _) = read_all(&reader, plan, options).await.unwrap();
    assert_eq!(schema.fields().len(), 7);
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    let types = b.column(6).as_primitive::<Int32Type>();
    assert!(types.iter().all(|t| t == Some(1)));
    // The broker's append time, not the producer's 1 000 ms.
    let ts = b.column(5).as_primitive::<TimestampMicrosecondType>();
    assert!(ts.iter().all(|t| t.unwrap() > 1_700_000_000_000_000));
}

/// A consumer that stops early stops the read: the workers find the stream gone and halt, and
/// the application's runtime shuts down promptly with nothing left running.
#[test]
fn dropping_the_stream_stops_the_read() {
    let topic = "arrow-drop";
    shared_broker().create_topic(topic, 2, &[]).unwrap();
    let ops: Vec<ProduceOp> = (0..2000)
        .map(|i| ProduceOp::Record(record(i, 2, 1_000)))
        .collect();
    shared_broker()
        .produce(topic, &ProducerSettings::default(), &ops)
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let progress = rt.block_on(async {
        let reader = reader().await;
        let plan = reader.plan(&ReadSpec::topics([topic])).await.unwrap();
        let specs: Vec<_> = plan.iter().map(|p| p.spec.clone()).collect();
        let progress = Arc::new(Progress::new(&specs));
        let options = ArrowOptions {
            batch_rows: 10,
            headers: true,
        };
        let mut stream = BatchStream::start(&reader, plan, options, Some(progress.clone()));
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.batch.num_rows(), 10);
        progress
    });
    let started = std::time::Instant::now();
    rt.shutdown_timeout(Duration::from_secs(10));
    assert!(started.elapsed() < Duration::from_secs(3));
    // Two batches in flight and one being cut per worker: far from the 2000 records.
    assert!(progress.records() < 2000, "{} decoded", progress.records());
}

/// A consumer that drops each batch lends its memory to the batches after it (the builder's
/// pools take it back); one that keeps every batch never sees a buffer of its reused. Either
/// way every row is exactly what was produced.
#[tokio::test(flavor = "current_thread")]
async fn dropped_batches_lend_their_memory_and_kept_ones_never_do() {
    let topic = "arrow-recycle";
    shared_broker().create_topic(topic, 1, &[]).unwrap();
    let ops: Vec<ProduceOp> = (0..600)
        .map(|i| ProduceOp::Record(record(i, 1, 1_764_000_000_000)))
        .collect();
    let mut want = produce(topic, &ProducerSettings::default(), &ops, 0);
    want.sort();
    let value_buffer = |b: &RecordBatch| b.column(1).as_binary::<i32>().values().as_ptr() as usize;
    let options = ArrowOptions {
        batch_rows: 10,
        headers: true,
    };
    let reader = reader().await;
    let plan = reader.plan(&ReadSpec::topics([topic])).await.unwrap();

    let mut stream = BatchStream::start(&reader, plan.clone(), options.clone(), None);
    let (mut got, mut buffers) = (Vec::new(), Vec::new());
    while let Some(b) = stream.next().await {
        let b = b.unwrap();
        got.extend(rows(&b.batch));
        buffers.push(value_buffer(&b.batch));
    }
    assert_eq!(got, want);
    // About as many buffers as batches can be alive at once (a handful), not one per batch
    // (61; without the pools glibc hands back about every other freed block: 32 here).
    let distinct: std::collections::BTreeSet<_> = buffers.iter().collect();
    assert!(
        distinct.len() <= 10,
        "{} value buffers for {} batches: dropped batches were not reused",
        distinct.len(),
        buffers.len()
    );

    let (_, kept, _) = read_all(&reader, plan, options).await.unwrap();
    let got: Vec<Row> = kept.iter().flat_map(rows).collect();
    assert_eq!(got, want);
    let distinct: std::collections::BTreeSet<_> = kept
        .iter()
        .filter(|b| b.num_rows() > 0)
        .map(value_buffer)
        .collect();
    assert_eq!(
        distinct.len(),
        kept.iter().filter(|b| b.num_rows() > 0).count()
    );
}
