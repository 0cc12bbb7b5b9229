//! One KRaft broker (combined broker and controller) on 127.0.0.1: storage, start, stop, its
//! topics, and the one broker a test process shares.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::*;

/// A Kafka cluster id: 16 random bytes, base64url without padding.
pub(crate) fn cluster_id() -> String {
    let seed = Instant::now().elapsed().as_nanos() as u64
        ^ (std::process::id() as u64) << 32
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    cluster_id_from(seed)
}

/// Format a node's KRaft storage for `config` (its `log.dirs`), once before its first start;
/// `extra` goes to StorageTool too (e.g. `--add-scram` users).
pub(crate) fn format_storage(
    config: &Path,
    cluster_id: &str,
    extra: &[String],
) -> Result<(), TestkitError> {
    let cp = format!("{}/*", kafka_libs()?.display());
    let out = Command::new("java")
        .args([
            "-XX:TieredStopAtLevel=1",
            "-cp",
            &cp,
            "kafka.tools.StorageTool",
            "format",
            "-t",
        ])
        .arg(cluster_id)
        .arg("-c")
        .arg(config)
        .args(extra)
        .output()
        .map_err(io("running StorageTool"))?;
    succeeded(&out, "kafka storage format")
}

/// The cluster id drawn from `seed`. An id starting with `-` is drawn again, as Kafka's own
/// `Uuid.randomUuid()` does: StorageTool's argument parser would read it as an option
/// ("argument --cluster-id/-t: expected one argument"), which failed about one broker start
/// in 64.
pub(crate) fn cluster_id_from(seed: u64) -> String {
    let mut rng = rng::XorShift64::new(seed);
    loop {
        let mut bytes = [0u8; 16];
        for b in &mut bytes {
            *b = rng.next() as u8;
        }
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !id.starts_with('-') {
            return id;
        }
    }
}

/// How the broker's life is tied to its starter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tie {
    /// Killed by a watchdog when this process exits.
    ToThisProcess,
    /// Lives until `stop` (the Makefile's demo and benchmarks).
    Detached,
}

/// One running broker (combined broker + controller, KRaft).
#[derive(Debug)]
pub struct Broker {
    /// `127.0.0.1:PORT` of the PLAINTEXT listener (the proxy's, for [`Broker::start_behind`]).
    pub bootstrap: String,
    pub(crate) dir: PathBuf,
    pub(crate) child: Option<Child>,
    pub(crate) pid: u32,
    pub(crate) owned: bool,
    /// `node.id`.
    pub(crate) id: u32,
    /// The port the broker itself listens on.
    pub(crate) port: u16,
    pub(crate) tie: Tie,
    /// The shell loop that reaps this JVM when the test process exits.
    pub(crate) watchdog: Option<u32>,
    pub(crate) state: NodeState,
    /// Extra `-D` properties for the broker JVM (the secured broker's allowed OIDC URLs).
    pub(crate) jvm_props: Vec<String>,
}

/// One node of a cluster before it runs: its directory, id and ports.
struct Node {
    dir: PathBuf,
    id: u32,
    port: u16,
    cport: u16,
    /// The port in `advertised.listeners` (a fault proxy's, or `port`).
    advertised: u16,
}

