//! RELIABILITY cases 24, 25, 30, 31 and 32 through the whole stack: kbatch's public
//! [`Reader`] API over real TCP to the testkit's scriptable mock broker, so the real
//! connection, planner, fetch driver and policy meet each scripted answer. A read either
//! delivers exactly the log's records or fails naming the partition, the broker and the cause.

use std::time::Duration;

use bytes::Bytes;
use kbatch_reader::{Config, Job, JobError, PartitionStats, ReadError, ReadSpec, Record};
use kbatch_testkit::mock::{self, codes, partition_mut, Api, MockBroker, Seen};

/// Every data record read, as `(partition, offset, value)`, sorted (duplicates kept).
struct Collect;

type Got = Vec<(i32, i64, Vec<u8>)>;

impl Job for Collect {
    type Partial = Vec<(usize, i64, Vec<u8>)>;
    type Output = Got;

    fn partial(&self) -> Self::Partial {
        Vec::new()
    }

    fn update(
        &self,
        partial: &mut Self::Partial,
        partition: usize,
        record: &Record<'_>,
    ) -> Result<(), JobError> {
        let value = record.value.unwrap_or_default().to_vec();
        partial.push((partition, record.offset, value));
        Ok(())
    }

    fn merge(&self, into: &mut Self::Partial, other: Self::Partial) {
        into.extend(other);
    }

    fn finish(&self, partial: Self::Partial, stats: &[PartitionStats]) -> Got {
        let mut out: Got = partial
            .into_iter()
            .map(|(i, o, v)| (stats[i].partition, o, v))
            .collect();
        out.sort();
        out
    }
}

/// A mock with topic `t` of `parts` partitions, each `batches` batches of 5 records; returns
/// the records it holds, as [`Collect`] reports them.
fn mock_with(parts: i32, batches: usize) -> (MockBroker, Got) {
    let mock = MockBroker::start();
    mock.add_topic("t", parts);
    let mut log = Got::new();
    for p in 0..parts {
        for b in 0..batches {
            let values: Vec<String> = (0..5).map(|i| format!("p{p}-b{b}-r{i}")).collect();
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            for (offset, v) in mock.produce("t", p, &refs) {
                log.push((p, offset, v));
            }
        }
    }
    log.sort();
    (mock, log)
}

/// Short budgets and backoffs; `one_batch`: one batch per partition per Fetch (a read of
/// several fetches even for a small log).
fn config(mock: &MockBroker, timeout_ms: u64, one_batch: bool) -> Config {
    Config {
        bootstrap: vec![mock.addr().to_string()],
        timeout: Duration::from_millis(timeout_ms),
        retry_backoff: Duration::from_millis(10),
        retry_backoff_max: Duration::from_millis(80),
        fetch_max_wait_ms: 10,
        partition_max_bytes: if one_batch { 1 } else { 1 << 20 },
        ..Config::default()
    }
}

fn read(config: Config) -> Result<Got, ReadError> {
    kbatch_reader::read(config, &ReadSpec::topics(["t"]), &Collect).map(|o| o.output)
}

/// `node 1 (127.0.0.1:PORT)`: how errors name the mock.
fn broker(mock: &MockBroker) -> String {
    format!("node 1 ({})", mock.addr())
}

fn assert_nothing_unexpected(mock: &MockBroker) {
    let unexpected = mock.unexpected();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}

/// Every partition of a Fetch answer.
fn each_partition(resp: &mut mock::FetchResponse, mut f: impl FnMut(&mut mock::PartitionData)) {
    for p in resp
        .responses
        .iter_mut()
        .flat_map(|t| t.partitions.iter_mut())
    {
        f(p);
    }
}

/// The lengths of the complete batches at the start of `records`.
fn batch_lengths(records: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = records;
    while rest.len() >= 12 {
        let len = i32::from_be_bytes(rest[8..12].try_into().unwrap()) as usize + 12;
        if len > rest.len() {
            break;
        }
        out.push(len);
        rest = &rest[len..];
    }
    out
}

fn records_of(p: &mock::PartitionData) -> Bytes {
    p.records.clone().unwrap_or_default()
}

// ---- case 24: retriable errors in sequence ----

