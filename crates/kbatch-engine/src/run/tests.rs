//! The engine without a broker: routing (one worker per partition, balanced), halting (a
//! failing job or a stopping one ends feeding), and the `Incomplete` guard against a feeder
//! that stops short.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kbatch_records::testenc::{Batch, Rec};
use kbatch_records::Record;

use super::*;

fn spec(partition: i32, start: i64, end: i64) -> PartitionSpec {
    PartitionSpec {
        topic: Arc::from("t"),
        partition,
        start,
        end,
    }
}

/// `n` records from `base`, values `"<base+i>"`.
fn chunk(idx: usize, base: i64, n: i32) -> Work {
    let recs: Vec<Rec> = (0..n)
        .map(|d| Rec::value(d, &(base + i64::from(d)).to_string()))
        .collect();
    Work {
        partition: idx,
        bytes: Bytes::from(Batch::plain(base, &recs).encode()),
        aborted: vec![],
    }
}

/// Records every (partition, offset) with the thread that saw it; fails or stops on cue.
#[derive(Default)]
struct Spy {
    seen: Mutex<Vec<(usize, i64, String)>>,
    /// `(partition, records seen of it so far)` at each `partition_done`.
    done: Mutex<Vec<(usize, usize)>>,
    fail_at: Option<i64>,
    stop_at: Option<i64>,
}

impl Job for Spy {
    type Partial = Vec<(usize, i64)>;
    type Output = Vec<(usize, i64)>;
    fn partial(&self) -> Self::Partial {
        Vec::new()
    }
    fn update(&self, p: &mut Self::Partial, i: usize, r: &Record<'_>) -> Result<(), JobError> {
        if self.fail_at == Some(r.offset) {
            return Err(JobError::Fail {
                offset: r.offset,
                message: "refused".into(),
            });
        }
        if self.stop_at == Some(r.offset) {
            return Err(JobError::Stop);
        }
        let thread = std::thread::current().name().unwrap_or("").to_string();
        self.seen.lock().unwrap().push((i, r.offset, thread));
        p.push((i, r.offset));
        Ok(())
    }
    fn partition_done(&self, p: &mut Self::Partial, i: usize) -> Result<(), JobError> {
        let seen = p.iter().filter(|(q, _)| *q == i).count();
        self.done.lock().unwrap().push((i, seen));
        Ok(())
    }
    fn merge(&self, into: &mut Self::Partial, other: Self::Partial) {
        into.extend(other);
    }
    fn finish(&self, mut p: Self::Partial, _: &[PartitionStats]) -> Self::Output {
        p.sort();
        p
    }
}

fn config(threads: usize) -> EngineConfig {
    EngineConfig {
        threads,
        channel_capacity: 1,
        ..EngineConfig::default()
    }
}

#[test]
fn assignment_balances_largest_first_and_is_deterministic() {
    // (range sizes, workers, expected worker of each partition)
    let rows: &[(&[i64], usize, &[usize])] = &[
        (&[100, 10, 60, 50], 2, &[0, 0, 1, 1]),
        (&[5, 5, 5], 3, &[0, 1, 2]),
        (&[0, 0, 7], 2, &[1, 1, 0]),
        // Hostile sizes do not overflow the load sums.
        (&[i64::MAX, i64::MAX, 1], 2, &[0, 1, 0]),
    ];
    for (sizes, workers, want) in rows {
        let specs: Vec<_> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| spec(i as i32, 0, n))
            .collect();
        assert_eq!(assign(&specs, *workers), *want, "sizes {sizes:?}");
    }
    assert_eq!(worker_count(8, 3), 3);
    assert_eq!(worker_count(2, 0), 1);
    assert_eq!(worker_count(1, 9), 1);
}

#[test]
fn every_partition_is_decoded_by_one_worker_exactly_once() {
    let specs: Vec<_> = (0..4).map(|p| spec(p, 0, 30)).collect();
    let job = Spy::default();
    let progress = Progress::new(&specs);
    let out = run(
        &config(3),
        &job,
        &specs,
        Isolation::ReadCommitted,
        &progress,
        |feeder| {
            for base in [0, 10, 20] {
                for p in 0..4 {
                    feeder.send(chunk(p, base, 10)).map_err(|_| "halted")?;
                }
            }
            // A refetch after a reconnect overlaps what was decoded: skipped, not recounted.
            feeder.send(chunk(2, 10, 10)).map_err(|_| "halted")?;
            Ok::<(), &str>(())
        },
    )
    .unwrap();
    let want: Vec<(usize, i64)> = (0..4).flat_map(|p| (0..30).map(move |o| (p, o))).collect();
    assert_eq!(out.output, want);
    let mut threads: HashMap<usize, Vec<String>> = HashMap::new();
    for (p, _, t) in job.seen.lock().unwrap().iter() {
        threads.entry(*p).or_default().push(t.clone());
    }
    for (p, ts) in threads {
        assert!(
            ts.iter().all(|t| *t == ts[0]),
            "partition {p} seen by {ts:?}"
        );
    }
    assert!(out.stats.iter().all(|s| s.records == 30 && s.decoded == 30));
    // Each partition is reported done once, after its last record, the refetch included.
    let mut done = job.done.lock().unwrap().clone();
    done.sort();
    assert_eq!(done, (0..4).map(|p| (p, 30)).collect::<Vec<_>>());
}

