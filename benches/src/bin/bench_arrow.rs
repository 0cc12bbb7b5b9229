//! `make bench-arrow`: the Arrow / Parquet / Python side of kbatch (issue 14) on one real broker.
//!
//! 1. Starts one Kafka broker pinned to core 0 (as `bench_e2e`) and produces the realistic
//!    `flat` mix (`kbatch_testkit::events`, ~430-byte browsing events, seed 7, 0.1 % invalid)
//!    with the Java producer, lz4, 8 partitions, `--events` records (default 2 M).
//! 2. `--rounds` rounds (default 5) of, in alternation, each pinned to core 1:
//!    `kbatch.read()` into a `pyarrow.Table` (`benches/python/kbatch_read.py`), the best
//!    plain-Python way with confluent-kafka (`confluent_read.py`: `consume(num_messages=10000)`,
//!    the rdkafka reader's tuned fetch settings, columns built per consumed batch with pyarrow),
//!    `kbatch export --format parquet` (zstd level 3) into a fresh directory, the same
//!    uncompressed (zstd's share of its CPU), and `kbatch count`; then export and count on
//!    both cores (shared with the broker), where export encodes on one thread per core.
//!    Every round checks that the four saw the same number of records (and the two Python
//!    readers the same value bytes).
//! 3. Peak RSS of `read_batches` consumed batch by batch over `--rss-events` records (default
//!    20 M, produced into a second topic) against its peak over the first topic.
//!
//! Medians of wall, CPU and peak RSS; the floors: `kbatch.read` ≥ 5× faster wall than
//! confluent-kafka, export ≥ 0.5× count's records/s, RSS(20 M) ≤ 1.2 × RSS(2 M). Results to
//! stdout and `benches/results/<date>-<host>-arrow.md` (not with `--smoke`).
//!
//! Usage: bench_arrow [--events N] [--rss-events N] [--rounds R] [--smoke] [--out FILE]
//!
//! Expects `target/release/{kbatch,kbatch-testkit}` and the project virtualenv with the
//! `kbatch` package and confluent-kafka installed; `make bench-arrow` prepares them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use kbatch_benches::harness::{
    commit, kafka_version, machine, measure, root, sh, spread, start_broker, Measure, Series,
    BROKER_CORE, READER_CORE,
};
use serde_json::Value;

const PARTITIONS: &str = "8";
const CODEC: &str = "lz4";
/// Both cores of the benchmark machine, for the multi-threaded export and its count.
const ALL_CORES: &str = "0,1";

