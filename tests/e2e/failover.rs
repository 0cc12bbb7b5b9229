//! Leaders that fail or move while `kbatch dump` reads a replicated topic (RELIABILITY.md
//! cases 23, 26, 28 and 32 on the "B3" harness): a 3-node cluster, replication factor 3,
//! min ISR 2, data written with acks=all by Kafka's Java producer before the read. The
//! leader of most partitions is killed, stopped, or frozen mid-read or during planning;
//! leadership is moved by `kafka-leader-election` and by a reassignment; a client quota
//! throttles the read. Every read must return each produced record exactly once, at the
//! (partition, offset) the producer reported, and exit 0. A topic deleted and recreated
//! mid-read must end the run with a clear error naming it, with nothing of the new
//! incarnation mixed in.
//!
//! A fault is injected while the test is not reading kbatch's output: kbatch is then
//! blocked on its stdout with most of the topic unread, so the fault lands mid-read every
//! time, not only when the timing happens to be right.

use std::time::{Duration, Instant};

use kbatch_testkit::{Cluster, ProducerSettings};

use crate::common::*;

/// Lines read before the fault (of `BIG_RECORDS`).
const GATE: usize = 5_000;

// `--timeout` is 15 s for a killed or stopped leader: the controller names new leaders
// within about 4 s, so a reader that fails over finishes well inside it, and one that waits
// for the dead address fails in 15 s rather than 30.

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The node after `n` (1-based, wrapping): where the bootstrap list starts when `n` is the
/// node the test disturbs.
fn other(n: u32) -> u32 {
    n % 3 + 1
}

/// Make the node leading most partitions of `topic` lead two thirds of them (4 of 6):
/// reorder replica lists (same replicas, no data moves) and run a preferred election.
/// Returns the node and the partitions it leads.
fn concentrate_leaders(c: &Cluster, topic: &str) -> (u32, Vec<i32>) {
    let (victim, _) = c.busiest_leader(topic).unwrap();
    let moves: Vec<(i32, Vec<u32>)> = c
        .leaders(topic)
        .unwrap()
        .into_iter()
        .take(BIG_PARTITIONS as usize * 2 / 3)
        .map(|p| {
            let mut r = vec![victim];
            r.extend(p.replicas.iter().copied().filter(|&n| n != victim));
            (p.partition, r)
        })
        .collect();
    c.reassign(topic, &moves).unwrap();
    c.elect_preferred(topic).unwrap();
    let (busiest, led) = c.busiest_leader(topic).unwrap();
    assert_eq!(busiest, victim);
    assert!(led.len() >= moves.len(), "node {victim} leads {led:?}");
    (victim, led)
}

/// Read the big topic; once `GATE` lines are out, apply `fault` to the node leading most
/// partitions; the read must complete exactly.
fn fault_mid_read(what: &str, timeout: &str, fault: impl FnOnce(&mut Cluster, u32, &str)) {
    let (mut c, big) = failover_cluster();
    let (victim, led) = concentrate_leaders(&c, &big.topic);
    let args = dump_args(&c, big, other(victim), timeout);
    let mut r = start_kbatch(&refs(&args));
    assert_eq!(
        r.read_lines(GATE),
        GATE,
        "kbatch printed {GATE} lines first"
    );
    fault(&mut c, victim, &big.topic);
    let run = r.finish(Duration::from_secs(240));
    c.node_mut(victim).resume();
    big.assert_exact(
        &run,
        &format!("{what} (node {victim}, leader of partitions {led:?})"),
    );
}

#[test]
fn leader_killed_mid_read() {
    fault_mid_read("leader SIGKILLed mid-read", "15s", |c, victim, topic| {
        c.node_mut(victim).kill();
        c.wait_leader_not(topic, victim, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("leadership did not move: {e}\n{}", c.logs(20)));
    });
}

#[test]
fn leader_stopped_gracefully_mid_read() {
    fault_mid_read(
        "leader stopped (SIGTERM) mid-read",
        "15s",
        |c, victim, topic| {
            c.node_mut(victim).terminate().unwrap();
            // Controlled shutdown hands leadership over before the process exits.
            c.wait_leader_not(topic, victim, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("leadership did not move: {e}\n{}", c.logs(20)));
        },
    );
}