impl Node {
    fn prepare(dir: &Path, id: u32) -> Result<Node, TestkitError> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.join("data"))
            .map_err(io(format!("creating {}", dir.display())))?;
        let port = free_port();
        Ok(Node {
            dir: dir.to_path_buf(),
            id,
            port,
            cport: free_port(),
            advertised: port,
        })
    }

    fn voter(&self) -> String {
        format!("{}@127.0.0.1:{}", self.id, self.cport)
    }

    /// Write the config, format the storage, start the JVM (not yet waiting for it).
    fn spawn(self, voters: &str, cluster_id: &str, tie: Tie) -> Result<Broker, TestkitError> {
        let Node {
            dir,
            id,
            port,
            cport,
            advertised,
        } = self;
        let rf = if voters.contains(',') { 3 } else { 1 };
        // A cluster is for failover tests: acknowledged writes survive one lost node (acks=all
        // with min ISR 2, no unclean election), and a dead or paused node is fenced within
        // seconds (the defaults, 9 s sessions, would dominate every test's run time). Client
        // quotas are measured over 2–3 s rather than 10–11 s, so a quota test's read is
        // throttled after a short burst instead of fitting inside the first window.
        let failover = if rf == 3 {
            "default.replication.factor=3\n\
             min.insync.replicas=2\n\
             unclean.leader.election.enable=false\n\
             broker.session.timeout.ms=3500\n\
             broker.heartbeat.interval.ms=500\n\
             controlled.shutdown.enable=true\n\
             replica.lag.time.max.ms=5000\n\
             quota.window.num=3\n\
             quota.window.size.seconds=1\n"
        } else {
            ""
        };
        let props = format!(
            "process.roles=broker,controller\n\
             node.id={id}\n\
             controller.quorum.voters={voters}\n\
             listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{advertised}\n\
             controller.listener.names=CONTROLLER\n\
             inter.broker.listener.name=PLAINTEXT\n\
             listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n\
             log.dirs={data}\n\
             num.partitions=1\n\
             auto.create.topics.enable=false\n\
             group.initial.rebalance.delay.ms=0\n\
             offsets.topic.replication.factor={rf}\n\
             offsets.topic.num.partitions=4\n\
             transaction.state.log.replication.factor={rf}\n\
             transaction.state.log.min.isr=1\n\
             transaction.state.log.num.partitions=4\n\
             share.coordinator.state.topic.replication.factor={rf}\n\
             share.coordinator.state.topic.min.isr=1\n\
             log.segment.bytes=268435456\n\
             log.cleaner.backoff.ms=250\n{failover}",
            data = dir.join("data").display()
        );
        let config = dir.join("server.properties");
        std::fs::write(&config, props).map_err(io("writing server.properties"))?;
        format_storage(&config, cluster_id, &[])?;
        let mut broker = Broker {
            bootstrap: format!("127.0.0.1:{advertised}"),
            dir,
            child: None,
            pid: 0,
            owned: true,
            id,
            port,
            tie,
            watchdog: None,
            state: NodeState::Down,
            jvm_props: Vec::new(),
        };
        broker.launch()?;
        Ok(broker)
    }
}

impl Broker {
    /// Start the JVM on the formatted storage and config in `dir` (first start and restarts).
    pub(crate) fn launch(&mut self) -> Result<(), TestkitError> {
        let cp = format!("{}/*", kafka_libs()?.display());
        let dir = &self.dir;
        let config = dir.join("server.properties");
        // Appended, so a restarted node's log keeps what came before.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("broker.log"))
            .map_err(io("opening broker.log"))?;
        let child = Command::new("java")
            .args(["-Xms256m", "-Xmx768m", "-XX:+UseG1GC", BROKER_MARK])
            .args(&self.jvm_props)
            .arg(format!("-Dkafka.logs.dir={}", dir.display()))
            .args(["-cp", &cp, "kafka.Kafka"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("broker log"))?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(io("starting the broker JVM"))?;
        self.pid = child.id();
        record_process_group(self.pid);
        self.child = Some(child);
        self.owned = true;
        self.state = NodeState::Running;
        if self.tie == Tie::ToThisProcess {
            // The previous JVM's watchdog would kill a process group id that may be reused.
            if let Some(old) = self.watchdog.take() {
                // SAFETY: signalling the watchdog's own process group (it and its `sleep`).
                unsafe { libc::kill(-(old as i32), libc::SIGKILL) };
            }
            self.watchdog = Some(watchdog(std::process::id(), self.pid, dir)?);
        }
        Ok(())
    }
}

pub(crate) static STARTED: AtomicUsize = AtomicUsize::new(0);

impl Broker {
    /// Start a broker tied to this process: it dies within about a second after this process
    /// exits, however it exits.
    pub fn start() -> Result<Broker, TestkitError> {
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kbatch-broker-{}-{n}", std::process::id()));
        Broker::start_in(&dir, Tie::ToThisProcess)
    }

