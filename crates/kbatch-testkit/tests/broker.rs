//! The harness itself against a real broker: offsets Kafka assigns (transaction markers take
//! offsets), stop() reaps the process group, and the watchdog reaps a broker whose starter
//! exits without cleaning up.

use std::process::Command;
use std::time::{Duration, Instant};

use kbatch_testkit::{Broker, ProduceOp, Produced, ProducedRecord, ProducerSettings};

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

fn rec(partition: i32, v: &str) -> ProduceOp {
    ProduceOp::Record(ProducedRecord {
        partition,
        value: Some(v.as_bytes().to_vec()),
        ..ProducedRecord::default()
    })
}

#[test]
fn offsets_markers_and_stop() {
    let mut b = Broker::start().expect("broker starts");
    b.create_topic("harness", 3, &[("compression.type", "producer")])
        .unwrap();
    let txn = ProducerSettings {
        transactional_id: Some("harness-tx".into()),
        ..ProducerSettings::default()
    };
    let ops = vec![
        ProduceOp::BeginTxn,
        rec(0, "a"),
        rec(0, "b"),
        ProduceOp::CommitTxn,
        ProduceOp::BeginTxn,
        rec(0, "c"),
        ProduceOp::AbortTxn,
        ProduceOp::BeginTxn,
        ProduceOp::Record(ProducedRecord {
            partition: 1,
            timestamp: Some(1_700_000_000_000),
            key: None,
            value: None,
            headers: vec![("h".into(), None), ("h".into(), Some(b"x".to_vec()))],
        }),
        ProduceOp::CommitTxn,
    ];
    let produced = b.produce("harness", &txn, &ops).unwrap();
    assert_eq!(
        produced,
        vec![
            Produced {
                partition: 0,
                offset: 0
            },
            Produced {
                partition: 0,
                offset: 1
            },
            // offset 2 is the commit marker
            Produced {
                partition: 0,
                offset: 3
            },
            Produced {
                partition: 1,
                offset: 0
            },
        ]
    );
    let pid = b.pid();
    assert!(alive(pid));
    b.stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!alive(pid), "broker {pid} still running after stop()");
}

/// Child mode: start a broker, print its pid, and exit without any cleanup.
#[test]
fn watchdog_reaps_the_broker_of_a_dead_starter() {
    if std::env::var_os("KBATCH_TESTKIT_CHILD").is_some() {
        let b = Broker::start().expect("broker starts");
        println!("BROKER_PID={}", b.pid());
        std::process::exit(0); // no Drop, no cleanup: only the watchdog can reap it
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "watchdog_reaps_the_broker_of_a_dead_starter",
            "--nocapture",
        ])
        .env("KBATCH_TESTKIT_CHILD", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let pid: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("BROKER_PID="))
        .unwrap_or_else(|| {
            panic!(
                "child printed no pid: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!alive(pid), "broker {pid} outlived its starter");
}

#[test]
fn three_node_cluster_replicates() {
    let brokers = Broker::start_cluster(3).expect("three nodes start");
    assert_eq!(brokers.len(), 3);
    let b = &brokers[0];
    b.create_topic(
        "replicated",
        3,
        &[
            ("kbatch.replication.factor", "3"),
            ("min.insync.replicas", "2"),
        ],
    )
    .unwrap();
    let produced = b
        .produce(
            "replicated",
            &ProducerSettings::default(),
            &[rec(0, "a"), rec(1, "b"), rec(2, "c")],
        )
        .unwrap();
    assert_eq!(produced.len(), 3);
    assert!(produced.iter().all(|p| p.offset == 0));
    let pids: Vec<u32> = brokers.iter().map(Broker::pid).collect();
    assert!(pids.iter().all(|&p| alive(p)));
    drop(brokers);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        pids.iter().all(|&p| !alive(p)),
        "every node is reaped on drop"
    );
}