/// A frozen broker still accepts connections but answers nothing: only a request timeout
/// gets kbatch off it. The controller fences it (no heartbeats) and moves leadership.
#[test]
fn leader_paused_mid_read() {
    fault_mid_read(
        "leader paused (SIGSTOP) mid-read",
        // The budget covers the fencing (3.5 s after the last heartbeat), the leadership move
        // and a request timeout of half of it; 8 s was once too little under the full suite's
        // load (8.8 s without progress).
        "12s",
        |c, victim, topic| {
            c.node_mut(victim).pause();
            c.wait_leader_not(topic, victim, Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("the paused node was not fenced: {e}\n{}", c.logs(20)));
        },
    );
}

/// The leader freezes before kbatch starts and `fault` ends it 1.5 s later: its
/// partitions' ListOffsets cannot be answered until the controller fences it (3.5 s after
/// its last heartbeat), so the fault lands during planning, between Metadata and
/// ListOffsets.
fn fault_during_planning(what: &str, fault: impl FnOnce(&mut Cluster, u32)) {
    let (mut c, big) = failover_cluster();
    let (victim, led) = concentrate_leaders(&c, &big.topic);
    c.node_mut(victim).pause();
    let args = dump_args(&c, big, other(victim), "15s");
    let r = start_kbatch(&refs(&args));
    std::thread::sleep(Duration::from_millis(1500));
    fault(&mut c, victim);
    let run = r.finish(Duration::from_secs(180));
    assert!(
        run.elapsed >= Duration::from_millis(1500),
        "kbatch cannot have planned before the frozen leader went: {:?}",
        run.elapsed
    );
    big.assert_exact(
        &run,
        &format!("{what} (node {victim}, leader of partitions {led:?})"),
    );
}

#[test]
fn leader_killed_during_planning() {
    fault_during_planning("leader killed during planning", |c, victim| {
        c.node_mut(victim).kill()
    });
}

/// SIGTERM to the frozen node (it is resumed first): a controlled shutdown while kbatch
/// waits for its ListOffsets answers.
#[test]
fn leader_stopped_during_planning() {
    fault_during_planning("leader stopped gracefully during planning", |c, victim| {
        c.node_mut(victim).terminate().unwrap()
    });
}

/// `kafka-leader-election` (preferred) moves leadership back to a restarted node mid-read:
/// kbatch's leaders go stale (NOT_LEADER_OR_FOLLOWER) and must be looked up again.
#[test]
fn preferred_leader_election_mid_read() {
    let (mut c, big) = failover_cluster();
    let t = big.topic.clone();
    let (x, _) = c.busiest_leader(&t).unwrap();
    // Bounce node x: it comes back as a follower of the partitions it prefers to lead.
    c.node_mut(x).terminate().unwrap();
    c.node_mut(x).restart().unwrap();
    c.wait_in_sync(&t, Duration::from_secs(90)).unwrap();
    let before = c.leaders(&t).unwrap();
    assert!(before.iter().all(|p| p.leader != Some(x)), "{before:?}");
    assert!(before.iter().any(|p| p.replicas[0] == x), "{before:?}");

    let args = dump_args(&c, big, other(x), "30s");
    let mut r = start_kbatch(&refs(&args));
    assert_eq!(r.read_lines(GATE), GATE);
    let tool = c
        .leader_election_tool()
        .unwrap_or_else(|e| panic!("kafka-leader-election: {e}"));
    let after = c.leaders(&t).unwrap();
    assert!(
        after.iter().any(|p| p.leader == Some(x)),
        "the election moved nothing to node {x}: {tool}\n{after:?}"
    );
    let run = r.finish(Duration::from_secs(180));
    big.assert_exact(&run, "preferred leader election mid-read");
}

/// A reassignment that drops every partition's current leader from its replicas: each
/// partition gets a new leader mid-read (the next test's heal restores the replicas).
#[test]
fn reassignment_mid_read() {
    let (c, big) = failover_cluster();
    let t = big.topic.clone();
    let before = c.leaders(&t).unwrap();
    let args = dump_args(&c, big, 1, "30s");
    let mut r = start_kbatch(&refs(&args));
    assert_eq!(r.read_lines(GATE), GATE);
    let moves: Vec<(i32, Vec<u32>)> = before
        .iter()
        .map(|p| {
            let keep = p.replicas.iter().copied().filter(|&n| Some(n) != p.leader);
            (p.partition, keep.collect())
        })
        .collect();
    c.reassign(&t, &moves).unwrap();
    let after = c.leaders(&t).unwrap();
    for (b, a) in before.iter().zip(&after) {
        assert_ne!(
            a.leader, b.leader,
            "partition {} kept its leader",
            a.partition
        );
        assert_eq!(a.replicas.len(), 2, "{a:?}");
    }
    let run = r.finish(Duration::from_secs(180));
    big.assert_exact(&run, "reassignment mid-read");
}

