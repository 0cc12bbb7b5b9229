//! Dev-only harness: a real Apache Kafka broker for kbatch's tests, benchmarks and demo.
//!
//! * [`kafka_libs`] finds (or, once, installs through Maven) the jars of one Kafka version
//!   into a git-ignored cache;
//! * [`Broker::start`] formats KRaft storage in a fresh directory and starts a combined
//!   broker+controller on 127.0.0.1 free ports, in its own process group, with its log in a
//!   file; a watchdog kills it within a second of the test process exiting for any reason
//!   (a Rust `static` is never dropped, so [`shared_broker`] relies on it);
//! * [`Broker::create_topic`] and [`Broker::produce`] drive Kafka's own Java `Admin` and
//!   `KafkaProducer` (two short programs under `java/src`), so test data is written by an
//!   independent producer: explicit partitions, timestamps, null keys and values, headers,
//!   transactions that commit or abort.
//! * [`Cluster`] and [`shared_cluster`] run three nodes set up for failover tests (replication
//!   factor 3, min ISR 2, no unclean election, fast fencing); [`Broker::kill`],
//!   [`Broker::terminate`], [`Broker::pause`], [`Broker::resume`] and [`Broker::restart`]
//!   control one node of it;
//! * [`proxy::Proxy`] is a TCP fault proxy (cut, stall, slow down, reset) in front of a broker
//!   that advertises the proxy's address ([`Broker::start_behind`]).
//! * [`mock::MockBroker`] is a scriptable Kafka-speaking mock broker (no JVM): real TCP, an
//!   in-memory log, and per-request scripted answers and faults.
//! * [`secure`] starts a broker with SSL, mutual TLS and SASL listeners and certificates of
//!   its own, for the TLS and SASL tests.
#![deny(missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;

mod cluster;
pub mod events;
pub mod fixtures;
pub mod mock;
mod node;
pub mod oidc;
pub mod proxy;
pub mod registry;
pub mod rng;
pub mod s3;
pub mod secure;
pub mod trending;

pub use cluster::{shared_cluster, Cluster, PartitionLeader};
pub use node::NodeState;

/// The Apache Kafka version the harness installs and runs.
pub const KAFKA_VERSION: &str = "4.3.1";

/// Marks JVMs started by the harness, so a person can find them (`pgrep -f`). `.ci/run` does
/// not kill by this name (another job's brokers carry it too): it reaps the process groups
/// listed by [`record_process_group`].
pub const BROKER_MARK: &str = "-Dkbatch-testkit-broker=1";

/// The environment variable naming the file where every process group the harness starts is
/// listed, one id a line (set by `.ci/run`, which stops exactly those groups when it ends).
pub const RUN_PGIDS_ENV: &str = "KBATCH_RUN_PGIDS";

/// Append `pgid` to the file named by [`RUN_PGIDS_ENV`], if it is set. Best effort by design:
/// the list is the CI run's last line of defence; watchdogs are the first.
pub fn record_process_group(pgid: u32) {
    let Some(path) = std::env::var_os(RUN_PGIDS_ENV) else {
        return;
    };
    let line = format!("{pgid}\n");
    // One short O_APPEND write a line, so concurrent test processes do not interleave.
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("kbatch-testkit: cannot record process group {pgid} in {path:?}: {e}");
    }
}

