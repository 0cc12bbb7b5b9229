//! A three-node KRaft cluster for failover tests, shared by the tests of one process.
//!
//! Starting three JVMs costs 30–60 s on a small CI machine, so the tests that kill, stop,
//! pause or move leaders take turns on one cluster: [`shared_cluster`] hands out a lock, and
//! each test calls [`Cluster::heal`] when it starts so that whatever an earlier (possibly
//! failed) test did is undone. Administration goes through Kafka's own Java `Admin` client
//! (`java/src/Admin.java`) and command-line tools, never through kbatch.

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::{
    produce_lines, run_tool, Broker, NodeState, Produced, ProducerSettings, TestkitError,
    KAFKA_VERSION,
};

/// Where one partition stands, as the cluster's metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLeader {
    /// Partition.
    pub partition: i32,
    /// Leader's node id; `None` while it has none.
    pub leader: Option<u32>,
    /// Replica node ids, preferred leader first.
    pub replicas: Vec<u32>,
    /// In-sync replica node ids.
    pub isr: Vec<u32>,
}

/// Three (or `n`) combined broker+controller nodes, node ids 1..=n, for tests that kill or
/// move leaders. Topics get replication factor 3 and `min.insync.replicas=2`; unclean
/// election is off; a silent node is fenced after 3.5 s.
#[derive(Debug)]
pub struct Cluster {
    nodes: Vec<Broker>,
}

fn ids(list: &str) -> Vec<u32> {
    list.split(',').filter_map(|n| n.parse().ok()).collect()
}

impl Cluster {
    /// Start `n` nodes tied to this process (see [`Broker::start_cluster`]).
    pub fn start(n: usize) -> Result<Cluster, TestkitError> {
        Ok(Cluster {
            nodes: Broker::start_cluster(n)?,
        })
    }

    /// Every node, in node-id order.
    pub fn nodes(&self) -> &[Broker] {
        &self.nodes
    }

    /// The node with `node.id` `id`.
    pub fn node(&self, id: u32) -> &Broker {
        &self.nodes[id as usize - 1]
    }

    /// The node with `node.id` `id`, to stop, kill, pause or restart it.
    pub fn node_mut(&mut self, id: u32) -> &mut Broker {
        &mut self.nodes[id as usize - 1]
    }

    /// Every node's address, comma-separated (what a client is given as bootstrap list).
    pub fn bootstrap(&self) -> String {
        self.bootstrap_from(1)
    }

