//! The harness itself against a real broker: offsets Kafka assigns (transaction markers take
//! offsets), stop() reaps the process group, and the watchdog reaps a broker whose starter
//! exits without cleaning up; a 3-node cluster's nodes fail and heal on command.

use std::process::Command;
use std::time::{Duration, Instant};

use kbatch_testkit::{
    Broker, Cluster, NodeState, ProduceOp, Produced, ProducedRecord, ProducerSettings,
};

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

/// The failover harness on a real 3-node cluster: an RF-3 topic, acks=all writes, and each
/// node control (SIGKILL, SIGSTOP/SIGCONT, SIGTERM, restart on the same data) really moves
/// leadership, and the cluster heals; node processes are reaped on drop.
#[test]
fn cluster_nodes_fail_and_heal() {
    let mut c = Cluster::start(3).expect("three nodes start");
    assert_eq!(c.nodes().len(), 3);
    c.create_topic("replicated", 3, &[]).unwrap();
    let lines = (0..3).map(|p| format!("V\t{p}\tv{p}"));
    let produced = c
        .produce_lines("replicated", &ProducerSettings::default(), 3, lines)
        .unwrap();
    assert_eq!(produced.len(), 3);
    assert!(produced.iter().all(|p| p.offset == 0));
    let leaders = c.leaders("replicated").unwrap();
    assert_eq!(leaders.len(), 3);
    for p in &leaders {
        assert_eq!(p.replicas.len(), 3, "{p:?}");
        assert_eq!(p.isr.len(), 3, "{p:?}");
        assert!(p.leader.is_some(), "{p:?}");
    }
    let pids: Vec<u32> = c.nodes().iter().map(Broker::pid).collect();
    assert!(pids.iter().all(|&p| alive(p)));

    // SIGKILL: the node's partitions get another leader; restart brings it back in sync.
    let (victim, led) = c.busiest_leader("replicated").unwrap();
    assert!(!led.is_empty());
    c.node_mut(victim).kill();
    assert_eq!(c.node(victim).state(), NodeState::Down);
    assert!(!alive(pids[victim as usize - 1]));
    c.wait_leader_not("replicated", victim, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(20)));
    assert!(c
        .leaders("replicated")
        .unwrap()
        .iter()
        .all(|p| p.leader != Some(victim) && !p.isr.contains(&victim)));
    c.node_mut(victim).restart().unwrap();
    c.heal(&["replicated"]).unwrap();
    assert!(c
        .leaders("replicated")
        .unwrap()
        .iter()
        .all(|p| p.isr.len() == 3));

    // SIGSTOP: the controller fences the silent node within seconds.
    let (victim, _) = c.busiest_leader("replicated").unwrap();
    c.node_mut(victim).pause();
    let t = Instant::now();
    c.wait_leader_not("replicated", victim, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(20)));
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    c.heal(&["replicated"]).unwrap();
    assert_eq!(c.node(victim).state(), NodeState::Running);

    // SIGTERM: controlled shutdown; the process exits by itself.
    let (victim, _) = c.busiest_leader("replicated").unwrap();
    c.node_mut(victim).terminate().unwrap();
    c.wait_leader_not("replicated", victim, Duration::from_secs(10))
        .unwrap();
    c.heal(&["replicated"]).unwrap();
    let restarted = c.node(victim).pid();
    assert!(alive(restarted));

    let pids: Vec<u32> = c.nodes().iter().map(Broker::pid).collect();
    drop(c);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        pids.iter().all(|&p| !alive(p)),
        "every node is reaped on drop"
    );
}
