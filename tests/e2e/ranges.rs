//! Ranges: per-partition offsets, a mid-batch start, `@timestamp` start and end with
//! producer-set timestamps, empty partitions, an empty range: exact counts, and the run ends.

use kbatch_testkit::{ProduceOp, ProducedRecord, ProducerSettings};

use crate::common::*;

const BASE_TS: i64 = 1_700_000_000_000;

/// Partition 0: 200 records with timestamps BASE + i s; partition 1: 50; partition 2: empty.
fn setup() -> String {
    let t = topic("ranges");
    create_topic(&t, 3, &[]);
    let mut ops = Vec::new();
    for i in 0..200i64 {
        ops.push(ProduceOp::Record(ProducedRecord {
            partition: 0,
            timestamp: Some(BASE_TS + i * 1000),
            value: Some(format!(r#"{{"id":{i}}}"#).into_bytes()),
            ..ProducedRecord::default()
        }));
    }
    for i in 0..50i64 {
        ops.push(ProduceOp::Record(ProducedRecord {
            partition: 1,
            timestamp: Some(BASE_TS + i * 1000),
            value: Some(format!(r#"{{"id":{}}}"#, 1000 + i).into_bytes()),
            ..ProducedRecord::default()
        }));
    }
    // A long linger and big batches put many records in one batch, so starts fall mid-batch.
    let settings = ProducerSettings {
        linger_ms: Some(200),
        batch_size: Some(1 << 20),
        compression: Some("gzip".into()),
        ..ProducerSettings::default()
    };
    let produced = produce(&t, &settings, &ops);
    assert_eq!(
        produced
            .iter()
            .filter(|p| p.partition == 0)
            .map(|p| p.offset)
            .max(),
        Some(199)
    );
    t
}

fn records_of(doc: &serde_json::Value) -> Vec<(i64, i64, i64, u64)> {
    partitions(doc)
        .into_iter()
        .map(|(p, s, e, r, _, _)| (p, s, e, r))
        .collect()
}

#[test]
fn ranges_are_exact() {
    let t = setup();

    // Whole topic, empty partition included.
    let all = kbatch(&["count", "--topic", &t]).json();
    assert_eq!(
        records_of(&all),
        vec![(0, 0, 200, 200), (1, 0, 50, 50), (2, 0, 0, 0)]
    );

    // Per-partition offsets; the others keep their defaults.
    let some = kbatch(&[
        "count", "--topic", &t, "--from", "0:17,1:5", "--to", "0:120",
    ])
    .json();
    assert_eq!(
        records_of(&some),
        vec![(0, 17, 120, 103), (1, 5, 50, 45), (2, 0, 0, 0)]
    );

    // Topic-qualified and Spark JSON forms.
    let spark = format!(r#"{{"{t}":{{"0":23,"1":-2}}}}"#);
    let s = kbatch(&[
        "count",
        "--topic",
        &t,
        "--from",
        &spark,
        "--to",
        &format!("{t}:1:10"),
    ])
    .json();
    assert_eq!(
        records_of(&s),
        vec![(0, 23, 200, 177), (1, 0, 10, 10), (2, 0, 0, 0)]
    );

    // A mid-batch start and end, exact offsets in the dump.
    let d = kbatch(&[
        "dump",
        "--topic",
        &t,
        "--partitions",
        "0",
        "--from",
        "5",
        "--to",
        "8",
    ]);
    assert_eq!(d.code, 0, "{}", d.stderr);
    let offsets: Vec<i64> = d
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["offset"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(offsets, vec![5, 6, 7]);
    let first: serde_json::Value = serde_json::from_str(d.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["timestamp"].as_i64(), Some(BASE_TS + 5000));
    assert_eq!(first["value"].as_str(), Some(r#"{"id":5}"#));

    // Timestamps: [BASE+10s, BASE+20s) selects offsets 10..20 in partition 0 and 1.
    let from = format!("@{}", BASE_TS + 10_000);
    let to = format!("@{}", BASE_TS + 20_000);
    let ts = kbatch(&["count", "--topic", &t, "--from", &from, "--to", &to]).json();
    assert_eq!(
        records_of(&ts),
        vec![(0, 10, 20, 10), (1, 10, 20, 10), (2, 0, 0, 0)]
    );

    // A timestamp past every record: latest. RFC 3339 form of BASE_TS + 100 s.
    let rfc = kbatch(&["count", "--topic", &t, "--from", "@2023-11-14T22:15:00Z"]).json();
    assert_eq!(
        records_of(&rfc),
        vec![(0, 100, 200, 100), (1, 50, 50, 0), (2, 0, 0, 0)]
    );

    // An empty range.
    let empty = kbatch(&["count", "--topic", &t, "--from", "latest"]).json();
    assert_eq!(empty["records"].as_u64(), Some(0));

    // Relative times select by record timestamps: these records are from 2023.
    let recent = kbatch(&["count", "--topic", &t, "--from=-1h"]).json();
    assert_eq!(recent["records"].as_u64(), Some(0));
}

#[test]
fn deleted_records_move_earliest_and_are_never_reset_to() {
    // RELIABILITY.md case 22 at planning time: after kafka-delete-records, `earliest` starts at
    // the new log start, and an explicit offset below it is an error naming the range.
    let t = topic("deleted");
    create_topic(&t, 1, &[]);
    let ops: Vec<_> = (0..100).map(|i| rec(0, None, &format!("{i}"))).collect();
    produce(&t, &kbatch_testkit::ProducerSettings::default(), &ops);
    broker().delete_records(&t, 0, 60).expect("delete-records");
    let all = kbatch(&["count", "--topic", &t]).json();
    assert_eq!(records_of(&all), vec![(0, 60, 100, 40)]);
    let r = kbatch(&["count", "--topic", &t, "--from", "0"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("[60, 100]"), "{}", r.stderr);
}
