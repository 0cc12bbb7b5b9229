//! The policy, replayed case by case: what one partition's answer means (a table), and how a
//! whole response is matched to what was asked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kbatch_records::testenc::{Batch, Rec};
use kbatch_wire::{codes, FetchPartitionResponse, FetchResponse};

use super::*;
use crate::backoff::Budget;

pub(crate) fn cursor(idx: usize, partition: i32, next: i64, end: i64) -> Cursor {
    Cursor {
        idx,
        topic: Arc::from("t"),
        partition,
        next,
        end,
        leader_epoch: 5,
        last_epoch: 4,
        budget: Budget::new(Instant::now(), Duration::from_secs(30)),
        cause: Cause::None,
        reroutes: 0,
    }
}

/// Batch `[base, base + n)` of `n` one-byte-ish records, written in leader epoch `epoch`.
pub(crate) fn batch(base: i64, n: i32, epoch: i32) -> Vec<u8> {
    let recs: Vec<Rec> = (0..n).map(|d| Rec::value(d, "{}")).collect();
    let mut b = Batch::plain(base, &recs);
    b.partition_leader_epoch = epoch;
    b.encode()
}

pub(crate) fn part(partition: i32, records: Vec<u8>, hwm: i64) -> FetchPartitionResponse {
    FetchPartitionResponse {
        partition,
        error_code: codes::NONE,
        high_watermark: hwm,
        last_stable_offset: hwm,
        log_start_offset: 0,
        aborted_transactions: vec![],
        preferred_read_replica: -1,
        diverging_epoch: None,
        records: Bytes::from(records),
    }
}

fn summary(step: &Step) -> String {
    match step {
        Step::Deliver {
            work,
            next,
            last_epoch,
        } => format!(
            "deliver {} bytes, next {next}, epoch {last_epoch}",
            work.bytes.len()
        ),
        Step::Wait(c) => format!("wait: {c:?}"),
        Step::Retry(c) => format!("retry: {c:?}"),
        Step::Reroute(c) => format!("reroute: {c:?}"),
        Step::Fail(e) => format!("fail: {e}"),
    }
}

const RC: Ctx<'static> = Ctx {
    broker: "node 1 (b:1)",
    isolation_level: 1,
};

