//! Fetch sizes against what the log holds (RELIABILITY.md cases 3, 4 and 13): a batch larger
//! than every fetch size still comes whole (KIP-74); a partition whose batch does not fit
//! behind another partition's data still gets its turn; an aborted transaction spanning many
//! small fetches is filtered exactly, its marker arriving in a later response.

use kbatch_testkit::{ProduceOp, ProducerSettings};

use crate::common::*;

const MB: usize = 1 << 20;

fn big_settings() -> ProducerSettings {
    ProducerSettings {
        extra: vec![
            ("max.request.size".into(), (8 * MB).to_string()),
            ("buffer.memory".into(), (64 * MB).to_string()),
        ],
        ..ProducerSettings::default()
    }
}

#[test]
fn a_batch_larger_than_every_fetch_size_comes_whole() {
    // Case 3: one 5 MiB record, fetch sizes of 1 MiB.
    let t = topic("bigbatch");
    create_topic(&t, 1, &[("max.message.bytes", "8388608")]);
    let value = "x".repeat(5 * MB);
    produce(&t, &big_settings(), &[rec(0, Some("big"), &value)]);
    let small = [
        "--partition-max-bytes",
        "1048576",
        "--fetch-max-bytes",
        "1048576",
    ];
    let mut args = vec!["count", "--topic", &t];
    args.extend(small);
    let doc = kbatch(&args).json();
    assert_eq!(partitions(&doc), vec![(0, 0, 1, 1, 0, 0)], "{doc}");
    let mut args = vec!["dump", "--topic", &t];
    args.extend(small);
    let dump = kbatch(&args);
    assert_eq!(dump.code, 0, "{}", dump.stderr);
    let line: serde_json::Value = serde_json::from_str(dump.stdout.trim()).unwrap();
    assert_eq!(line["value"].as_str().map(str::len), Some(5 * MB));
}

#[test]
fn a_partition_behind_a_full_response_still_gets_its_turn() {
    // Case 4: partition 0 has many small records, partition 1 one 3 MiB batch; with 1 MiB
    // per partition and per response, partition 1's batch never fits behind partition 0's data.
    let t = topic("turns");
    create_topic(&t, 2, &[("max.message.bytes", "8388608")]);
    let small: Vec<ProduceOp> = (0..3000)
        .map(|i| {
            rec(
                0,
                None,
                &format!("{{\"id\":{i},\"pad\":\"{}\"}}", "p".repeat(900)),
            )
        })
        .collect();
    produce(&t, &ProducerSettings::default(), &small);
    produce(&t, &big_settings(), &[rec(1, None, &"y".repeat(3 * MB))]);
    let doc = kbatch(&[
        "count",
        "--topic",
        &t,
        "--partition-max-bytes",
        "1048576",
        "--fetch-max-bytes",
        "1048576",
    ])
    .json();
    assert_eq!(
        partitions(&doc),
        vec![(0, 0, 3000, 3000, 0, 0), (1, 0, 1, 1, 0, 0)],
        "{doc}"
    );
}

#[test]
fn an_aborted_transaction_larger_than_one_fetch_is_filtered_exactly() {
    // Case 13: ~2 MiB aborted, then 100 committed, fetched 16 KiB at a time.
    let t = topic("bigabort");
    create_topic(&t, 1, &[]);
    let txn = ProducerSettings {
        transactional_id: Some(format!("{t}-tx")),
        ..ProducerSettings::default()
    };
    let pad = "a".repeat(1000);
    let mut ops = vec![ProduceOp::BeginTxn];
    ops.extend((0..2000).map(|i| rec(0, None, &format!("{{\"id\":{i},\"pad\":\"{pad}\"}}"))));
    ops.push(ProduceOp::AbortTxn);
    ops.push(ProduceOp::BeginTxn);
    ops.extend((2000..2100).map(|i| rec(0, None, &format!("{{\"id\":{i}}}"))));
    ops.push(ProduceOp::CommitTxn);
    produce(&t, &txn, &ops);
    let small = [
        "--partition-max-bytes",
        "16384",
        "--fetch-max-bytes",
        "16384",
    ];
    let mut args = vec!["count", "--topic", &t];
    args.extend(small);
    let doc = kbatch(&args).json();
    // 2100 records + 2 markers.
    assert_eq!(partitions(&doc), vec![(0, 0, 2102, 100, 2000, 2)], "{doc}");
    let mut args = vec!["dump", "--topic", &t];
    args.extend(small);
    let dump = kbatch(&args);
    assert_eq!(dump.code, 0, "{}", dump.stderr);
    let ids = dumped_ids(&dump.stdout);
    assert_eq!(ids, (2000..2100).collect::<Vec<u64>>());
}