/// What went wrong in the harness.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// A command failed.
    #[error("{what} failed: {detail}")]
    Command {
        /// What was run.
        what: String,
        /// Its error output or status.
        detail: String,
    },
    /// File-system or process trouble.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The broker did not come up.
    #[error("broker did not start within {secs} s; log tail:\n{log}")]
    Start {
        /// Seconds waited.
        secs: u64,
        /// Tail of the broker log.
        log: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TestkitError {
    let what = what.into();
    move |source| TestkitError::Io { what, source }
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

fn cache_dir() -> PathBuf {
    workspace_root().join(".cache")
}

/// Hold an exclusive `flock` on `path` while `f` runs (several test binaries may install at once).
fn locked<T>(path: &Path, f: impl FnOnce() -> Result<T, TestkitError>) -> Result<T, TestkitError> {
    std::fs::create_dir_all(path.parent().unwrap()).map_err(io("creating the cache dir"))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io(format!("opening {}", path.display())))?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own; released when `file` is dropped.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    let r = f();
    drop(file);
    r
}

/// The folder holding the Kafka jars: `$KBATCH_KAFKA_LIBS`, else `.cache/kafka-<v>/libs`,
/// installed through Maven (`java/pom.xml`) on first use.
pub fn kafka_libs() -> Result<PathBuf, TestkitError> {
    let dir = std::env::var_os("KBATCH_KAFKA_LIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(format!("kafka-{KAFKA_VERSION}/libs")));
    let marker = dir.join(".complete");
    if marker.exists() {
        return Ok(dir);
    }
    locked(&cache_dir().join("kafka.lock"), || {
        if marker.exists() {
            return Ok(dir.clone());
        }
        let pom = workspace_root().join("crates/kbatch-testkit/java/pom.xml");
        let out = Command::new("mvn")
            .args(["-q", "-B", "-f"])
            .arg(&pom)
            .arg("dependency:copy-dependencies")
            .arg("-DincludeScope=runtime")
            .arg(format!("-DoutputDirectory={}", dir.display()))
            .output()
            .map_err(io("running mvn (is Maven installed?)"))?;
        succeeded(&out, "mvn dependency:copy-dependencies")?;
        std::fs::write(&marker, KAFKA_VERSION).map_err(io("writing the install marker"))?;
        Ok(dir.clone())
    })
}

/// Compiled Java helpers (`Produce`, `Admin`), rebuilt when a source is newer.
fn classes() -> Result<PathBuf, TestkitError> {
    let libs = kafka_libs()?;
    let src = workspace_root().join("crates/kbatch-testkit/java/src");
    let sources = ["Produce.java", "Admin.java"].map(|f| src.join(f));
    // One folder per version of the sources: worktrees sharing one `.cache` (through a
    // symlink) with different helpers never overwrite each other's classes.
    let digest = sources.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, s| {
        std::fs::read(s)
            .unwrap_or_default()
            .iter()
            .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    });
    // Content-addressed and complete or absent: javac writes into a private folder that is
    // renamed into place with a marker, so no JVM ever loads a half-written class (a checkout
    // elsewhere with the same sources but newer file times must not recompile in place while
    // another test run loads these).
    let out = cache_dir().join(format!("testkit-java-{digest:016x}"));
    let done = |out: &Path| out.join(".complete").exists();
    if done(&out) {
        return Ok(out);
    }
    locked(&cache_dir().join("javac.lock"), || {
        if done(&out) {
            return Ok(out.clone());
        }
        let tmp = cache_dir().join(format!(
            "testkit-java-{digest:016x}.tmp-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io("creating the classes dir"))?;
        let status = Command::new("javac")
            .arg("-nowarn")
            .arg("-cp")
            .arg(format!("{}/*", libs.display()))
            .arg("-d")
            .arg(&tmp)
            .args(&sources)
            .output()
            .map_err(io("running javac (is a JDK installed?)"))?;
        if !status.status.success() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(TestkitError::Command {
                what: "javac".into(),
                detail: String::from_utf8_lossy(&status.stderr).into_owned(),
            });
        }
        std::fs::write(tmp.join(".complete"), b"").map_err(io("marking the classes complete"))?;
        std::fs::rename(&tmp, &out).map_err(io("moving the classes into place"))?;
        Ok(out.clone())
    })
}

/// Compile the Java helpers and make sure the jars are there.
pub fn install() -> Result<(), TestkitError> {
    classes().map(|_| ())
}

fn java_tool(main: &str, args: &[String], fast_start: bool) -> Result<Command, TestkitError> {
    let libs = kafka_libs()?;
    let classes = classes()?;
    let mut cmd = Command::new("java");
    if fast_start {
        cmd.arg("-XX:TieredStopAtLevel=1");
    }
    cmd.arg("-Xmx512m")
        .arg("-Dlog4j2.level=error")
        .arg("-cp")
        .arg(format!("{}/*:{}", libs.display(), classes.display()))
        .arg(main)
        .args(args);
    Ok(cmd)
}

pub(crate) fn run_tool(main: &str, args: &[String]) -> Result<String, TestkitError> {
    let out = java_tool(main, args, true)?
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running {main}")))?;
    if !out.status.success() {
        return Err(TestkitError::Command {
            what: format!("{main} {}", args.join(" ")),
            detail: tail(&String::from_utf8_lossy(&out.stderr), 20),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A finished command's failure, with everything it printed.
fn succeeded(out: &std::process::Output, what: &str) -> Result<(), TestkitError> {
    if out.status.success() {
        return Ok(());
    }
    Err(TestkitError::Command {
        what: what.into(),
        detail: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A free port on 127.0.0.1, never one this process was given before. The kernel may hand a
/// just-released port out again at once, and two listeners of one broker (or two nodes of one
/// cluster) on one port keep the broker from starting: a clean-clone CI run saw the secured
/// broker's SSL and MTLS listeners draw the same port.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("binding a free port on 127.0.0.1");
        if given.insert(port) {
            return port;
        }
    }
}

/// A Kafka cluster id: 16 random bytes, base64url without padding.
fn cluster_id() -> String {
    let seed = Instant::now().elapsed().as_nanos() as u64
        ^ (std::process::id() as u64) << 32
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    cluster_id_from(seed)
}

/// Format a node's KRaft storage for `config` (its `log.dirs`), once before its first start;
/// `extra` goes to StorageTool too (e.g. `--add-scram` users).
fn format_storage(config: &Path, cluster_id: &str, extra: &[String]) -> Result<(), TestkitError> {
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
fn cluster_id_from(seed: u64) -> String {
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
    dir: PathBuf,
    child: Option<Child>,
    pid: u32,
    owned: bool,
    /// `node.id`.
    id: u32,
    /// The port the broker itself listens on.
    port: u16,
    tie: Tie,
    /// The shell loop that reaps this JVM when the test process exits.
    watchdog: Option<u32>,
    state: NodeState,
    /// Extra `-D` properties for the broker JVM (the secured broker's allowed OIDC URLs).
    jvm_props: Vec<String>,
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
    fn launch(&mut self) -> Result<(), TestkitError> {
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

static STARTED: AtomicUsize = AtomicUsize::new(0);

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

    fn wait_ready(&mut self, port: u16) -> Result<(), TestkitError> {
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

/// Kill `broker_pgid`'s group (and remove `dir`) once `watched` is gone. The watchdog is a
/// tiny shell loop in its own session, so neither a panic, nor `exit`, nor SIGKILL of the
/// test process leaves a broker behind.
fn watchdog(watched: u32, broker_pgid: u32, dir: &Path) -> Result<u32, TestkitError> {
    // A cluster node's folder sits in the cluster's: the last node's watchdog removes that too.
    let cluster = dir
        .parent()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("kbatch-cluster-"))
        })
        .map(|p| format!("; rmdir '{}' 2>/dev/null", p.display()))
        .unwrap_or_default();
    let script = format!(
        "while kill -0 {watched} 2>/dev/null; do sleep 1; done; kill -9 -{broker_pgid} 2>/dev/null; rm -rf '{}'{cluster}",
        dir.display()
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(io("starting the broker watchdog"))?;
    record_process_group(child.id());
    Ok(child.id())
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

fn create_topic(
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

/// Stop a broker started with [`Broker::start_detached`].
pub fn stop_detached(dir: &Path) -> Result<(), TestkitError> {
    if let Ok(pid) = std::fs::read_to_string(dir.join("pid")) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            // SAFETY: signalling the broker's own process group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
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

/// Producer settings (`compression.type`, batching, transactions, anything else).
#[derive(Clone, Debug, Default)]
pub struct ProducerSettings {
    /// `compression.type`: none, gzip, snappy, lz4, zstd.
    pub compression: Option<String>,
    /// `linger.ms` (default 5).
    pub linger_ms: Option<u32>,
    /// `batch.size` (default 65536).
    pub batch_size: Option<u32>,
    /// `transactional.id`: makes the producer transactional.
    pub transactional_id: Option<String>,
    /// Any other producer properties.
    pub extra: Vec<(String, String)>,
}

impl ProducerSettings {
    fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(c) = &self.compression {
            a.push(format!("compression.type={c}"));
        }
        if let Some(l) = self.linger_ms {
            a.push(format!("linger.ms={l}"));
        }
        if let Some(b) = self.batch_size {
            a.push(format!("batch.size={b}"));
        }
        if let Some(t) = &self.transactional_id {
            a.push(format!("transactional.id={t}"));
        }
        a.extend(self.extra.iter().map(|(k, v)| format!("{k}={v}")));
        a
    }
}

/// One producer step.
#[derive(Clone, Debug)]
pub enum ProduceOp {
    /// Send a record.
    Record(ProducedRecord),
    /// `beginTransaction()`.
    BeginTxn,
    /// `commitTransaction()`.
    CommitTxn,
    /// `abortTransaction()`.
    AbortTxn,
    /// `flush()`.
    Flush,
    /// Flush, report, and exit without closing the producer: an open transaction stays open
    /// (until the broker's transaction timeout). Must be the last op.
    ExitWithoutClose,
}

/// A record to send (explicit partition).
#[derive(Clone, Debug, Default)]
pub struct ProducedRecord {
    /// Partition.
    pub partition: i32,
    /// Create timestamp (ms); `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
    /// Key (`None`: null).
    pub key: Option<Vec<u8>>,
    /// Value (`None`: null, a tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers; a `None` value is a null header value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Where a record landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Produced {
    /// Partition.
    pub partition: i32,
    /// Offset assigned by Kafka.
    pub offset: i64,
}

fn b64(b: &Option<Vec<u8>>) -> String {
    b.as_ref().map_or_else(
        || "-".to_string(),
        |b| base64::engine::general_purpose::STANDARD.encode(b),
    )
}

/// One op as a line of the Java producer's stdin protocol (`java/src/Produce.java`).
pub fn op_line(op: &ProduceOp) -> String {
    match op {
        ProduceOp::BeginTxn => "B".into(),
        ProduceOp::CommitTxn => "C".into(),
        ProduceOp::AbortTxn => "A".into(),
        ProduceOp::Flush => "F".into(),
        ProduceOp::ExitWithoutClose => "X".into(),
        ProduceOp::Record(r) => {
            let mut line = format!(
                "R\t{}\t{}\t{}\t{}",
                r.partition,
                r.timestamp
                    .map_or_else(|| "-".to_string(), |t| t.to_string()),
                b64(&r.key),
                b64(&r.value)
            );
            for (k, v) in &r.headers {
                line.push('\t');
                line.push_str(&base64::engine::general_purpose::STANDARD.encode(k));
                line.push(':');
                line.push_str(&b64(v));
            }
            line
        }
    }
}

/// Run the Java producer over a stream of op lines (see `java/src/Produce.java`).
pub fn produce_lines(
    bootstrap: &str,
    topic: &str,
    settings: &ProducerSettings,
    size_hint: usize,
    lines: impl Iterator<Item = String> + Send,
) -> Result<Vec<Produced>, TestkitError> {
    run_producer(false, bootstrap, topic, settings, size_hint, lines)
}

/// Bulk load: like [`produce_lines`] but keeps nothing per record; returns how many records
/// Kafka acknowledged (for millions of records).
pub fn produce_count(
    bootstrap: &str,
    topic: &str,
    settings: &ProducerSettings,
    lines: impl Iterator<Item = String> + Send,
) -> Result<u64, TestkitError> {
    let out = run_producer(true, bootstrap, topic, settings, 0, lines)?;
    Ok(out.first().map_or(0, |p| p.offset as u64))
}

fn run_producer(
    count_only: bool,
    bootstrap: &str,
    topic: &str,
    settings: &ProducerSettings,
    size_hint: usize,
    lines: impl Iterator<Item = String> + Send,
) -> Result<Vec<Produced>, TestkitError> {
    let mut args = Vec::new();
    if count_only {
        args.push("--count-only".to_string());
    }
    args.extend([bootstrap.to_string(), topic.to_string()]);
    args.extend(settings.args());
    let mut child = java_tool("Produce", &args, false)?
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("starting the Java producer"))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (produced, err_text) = std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut out = Vec::with_capacity(size_hint);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("count ").and_then(|n| n.parse().ok()) {
                    out.push(Produced {
                        partition: -1,
                        offset: n,
                    });
                    continue;
                }
                let mut f = line.split('\t');
                let p = f.next().and_then(|p| p.parse().ok());
                let o = f.next().and_then(|o| o.parse().ok());
                if let (Some(partition), Some(offset)) = (p, o) {
                    out.push(Produced { partition, offset });
                }
            }
            out
        });
        let err_reader = s.spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        {
            let mut w = std::io::BufWriter::with_capacity(1 << 16, &mut stdin);
            for line in lines {
                if w.write_all(line.as_bytes())
                    .and_then(|_| w.write_all(b"\n"))
                    .is_err()
                {
                    break;
                }
            }
            let _ = w.flush();
        }
        drop(stdin);
        (
            reader.join().unwrap_or_default(),
            err_reader.join().unwrap_or_default(),
        )
    });
    let status = child.wait().map_err(io("waiting for the Java producer"))?;
    if !status.success() {
        return Err(TestkitError::Command {
            what: format!("Java producer to {topic}"),
            detail: tail(&err_text, 20),
        });
    }
    Ok(produced)
}

#[cfg(test)]
mod tests {
    use super::{cluster_id_from, free_port};

    /// Ports drawn in one process are all different, although the kernel hands a released
    /// port out again now and then (8 repeats in 500 draws when this test was written).
    #[test]
    fn free_ports_are_never_given_twice() {
        let mut seen = std::collections::HashSet::new();
        for draw in 0..500 {
            let port = free_port();
            assert!(seen.insert(port), "draw {draw}: port {port} again");
        }
    }

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