#[test]
fn one_partition_table() {
    let b10 = batch(10, 5, 7); // offsets 10..15, epoch 7
    let b15 = batch(15, 5, 8);
    let two: Vec<u8> = [b10.clone(), b15.clone()].concat();
    let cut = two[..two.len() - 5].to_vec();
    let mut corrupt = b10.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let with = |f: &dyn Fn(&mut FetchPartitionResponse)| {
        let mut p = part(0, vec![], 100);
        f(&mut p);
        p
    };
    let code = |c: i16| with(&|p| p.error_code = c);

    // (what, cursor next, cursor end, isolation, response, expected summary)
    let rows: Vec<(&str, i64, i64, i8, FetchPartitionResponse, String)> = vec![
        ("two complete batches", 10, 100, 1, part(0, two.clone(), 100),
            format!("deliver {} bytes, next 20, epoch 8", two.len())),
        ("a truncated trailing batch is cut off", 10, 100, 1, part(0, cut.clone(), 100),
            format!("deliver {} bytes, next 15, epoch 7", b10.len())),
        ("only a partial batch: no progress, no error", 10, 100, 1, part(0, b10[..30].to_vec(), 100),
            "wait: NoProgress { bytes: 30 }".into()),
        ("batches all below the cursor (RELIABILITY 30)", 20, 100, 1, part(0, b10.clone(), 100),
            format!("wait: NoProgress {{ bytes: {} }}", b10.len())),
        ("empty, HWM at the cursor below the end: lag or truncation", 40, 100, 0, part(0, vec![], 40),
            "wait: StableBehind { stable: 40 }".into()),
        ("empty, HWM below the cursor", 40, 100, 0, part(0, vec![], 30),
            "wait: StableBehind { stable: 30 }".into()),
        ("empty but data exists: starved this time", 40, 100, 0, part(0, vec![], 90),
            "wait: NoProgress { bytes: 0 }".into()),
        ("read_committed: the LSO is what counts", 40, 100, 1,
            with(&|p| p.last_stable_offset = 40),
            "wait: StableBehind { stable: 40 }".into()),
        ("read_uncommitted: the HWM is what counts", 40, 100, 0,
            with(&|p| p.last_stable_offset = 40),
            "wait: NoProgress { bytes: 0 }".into()),
        ("NOT_LEADER_OR_FOLLOWER", 10, 100, 1, code(codes::NOT_LEADER_OR_FOLLOWER),
            "reroute: Kafka(\"NOT_LEADER_OR_FOLLOWER\")".into()),
        ("FENCED_LEADER_EPOCH", 10, 100, 1, code(codes::FENCED_LEADER_EPOCH),
            "reroute: Kafka(\"FENCED_LEADER_EPOCH\")".into()),
        ("UNKNOWN_LEADER_EPOCH", 10, 100, 1, code(codes::UNKNOWN_LEADER_EPOCH),
            "reroute: Kafka(\"UNKNOWN_LEADER_EPOCH\")".into()),
        ("KAFKA_STORAGE_ERROR", 10, 100, 1, code(codes::KAFKA_STORAGE_ERROR),
            "reroute: Kafka(\"KAFKA_STORAGE_ERROR\")".into()),
        ("REPLICA_NOT_AVAILABLE", 10, 100, 1, code(codes::REPLICA_NOT_AVAILABLE),
            "reroute: Kafka(\"REPLICA_NOT_AVAILABLE\")".into()),
        ("OFFSET_NOT_AVAILABLE", 10, 100, 1, code(codes::OFFSET_NOT_AVAILABLE),
            "reroute: Kafka(\"OFFSET_NOT_AVAILABLE\")".into()),
        ("UNKNOWN_TOPIC_OR_PARTITION (deleted, or not yet known)", 10, 100, 1,
            code(codes::UNKNOWN_TOPIC_OR_PARTITION),
            "reroute: Kafka(\"UNKNOWN_TOPIC_OR_PARTITION\")".into()),
        ("CORRUPT_MESSAGE is retried on the same broker", 10, 100, 1, code(codes::CORRUPT_MESSAGE),
            "retry: Kafka(\"CORRUPT_MESSAGE\")".into()),
        ("REQUEST_TIMED_OUT", 10, 100, 1, code(codes::REQUEST_TIMED_OUT),
            "retry: Kafka(\"REQUEST_TIMED_OUT\")".into()),
        ("retention moved the log start past the cursor", 10, 100, 1,
            with(&|p| { p.error_code = codes::OFFSET_OUT_OF_RANGE; p.log_start_offset = 50; }),
            "fail: t/0: offsets [10, 50) of the range are no longer in the log (log start 50, high watermark 100); nothing was skipped".into()),
        ("the cursor is past the HWM", 60, 100, 1,
            with(&|p| { p.error_code = codes::OFFSET_OUT_OF_RANGE; p.high_watermark = 40; }),
            "fail: t/0: offsets [60, 100) of the range are no longer in the log (log start 0, high watermark 40); nothing was skipped".into()),
        ("authorization is fatal", 10, 100, 1, code(codes::TOPIC_AUTHORIZATION_FAILED),
            "fail: t/0: Fetch failed: TOPIC_AUTHORIZATION_FAILED (Kafka error 29)".into()),
        ("an unknown code is fatal", 10, 100, 1, code(999),
            "fail: t/0: Fetch failed: UNKNOWN_ERROR_CODE (Kafka error 999)".into()),
        ("KIP-320 diverging epoch: truncated below what was read", 40, 100, 1,
            with(&|p| p.diverging_epoch = Some((4, 33))),
            "fail: t/0: log truncated below offset 40 on broker node 1 (b:1) (the leader's epoch 4 ends at offset 33, below the 40 already read (last fetched epoch 4)); nothing was skipped".into()),
        ("a preferred-replica hint: records not trusted", 10, 100, 1,
            with(&|p| { p.preferred_read_replica = 2; p.records = Bytes::from(b10.clone()); }),
            "wait: PreferredReplica(2)".into()),
        ("a CRC mismatch fails naming the batch", 10, 100, 1, part(0, corrupt.clone(), 100),
            "fail: t/0 from broker node 1 (b:1): ".into()),
    ];
    for (what, next, end, iso, p, want) in rows {
        let c = cursor(0, 0, next, end);
        let ctx = Ctx {
            isolation_level: iso,
            ..RC
        };
        let got = summary(&partition_step(&c, &p, ctx));
        assert!(got.starts_with(&want), "{what}:\n got {got}\nwant {want}");
    }
}