#[test]
fn case24_retriable_errors_three_times_each_then_an_exact_read() {
    let (mock, log) = mock_with(2, 4);
    let script: Vec<i16> = [
        codes::NOT_LEADER_OR_FOLLOWER,
        codes::FENCED_LEADER_EPOCH,
        codes::UNKNOWN_LEADER_EPOCH,
        codes::KAFKA_STORAGE_ERROR,
        codes::REPLICA_NOT_AVAILABLE,
        codes::OFFSET_NOT_AVAILABLE,
        codes::REQUEST_TIMED_OUT,
    ]
    .iter()
    .flat_map(|&c| [c, c, c])
    .collect();
    // The first Fetch is answered normally, so the errors come mid-read.
    mock.push_errors(Api::Fetch, &[0]);
    mock.push_errors(Api::Fetch, &script);
    let metadata_before_read = 1 + 1; // connect, plan
    let got = read(config(&mock, 10_000, true)).unwrap();
    assert_eq!(got, log);
    assert_eq!(mock.scripts_left(Api::Fetch), 0);
    // 18 leader-class answers, each rerouted through Metadata, plus the final topic-id check.
    let metadata = mock.requests_of(Api::Metadata).len();
    assert!(
        metadata >= metadata_before_read + 7,
        "metadata asked {metadata} times"
    );
    assert_nothing_unexpected(&mock);
}

// ---- case 25: a persistent error ----

#[test]
fn case25_a_persistent_corrupt_message_ends_naming_partition_broker_and_code() {
    let (mock, _) = mock_with(1, 2);
    mock.script_fetch_always(|_, resp| {
        each_partition(resp, |p| {
            p.error_code = codes::CORRUPT_MESSAGE;
            p.records = Some(Bytes::new());
        })
    });
    let e = read(config(&mock, 700, false)).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("t/0 at offset 0: no progress for")
            && msg.contains(&format!("(broker {})", broker(&mock)))
            && msg.contains("CORRUPT_MESSAGE"),
        "{msg}"
    );
    // Paced: retries back off (10 ms doubling to 80 ms), not a hot loop over 0.7 s.
    let fetches = mock.requests_of(Api::Fetch).len();
    assert!((2..25).contains(&fetches), "{fetches} fetches");
    assert_nothing_unexpected(&mock);
}

#[test]
fn case25_a_persistent_leader_error_is_paced_and_bounded() {
    let (mock, _) = mock_with(1, 2);
    mock.script_fetch_always(|_, resp| {
        each_partition(resp, |p| {
            p.error_code = codes::NOT_LEADER_OR_FOLLOWER;
            p.records = Some(Bytes::new());
        })
    });
    let msg = read(config(&mock, 800, false)).unwrap_err().to_string();
    assert!(
        msg.starts_with("t/0 at offset 0: no progress for")
            && msg.contains("NOT_LEADER_OR_FOLLOWER"),
        "{msg}"
    );
    let (meta, fetches) = (
        mock.requests_of(Api::Metadata).len(),
        mock.requests_of(Api::Fetch).len(),
    );
    assert!(
        meta <= 30 && fetches <= 30,
        "metadata {meta}, fetches {fetches}"
    );
    assert_nothing_unexpected(&mock);
}

// ---- case 30: duplicate, unrequested and no-progress partitions ----

#[test]
fn case30_identical_duplicate_partitions_count_once() {
    let (mock, log) = mock_with(1, 4);
    mock.script_fetch(|_, resp| {
        let copy = resp.responses[0].partitions[0].clone();
        resp.responses[0].partitions.push(copy);
    });
    assert_eq!(read(config(&mock, 5_000, true)).unwrap(), log);
    assert_eq!(mock.scripts_left(Api::Fetch), 0);
    assert_nothing_unexpected(&mock);
}

/// A second copy of the partition, longer and with other data at the same offsets: only the
/// first copy may count, its bytes CRC-walked and delivered with its own aborted list.
#[test]
fn case30_a_duplicate_partition_with_other_longer_data_delivers_the_first_copy_only() {
    let (mock, log) = mock_with(1, 2);
    mock.script_fetch(|_, resp| {
        let mut copy = resp.responses[0].partitions[0].clone();
        // Same offsets, same lengths, other values; then one batch more.
        let mut other = mock::batch(
            0,
            &["xx-b0-r0", "xx-b0-r1", "xx-b0-r2", "xx-b0-r3", "xx-b0-r4"],
        );
        other.extend(mock::batch(5, &["xx-b1-r0"]));
        copy.records = Some(other.into());
        resp.responses[0].partitions.push(copy);
    });
    let got = read(config(&mock, 5_000, true)).unwrap();
    assert_eq!(got, log);
    assert_nothing_unexpected(&mock);
}

/// A second copy shorter than the first: slicing it by the first copy's length must not
/// panic, and the first copy counts.
#[test]
fn case30_a_duplicate_partition_with_shorter_data_delivers_the_first_copy_only() {
    let (mock, log) = mock_with(1, 2);
    mock.script_fetch(|_, resp| {
        let mut copy = resp.responses[0].partitions[0].clone();
        copy.records = Some(Bytes::from(mock::batch(0, &["x"])));
        resp.responses[0].partitions.push(copy);
    });
    let got = read(config(&mock, 5_000, false)).unwrap();
    assert_eq!(got, log);
    assert_nothing_unexpected(&mock);
}

