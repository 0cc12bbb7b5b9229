//! RELIABILITY case 9, live: the broker's log cleaner removes superseded records and leaves an
//! empty batch; kbatch reads exactly the survivors and completes at the high watermark (a
//! partition is done by position, never by "last record seen").

use std::time::{Duration, Instant};

use kbatch_testkit::{ProduceOp, ProducedRecord, ProducerSettings};

use crate::common::*;

const KEYS: usize = 20;
const VERSIONS: usize = 10;

/// Record `i`: key `k{i % KEYS}`, value `{"i":i}`, except the very last version of the last
/// key, a tombstone.
fn op(i: usize) -> ProduceOp {
    let n = KEYS * VERSIONS;
    ProduceOp::Record(ProducedRecord {
        partition: 0,
        key: Some(format!("k{}", i % KEYS).into_bytes()),
        value: (i != n - 1).then(|| format!(r#"{{"i":{i}}}"#).into_bytes()),
        ..ProducedRecord::default()
    })
}

#[test]
fn compacted_partition_reads_exactly_the_survivors() {
    let t = topic("compacted");
    create_topic(
        &t,
        1,
        &[
            ("cleanup.policy", "compact"),
            ("segment.ms", "100"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("min.compaction.lag.ms", "0"),
            ("delete.retention.ms", "86400000"),
        ],
    );
    let n = KEYS * VERSIONS;
    // Two producers (one batch each): the first one's batch loses every record.
    let one_batch = ProducerSettings {
        linger_ms: Some(1000),
        ..ProducerSettings::default()
    };
    for range in [0..n / 2, n / 2..n] {
        let mut ops: Vec<ProduceOp> = range.map(op).collect();
        ops.push(ProduceOp::Flush);
        produce(&t, &one_batch, &ops);
    }
    // Older than segment.ms: this append rolls the segment, so offsets 0..n can be cleaned.
    std::thread::sleep(Duration::from_millis(1500));
    produce(&t, &ProducerSettings::default(), &[op(n)]);

    // Survivors: the last version of every key (one a tombstone) and the record after the roll.
    let survivors: Vec<i64> = ((n - KEYS) as i64..=n as i64).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    let count = loop {
        let doc = kbatch(&["count", "--topic", &t]).json();
        if doc["records"].as_u64() == Some(survivors.len() as u64) {
            break doc;
        }
        assert!(
            Instant::now() < deadline,
            "the log cleaner never compacted {t}: {doc}\n{}",
            broker().log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        partitions(&count),
        vec![(0, 0, n as i64 + 1, survivors.len() as u64, 0, 0)],
        "{count}"
    );

    let dump = kbatch(&["dump", "--topic", &t]);
    assert_eq!(dump.code, 0, "{}", dump.stderr);
    let mut offsets = Vec::new();
    for line in dump.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("dump line is JSON");
        let offset = v["offset"].as_i64().unwrap();
        let i = offset as usize;
        assert_eq!(v["key"].as_str(), Some(format!("k{}", i % KEYS).as_str()));
        if i == n - 1 {
            assert!(v["value"].is_null(), "the tombstone is kept: {v}");
        } else {
            assert_eq!(
                v["value"].as_str(),
                Some(format!(r#"{{"i":{i}}}"#).as_str())
            );
        }
        offsets.push(offset);
    }
    assert_eq!(offsets, survivors);

    // A range that starts inside the gap the cleaner left: nothing below it is invented.
    let from = kbatch(&["count", "--topic", &t, "--from", "0:50"]).json();
    assert_eq!(
        from["records"].as_u64(),
        Some(survivors.len() as u64),
        "{from}"
    );
}
