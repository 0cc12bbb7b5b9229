//! The embedding example (`examples/views_per_customer.rs`) against a real broker: records
//! older than an hour are produced first (timestamps select offset ranges), then recent ones;
//! the example must count exactly the recent views per customer.

#[path = "../examples/views_per_customer.rs"]
mod example;

use std::collections::BTreeMap;
use std::sync::Arc;

use kbatch_reader::{AsyncReader, Config, Count, ReadSpec};
use kbatch_testkit::{shared_broker, ProduceOp, ProducedRecord, ProducerSettings};

#[test]
fn views_per_customer_over_the_last_hour() {
    let broker = shared_broker();
    let topic = "embedding-views";
    broker.create_topic(topic, 3, &[]).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut ops = Vec::new();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    // Two hours old: outside the range.
    for i in 0..30 {
        ops.push(ProduceOp::Record(ProducedRecord {
            partition: i % 3,
            timestamp: Some(now - 2 * 3_600_000),
            key: Some(format!("cus{:02}", i % 4).into_bytes()),
            value: Some(b"{}".to_vec()),
            headers: vec![],
        }));
    }
    // Recent: counted.
    for i in 0..100 {
        let customer = format!("cus{:02}", (i * i) % 7);
        *expected.entry(customer.clone()).or_default() += 1;
        ops.push(ProduceOp::Record(ProducedRecord {
            partition: i % 3,
            timestamp: Some(now - 60_000),
            key: Some(customer.into_bytes()),
            value: Some(b"{}".to_vec()),
            headers: vec![],
        }));
    }
    broker
        .produce(topic, &ProducerSettings::default(), &ops)
        .unwrap();

    let got: BTreeMap<String, u64> = example::views(&broker.bootstrap, topic, "-1h")
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(got, expected);
    let all: u64 = example::views(&broker.bootstrap, topic, "earliest")
        .unwrap()
        .iter()
        .map(|r| r.1)
        .sum();
    assert_eq!(all, 130);
}

/// An async program reads on its own runtime (here a single-threaded one, the strictest: the
/// blocking `Reader` would panic inside it) and gets exact counts.
#[tokio::test(flavor = "current_thread")]
async fn the_async_reader_runs_inside_an_application_runtime() {
    let broker = shared_broker();
    let topic = "embedding-async";
    broker.create_topic(topic, 2, &[]).unwrap();
    let ops: Vec<ProduceOp> = (0..90)
        .map(|i| {
            ProduceOp::Record(ProducedRecord {
                partition: i % 2,
                value: Some(format!("{{\"i\":{i}}}").into_bytes()),
                ..ProducedRecord::default()
            })
        })
        .collect();
    broker
        .produce(topic, &ProducerSettings::default(), &ops)
        .unwrap();
    let config = Config {
        bootstrap: vec![broker.bootstrap.clone()],
        ..Config::default()
    };
    let reader = AsyncReader::connect(config).await.unwrap();
    let plan = reader.plan(&ReadSpec::topics([topic])).await.unwrap();
    let outcome = reader.run(plan, Arc::new(Count), None).await.unwrap();
    let per_partition: Vec<u64> = outcome.stats.iter().map(|s| s.records).collect();
    assert_eq!(per_partition, vec![45, 45]);
    let offsets = reader.offsets(&[topic.to_string()], None).await.unwrap();
    assert_eq!(offsets.iter().map(|o| o.latest).sum::<i64>(), 90);
}

/// The blocking API called from inside an application's runtime (the strictest flavour, one
/// thread) is neither an error nor a panic: it plans, runs, reports offsets and drops cleanly.
#[tokio::test(flavor = "current_thread")]
async fn the_blocking_reader_works_from_inside_a_runtime() {
    let broker = shared_broker();
    let topic = "embedding-blocking-in-async";
    broker.create_topic(topic, 2, &[]).unwrap();
    let ops: Vec<ProduceOp> = (0..30)
        .map(|i| {
            ProduceOp::Record(ProducedRecord {
                partition: i % 2,
                value: Some(b"{}".to_vec()),
                ..ProducedRecord::default()
            })
        })
        .collect();
    broker
        .produce(topic, &ProducerSettings::default(), &ops)
        .unwrap();
    let config = Config {
        bootstrap: vec![broker.bootstrap.clone()],
        ..Config::default()
    };
    let reader = kbatch_reader::Reader::connect(config.clone()).unwrap();
    let plan = reader.plan(&ReadSpec::topics([topic])).unwrap();
    let outcome = reader.run(&plan, &Count, None).unwrap();
    assert_eq!(outcome.stats.iter().map(|s| s.records).sum::<u64>(), 30);
    let offsets = reader.offsets(&[topic.to_string()], None).unwrap();
    assert_eq!(offsets.iter().map(|o| o.latest).sum::<i64>(), 30);
    drop(reader);
    let whole = kbatch_reader::read(config, &ReadSpec::topics([topic]), &Count).unwrap();
    assert_eq!(whole.stats.iter().map(|s| s.records).sum::<u64>(), 30);
}