#[test]
fn case30_an_unrequested_partition_is_a_protocol_error_naming_the_broker() {
    let (mock, _) = mock_with(1, 2);
    mock.script_fetch(|_, resp| {
        let mut stray = resp.responses[0].partitions[0].clone();
        stray.partition_index = 7;
        resp.responses[0].partitions.push(stray);
    });
    let msg = read(config(&mock, 5_000, false)).unwrap_err().to_string();
    assert!(
        msg.contains("Fetch response carries t/7, which was not requested")
            && msg.contains(&broker(&mock)),
        "{msg}"
    );
    assert_nothing_unexpected(&mock);
}

#[test]
fn case30_data_that_never_moves_the_cursor_backs_off_then_fails() {
    let (mock, _) = mock_with(1, 4);
    // The first Fetch reads batch 0; every later one gets batch 0 again.
    mock.push_errors(Api::Fetch, &[0]);
    mock.script_fetch_always(|_, resp| {
        each_partition(resp, |p| {
            p.records = Some(mock::batch(0, &["stale"]).into())
        })
    });
    let msg = read(config(&mock, 700, true)).unwrap_err().to_string();
    assert!(
        msg.contains("t/0 at offset 5")
            && msg.contains("no complete batch past the fetch position")
            && msg.contains(&broker(&mock)),
        "{msg}"
    );
    let fetches = mock.requests_of(Api::Fetch).len();
    assert!(
        (3..25).contains(&fetches),
        "{fetches} fetches: not backing off"
    );
    assert_nothing_unexpected(&mock);
}

// ---- case 31: high watermark regression and truncation ----

/// Answer as a leader whose high watermark fell to `hwm`: no records.
fn regressed(resp: &mut mock::FetchResponse, hwm: i64) {
    each_partition(resp, |p| {
        p.high_watermark = hwm;
        p.last_stable_offset = hwm;
        p.records = Some(Bytes::new());
    });
}

#[test]
fn case31_a_lagging_high_watermark_is_waited_for() {
    let (mock, log) = mock_with(1, 6);
    mock.push_errors(Api::Fetch, &[0, 0]);
    for _ in 0..4 {
        mock.script_fetch(|_, resp| regressed(resp, 5));
    }
    assert_eq!(read(config(&mock, 5_000, true)).unwrap(), log);
    assert_eq!(mock.scripts_left(Api::Fetch), 0);
    assert_nothing_unexpected(&mock);
}

#[test]
fn case31_a_high_watermark_that_never_comes_back_is_truncation() {
    let (mock, _) = mock_with(1, 6);
    mock.push_errors(Api::Fetch, &[0, 0]);
    mock.script_fetch_always(|_, resp| regressed(resp, 5));
    let msg = read(config(&mock, 600, true)).unwrap_err().to_string();
    assert!(
        msg.contains(&format!(
            "t/0: log truncated below offset 10 on broker {}",
            broker(&mock)
        )) && msg.contains("stayed at 5"),
        "{msg}"
    );
    assert_nothing_unexpected(&mock);
}

#[test]
fn case31_a_diverging_epoch_is_truncation_at_once() {
    let (mock, _) = mock_with(1, 6);
    mock.set_leader_epoch("t", 0, 2);
    mock.push_errors(Api::Fetch, &[0]);
    mock.script_fetch(|req, resp| {
        // KIP-320: the fetcher says its last batch was of epoch 1; the leader's epoch 1 ended
        // at offset 3.
        assert_eq!(req.topics[0].partitions[0].last_fetched_epoch, 1);
        each_partition(resp, |p| {
            p.diverging_epoch.epoch = 1;
            p.diverging_epoch.end_offset = 3;
            p.records = Some(Bytes::new());
        });
    });
    let msg = read(config(&mock, 5_000, true)).unwrap_err().to_string();
    assert!(
        msg.contains(&format!(
            "t/0: log truncated below offset 5 on broker {}",
            broker(&mock)
        )) && msg.contains("epoch 1 ends at offset 3"),
        "{msg}"
    );
    // At once: no retry after the diverging answer.
    assert_eq!(mock.requests_of(Api::Fetch).len(), 2);
    assert_nothing_unexpected(&mock);
}

// ---- case 32: throttling ----

#[test]
fn case32_every_throttle_is_honoured_and_the_read_is_exact() {
    let (mock, log) = mock_with(1, 4);
    mock.script_fetch_always(|_, resp| resp.throttle_time_ms = 60);
    assert_eq!(read(config(&mock, 5_000, true)).unwrap(), log);
    // No request to the throttled broker before its throttle elapsed: each Fetch comes at
    // least the throttle after the answer before it (lower bounds only).
    let fetches: Vec<Seen> = mock.requests_of(Api::Fetch);
    assert!(fetches.len() >= 4, "{} fetches", fetches.len());
    for w in fetches.windows(2) {
        let gap = w[1].at - w[0].at;
        assert!(
            gap >= Duration::from_millis(59),
            "a Fetch {gap:?} after a 60 ms throttle"
        );
    }
    assert_nothing_unexpected(&mock);
}