#[test]
fn a_failing_job_halts_feeding_and_names_the_record() {
    let specs = vec![spec(0, 0, 1_000_000)];
    let job = Spy {
        fail_at: Some(25),
        ..Spy::default()
    };
    let progress = Progress::new(&specs);
    let mut sent = 0;
    let err = run(
        &config(1),
        &job,
        &specs,
        Isolation::ReadCommitted,
        &progress,
        |feeder| {
            // Feeds until the engine says it halted; without the halt this would run long.
            let mut base = 0;
            while feeder.send(chunk(0, base, 10)).is_ok() {
                base += 10;
                sent += 1;
                assert!(sent < 10_000, "feeding never halted");
            }
            Ok::<(), String>(())
        },
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "t/0 offset 25: refused");
}

#[test]
fn a_stopping_job_ends_the_run_successfully_with_partial_stats() {
    let specs = vec![spec(0, 0, 100)];
    let job = Spy {
        stop_at: Some(15),
        ..Spy::default()
    };
    let progress = Progress::new(&specs);
    let out = run(
        &config(1),
        &job,
        &specs,
        Isolation::ReadCommitted,
        &progress,
        |feeder| {
            let mut base = 0;
            while base < 100 && feeder.send(chunk(0, base, 10)).is_ok() {
                base += 10;
            }
            Ok::<(), String>(())
        },
    )
    .unwrap();
    assert!(out.stopped);
    assert_eq!(out.output, (0..15).map(|o| (0, o)).collect::<Vec<_>>());
    assert!(
        job.done.lock().unwrap().is_empty(),
        "a stopped range is not done"
    );
}

#[test]
fn a_feeder_that_stops_short_is_an_incomplete_error_not_a_short_count() {
    let specs = vec![spec(0, 0, 20), spec(1, 5, 20)];
    let progress = Progress::new(&specs);
    let err = run(
        &config(2),
        &Spy::default(),
        &specs,
        Isolation::ReadCommitted,
        &progress,
        |feeder| {
            feeder.send(chunk(0, 0, 20)).map_err(|_| "halted")?;
            feeder.send(chunk(1, 0, 10)).map_err(|_| "halted")?;
            Ok::<(), &str>(())
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "t/1: decoding stopped at offset 10, before the range end 20"
    );
}

#[test]
fn the_feeders_own_error_comes_back_as_itself() {
    let specs = vec![spec(0, 0, 20)];
    let progress = Progress::new(&specs);
    let err = run(
        &config(1),
        &Spy::default(),
        &specs,
        Isolation::ReadCommitted,
        &progress,
        |_| Err::<(), _>("broker gone"),
    )
    .unwrap_err();
    assert!(matches!(err, EngineError::Feed("broker gone")));
}

/// Takes records from `min` on; remembers what it was given.
struct Since {
    min: i64,
}

impl Job for Since {
    type Partial = Vec<i64>;
    type Output = Vec<i64>;
    fn partial(&self) -> Vec<i64> {
        Vec::new()
    }
    fn timestamps(&self) -> kbatch_records::TimeBounds {
        kbatch_records::TimeBounds {
            min: self.min,
            max: i64::MAX,
        }
    }
    fn update(&self, p: &mut Vec<i64>, _: usize, r: &Record<'_>) -> Result<(), JobError> {
        p.push(r.offset);
        Ok(())
    }
    fn merge(&self, into: &mut Vec<i64>, other: Vec<i64>) {
        into.extend(other);
    }
    fn finish(&self, mut p: Vec<i64>, _: &[PartitionStats]) -> Vec<i64> {
        p.sort_unstable();
        p
    }
}

#[test]
fn batches_outside_the_jobs_timestamps_are_skipped_and_the_partition_completes() {
    // Batches of 10 at 0, 10, 20, 30 with max timestamps 100, 900, 100, 900.
    let batch = |base: i64, max: i64| {
        let recs: Vec<Rec> = (0..10).map(|d| Rec::value(d, "v")).collect();
        Batch::plain(base, &recs).times(max - 9, max).encode()
    };
    let specs = [spec(0, 0, 40)];
    let progress = Progress::new(&specs);
    let out = run(
        &config(1),
        &Since { min: 500 },
        &specs,
        Isolation::ReadCommitted,
        &progress,
        |feeder| {
            for (base, max) in [(0, 100), (10, 900), (20, 100), (30, 900)] {
                let work = Work {
                    partition: 0,
                    bytes: Bytes::from(batch(base, max)),
                    aborted: vec![],
                };
                feeder.send(work).map_err(|_| "halted")?;
            }
            Ok::<(), &str>(())
        },
    )
    .unwrap();
    let want: Vec<i64> = (10..20).chain(30..40).collect();
    assert_eq!(out.output, want);
    let s = &out.stats[0];
    assert_eq!((s.records, s.skipped, s.skipped_batches), (20, 20, 2));
    assert_eq!(s.records + s.skipped + s.aborted + s.control, 40);
    assert_eq!(
        s.decoded, 40,
        "skipped batches still move the decoded position"
    );
    assert_eq!(
        s.skipped_bytes * 2,
        s.bytes,
        "two of four equal batches undecoded"
    );
}
