//! Transactions (RELIABILITY.md cases 12 and 17): commits, an abort, non-transactional records,
//! and a commit marker as the very last offset; exact `records`/`aborted`/`control` under both
//! isolation levels, and the run terminates.

use kbatch_testkit::{ProduceOp, ProducerSettings};

use crate::common::*;

#[test]
fn commit_abort_mix_is_exact_under_both_isolation_levels() {
    let t = topic("txn");
    create_topic(&t, 1, &[]);
    let txn = ProducerSettings {
        transactional_id: Some(format!("{t}-tx")),
        ..ProducerSettings::default()
    };
    let value = |i: usize| format!(r#"{{"id":{i}}}"#);
    // T1 commits 100, T2 aborts 50.
    let mut ops = vec![ProduceOp::BeginTxn];
    ops.extend((0..100).map(|i| rec(0, None, &value(i))));
    ops.push(ProduceOp::CommitTxn);
    ops.push(ProduceOp::BeginTxn);
    ops.extend((100..150).map(|i| rec(0, None, &value(i))));
    ops.push(ProduceOp::AbortTxn);
    produce(&t, &txn, &ops);
    // 10 non-transactional records from another producer.
    let plain: Vec<_> = (150..160)
        .map(|i| rec(0, Some("plain"), &value(i)))
        .collect();
    produce(&t, &ProducerSettings::default(), &plain);
    // T3 commits 100: its commit marker is the last offset of the partition.
    let mut ops = vec![ProduceOp::BeginTxn];
    ops.extend((160..260).map(|i| rec(0, None, &value(i))));
    ops.push(ProduceOp::CommitTxn);
    produce(&t, &txn, &ops);

    let offsets = kbatch(&["offsets", "--topic", &t]).json();
    let p = &offsets["partitions"][0];
    // 260 records + 3 markers.
    assert_eq!(p["latest"].as_i64(), Some(263), "{offsets}");
    assert_eq!(p["last_stable"].as_i64(), Some(263));
    assert_eq!(p["earliest"].as_i64(), Some(0));

    let committed = kbatch(&["count", "--topic", &t]).json();
    assert_eq!(
        partitions(&committed),
        vec![(0, 0, 263, 210, 50, 3)],
        "{committed}"
    );
    let uncommitted = kbatch(&["count", "--topic", &t, "--isolation", "read_uncommitted"]).json();
    assert_eq!(
        partitions(&uncommitted),
        vec![(0, 0, 263, 260, 0, 3)],
        "{uncommitted}"
    );

    // The aborted values never appear under read_committed; control records never appear.
    let dump = kbatch(&["dump", "--topic", &t]);
    assert_eq!(dump.code, 0, "{}", dump.stderr);
    let ids = dumped_ids(&dump.stdout);
    let expected: Vec<u64> = (0..100).chain(150..260).collect();
    assert_eq!(ids, expected);

    // A range ending just before the final commit marker, and one ending on it.
    let before = kbatch(&["count", "--topic", &t, "--to", "262"]).json();
    assert_eq!(partitions(&before), vec![(0, 0, 262, 210, 50, 2)]);
}

#[test]
fn open_transaction_end_is_named() {
    // RELIABILITY.md case 16, at planning time: an explicit end beyond the LSO under
    // read_committed is an error naming the open transaction; read_uncommitted reads it.
    let t = topic("open-txn");
    create_topic(&t, 1, &[]);
    let plain: Vec<_> = (0..5).map(|i| rec(0, None, &format!("{i}"))).collect();
    produce(&t, &ProducerSettings::default(), &plain);
    let txn = ProducerSettings {
        transactional_id: Some(format!("{t}-tx")),
        ..ProducerSettings::default()
    };
    // Begin and write, then the producer exits without closing (closing would abort): the
    // transaction stays open until the broker's transaction timeout.
    let mut ops = vec![ProduceOp::BeginTxn];
    ops.extend((0..3).map(|i| rec(0, None, &format!("open{i}"))));
    ops.push(ProduceOp::ExitWithoutClose);
    produce(&t, &txn, &ops);

    let offsets = kbatch(&["offsets", "--topic", &t]).json();
    let p = &offsets["partitions"][0];
    assert_eq!(p["latest"].as_i64(), Some(8), "{offsets}");
    assert_eq!(p["last_stable"].as_i64(), Some(5), "{offsets}");

    let committed = kbatch(&["count", "--topic", &t]).json();
    assert_eq!(partitions(&committed), vec![(0, 0, 5, 5, 0, 0)]);
    let bad = kbatch(&["count", "--topic", &t, "--to", "7"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stdout.is_empty());
    assert!(
        bad.stderr.contains("transaction is still open"),
        "{}",
        bad.stderr
    );
    let uncommitted = kbatch(&["count", "--topic", &t, "--isolation", "read_uncommitted"]).json();
    assert_eq!(partitions(&uncommitted), vec![(0, 0, 8, 8, 0, 0)]);
}