fn response(parts: Vec<FetchPartitionResponse>) -> FetchResponse {
    FetchResponse {
        throttle_time_ms: 0,
        error_code: codes::NONE,
        session_id: 0,
        topics: vec![("t".into(), parts)],
    }
}

#[test]
fn a_partition_listed_twice_counts_once() {
    let cursors = vec![cursor(0, 0, 10, 100), cursor(1, 1, 0, 100)];
    let asked = [(0, 10), (1, 0)];
    let resp = response(vec![
        part(0, batch(10, 5, 1), 100),
        part(0, batch(10, 5, 1), 100),
        part(1, batch(0, 3, 1), 100),
    ]);
    let steps = response_steps(&cursors, &asked, &resp, RC).unwrap();
    let got: Vec<(usize, String)> = steps.iter().map(|(i, s)| (*i, summary(s))).collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, 0);
    assert!(got[0].1.contains("next 15"), "{got:?}");
    assert_eq!(got[1].0, 1);
    assert!(got[1].1.contains("next 3"), "{got:?}");
}

#[test]
fn a_partition_listed_twice_is_decided_and_delivered_by_its_first_copy() {
    // Whatever the second copy holds, the first decides the step, and the step carries the
    // first copy's complete batches (exactly the bytes walked) and its own aborted list.
    let b10 = batch(10, 5, 1);
    let two: Vec<u8> = [b10.clone(), batch(15, 5, 1)].concat();
    let other: Vec<u8> = [batch(10, 5, 99), batch(15, 5, 99), batch(20, 5, 99)].concat();
    let mut corrupt = b10.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let with_aborted = |mut p: FetchPartitionResponse, list: Vec<(i64, i64)>| {
        p.aborted_transactions = list;
        p
    };
    let code = |c: i16| {
        let mut p = part(0, vec![], 100);
        p.error_code = c;
        p
    };
    // (what, first copy, second copy, expected summary, expected bytes, expected aborted)
    type Row = (
        &'static str,
        FetchPartitionResponse,
        FetchPartitionResponse,
        String,
        Vec<u8>,
        Vec<(i64, i64)>,
    );
    let rows: Vec<Row> = vec![
        (
            "a shorter second copy",
            part(0, two.clone(), 100),
            part(0, two[..20].to_vec(), 100),
            format!("deliver {} bytes, next 20, epoch 1", two.len()),
            two.clone(),
            vec![],
        ),
        (
            "a longer second copy, other data",
            part(0, b10.clone(), 100),
            part(0, other.clone(), 100),
            format!("deliver {} bytes, next 15, epoch 1", b10.len()),
            b10.clone(),
            vec![],
        ),
        (
            "a second copy with its own aborted list",
            with_aborted(part(0, two.clone(), 100), vec![(3, 12)]),
            with_aborted(part(0, other.clone(), 100), vec![(7, 10), (8, 11)]),
            format!("deliver {} bytes, next 20, epoch 1", two.len()),
            two.clone(),
            vec![(3, 12)],
        ),
        (
            "the first copy's aborted list even when the second has none",
            with_aborted(part(0, b10.clone(), 100), vec![(3, 12)]),
            part(0, b10.clone(), 100),
            format!("deliver {} bytes, next 15, epoch 1", b10.len()),
            b10.clone(),
            vec![(3, 12)],
        ),
        (
            "a first copy with a cut-off batch: its complete prefix only",
            part(0, two[..two.len() - 5].to_vec(), 100),
            part(0, two.clone(), 100),
            format!("deliver {} bytes, next 15, epoch 1", b10.len()),
            b10.clone(),
            vec![],
        ),
        (
            "a corrupt second copy is never walked",
            part(0, b10.clone(), 100),
            part(0, corrupt.clone(), 100),
            format!("deliver {} bytes, next 15, epoch 1", b10.len()),
            b10.clone(),
            vec![],
        ),
        (
            "a corrupt first copy fails, however good the second",
            part(0, corrupt.clone(), 100),
            part(0, b10.clone(), 100),
            "fail: t/0 from broker node 1 (b:1): ".into(),
            vec![],
            vec![],
        ),
        (
            "an error first, data second: the error counts",
            code(codes::NOT_LEADER_OR_FOLLOWER),
            part(0, b10.clone(), 100),
            "reroute: Kafka(\"NOT_LEADER_OR_FOLLOWER\")".into(),
            vec![],
            vec![],
        ),
        (
            "data first, an error second: the data counts",
            part(0, b10.clone(), 100),
            code(codes::TOPIC_AUTHORIZATION_FAILED),
            format!("deliver {} bytes, next 15, epoch 1", b10.len()),
            b10.clone(),
            vec![],
        ),
        (
            "nothing first, data second: wait",
            part(0, vec![], 100),
            part(0, b10.clone(), 100),
            "wait: NoProgress { bytes: 0 }".into(),
            vec![],
            vec![],
        ),
    ];
    let cursors = vec![cursor(0, 0, 10, 100)];
    let asked = [(0, 10)];
    for (what, first, second, want, bytes, aborted) in rows {
        let resp = response(vec![first, second]);
        let steps = response_steps(&cursors, &asked, &resp, RC).unwrap();
        assert_eq!(steps.len(), 1, "{what}: {} steps", steps.len());
        let (idx, step) = &steps[0];
        assert_eq!(*idx, 0, "{what}");
        let got = summary(step);
        assert!(got.starts_with(&want), "{what}:\n got {got}\nwant {want}");
        if let Step::Deliver { work, .. } = step {
            assert_eq!(work.partition, 0, "{what}");
            assert_eq!(
                &work.bytes[..],
                &bytes[..],
                "{what}: not the first copy's bytes"
            );
            let got: Vec<(i64, i64)> = work
                .aborted
                .iter()
                .map(|a| (a.producer_id, a.first_offset))
                .collect();
            assert_eq!(got, aborted, "{what}: not the first copy's aborted list");
        }
    }
}

