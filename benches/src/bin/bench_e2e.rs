//! `make bench-e2e`: kbatch against rust-rdkafka on one real broker and the same data.
//!
//! The broker runs pinned to core 0; each reader runs pinned to core 1, in alternation, for
//! every codec: `kbatch trending`, `rdkafka_trending`, `kbatch count`. Every round checks that
//! rdkafka's report equals kbatch's. Wall time, CPU time (user + sys) and peak RSS come from
//! `wait4`'s rusage of each child. Results (medians, min–max, ratios) go to stdout and to
//! `benches/results/<date>-<host>.md`.
//!
//! Usage: bench_e2e [--events N] [--rounds R] [--codecs none,lz4,zstd] [--smoke]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

struct Measure {
    wall: f64,
    cpu: f64,
    rss_mb: f64,
    stdout: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// Run `cmd` pinned to `core`, measuring it with wait4.
// The child is reaped by `wait4` (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn measure(core: &str, program: &Path, args: &[&str]) -> Measure {
    let started = Instant::now();
    let child = Command::new("taskset")
        .arg("-c")
        .arg(core)
        .arg(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
    let pid = child.id() as i32;
    let mut stdout = child.stdout.unwrap();
    let mut stderr = child.stderr.unwrap();
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
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_secs_f64();
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    assert!(
        r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{} {args:?} failed: {stderr}",
        program.display()
    );
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Measure {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        rss_mb: usage.ru_maxrss as f64 / 1024.0,
        stdout,
    }
}

fn sh(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[derive(Default)]
struct Series {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<f64>,
}

impl Series {
    fn push(&mut self, m: &Measure) {
        self.wall.push(m.wall);
        self.cpu.push(m.cpu);
        self.rss.push(m.rss_mb);
    }
    fn med(&self) -> (f64, f64, f64) {
        (
            median(&mut self.wall.clone()),
            median(&mut self.cpu.clone()),
            median(&mut self.rss.clone()),
        )
    }
    fn range(v: &[f64]) -> (f64, f64) {
        (
            v.iter().cloned().fold(f64::INFINITY, f64::min),
            v.iter().cloned().fold(0.0, f64::max),
        )
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let events: u64 = arg(&args, "--events").map_or(if smoke { 5_000 } else { 10_000_000 }, |v| {
        v.parse().unwrap()
    });
    let rounds: usize =
        arg(&args, "--rounds").map_or(if smoke { 1 } else { 5 }, |v| v.parse().unwrap());
    let codecs: Vec<String> = arg(&args, "--codecs")
        .unwrap_or_else(|| {
            if smoke {
                "lz4".into()
            } else {
                "none,lz4,zstd".into()
            }
        })
        .split(',')
        .map(String::from)
        .collect();
    let root = root();
    let kbatch = root.join("target/release/kbatch");
    let testkit = root.join("target/release/kbatch-testkit");
    let rdk = root.join("benches/target/release/rdkafka_trending");
    for p in [&kbatch, &testkit, &rdk] {
        assert!(
            p.exists(),
            "{} is missing: build it first (make bench-e2e does)",
            p.display()
        );
    }
    let dir = std::env::temp_dir().join(format!("kbatch-bench-{}", std::process::id()));
    let dir_s = dir.display().to_string();
    // Broker on core 0 (its JVM threads inherit the affinity).
    let bootstrap = {
        let out = Command::new("taskset")
            .args(["-c", "0"])
            .arg(&testkit)
            .args(["start", "--dir", &dir_s])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "broker start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    struct Stop<'a>(&'a Path, String);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = Command::new(self.0)
                .args(["stop", "--dir", &self.1])
                .status();
        }
    }
    let _stop = Stop(&testkit, dir_s.clone());
    eprintln!("broker {bootstrap}; producing {events} events per codec ({codecs:?})");

    // Produce once per codec, in parallel, before anything is measured.
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in &codecs {
            let (testkit, bootstrap) = (&testkit, &bootstrap);
            s.spawn(move || {
                let topic = format!("web_stream_{c}");
                sh(
                    testkit,
                    &[
                        "create-topic",
                        "--bootstrap",
                        bootstrap,
                        "--topic",
                        &topic,
                        "--partitions",
                        "8",
                    ],
                );
                let n = events.to_string();
                let status = Command::new("taskset")
                    .args(["-c", "1"])
                    .arg(testkit)
                    .args([
                        "produce-trending",
                        "--bootstrap",
                        bootstrap,
                        "--topic",
                        &topic,
                        "--partitions",
                        "8",
                        "--events",
                        &n,
                        "--seed",
                        "7",
                        "--invalid",
                        "100",
                        "--compression",
                        c,
                    ])
                    .status()
                    .unwrap();
                assert!(status.success(), "producing {topic} failed");
            });
        }
    });
    eprintln!("produced in {:.0} s", started.elapsed().as_secs_f64());