    /// Every node's address, starting with node `first` (so a client's first contact can
    /// be kept away from a node a test is about to disturb).
    pub fn bootstrap_from(&self, first: u32) -> String {
        let n = self.nodes.len();
        (0..n)
            .map(|i| self.nodes[(first as usize - 1 + i) % n].bootstrap.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Addresses of the running nodes only: a paused node in an admin client's bootstrap
    /// list can cost a request timeout.
    fn live_bootstrap(&self) -> String {
        self.nodes
            .iter()
            .filter(|b| b.state() == NodeState::Running)
            .map(|b| b.bootstrap.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn admin(&self, args: &[String]) -> Result<String, TestkitError> {
        let mut all = vec![self.live_bootstrap()];
        all.extend_from_slice(args);
        run_tool("Admin", &all)
    }

    /// The last `lines` lines of every node's log, for failure messages.
    pub fn logs(&self, lines: usize) -> String {
        self.nodes
            .iter()
            .map(|b| format!("--- node {} ---\n{}", b.node_id(), b.log_tail(lines)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Create a topic with replication factor 3 (min ISR 2 from the cluster's defaults) and
    /// wait until every partition has a leader and a full ISR.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), TestkitError> {
        let rf = self.nodes.len().to_string();
        let mut all: Vec<(&str, &str)> = vec![("kbatch.replication.factor", &rf)];
        all.extend_from_slice(configs);
        crate::create_topic(&self.live_bootstrap(), name, partitions, &all)?;
        self.wait_in_sync(name, Duration::from_secs(60))
    }

    /// Produce op lines (see `java/src/Produce.java`) with Kafka's Java producer (acks=all,
    /// idempotent: its defaults); returns where each record landed, in op order.
    pub fn produce_lines(
        &self,
        topic: &str,
        settings: &ProducerSettings,
        size_hint: usize,
        lines: impl Iterator<Item = String> + Send,
    ) -> Result<Vec<Produced>, TestkitError> {
        produce_lines(&self.live_bootstrap(), topic, settings, size_hint, lines)
    }

    /// Every partition's leader, replicas and ISR.
    pub fn leaders(&self, topic: &str) -> Result<Vec<PartitionLeader>, TestkitError> {
        let out = self.admin(&["leaders".into(), topic.into()])?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split('\t').collect();
                let partition = f.first()?.parse().ok()?;
                let leader: i64 = f.get(1)?.parse().ok()?;
                Some(PartitionLeader {
                    partition,
                    leader: u32::try_from(leader).ok(),
                    replicas: ids(f.get(2).copied().unwrap_or("")),
                    isr: ids(f.get(3).copied().unwrap_or("")),
                })
            })
            .collect())
    }

    /// The node leading the most partitions of `topic`, and those partitions.
    pub fn busiest_leader(&self, topic: &str) -> Result<(u32, Vec<i32>), TestkitError> {
        let leaders = self.leaders(topic)?;
        let led = |n: u32| -> Vec<i32> {
            leaders
                .iter()
                .filter(|p| p.leader == Some(n))
                .map(|p| p.partition)
                .collect()
        };
        let best = self
            .nodes
            .iter()
            .map(Broker::node_id)
            .max_by_key(|&n| led(n).len())
            .unwrap_or(1);
        Ok((best, led(best)))
    }

    /// Wait until no partition of `topic` is led by node `node` and every one has a leader.
    pub fn wait_leader_not(
        &self,
        topic: &str,
        node: u32,
        limit: Duration,
    ) -> Result<(), TestkitError> {
        self.admin(&[
            "wait-leader-not".into(),
            topic.into(),
            node.to_string(),
            limit.as_secs().max(1).to_string(),
        ])
        .map(|_| ())
    }

    /// Wait until every partition of `topic` has a leader and all replicas in sync.
    pub fn wait_in_sync(&self, topic: &str, limit: Duration) -> Result<(), TestkitError> {
        self.admin(&[
            "wait-isr".into(),
            topic.into(),
            self.nodes.len().to_string(),
            limit.as_secs().max(1).to_string(),
        ])
        .map(|_| ())
    }

    /// Give every partition of `topic` its preferred leader back (Admin `electLeaders`;
    /// partitions already led by it are fine).
    pub fn elect_preferred(&self, topic: &str) -> Result<(), TestkitError> {
        self.admin(&["elect-preferred".into(), topic.into()])
            .map(|_| ())
    }

    /// Run Kafka's `kafka-leader-election` tool: preferred election on every partition of
    /// the cluster. Returns what it printed.
    pub fn leader_election_tool(&self) -> Result<String, TestkitError> {
        run_tool(
            "org.apache.kafka.tools.LeaderElectionCommand",
            &[
                "--bootstrap-server".into(),
                self.live_bootstrap(),
                "--election-type".into(),
                "PREFERRED".into(),
                "--all-topic-partitions".into(),
            ],
        )
    }

    /// Reassign partitions (`(partition, replicas)`, preferred leader first) and wait until
    /// the reassignment completes. A leader that is not in its new replica list gives up
    /// leadership.
    pub fn reassign(&self, topic: &str, moves: &[(i32, Vec<u32>)]) -> Result<(), TestkitError> {
        let mut args = vec!["reassign".to_string(), topic.to_string()];
        args.extend(moves.iter().map(|(p, r)| {
            let r: Vec<String> = r.iter().map(u32::to_string).collect();
            format!("{p}={}", r.join(","))
        }));
        self.admin(&args).map(|_| ())
    }

    /// Delete a topic and wait until the cluster no longer lists it.
    pub fn delete_topic(&self, topic: &str) -> Result<(), TestkitError> {
        self.admin(&["delete-topic".into(), topic.into()])
            .map(|_| ())
    }

    /// Set (`Some`) or remove (`None`) a quota of the default client-id, e.g.
    /// `consumer_byte_rate` (what `kafka-configs --entity-type clients --entity-default`
    /// does).
    pub fn set_client_quota(&self, key: &str, value: Option<u64>) -> Result<(), TestkitError> {
        let v = value.map_or_else(|| "-".to_string(), |v| v.to_string());
        self.admin(&["set-quota".into(), key.into(), v]).map(|_| ())
    }

    /// Undo what a test did to the nodes: resume paused ones, restart stopped or killed
    /// ones, give partitions of `topics` that a reassignment left short their replicas back,
    /// then wait until every partition is fully in sync and led by its preferred leader
    /// again (so leadership is spread over the nodes).
    pub fn heal(&mut self, topics: &[&str]) -> Result<(), TestkitError> {
        for b in &mut self.nodes {
            b.restart()?;
        }
        let all: Vec<u32> = self.nodes.iter().map(Broker::node_id).collect();
        for t in topics {
            // A reassignment that dropped replicas is undone (every node a replica again).
            let short: Vec<(i32, Vec<u32>)> = self
                .leaders(t)?
                .into_iter()
                .filter(|p| p.replicas.len() < all.len())
                .map(|p| {
                    let mut r = p.replicas.clone();
                    r.extend(all.iter().filter(|n| !p.replicas.contains(n)));
                    (p.partition, r)
                })
                .collect();
            if !short.is_empty() {
                self.reassign(t, &short)?;
            }
        }
        for t in topics {
            self.wait_in_sync(t, Duration::from_secs(90))?;
            self.elect_preferred(t)?;
        }
        Ok(())
    }
}

/// The 3-node cluster of this test process, started on first use, reaped by its watchdogs
/// when the process exits (like [`crate::shared_broker`]). The guard serialises the tests
/// that disturb nodes; a poisoned lock (a test panicked holding it) is taken over, and the
/// next test's [`Cluster::heal`] repairs the nodes. Panics with the logs if it cannot start.
pub fn shared_cluster() -> MutexGuard<'static, Cluster> {
    static SHARED: OnceLock<Mutex<Cluster>> = OnceLock::new();
    SHARED
        .get_or_init(|| match Cluster::start(3) {
            Ok(c) => Mutex::new(c),
            Err(e) => panic!("cannot start the 3-node test cluster (Kafka {KAFKA_VERSION}): {e}"),
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