struct Opts {
    smoke: bool,
    events: u64,
    rss_events: u64,
    rounds: usize,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let mut o = Opts {
        smoke,
        events: if smoke { 5_000 } else { 2_000_000 },
        rss_events: if smoke { 0 } else { 20_000_000 },
        rounds: if smoke { 1 } else { 5 },
        out: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        let number = |v: &String| v.parse::<u64>().map_err(|e| format!("{a}: {e}"));
        match a.as_str() {
            "--smoke" => {}
            "--events" => o.events = number(value()?)?,
            "--rss-events" => o.rss_events = number(value()?)?,
            "--rounds" => o.rounds = number(value()?)? as usize,
            "--out" => o.out = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    if o.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    match parse_args().and_then(|o| run(&o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_arrow: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Create `topic` and produce `events` of the flat mix into it with the Java producer.
fn load(testkit: &Path, bootstrap: &str, topic: &str, events: u64) -> Result<(), String> {
    sh(Command::new(testkit).args([
        "create-topic",
        "--bootstrap",
        bootstrap,
        "--topic",
        topic,
        "--partitions",
        PARTITIONS,
    ]))?;
    sh(Command::new(testkit).args([
        "produce-trending",
        "--bootstrap",
        bootstrap,
        "--topic",
        topic,
        "--partitions",
        PARTITIONS,
        "--events",
        &events.to_string(),
        "--seed",
        "7",
        "--compression",
        CODEC,
        "--mix",
        "flat",
    ]))
    .map(drop)
}

fn json(who: &str, m: &Measure) -> Result<Value, String> {
    serde_json::from_str(m.stdout.trim())
        .map_err(|e| format!("{who} printed no JSON ({e}): {}", m.stdout))
}

fn run(o: &Opts) -> Result<(), String> {
    let root = root();
    let kbatch = root.join("target/release/kbatch");
    let testkit = root.join("target/release/kbatch-testkit");
    let venv = std::env::var_os("KBATCH_VENV").map_or_else(|| root.join(".venv"), PathBuf::from);
    let python = venv.join("bin/python");
    let scripts = root.join("benches/python");
    for p in [&kbatch, &testkit, &python] {
        if !p.exists() {
            return Err(format!(
                "{} is missing: `make bench-arrow` builds and installs it",
                p.display()
            ));
        }
    }
    let started_at = sh(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))?;
    let dir = std::env::temp_dir().join(format!("kbatch-bench-arrow-{}", std::process::id()));
    let (bootstrap, _guard, threads) = start_broker(&testkit, &dir)?;
    let topic = format!("arrow_flat_{CODEC}");
    let produced = Instant::now();
    load(&testkit, &bootstrap, &topic, o.events)?;
    eprintln!(
        "produced {} events in {:.0} s",
        o.events,
        produced.elapsed().as_secs_f64()
    );
    let out_dir = dir.join("export");
    let py = |script: &str, extra: &[&str]| -> Result<Measure, String> {
        let path = scripts.join(script);
        let mut args = vec![path.to_str().unwrap(), bootstrap.as_str(), topic.as_str()];
        args.extend(extra);
        measure(READER_CORE, &python, &args)
    };
    let [mut kb, mut ck, mut ex, mut ex_none, mut cnt, mut ex_all, mut cnt_all] =
        std::array::from_fn(|_| Series::default());
    let mut records = 0u64;
    for round in 1..=o.rounds {
        let k = py("kbatch_read.py", &[])?;
        let c = py("confluent_read.py", &[])?;
        // An export's measure and the records its manifest names.
        let export = |core: &str, compression: &str| -> Result<(Measure, u64), String> {
            let _ = std::fs::remove_dir_all(&out_dir);
            let m = measure(
                core,
                &kbatch,
                &[
                    "export",
                    "--bootstrap",
                    &bootstrap,
                    "--topic",
                    &topic,
                    "--format",
                    "parquet",
                    "--compression",
                    compression,
                    "--output",
                    out_dir.to_str().unwrap(),
                ],
            )?;
            let manifest: Value = serde_json::from_str(
                &std::fs::read_to_string(out_dir.join("_manifest.json"))
                    .map_err(|e| format!("the export's manifest: {e}"))?,
            )
            .map_err(|e| format!("the export's manifest: {e}"))?;
            let exported: u64 = manifest["partitions"]
                .as_array()
                .map(|ps| ps.iter().filter_map(|p| p["records"].as_u64()).sum())
                .unwrap_or(0);
            Ok((m, exported))
        };
        let count = |core: &str| {
            measure(
                core,
                &kbatch,
                &["count", "--bootstrap", &bootstrap, "--topic", &topic],
            )
        };
        let (e, exported) = export(READER_CORE, "zstd:3")?;
        let (e_none, exported_none) = export(READER_CORE, "none")?;
        let n = count(READER_CORE)?;
        let (e_all, exported_all) = export(ALL_CORES, "zstd:3")?;
        let n_all = count(ALL_CORES)?;
        let (kj, cj, nj) = (
            json("kbatch.read", &k)?,
            json("confluent-kafka", &c)?,
            json("kbatch count", &n)?,
        );
        records = nj["records"].as_u64().unwrap_or(0);
        let all_records = json("kbatch count (all cores)", &n_all)?["records"].as_u64();
        if kj != cj
            || kj["records"].as_u64() != Some(records)
            || all_records != Some(records)
            || [exported, exported_none, exported_all] != [records; 3]
        {
            return Err(format!(
                "round {round}: the readers disagree: kbatch.read {kj}, confluent-kafka {cj}, exports {exported}/{exported_none}/{exported_all} records, count {nj} / {all_records:?}"
            ));
        }
        eprintln!(
            "round {round}: kbatch.read {:.2} s, confluent-kafka {:.2} s, export {:.2} s (uncompressed {:.2} s, all cores {:.2} s), count {:.2} s (all cores {:.2} s)",
            k.wall, c.wall, e.wall, e_none.wall, e_all.wall, n.wall, n_all.wall
        );
        kb.push(&k);
        ck.push(&c);
        ex.push(&e);
        ex_none.push(&e_none);
        cnt.push(&n);
        ex_all.push(&e_all);
        cnt_all.push(&n_all);
    }

    // Peak RSS of read_batches: the same reader over ten times the records.
    let mut rss = None;
    if o.rss_events > 0 {
        let big = format!("{topic}_rss");
        load(&testkit, &bootstrap, &big, o.rss_events)?;
        let small = py("kbatch_read.py", &["--batches"])?;
        let path = scripts.join("kbatch_read.py");
        let large = measure(
            READER_CORE,
            &python,
            &[path.to_str().unwrap(), &bootstrap, &big, "--batches"],
        )?;
        let got = json("read_batches", &large)?["records"].as_u64();
        if got != Some(o.rss_events) {
            return Err(format!(
                "read_batches over {big} saw {got:?} records, not {}",
                o.rss_events
            ));
        }
        rss = Some((small, large));
    }

    let (commit, dirty) = commit(&root);
    let rate = |s: &Series| records as f64 / s.wall();
    let mut md = String::new();
    let _ = write!(
        md,
        "# kbatch's Arrow, Parquet and Python paths, end to end\n\n\
         - date: {started_at}\n\
         - machine: {}\n\
         - Kafka {} (KRaft, one broker pinned to core {BROKER_CORE}: {threads} JVM threads); every reader pinned to core {READER_CORE}, except the two \"both cores\" rows (cores {ALL_CORES}, shared with the broker; `export` then encodes on one thread per core)\n\
         - commit: {commit}{}\n\
         - data: `{topic}`, the realistic `flat` mix of `kbatch_testkit::events` (~430-byte events, seed 7, 0.1 % invalid), {} records, {PARTITIONS} partitions, {CODEC}, Java producer\n\
         - command: `benches/target/release/bench_arrow {}` (`make bench-arrow`)\n\
         - rounds: {}, in alternation: `kbatch.read()` → pyarrow.Table, confluent-kafka `consume(num_messages=10000)` → pyarrow.Table (the rdkafka reader's fetch settings), `kbatch export --format parquet` (zstd 3), the same uncompressed, `kbatch count`, then export and count on both cores; every round checked: same records (and value bytes) everywhere\n\n\
         | reader | wall s median (min–max) | CPU s median (min–max) | peak RSS MB median (min–max) | records/s (median wall) |\n|---|---|---|---|---|\n",
        machine(),
        kafka_version(&root),
        if dirty { " (with uncommitted changes)" } else { "" },
        records,
        std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        o.rounds,
    );
    for (name, s) in [
        ("`kbatch.read()` → pyarrow.Table", &kb),
        ("confluent-kafka → pyarrow.Table", &ck),
        ("`kbatch export --format parquet` (zstd 3)", &ex),
        (
            "`kbatch export --format parquet --compression none` (no zstd, but ~5.5× the bytes written)",
            &ex_none,
        ),
        ("`kbatch count`", &cnt),
        (
            "`kbatch export --format parquet` (zstd 3), both cores",
            &ex_all,
        ),
        ("`kbatch count`, both cores", &cnt_all),
    ] {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {:.0} |",
            spread(&s.wall, 2),
            spread(&s.cpu, 2),
            spread(&s.rss, 0),
            rate(s)
        );
    }
    let speedup = ck.wall() / kb.wall();
    let export_ratio = rate(&ex) / rate(&cnt);
    let export_ratio_all = rate(&ex_all) / rate(&cnt_all);
    let met = |ok: bool| if ok { "met" } else { "**missed**" };
    let _ = write!(
        md,
        "\n| ratio | value | floor |\n|---|---|---|\n\
         | wall confluent-kafka ÷ `kbatch.read()` | {speedup:.1}× | ≥ 5× {} |\n\
         | CPU confluent-kafka ÷ `kbatch.read()` | {:.1}× | (reported) |\n\
         | records/s export parquet ÷ count, one core | {export_ratio:.2} | ≥ 0.5 {} |\n\
         | records/s export parquet ÷ count, both cores | {export_ratio_all:.2} | ≥ 0.5 {} |\n\
         | export CPU, both cores ÷ one core (the cost of threads) | {:.2} | (reported) |\n",
        met(speedup >= 5.0),
        ck.cpu() / kb.cpu(),
        met(export_ratio >= 0.5),
        met(export_ratio_all >= 0.5),
        ex_all.cpu() / ex.cpu(),
    );
    if let Some((small, large)) = &rss {
        let ratio = large.rss_mb / small.rss_mb;
        let _ = writeln!(
            md,
            "| peak RSS `read_batches` over {} ÷ over {} records ({:.0} MB ÷ {:.0} MB) | {ratio:.2} | ≤ 1.2 {} |",
            o.rss_events,
            records,
            large.rss_mb,
            small.rss_mb,
            if ratio <= 1.2 { "met" } else { "**missed**" },
        );
    }
    println!("{md}");
    if !o.smoke {
        let out = o.out.clone().unwrap_or_else(|| {
            let date = started_at.split(' ').next().unwrap_or("date").to_string();
            let host = sh(&mut Command::new("hostname")).unwrap_or_else(|_| "host".into());
            root.join(format!("benches/results/{date}-{host}-arrow.md"))
        });
        std::fs::write(&out, &md).map_err(|e| format!("writing {}: {e}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}
