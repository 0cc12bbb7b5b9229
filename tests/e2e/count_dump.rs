//! Every codec, 5 partitions with uneven counts: `count` per partition equals what was
//! produced, and `dump` returns exactly the produced (partition, key, value) multiset.

use std::collections::BTreeMap;

use kbatch_testkit::{ProduceOp, ProducedRecord, ProducerSettings};

use crate::common::*;

const COUNTS: [usize; 5] = [23, 301, 0, 57, 1250];

fn check_codec(codec: &str) {
    let t = topic(&format!("codec-{codec}"));
    // The topic-level name of "no compression" is `uncompressed`; the producer's is `none`.
    let topic_codec = if codec == "none" {
        "uncompressed"
    } else {
        codec
    };
    create_topic(&t, 5, &[("compression.type", topic_codec)]);
    let mut ops = Vec::new();
    let mut expected: BTreeMap<(i64, Option<String>, Option<String>), usize> = BTreeMap::new();
    let mut id = 0u64;
    for (p, &n) in COUNTS.iter().enumerate() {
        for i in 0..n {
            id += 1;
            let key = (i % 7 != 0).then(|| format!("k{}", i % 13));
            let value = format!(r#"{{"id":{id},"p":{p},"pad":"{}"}}"#, "x".repeat(i % 40));
            let headers = if i % 5 == 0 {
                vec![("h".to_string(), Some(b"v".to_vec()))]
            } else {
                vec![]
            };
            ops.push(ProduceOp::Record(ProducedRecord {
                partition: p as i32,
                key: key.as_ref().map(|k| k.as_bytes().to_vec()),
                value: Some(value.as_bytes().to_vec()),
                headers,
                ..ProducedRecord::default()
            }));
            *expected.entry((p as i64, key, Some(value))).or_default() += 1;
        }
    }
    let settings = ProducerSettings {
        compression: Some(codec.to_string()),
        linger_ms: Some(20),
        ..ProducerSettings::default()
    };
    let produced = produce(&t, &settings, &ops);
    assert_eq!(produced.len(), COUNTS.iter().sum::<usize>());

    let count = kbatch(&["count", "--topic", &t]).json();
    let parts = partitions(&count);
    assert_eq!(parts.len(), 5, "{count}");
    for (p, start, end, records, aborted, control) in parts {
        assert_eq!(
            records as usize, COUNTS[p as usize],
            "{codec}: partition {p}"
        );
        assert_eq!(
            (start, end),
            (0, COUNTS[p as usize] as i64),
            "{codec}: partition {p}"
        );
        assert_eq!((aborted, control), (0, 0));
    }
    assert_eq!(
        count["records"].as_u64(),
        Some(COUNTS.iter().sum::<usize>() as u64)
    );

    let dump = kbatch(&["dump", "--topic", &t]);
    assert_eq!(dump.code, 0, "{}", dump.stderr);
    let mut got: BTreeMap<(i64, Option<String>, Option<String>), usize> = BTreeMap::new();
    let mut last_offset: BTreeMap<i64, i64> = BTreeMap::new();
    for line in dump.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("dump line is JSON");
        assert_eq!(v["topic"].as_str(), Some(t.as_str()));
        let p = v["partition"].as_i64().unwrap();
        let offset = v["offset"].as_i64().unwrap();
        let prev = last_offset.insert(p, offset);
        assert!(
            prev.is_none_or(|prev| prev < offset),
            "offsets increase per partition"
        );
        let key = v["key"].as_str().map(String::from);
        let value = v["value"].as_str().map(String::from);
        *got.entry((p, key, value)).or_default() += 1;
    }
    assert_eq!(got, expected, "{codec}: dump multiset");
}

#[test]
fn every_codec_counts_and_dumps_exactly() {
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        check_codec(codec);
    }
}
