//! The embedding example (`examples/views_per_customer.rs`) against a real broker: records
//! older than an hour are produced first (timestamps select offset ranges), then recent ones;
//! the example must count exactly the recent views per customer.

#[path = "../examples/views_per_customer.rs"]
mod example;

use std::collections::BTreeMap;

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