/// Deleted and recreated under the same name mid-read: a clear error naming the topic, and
/// nothing printed comes from the new incarnation. kbatch is reading when the topic goes
/// (its fetches meet UNKNOWN_TOPIC_OR_PARTITION) and the topic comes back 3 s later: within
/// `--timeout`, so the error may say deleted or recreated (topic id changed), either is
/// right; reading the new incarnation's records at the old offsets is not.
#[test]
fn topic_deleted_and_recreated_mid_read() {
    let (c, _) = failover_cluster();
    let t = topic("recreated");
    let incarnation = |first_id: u64| -> Expected {
        c.create_topic(&t, 3, &[]).unwrap();
        let values: Vec<(i32, String)> = (first_id..first_id + 30_000)
            .map(|id| ((id % 3) as i32, id_value(id, (id % 3) as i32)))
            .collect();
        let lines = values.iter().map(|(p, v)| format!("V\t{p}\t{v}"));
        let produced = c
            .produce_lines(&t, &ProducerSettings::default(), values.len(), lines)
            .unwrap();
        Expected::new(&t, &values, &produced)
    };
    let first = incarnation(0);
    let mut args: Vec<String> = [
        "dump",
        "--topic",
        &t,
        "--timeout",
        "15s",
        "--channel-depth",
        "1",
    ]
    .map(String::from)
    .to_vec();
    args.extend(["--bootstrap".to_string(), c.bootstrap()]);
    args.extend(SMALL_FETCHES.map(String::from));
    let mut r = start_kbatch(&refs(&args));
    assert_eq!(r.read_lines(2_000), 2_000);
    c.delete_topic(&t).unwrap();
    // kbatch reads on (and meets the deleted topic) while the topic is recreated under it.
    let reading = std::thread::spawn(move || r.finish(Duration::from_secs(180)));
    std::thread::sleep(Duration::from_secs(3));
    let second = incarnation(1_000_000);
    assert_eq!(second.len(), first.len());
    let run = reading.join().expect("reading kbatch's output");
    let a = first.audit(&run.stdout);
    let mixed = (a.unexpected, a.duplicated, a.nonmonotonic);
    // The topic's own name does not count as saying it.
    let err = run.stderr.replace(&t, "").to_lowercase();
    let says = err.contains("delet") || err.contains("recreat");
    assert!(
        run.code == 1 && run.stderr.contains(&t) && says && mixed == (0, 0, 0),
        "a recreated topic must end the run with exit 1 and an error naming {t} and saying it \
         was deleted or recreated, printing only first-incarnation records: exit {} after {} \
         lines, stderr {:?}, {a:?}",
        run.code,
        a.lines,
        run.stderr.trim()
    );
}

/// Removes the default client quota even if the test fails.
struct QuotaOff<'a>(&'a Cluster);

impl Drop for QuotaOff<'_> {
    fn drop(&mut self) {
        let _ = self.0.set_client_quota("consumer_byte_rate", None);
    }
}

/// `consumer_byte_rate` on every client: brokers answer with `throttle_time_ms` and mute
/// the connection; kbatch waits it out and completes exactly.
#[test]
fn client_quota_throttles_and_completes() {
    let (c, big) = failover_cluster();
    let want = big.only(&[0, 1]);
    let mut args: Vec<String> = ["dump", "--topic", &big.topic, "--partitions", "0,1"]
        .map(String::from)
        .to_vec();
    args.extend([
        "--timeout".into(),
        "30s".into(),
        "--bootstrap".into(),
        c.bootstrap(),
    ]);
    let free = kbatch(&refs(&args));
    want.assert_exact(&free, "unthrottled read");

    let _off = QuotaOff(&c);
    c.set_client_quota("consumer_byte_rate", Some(512 << 10))
        .unwrap();
    // Quotas reach the brokers through the metadata log: give them a moment.
    std::thread::sleep(Duration::from_secs(2));
    let t = Instant::now();
    let run = kbatch(&refs(&args));
    want.assert_exact(&run, "read under a 512 KiB/s consumer quota");
    let bytes: usize = want.records.values().map(String::len).sum();
    assert!(
        t.elapsed() >= Duration::from_secs(2) && t.elapsed() > free.elapsed * 2,
        "the quota did not slow the read of {bytes} value bytes: {:?} vs {:?} unthrottled",
        t.elapsed(),
        free.elapsed
    );
}
