//! The soak (RELIABILITY.md case 40, bounded): every node of the 3-node cluster is taken down
//! and brought back in turn, alternately by a graceful stop (a rolling upgrade: controlled
//! shutdown, leadership moved first) and by `kill -9` (a crash: no shutdown at all, the node
//! fenced by the controller, its logs recovered on restart), while `kbatch dump` reads two
//! replicated topics over and over: the failover tests' plain topic, and one whose batches mix
//! every codec (none, gzip, snappy, lz4, zstd) and transactions, committed and aborted, read
//! under read_committed. Every read must be exact: each committed record once, at the offset
//! the producer reported, and no aborted record.
//!
//! A node stays down (12 s) longer than the reads' `--timeout` (10 s): a read cannot wait for
//! it. The timeout leaves room for the slowest failover, a crashed node that was the active
//! controller: the quorum elects a new one (about 3 s), which fences the dead broker after its
//! session timeout (3.5 s) and only then names new leaders.
//!
//! Its length is `KBATCH_SOAK_SECS` (unset: one round over the three nodes, one of them
//! killed, as in `make test`); `make soak` runs it for 10 minutes and prints the summary line.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use kbatch_testkit::{op_line, Cluster, ProduceOp, ProducedRecord, ProducerSettings, TestkitError};

use crate::common::*;

/// The codecs of the mixed topic, one transactional producer each.
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];
/// Transactions per producer; every third one aborts.
const TXNS: u64 = 12;
/// Records per transaction, round-robin over the partitions.
const TXN_RECORDS: u64 = 250;
/// Partitions of the mixed topic.
const MIXED_PARTITIONS: u64 = 6;

/// How long a node stays down, and the reads' no-progress budget (shorter, see above).
const DOWN: Duration = Duration::from_secs(12);
const READ_TIMEOUT: &str = "10s";

fn aborts(txn: u64) -> bool {
    txn % 3 == 1
}