    let mut report = String::new();
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(&root)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let mem_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |k| k / 1024.0 / 1024.0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = sh(Path::new("date"), &["-u", "+%Y-%m-%d %H:%M UTC"]);
    report.push_str(&format!(
        "# kbatch vs rust-rdkafka, end to end\n\n- date: {date}\n- machine: {cores} cores, {mem_gb:.0} GiB, {cpu_model}\n- Kafka 4.3.1 (KRaft, one broker pinned to core 0); readers pinned to core 1\n- commit: {commit}\n- data: `web_stream_<codec>`, 8 partitions, {events} events (+100 invalid) per codec, ~100-byte JSON, Java producer\n- command: `{}`\n- rounds: {rounds}, in alternation kbatch trending / rdkafka / kbatch count\n\n",
        std::env::args().collect::<Vec<_>>().join(" ")
    ));
    report.push_str("| codec | reader | wall s (median, min–max) | CPU s | peak RSS MB | records/s |\n|---|---|---|---|---|---|\n");
    let mut ratios = String::from("\n| codec | records/s kbatch ÷ rdkafka | CPU/record kbatch ÷ rdkafka | peak RSS kbatch ÷ rdkafka | trending ÷ count wall |\n|---|---|---|---|---|\n");

    for c in &codecs {
        let topic = format!("web_stream_{c}");
        let (mut kb, mut rd, mut cnt) = (Series::default(), Series::default(), Series::default());
        let mut records = 0u64;
        for round in 0..rounds {
            let k = measure(
                "1",
                &kbatch,
                &[
                    "trending",
                    "--bootstrap",
                    &bootstrap,
                    "--topic",
                    &topic,
                    "--format",
                    "json",
                    "--threads",
                    "1",
                ],
            );
            let r = measure("1", &rdk, &["--bootstrap", &bootstrap, "--topic", &topic]);
            let n = measure(
                "1",
                &kbatch,
                &[
                    "count",
                    "--bootstrap",
                    &bootstrap,
                    "--topic",
                    &topic,
                    "--threads",
                    "1",
                ],
            );
            let kj: Value = serde_json::from_str(&k.stdout).expect("kbatch json");
            let rj: Value = serde_json::from_str(&r.stdout).expect("rdkafka json");
            let nj: Value = serde_json::from_str(&n.stdout).expect("count json");
            for f in ["records", "invalid", "top"] {
                assert_eq!(
                    kj[f], rj[f],
                    "{c} round {round}: kbatch and rdkafka disagree on {f}"
                );
            }
            assert_eq!(
                kj["records"], nj["records"],
                "{c}: trending and count disagree"
            );
            records = kj["records"].as_u64().unwrap();
            eprintln!(
                "{c} round {round}: kbatch {:.2}s rdkafka {:.2}s count {:.2}s",
                k.wall, r.wall, n.wall
            );
            kb.push(&k);
            rd.push(&r);
            cnt.push(&n);
        }
        let mut row = |name: &str, s: &Series| {
            let (w, cpu, rss) = s.med();
            let (lo, hi) = Series::range(&s.wall);
            report.push_str(&format!(
                "| {c} | {name} | {w:.2} ({lo:.2}–{hi:.2}) | {cpu:.2} | {rss:.0} | {:.2} M |\n",
                records as f64 / w / 1e6
            ));
        };
        row("kbatch trending", &kb);
        row("rdkafka trending", &rd);
        row("kbatch count", &cnt);
        let ((kw, kc, kr), (rw, rc, rr), (cw, _, _)) = (kb.med(), rd.med(), cnt.med());
        ratios.push_str(&format!(
            "| {c} | {:.2}× | {:.2}× | {:.2}× | {:.2}× |\n",
            rw / kw,
            kc / rc,
            kr / rr,
            kw / cw
        ));
    }
    report.push_str(&ratios);
    println!("{report}");
    if !smoke {
        let host = sh(Path::new("hostname"), &[]);
        let day = sh(Path::new("date"), &["-u", "+%Y-%m-%d"]);
        let path = root.join(format!("benches/results/{day}-{host}.md"));
        std::fs::write(&path, &report).unwrap();
        eprintln!("wrote {}", path.display());
    }
}
