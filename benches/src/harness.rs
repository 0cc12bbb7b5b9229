//! What every end-to-end benchmark needs: children run pinned to a core and measured with
//! `wait4`'s rusage, medians and spreads, the broker pinned to its own core (and proof that
//! every JVM thread stayed there), and a description of the machine and the Kafka version.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use serde_json::Value;

/// The broker's core and the readers' core: the two never share one.
pub const BROKER_CORE: &str = "0";
/// See [`BROKER_CORE`].
pub const READER_CORE: &str = "1";
/// Both cores of the benchmark machine (shared with the broker), for Spark's `local[2]` and
/// the multi-threaded runs.
pub const ALL_CORES: &str = "0,1";

/// A Python script holding one Spark session on `local[2]` (`spark_export.py`,
/// `spark_top.py`), pinned to both cores and kept between runs so each is measured warm; it
/// answers one JSON line per command line, first `{"ready": true, "start_s", "spark"}`. Its
/// stderr (Spark's logs) goes to `log`. Dropping it ends stdin (the script stops its session)
/// and reaps it.
pub struct Spark {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    log: PathBuf,
    name: String,
    /// Seconds from the script's start to its session being up (JVM, jars).
    pub start_s: f64,
    pub version: String,
}

impl Spark {
    pub fn start(python: &Path, script: &Path, args: &[&str], log: &Path) -> Result<Spark, String> {
        let err = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new("taskset")
            .args(["-c", ALL_CORES])
            .arg(python)
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", script.display()))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let name = script.file_name().map_or_else(
            || "the Spark script".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut spark = Spark {
            child,
            stdin,
            stdout,
            log: log.to_path_buf(),
            name,
            start_s: 0.0,
            version: String::new(),
        };
        let ready = spark.answer("starting")?;
        if ready["ready"] != Value::Bool(true) {
            return Err(format!("{} did not say it was ready: {ready}", spark.name));
        }
        spark.start_s = ready["start_s"].as_f64().unwrap_or(f64::NAN);
        spark.version = ready["spark"].as_str().unwrap_or("?").to_string();
        Ok(spark)
    }

    /// The script's next line as JSON, or an error with the end of its log.
    fn answer(&mut self, what: &str) -> Result<Value, String> {
        let mut line = String::new();
        let read = self.stdout.read_line(&mut line);
        match read {
            Ok(n) if n > 0 => serde_json::from_str(line.trim())
                .map_err(|e| format!("{} {what}: not JSON ({e}): {line}", self.name)),
            _ => {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                Err(format!(
                    "{} ended while {what} ({read:?}); the end of {}:\n{}",
                    self.name,
                    self.log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ))
            }
        }
    }

    /// Send `command` (one line) and return the answer.
    pub fn ask(&mut self, command: &str) -> Result<Value, String> {
        let name = self.name.clone();
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{name}'s stdin is closed"))?;
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("asking {name} to {command}: {e}"))?;
        self.answer(command)
    }
}

impl Drop for Spark {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start the testkit's broker pinned to [`BROKER_CORE`] in `dir`; its bootstrap address, the
/// guard that stops it, and how many JVM threads were checked for the pinning.
pub fn start_broker(testkit: &Path, dir: &Path) -> Result<(String, BrokerGuard, usize), String> {
    let bootstrap = sh(Command::new("taskset")
        .args(["-c", BROKER_CORE])
        .arg(testkit)
        .arg("start")
        .arg("--dir")
        .arg(dir))
    .map_err(|e| format!("starting the broker: {e}"))?;
    let guard = BrokerGuard {
        testkit: testkit.to_path_buf(),
        dir: dir.to_path_buf(),
    };
    let threads = check_broker_affinity(dir, BROKER_CORE)?;
    eprintln!(
        "broker {bootstrap} in {} ({threads} threads, all pinned to core {BROKER_CORE}; if this run is killed: {} stop --dir {0})",
        dir.display(),
        testkit.display()
    );
    Ok((bootstrap, guard, threads))
}

/// `git rev-parse --short HEAD` of `root`, and whether tracked files have uncommitted changes.
pub fn commit(root: &Path) -> (String, bool) {
    let commit = sh(Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root))
    .unwrap_or_else(|_| "unknown".into());
    let dirty = sh(Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root))
    .is_ok_and(|s| !s.is_empty());
    (commit, dirty)
}

/// One measured run of a child.
pub struct Measure {
    pub wall: f64,
    pub cpu: f64,
    pub rss_mb: f64,
    pub stdout: String,
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository root")
}

/// What a benchmark run drives, each checked to exist: the release `kbatch` and testkit, and
/// the project virtualenv's Python (`$KBATCH_VENV`, default `.venv`).
pub struct Tools {
    pub root: PathBuf,
    pub kbatch: PathBuf,
    pub testkit: PathBuf,
    pub python: PathBuf,
}