#[test]
fn case32_an_empty_throttled_answer_is_not_the_end() {
    let (mock, log) = mock_with(1, 4);
    mock.push_errors(Api::Fetch, &[0]);
    // KIP-219: a throttled broker answers at once, empty, and mutes the connection.
    mock.script_fetch(|_, resp| {
        resp.throttle_time_ms = 100;
        each_partition(resp, |p| p.records = Some(Bytes::new()));
    });
    assert_eq!(read(config(&mock, 5_000, true)).unwrap(), log);
    let fetches = mock.requests_of(Api::Fetch);
    assert!(fetches[2].at - fetches[1].at >= Duration::from_millis(99));
    assert_eq!(fetches[2].fetch_offsets(), fetches[1].fetch_offsets());
    assert_nothing_unexpected(&mock);
}

#[test]
fn case32_an_endless_throttle_ends_at_the_budget_as_throttled() {
    let (mock, _) = mock_with(1, 4);
    mock.script_fetch_always(|_, resp| {
        resp.throttle_time_ms = i32::MAX;
        each_partition(resp, |p| p.records = Some(Bytes::new()));
    });
    let msg = read(config(&mock, 700, true)).unwrap_err().to_string();
    assert!(
        msg.contains("t/0 at offset 0")
            && msg.contains("throttled by the broker for 2147483647 ms")
            && msg.contains(&broker(&mock)),
        "{msg}"
    );
    assert_eq!(
        mock.requests_of(Api::Fetch).len(),
        1,
        "asked again while throttled"
    );
    assert_nothing_unexpected(&mock);
}

// ---- truncated and lying record sets (cases 2, 6, 7 through the stack) ----

#[test]
fn records_cut_mid_batch_are_fetched_again_from_the_cut() {
    let (mock, log) = mock_with(2, 6);
    // Every answer holding more than one batch loses the last one's final 7 bytes.
    mock.script_fetch_always(|_, resp| {
        each_partition(resp, |p| {
            let records = records_of(p);
            if batch_lengths(&records).len() > 1 {
                p.records = Some(records.slice(..records.len() - 7));
            }
        })
    });
    assert_eq!(read(config(&mock, 5_000, false)).unwrap(), log);
    assert_nothing_unexpected(&mock);
}

#[test]
fn a_bad_crc_fails_naming_partition_broker_and_offset() {
    let (mock, _) = mock_with(1, 3);
    mock.push_errors(Api::Fetch, &[0]);
    mock.script_fetch(|_, resp| {
        let p = partition_mut(resp, "t", 0).unwrap();
        let mut records = records_of(p).to_vec();
        let last = records.len() - 1;
        records[last] ^= 0x55; // a value byte of the batch at offset 5
        p.records = Some(records.into());
    });
    let msg = read(config(&mock, 5_000, true)).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("t/0 from broker {}", broker(&mock)))
            && msg.contains("CRC")
            && msg.contains('5'),
        "{msg}"
    );
    assert_nothing_unexpected(&mock);
}

#[test]
fn a_batch_length_below_the_header_fails_naming_partition_and_broker() {
    let (mock, _) = mock_with(1, 3);
    mock.script_fetch(|_, resp| {
        let p = partition_mut(resp, "t", 0).unwrap();
        let mut records = records_of(p).to_vec();
        records[8..12].copy_from_slice(&20i32.to_be_bytes());
        p.records = Some(records.into());
    });
    let msg = read(config(&mock, 5_000, true)).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("t/0 from broker {}", broker(&mock))),
        "{msg}"
    );
    assert_nothing_unexpected(&mock);
}

#[test]
fn a_batch_length_past_the_bytes_sent_is_waited_on_never_read_past() {
    // The length claims more bytes than the answer holds: a truncated batch, so nothing is
    // delivered from it and the read ends at the budget naming the position.
    let (mock, _) = mock_with(1, 3);
    mock.script_fetch_always(|_, resp| {
        each_partition(resp, |p| {
            let mut records = records_of(p).to_vec();
            if records.len() >= 12 {
                let len = i32::from_be_bytes(records[8..12].try_into().unwrap());
                records[8..12].copy_from_slice(&(len + 4000).to_be_bytes());
            }
            p.records = Some(records.into());
        })
    });
    let msg = read(config(&mock, 600, true)).unwrap_err().to_string();
    assert!(
        msg.contains("t/0 at offset 0")
            && msg.contains("no complete batch past the fetch position"),
        "{msg}"
    );
    assert_nothing_unexpected(&mock);
}