/// The mixed topic on the cluster, produced once per process: the five producers run at
/// once, so their transactions (committed and aborted, each codec) interleave in every
/// partition. Expected holds the committed records only: an aborted one read back is
/// `unexpected` in the audit.
fn mixed_topic(c: &Cluster) -> &'static Expected {
    static MIXED: OnceLock<Expected> = OnceLock::new();
    MIXED.get_or_init(|| {
        let t = topic("soak-mixed");
        c.create_topic(&t, MIXED_PARTITIONS as i32, &[])
            .unwrap_or_else(|e| panic!("creating {t}: {e}\n{}", c.logs(30)));
        let runs: Vec<Vec<(i32, String, bool)>> = std::thread::scope(|s| {
            let handles: Vec<_> = CODECS
                .iter()
                .enumerate()
                .map(|(k, codec)| {
                    let t = &t;
                    s.spawn(move || {
                        let mut ops = Vec::new();
                        let mut sent = Vec::new();
                        for txn in 0..TXNS {
                            ops.push(ProduceOp::BeginTxn);
                            for r in 0..TXN_RECORDS {
                                let id = k as u64 * 1_000_000 + txn * 1000 + r;
                                let p = (id % MIXED_PARTITIONS) as i32;
                                let value = id_value(id, p);
                                ops.push(ProduceOp::Record(ProducedRecord {
                                    partition: p,
                                    value: Some(value.clone().into_bytes()),
                                    ..ProducedRecord::default()
                                }));
                                sent.push((p, value, !aborts(txn)));
                            }
                            ops.push(if aborts(txn) {
                                ProduceOp::AbortTxn
                            } else {
                                ProduceOp::CommitTxn
                            });
                        }
                        let settings = ProducerSettings {
                            compression: Some((*codec).into()),
                            transactional_id: Some(format!("{t}-{codec}")),
                            ..ProducerSettings::default()
                        };
                        let produced = c
                            .produce_lines(t, &settings, sent.len(), ops.iter().map(op_line))
                            .unwrap_or_else(|e| panic!("producing {t} ({codec}): {e}"));
                        // The producer reports every record it sent, the aborted ones too.
                        assert_eq!(produced.len(), sent.len(), "{codec}");
                        sent.into_iter()
                            .zip(produced)
                            .map(|((p, v, committed), at)| {
                                assert_eq!(p, at.partition);
                                (p, format!("{}\t{v}", at.offset), committed)
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a producer thread"))
                .collect()
        });
        let mut records = BTreeMap::new();
        for (p, at_value, committed) in runs.into_iter().flatten() {
            let (offset, value) = at_value.split_once('\t').unwrap();
            if committed {
                let old = records.insert((i64::from(p), offset.parse().unwrap()), value.into());
                assert!(old.is_none(), "{p}@{offset} reported twice");
            }
        }
        let committed =
            CODECS.len() as u64 * TXN_RECORDS * (0..TXNS).filter(|t| !aborts(*t)).count() as u64;
        assert_eq!(records.len() as u64, committed);
        Expected { topic: t, records }
    })
}

/// An admin step on both topics at once (each is a JVM started: in turn they would add
/// seconds to every step).
fn on_both(
    big: &Expected,
    mixed: &Expected,
    step: impl Fn(&str) -> Result<(), TestkitError> + Sync,
) -> Result<(), TestkitError> {
    std::thread::scope(|s| {
        let other = s.spawn(|| step(&mixed.topic));
        let first = step(&big.topic);
        first.and(other.join().expect("an admin step"))
    })
}

#[test]
fn rolling_restart_soak() {
    let secs: u64 = std::env::var("KBATCH_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (mut c, big) = failover_cluster();
    let mixed = mixed_topic(&c);
    c.heal(&[&mixed.topic])
        .unwrap_or_else(|e| panic!("healing the cluster: {e}\n{}", c.logs(30)));
    let reads: Vec<(&'static Expected, Vec<String>)> = [big, mixed]
        .into_iter()
        .map(|e| {
            let mut args = dump_args(&c, e, 1, READ_TIMEOUT);
            args.extend(["--isolation", "read_committed"].map(String::from));
            (e, args)
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    // (reads, records, lost, duplicated, failures)
    let tally = Arc::new(Mutex::new((0u64, 0u64, 0u64, 0u64, Vec::<String>::new())));
    let reader = {
        let (stop, tally) = (Arc::clone(&stop), Arc::clone(&tally));
        std::thread::spawn(move || loop {
            let last = stop.load(Ordering::SeqCst);
            for (expected, args) in &reads {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let run = kbatch(&args);
                let a = expected.audit(&run.stdout);
                let mut t = tally.lock().unwrap();
                t.0 += 1;
                t.1 += a.lines;
                t.2 += a.lost;
                t.3 += a.duplicated;
                if run.code != 0 || !a.clean() {
                    let n = t.0;
                    t.4.push(format!(
                        "read {n} ({}): exit {} after {:?}: {} {a:?}",
                        expected.topic,
                        run.code,
                        run.elapsed,
                        run.stderr.trim()
                    ));
                    stop.store(true, Ordering::SeqCst);
                }
            }
            if last || stop.load(Ordering::SeqCst) {
                return;
            }
        })
    };
    let started = Instant::now();
    let (mut stops, mut kills) = (0u32, 0u32);
    'soak: loop {
        for n in 1..=3u32 {
            if stop.load(Ordering::SeqCst) {
                break 'soak;
            }
            // Every other step a crash: in one round of three, the middle node; over rounds,
            // every node both ways.
            let crash = (stops + kills) % 2 == 1;
            let down = Instant::now();
            if crash {
                c.node_mut(n).kill();
            } else {
                c.node_mut(n).terminate().unwrap();
            }
            std::thread::sleep(DOWN.saturating_sub(down.elapsed()));
            c.node_mut(n)
                .restart()
                .unwrap_or_else(|e| panic!("restarting node {n}: {e}"));
            let cluster: &Cluster = &c;
            on_both(big, mixed, |t| {
                cluster.wait_in_sync(t, Duration::from_secs(90))
            })
            .unwrap_or_else(|e| panic!("node {n} did not catch up: {e}\n{}", c.logs(20)));
            // Leadership back on the restarted node, so the next step hits leaders too.
            on_both(big, mixed, |t| cluster.elect_preferred(t)).unwrap();
            if crash {
                kills += 1;
            } else {
                stops += 1;
            }
        }
        if started.elapsed() >= Duration::from_secs(secs) {
            break;
        }
    }
    stop.store(true, Ordering::SeqCst);
    reader.join().expect("the reading thread");
    let t = tally.lock().unwrap();
    let summary = format!(
        "soak: {:.0} s, {stops} graceful stops and {kills} kill -9, {} reads, {} records, lost {}, duplicated {}, failed reads {}",
        started.elapsed().as_secs_f64(),
        t.0,
        t.1,
        t.2,
        t.3,
        t.4.len()
    );
    eprintln!("{summary}");
    assert!(t.4.is_empty(), "{summary}\n{}", t.4.join("\n"));
    assert!(
        stops >= 2 && kills >= 1,
        "{summary}: a full round, graceful and crash"
    );
    assert!(t.0 >= 4, "{summary}: reads overlapped the restarts");
}