impl Tools {
    /// Find them; a missing one is an error naming `make_target`, which builds it.
    pub fn locate(make_target: &str) -> Result<Tools, String> {
        let root = root();
        let venv =
            std::env::var_os("KBATCH_VENV").map_or_else(|| root.join(".venv"), PathBuf::from);
        let tools = Tools {
            kbatch: root.join("target/release/kbatch"),
            testkit: root.join("target/release/kbatch-testkit"),
            python: venv.join("bin/python"),
            root,
        };
        for p in [&tools.kbatch, &tools.testkit, &tools.python] {
            if !p.exists() {
                return Err(format!(
                    "{} is missing: `make {make_target}` builds and installs it",
                    p.display()
                ));
            }
        }
        Ok(tools)
    }
}

/// Run `program args` pinned to `core` and measure it. The child is reaped with `wait4` (for
/// its own rusage: `ru_maxrss` is the peak RSS of that process, which `taskset` exec'd into),
/// not with `Child::wait`.
#[allow(clippy::zombie_processes)]
pub fn measure(core: &str, program: &Path, args: &[&str]) -> Result<Measure, String> {
    let started = Instant::now();
    let child = Command::new("taskset")
        .arg("-c")
        .arg(core)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running taskset {}: {e}", program.display()))?;
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("piped stdout");
    let mut stderr = child.stderr.expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let mut status = 0;
    // SAFETY: rusage is plain old data that wait4 fills in for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_secs_f64();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    if r != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!(
            "{} {} failed (wait status {status}):\n{stderr}",
            program.display(),
            args.join(" ")
        ));
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Measure {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        rss_mb: usage.ru_maxrss as f64 / 1024.0,
        stdout,
    })
}

/// The 1-minute load average (`/proc/loadavg`), as text.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Run a command to completion; its trimmed stdout, or an error with its stderr.
pub fn sh(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn min_max(v: &[f64]) -> (f64, f64) {
    (
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

/// The runs of one reader on one codec.
#[derive(Default)]
pub struct Series {
    pub wall: Vec<f64>,
    pub cpu: Vec<f64>,
    pub rss: Vec<f64>,
}

impl Series {
    pub fn push(&mut self, m: &Measure) {
        self.wall.push(m.wall);
        self.cpu.push(m.cpu);
        self.rss.push(m.rss_mb);
    }
    pub fn wall(&self) -> f64 {
        median(&self.wall)
    }
    pub fn cpu(&self) -> f64 {
        median(&self.cpu)
    }
    pub fn rss(&self) -> f64 {
        median(&self.rss)
    }
}

/// `median (min–max)` with `d` decimals.
pub fn spread(v: &[f64], d: usize) -> String {
    let (lo, hi) = min_max(v);
    format!("{:.d$} ({lo:.d$}–{hi:.d$})", median(v))
}

/// Stops the detached broker (and removes its data) however the run ends, panics included.
pub struct BrokerGuard {
    pub testkit: PathBuf,
    pub dir: PathBuf,
}

impl Drop for BrokerGuard {
    fn drop(&mut self) {
        let _ = Command::new(&self.testkit)
            .arg("stop")
            .arg("--dir")
            .arg(&self.dir)
            .status();
    }
}

/// Every thread of every process in the broker's process group must be allowed on `core`
/// only: the JVM's threads inherit the affinity `taskset` set, and this proves it did.
pub fn check_broker_affinity(dir: &Path, core: &str) -> Result<usize, String> {
    let pgid: i32 = std::fs::read_to_string(dir.join("pid"))
        .map_err(|e| format!("reading the broker's pid file: {e}"))?
        .trim()
        .parse()
        .map_err(|e| format!("the broker's pid file: {e}"))?;
    let mut threads = 0;
    for entry in std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // Field 5 of /proc/PID/stat is the process group; the command name (field 2) may hold
        // spaces, so count fields after its closing parenthesis.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(after) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        if after
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse::<i32>().ok())
            != Some(pgid)
        {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
                continue;
            };
            let allowed = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(str::trim)
                .unwrap_or("?");
            if allowed != core {
                return Err(format!(
                    "broker thread {} of process {pid} may run on CPUs {allowed}, not only {core}",
                    task.file_name().to_string_lossy()
                ));
            }
            threads += 1;
        }
    }
    if threads == 0 {
        return Err(format!(
            "no process found in the broker's process group {pgid}"
        ));
    }
    Ok(threads)
}

/// The Kafka version of the jars the testkit runs (`kafka-clients-<version>.jar`).
pub fn kafka_version(root: &Path) -> String {
    let libs = std::env::var_os("KBATCH_KAFKA_LIBS")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            std::fs::read_dir(root.join(".cache"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path().join("libs")),
        );
    for dir in libs {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(v) = name
                .strip_prefix("kafka-clients-")
                .and_then(|r| r.strip_suffix(".jar"))
            {
                return v.to_string();
            }
        }
    }
    "unknown".into()
}

pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".into(), |(_, m)| m.trim().to_string());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!("{cores} cores, {mem_gib:.0} GiB, {model}")
}