#[test]
fn an_unrequested_partition_is_a_protocol_error_naming_the_broker() {
    // Partition 1 is this loop's, but joined after the request went out.
    let cursors = vec![cursor(0, 0, 10, 100), cursor(1, 1, 0, 100)];
    let asked = [(0, 10)];
    for resp in [
        response(vec![part(1, batch(0, 3, 1), 100)]),
        response(vec![part(7, batch(0, 3, 1), 100)]),
    ] {
        let err = response_steps(&cursors, &asked, &resp, RC).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("protocol error from broker node 1 (b:1)")
                && msg.contains("not requested"),
            "{msg}"
        );
    }
}

#[test]
fn an_answer_for_a_position_already_left_is_ignored_and_absent_ones_unmentioned() {
    let cursors = vec![cursor(0, 0, 15, 100), cursor(1, 1, 0, 100)];
    let asked = [(0, 10), (1, 0)];
    let resp = response(vec![part(0, batch(10, 5, 1), 100)]);
    assert!(response_steps(&cursors, &asked, &resp, RC)
        .unwrap()
        .is_empty());
}

#[test]
fn top_level_errors_apply_to_every_asked_partition() {
    let cursors = vec![cursor(0, 0, 10, 100), cursor(1, 1, 0, 100)];
    let asked = [(0, 10), (1, 0)];
    let mut resp = response(vec![]);
    resp.error_code = codes::NOT_LEADER_OR_FOLLOWER;
    let steps = response_steps(&cursors, &asked, &resp, RC).unwrap();
    assert_eq!(steps.len(), 2);
    assert!(steps.iter().all(|(_, s)| matches!(s, Step::Reroute(_))));
    resp.error_code = codes::REQUEST_TIMED_OUT;
    let steps = response_steps(&cursors, &asked, &resp, RC).unwrap();
    assert!(steps.iter().all(|(_, s)| matches!(s, Step::Retry(_))));
    resp.error_code = codes::CLUSTER_AUTHORIZATION_FAILED;
    let msg = response_steps(&cursors, &asked, &resp, RC)
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "broker node 1 (b:1): Fetch failed with CLUSTER_AUTHORIZATION_FAILED (Kafka error 31)"
    );
}
