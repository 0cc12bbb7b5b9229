//! `make bench-arrow`: the Arrow / Parquet / Python side of kbatch (issue 14) and export's
//! speed per codec against Spark (issue 25) on one real broker.
//!
//! 1. Starts one Kafka broker pinned to core 0 (as `bench_e2e`) and produces the realistic
//!    `flat` mix (`kbatch_testkit::events`, ~430-byte browsing events, seed 7, 0.1 % invalid)
//!    with the Java producer, lz4, 8 partitions, `--events` records (default 2 M). Starts one
//!    Spark session on `local[2]` with Spark's Kafka source (`benches/python/spark_export.py`,
//!    both cores, shared with the broker) and runs its export once unmeasured (JIT, jars).
//! 2. `--rounds` rounds (default 5) of, in alternation, each pinned to core 1:
//!    `kbatch.read()` into a `pyarrow.Table` (`benches/python/kbatch_read.py`), the best
//!    plain-Python way with confluent-kafka (`confluent_read.py`: `consume(num_messages=10000)`,
//!    the rdkafka reader's tuned fetch settings, columns built per consumed batch with pyarrow),
//!    `kbatch export --format parquet` into a fresh directory with every codec of [`CODECS`],
//!    and `kbatch count`; then on both cores (shared with the broker, where export encodes on
//!    one thread per core): export (zstd 3), count, export with snappy, and Spark's Kafka
//!    source writing the same range to Parquet with snappy (one `write.parquet` in the warm
//!    session). Every round checks that all of them saw the same number of records (and the
//!    two Python readers the same value bytes).
//! 3. Peak RSS of `read_batches` consumed batch by batch over `--rss-events` records (default
//!    20 M, produced into a second topic) against its peak over the first topic.
//!
//! Medians of wall, CPU and peak RSS; the issues' floors: `kbatch.read` ≥ 5× faster wall than
//! confluent-kafka, export ≥ 0.5× count's records/s, RSS(20 M) ≤ 1.2 × RSS(2 M), Parquet +
//! snappy export ≥ 5× faster wall than Spark's Kafka source on `local[2]`. Results to stdout,
//! `benches/results/<date>-<host>-arrow.md` and `<date>-<host>-export.md` (not with `--smoke`).
//!
//! Usage: bench_arrow [--events N] [--rss-events N] [--rounds R] [--smoke] [--out FILE]
//!        [--export-out FILE]
//!
//! Expects `target/release/{kbatch,kbatch-testkit}`, the project virtualenv with the `kbatch`
//! package, confluent-kafka and pyspark installed, and Spark's Kafka jars
//! (`KBATCH_SPARK_KAFKA_JARS`); `make bench-arrow` prepares them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use kbatch_benches::harness::{
    commit, kafka_version, load_average, machine, measure, median, sh, spread, start_broker,
    Measure, Series, Spark, Tools, ALL_CORES, BROKER_CORE, READER_CORE,
};
use serde_json::Value;

const PARTITIONS: &str = "8";
const CODEC: &str = "lz4";
/// Every Parquet codec export offers, as `--compression` spells it, measured on one core.
const CODECS: [&str; 6] = ["snappy", "lz4_raw", "zstd:1", "zstd:3", "gzip", "none"];
/// The default codec (the rows the arrow results file has always reported).
const DEFAULT_CODEC: &str = "zstd:3";
/// The floor: Parquet + snappy export at least this many times faster (wall) than
/// Spark's Kafka source writing the same range to Parquet (snappy) on `local[2]`.
const SPARK_FLOOR: f64 = 5.0;