    /// Start a broker that outlives this process, with its state in `dir`; stop it with
    /// [`stop_detached`].
    pub fn start_detached(dir: &Path) -> Result<Broker, TestkitError> {
        let mut b = Broker::start_in(dir, Tie::Detached)?;
        std::fs::write(dir.join("bootstrap"), &b.bootstrap).map_err(io("writing bootstrap"))?;
        std::fs::write(dir.join("pid"), b.pid.to_string()).map_err(io("writing pid"))?;
        b.owned = false;
        b.child = None;
        Ok(b)
    }

    /// Start a broker (tied to this process) whose `advertised.listeners` is `proxy`'s port,
    /// then point the proxy at the broker's real port: every connection a client makes, the
    /// ones to the address Metadata names included, goes through the proxy. `bootstrap` is
    /// the proxy's address.
    pub fn start_behind(proxy: &proxy::Proxy) -> Result<Broker, TestkitError> {
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kbatch-proxied-{}-{n}", std::process::id()));
        let mut node = Node::prepare(&dir, 1)?;
        node.advertised = proxy.port();
        let voters = node.voter();
        let mut broker = node.spawn(&voters, &cluster_id(), Tie::ToThisProcess)?;
        proxy.set_upstream(std::net::SocketAddr::from(([127, 0, 0, 1], broker.port)));
        broker.wait_ready(broker.port())?;
        Ok(broker)
    }

    /// The port the broker listens on itself (differs from `bootstrap`'s behind a proxy).
    pub fn listen_port(&self) -> u16 {
        self.port
    }

    fn start_in(dir: &Path, tie: Tie) -> Result<Broker, TestkitError> {
        let node = Node::prepare(dir, 1)?;
        let voters = node.voter();
        let cluster_id = cluster_id();
        let mut broker = node.spawn(&voters, &cluster_id, tie)?;
        broker.wait_ready(broker.port())?;
        Ok(broker)
    }

    /// Start `n` combined broker+controller nodes (ids 1..=n, all of them voters) forming one
    /// cluster, each tied to this process like [`Broker::start`]. For tests that kill or move
    /// leaders: with `n` > 1, topics default to replication factor 3 and min ISR 2, unclean
    /// election is off, and a silent node is fenced after 3.5 s (see [`Cluster`]).
    pub fn start_cluster(n: usize) -> Result<Vec<Broker>, TestkitError> {
        let k = STARTED.fetch_add(1, Ordering::Relaxed);
        let base = std::env::temp_dir().join(format!("kbatch-cluster-{}-{k}", std::process::id()));
        let nodes: Vec<Node> = (1..=n)
            .map(|id| Node::prepare(&base.join(format!("node{id}")), id as u32))
            .collect::<Result<_, _>>()?;
        let voters = nodes.iter().map(Node::voter).collect::<Vec<_>>().join(",");
        let cluster_id = cluster_id();
        let mut brokers = Vec::with_capacity(n);
        for node in nodes {
            brokers.push(node.spawn(&voters, &cluster_id, Tie::ToThisProcess)?);
        }
        for b in &mut brokers {
            let port = b.port();
            b.wait_ready(port)?;
        }
        Ok(brokers)
    }

    fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn wait_ready(&mut self, port: u16) -> Result<(), TestkitError> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(TestkitError::Start {
                        secs: 0,
                        log: format!("the broker exited ({status})\n{}", self.log_tail(40)),
                    });
                }
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err(TestkitError::Start {
                    secs: 90,
                    log: self.log_tail(40),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        run_tool("Admin", &[self.bootstrap.clone(), "wait-ready".into()]).map_err(|e| {
            TestkitError::Start {
                secs: 90,
                log: format!("{e}\n{}", self.log_tail(40)),
            }
        })?;
        Ok(())
    }

    /// The broker JVM's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The broker's state directory (log dirs, config, `broker.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last `lines` lines of the broker's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.join("broker.log")).unwrap_or_default();
        tail(&text, lines)
    }

    /// Create a topic (replication factor 1) and wait until every partition has a leader.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), TestkitError> {
        create_topic(&self.bootstrap, name, partitions, configs)
    }

    /// Move a partition's log start offset (kafka-delete-records).
    pub fn delete_records(
        &self,
        topic: &str,
        partition: i32,
        before_offset: i64,
    ) -> Result<(), TestkitError> {
        let args = [
            self.bootstrap.clone(),
            "delete-records".into(),
            topic.into(),
            partition.to_string(),
            before_offset.to_string(),
        ];
        run_tool("Admin", &args).map(|_| ())
    }

    /// Produce `ops` with Kafka's Java producer; returns where each record landed, in op order.
    pub fn produce(
        &self,
        topic: &str,
        settings: &ProducerSettings,
        ops: &[ProduceOp],
    ) -> Result<Vec<Produced>, TestkitError> {
        produce_lines(
            &self.bootstrap,
            topic,
            settings,
            ops.len(),
            ops.iter().map(op_line),
        )
    }

    /// Stop the broker: kill its process group and remove its directory.
    pub fn stop(&mut self) {
        if !self.owned {
            return;
        }
        self.owned = false;
        // A node already stopped or killed has no process group left (its id may be reused).
        if self.state != NodeState::Down {
            // SAFETY: signalling the broker's own process group.
            unsafe { libc::kill(-(self.pid as i32), libc::SIGKILL) };
        }
        self.state = NodeState::Down;
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A broker this process did not start (by address), for the Admin and producer helpers.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Its bootstrap address.
    pub bootstrap: String,
}

impl Remote {
    /// Create a topic (replication factor 1) and wait until every partition has a leader.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), TestkitError> {
        create_topic(&self.bootstrap, name, partitions, configs)
    }
}

pub(crate) fn create_topic(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> Result<(), TestkitError> {
    let mut args = vec![
        bootstrap.to_string(),
        "create".into(),
        name.into(),
        partitions.to_string(),
    ];
    args.extend(configs.iter().map(|(k, v)| format!("{k}={v}")));
    run_tool("Admin", &args).map(|_| ())
}

/// One broker per test process, started on first use and killed by its watchdog when the
/// process exits. Panics (with the broker log) if it cannot start: a missing broker fails
/// tests, it never skips them.
pub fn shared_broker() -> &'static Broker {
    static SHARED: OnceLock<Broker> = OnceLock::new();
    SHARED.get_or_init(|| match Broker::start() {
        Ok(b) => b,
        Err(e) => panic!(
            "cannot start the test broker (Kafka {KAFKA_VERSION}; needs java and mvn, or run `make kafka` first): {e}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::cluster_id_from;

    /// No cluster id starts with `-` (StorageTool would take it for an option), and every
    /// one is 16 bytes in base64url without padding; some draws do hit the redraw.
    #[test]
    fn cluster_ids_never_look_like_options() {
        let mut redrawn = 0;
        for seed in 0..20_000u64 {
            let id = cluster_id_from(seed);
            assert!(!id.starts_with('-'), "seed {seed}: {id}");
            assert_eq!(id.len(), 22, "seed {seed}: {id}");
            assert!(id
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
            // The first draw of this seed, without the redraw, for the count below.
            let x = crate::rng::XorShift64::new(seed).next();
            redrawn += usize::from((x as u8) >> 2 == 62);
        }
        assert!(redrawn > 100, "the redraw path ran only {redrawn} times");
    }
}