struct Opts {
    smoke: bool,
    events: u64,
    rss_events: u64,
    rounds: usize,
    out: Option<PathBuf>,
    export_out: Option<PathBuf>,
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
        export_out: None,
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
            "--export-out" => o.export_out = Some(PathBuf::from(value()?)),
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

/// One Spark export of the whole topic (`spark_export.py`'s answer to `run`).
struct SparkRun {
    wall: f64,
    cpu: f64,
    records: u64,
    bytes: u64,
}

/// What the results file says about the session once it has ended.
struct SparkFacts {
    version: String,
    start_s: f64,
}

/// `spark_export.py`'s answer to `run`: one Spark export of the whole topic.
fn spark_export(spark: &mut Spark) -> Result<SparkRun, String> {
    let v = spark.ask("run")?;
    if v["codecs"] != serde_json::json!(["SNAPPY"]) {
        return Err(format!("Spark wrote other codecs than snappy: {v}"));
    }
    let number = |k: &str| {
        v[k].as_f64()
            .ok_or_else(|| format!("spark_export.py: no {k} in {v}"))
    };
    Ok(SparkRun {
        wall: number("wall")?,
        cpu: number("cpu")?,
        records: number("records")? as u64,
        bytes: number("bytes")? as u64,
    })
}

fn run(o: &Opts) -> Result<(), String> {
    let Tools {
        root,
        kbatch,
        testkit,
        python,
    } = Tools::locate("bench-arrow")?;
    let scripts = root.join("benches/python");
    let started_at = sh(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))?;
    let load_start = load_average();
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
    let mut spark = Spark::start(
        &python,
        &scripts.join("spark_export.py"),
        &[
            &bootstrap,
            &topic,
            dir.join("spark-export").to_str().unwrap(),
            "--cores",
            "2",
        ],
        &dir.join("spark_export.log"),
    )?;
    let warm = spark_export(&mut spark)?;
    eprintln!(
        "Spark {} on local[2]: session up in {:.1} s, warm-up export {:.2} s ({} records)",
        spark.version, spark.start_s, warm.wall, warm.records
    );
    let [mut kb, mut ck, mut cnt, mut ex_all, mut cnt_all, mut snappy_all] =
        std::array::from_fn(|_| Series::default());
    let mut by_codec: Vec<Series> = CODECS.iter().map(|_| Series::default()).collect();
    // Bytes written per codec (the same every round: the data and the writer are).
    let mut codec_bytes = [0u64; CODECS.len()];
    let (mut spark_wall, mut spark_cpu) = (Vec::new(), Vec::new());
    let (mut snappy_bytes, mut spark_bytes) = (0u64, 0u64);
    let mut records = 0u64;
    for round in 1..=o.rounds {
        let k = py("kbatch_read.py", &[])?;
        let c = py("confluent_read.py", &[])?;
        // An export's measure, and the records and bytes its manifest names.
        let export = |core: &str, compression: &str| -> Result<(Measure, u64, u64), String> {
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
            let partitions = manifest["partitions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let exported = partitions
                .iter()
                .filter_map(|p| p["records"].as_u64())
                .sum();
            let bytes = partitions
                .iter()
                .flat_map(|p| p["files"].as_array().cloned().unwrap_or_default())
                .filter_map(|f| f["bytes"].as_u64())
                .sum();
            Ok((m, exported, bytes))
        };
        let count = |core: &str| {
            measure(
                core,
                &kbatch,
                &["count", "--bootstrap", &bootstrap, "--topic", &topic],
            )
        };
        let mut exported = Vec::new();
        let mut line = Vec::new();
        for (i, codec) in CODECS.iter().enumerate() {
            let (e, n, bytes) = export(READER_CORE, codec)?;
            line.push(format!("{codec} {:.2} s", e.wall));
            by_codec[i].push(&e);
            codec_bytes[i] = bytes;
            exported.push((codec.to_string(), n));
        }
        let n = count(READER_CORE)?;
        let (e_all, exported_all, _) = export(ALL_CORES, DEFAULT_CODEC)?;
        let n_all = count(ALL_CORES)?;
        let (s_all, exported_snappy, bytes) = export(ALL_CORES, "snappy")?;
        snappy_bytes = bytes;
        let sp = spark_export(&mut spark)?;
        spark_bytes = sp.bytes;
        exported.extend([
            (format!("{DEFAULT_CODEC}, both cores"), exported_all),
            ("snappy, both cores".into(), exported_snappy),
            ("Spark".into(), sp.records),
        ]);
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
            || exported.iter().any(|(_, n)| *n != records)
        {
            return Err(format!(
                "round {round}: the readers disagree: kbatch.read {kj}, confluent-kafka {cj}, exports {exported:?} records, count {nj} / {all_records:?}"
            ));
        }
        eprintln!(
            "round {round}: kbatch.read {:.2} s, confluent-kafka {:.2} s, export on one core: {}; count {:.2} s; both cores: export {:.2} s, count {:.2} s, export snappy {:.2} s, Spark local[2] snappy {:.2} s",
            k.wall, c.wall, line.join(", "), n.wall, e_all.wall, n_all.wall, s_all.wall, sp.wall
        );
        kb.push(&k);
        ck.push(&c);
        cnt.push(&n);
        ex_all.push(&e_all);
        cnt_all.push(&n_all);
        snappy_all.push(&s_all);
        spark_wall.push(sp.wall);
        spark_cpu.push(sp.cpu);
    }
    // Spark's session ends here (its JVM would weigh on the RSS probe); its facts stay.
    let spark = {
        let facts = SparkFacts {
            version: spark.version.clone(),
            start_s: spark.start_s,
        };
        drop(spark);
        facts
    };
    let codec_index = |c: &str| {
        CODECS
            .iter()
            .position(|x| *x == c)
            .expect("a codec of CODECS")
    };
    let ex = &by_codec[codec_index(DEFAULT_CODEC)];
    let ex_none = &by_codec[codec_index("none")];

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
    let date = started_at.split(' ').next().unwrap_or("date").to_string();
    let host = sh(&mut Command::new("hostname")).unwrap_or_else(|_| "host".into());
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
         - rounds: {}, in alternation: `kbatch.read()` → pyarrow.Table, confluent-kafka `consume(num_messages=10000)` → pyarrow.Table (the rdkafka reader's fetch settings), `kbatch export --format parquet` with each codec ({}), `kbatch count`, then export (zstd 3), count, export (snappy) and Spark's Kafka source (`{}-{}-export.md`) on both cores; every round checked: same records (and value bytes) everywhere\n\n\
         | reader | wall s median (min–max) | CPU s median (min–max) | peak RSS MB median (min–max) | records/s (median wall) |\n|---|---|---|---|---|\n",
        machine(),
        kafka_version(&root),
        if dirty { " (with uncommitted changes)" } else { "" },
        records,
        std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        o.rounds,
        CODECS.join(", "),
        date,
        host,
    );
    for (name, s) in [
        ("`kbatch.read()` → pyarrow.Table", &kb),
        ("confluent-kafka → pyarrow.Table", &ck),
        ("`kbatch export --format parquet` (zstd 3)", ex),
        (
            "`kbatch export --format parquet --compression none` (no zstd, but ~5.5× the bytes written)",
            ex_none,
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
    let export_ratio = rate(ex) / rate(&cnt);
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

    // The export file: every codec on one core, and the floor against Spark.
    let mut xmd = String::new();
    let _ = write!(
        xmd,
        "# kbatch export: Parquet codecs on one core, and Spark's Kafka source writing Parquet\n\n\
         - date: {started_at}\n\
         - machine: {}\n\
         - Kafka {} (KRaft, one broker pinned to core {BROKER_CORE}: {threads} JVM threads)\n\
         - commit: {commit}{}\n\
         - data: `{topic}`, the realistic `flat` mix of `kbatch_testkit::events` (~430-byte events, seed 7, 0.1 % invalid), {records} records, {PARTITIONS} partitions, {CODEC}, Java producer\n\
         - command: `benches/target/release/bench_arrow {}` (`make bench-arrow`; the Python readers' figures of the same run are in `{}-{}-arrow.md`)\n\
         - load average (1 min, /proc/loadavg): {load_start} at the start, {} at the end (CPU figures are the processes' own; with other work on the machine, wall is longer than CPU)\n\
         - rounds: {}, in alternation with the Python readers; medians (min–max) of wall and CPU (the child's own rusage); every round checked: every export and Spark wrote the records `kbatch count` counts\n\
         - one core: `kbatch export --format parquet --compression C --output DIR` pinned to core {READER_CORE} (one encoding thread), into a fresh local directory; wall is the whole process: start, plan, fetch, encode, write, manifest\n\
         - Spark {} `local[2]` with Spark's Kafka source (`spark-sql-kafka-0-10`, `benches/python/spark_export.py`): `spark.read.format(\"kafka\")` from earliest to latest, read_committed, `.write.option(\"compression\", \"snappy\").parquet(DIR)`; one session for the run (up in {:.1} s, not counted) and one unmeasured warm-up export ({:.2} s); wall is the action's, CPU the Spark JVM's (/proc utime + stime) over it. kbatch on the same two cores (cores {ALL_CORES}, shared with the broker; one encoding thread per core), wall of the whole process\n\n\
         ## One core, every codec\n\n\
         | `--compression` | wall s median (min–max) | CPU s median (min–max) | records/s (median wall) | records per CPU s (median CPU) | ÷ `kbatch count`'s records/s | MB written |\n|---|---|---|---|---|---|---|\n",
        machine(),
        kafka_version(&root),
        if dirty { " (with uncommitted changes)" } else { "" },
        std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        date,
        host,
        load_average(),
        o.rounds,
        spark.version,
        spark.start_s,
        warm.wall,
    );
    for ((codec, s), bytes) in CODECS.iter().zip(&by_codec).zip(codec_bytes) {
        let _ = writeln!(
            xmd,
            "| {codec} | {} | {} | {:.0} | {:.0} | {:.2} | {:.1} |",
            spread(&s.wall, 2),
            spread(&s.cpu, 2),
            rate(s),
            records as f64 / s.cpu(),
            rate(s) / rate(&cnt),
            bytes as f64 / 1e6,
        );
    }
    let _ = writeln!(
        xmd,
        "| (`kbatch count`, no export) | {} | {} | {:.0} | {:.0} | 1 | – |",
        spread(&cnt.wall, 2),
        spread(&cnt.cpu, 2),
        rate(&cnt),
        records as f64 / cnt.cpu(),
    );
    let spark_rate = records as f64 / median(&spark_wall);
    let spark_ratio = median(&spark_wall) / snappy_all.wall();
    let _ = write!(
        xmd,
        "\n## Parquet + snappy, both cores: kbatch against Spark's Kafka source on `local[2]`\n\n\
         | writer | wall s median (min–max) | CPU s median (min–max) | records/s (median wall) | MB written |\n|---|---|---|---|---|\n\
         | `kbatch export --format parquet --compression snappy` | {} | {} | {:.0} | {:.1} |\n\
         | Spark {} `local[2]`, Kafka source → `write.parquet` (snappy) | {} | {} | {spark_rate:.0} | {:.1} |\n\n\
         | ratio of medians | value | floor |\n|---|---|---|\n\
         | wall Spark ÷ kbatch export | {spark_ratio:.1}× | ≥ {SPARK_FLOOR:.0}× {} |\n\
         | CPU Spark ÷ kbatch export | {:.1}× | (reported) |\n",
        spread(&snappy_all.wall, 2),
        spread(&snappy_all.cpu, 2),
        rate(&snappy_all),
        snappy_bytes as f64 / 1e6,
        spark.version,
        spread(&spark_wall, 2),
        spread(&spark_cpu, 2),
        spark_bytes as f64 / 1e6,
        met(spark_ratio >= SPARK_FLOOR),
        median(&spark_cpu) / snappy_all.cpu(),
    );
    println!("{md}");
    println!("{xmd}");
    if !o.smoke {
        for (out, text, suffix) in [(&o.out, &md, "arrow"), (&o.export_out, &xmd, "export")] {
            let out = out
                .clone()
                .unwrap_or_else(|| root.join(format!("benches/results/{date}-{host}-{suffix}.md")));
            std::fs::write(&out, text).map_err(|e| format!("writing {}: {e}", out.display()))?;
            eprintln!("wrote {}", out.display());
        }
    }
    Ok(())
}
