"""`make bench-spark`: kbatch's Spark data source against Spark's own Kafka source, same broker,
same data, same run; writes benches/results/<date>-<host>-spark.md.

Data: the realistic ``flat`` mix (``kbatch-testkit produce-trending --mix flat --compression
lz4``), 8 partitions, on one broker started by the testkit. Spark runs in local mode with 1 and
then 2 executor cores (``local[1]``, ``local[2]``: one session each), and every round runs, in
alternation:

* ``count``: ``spark.read.format(F).load().count()`` for F = kafka, kbatch;
* ``trending (SQL)``: the seed's query, top products per category by views (ties kept), as
  Spark SQL over ``from_json(value)``, on F = kafka and F = kbatch;
* ``trending (pushdown)``: ``kbatch.spark.trending`` (the job in every shard, Spark merges).

All readers use read_committed (the producer is not transactional, so it equals
read_uncommitted here). Every round's trending answer is checked against ``kbatch trending``.
CPU is the Spark process tree's (the JVM, its Python workers), from /proc, so it covers the
executors of local mode; the driver script's own CPU is left out.

Usage: bench_spark.py --events N [--rounds 3] [--warmup 1] [--partitions 8] [--cores 1,2] [--out FILE] [--note TEXT]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("KBATCH_BIN_DIR", REPO / "target" / "release"))
TICK = os.sysconf("SC_CLK_TCK")


def run(*args: str, timeout: float = 1800) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants, reaped children included."""
    children: Dict[int, List[int]] = {}
    stats: Dict[int, List[str]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            text = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        stats[int(d)] = fields
        children.setdefault(int(fields[1]), []).append(int(d))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        f = stats.get(pid)
        if f:
            total += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
        todo.extend(children.get(pid, []))
    return total / TICK


def machine() -> str:
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // (1024 * 1024)
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores, {mem} GiB, {model}"


def session(cores: int, jars: List[str], pythonpath: str):
    from pyspark.sql import SparkSession

    from kbatch.spark import KbatchDataSource

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    b = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(f"kbatch-bench-spark-{cores}")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.jars", ",".join(jars))
    )
    if pythonpath:
        b = b.config("spark.executorEnv.PYTHONPATH", pythonpath)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.dataSource.register(KbatchDataSource)
    return spark


def jvm_pid(spark) -> int:
    return int(spark.sparkContext._jvm.ProcessHandle.current().pid())


def sql_trending(spark, fmt: str, options: dict) -> List[dict]:
    """The seed's query: views per (category, product) from the JSON value, top 1 per category
    with ties (rank ≤ 1), as Spark SQL."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    events = (
        spark.read.format(fmt).options(**options).load()
        .select(F.from_json(F.col("value").cast("string"), "product STRING, category STRING").alias("e"))
        .select("e.category", "e.product")
        .where(F.col("category").isNotNull() & F.col("product").isNotNull())
    )
    views = events.groupBy("category", "product").agg(F.count(F.lit(1)).alias("views"))
    ranked = views.withColumn("rank", F.rank().over(Window.partitionBy("category").orderBy(F.col("views").desc())))
    top = ranked.where(F.col("rank") <= 1).orderBy("category", "rank", "product").collect()
    return [dict(category=r["category"], product=r["product"], views=r["views"], rank=r["rank"]) for r in top]


def pushdown_trending(spark, options: dict) -> List[dict]:
    from kbatch.spark import trending

    report, _ = trending(spark, top=1, options=options)
    return [r.asDict() for r in report.collect()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--cores", default="1,2")
    ap.add_argument("--out", default="")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--note", default="")
    a = ap.parse_args()

    jars_dir = Path(os.environ.get("KBATCH_SPARK_KAFKA_JARS") or REPO / ".cache" / "spark-kafka-4.2.0")
    jars = sorted(str(j) for j in jars_dir.glob("*.jar"))
    if not any("spark-sql-kafka" in j for j in jars):
        sys.exit(f"Spark's Kafka source is missing from {jars_dir}: run `make spark-kafka-jars`")
    pythonpath = os.environ.get("KBATCH_SPARK_PYTHONPATH", "")
    if pythonpath:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, os.environ.get("PYTHONPATH")) if p)

    testkit, kbatch_bin = str(BIN / "kbatch-testkit"), str(BIN / "kbatch")
    broker_dir = tempfile.mkdtemp(prefix="kbatch-bench-spark-")
    topic = "web_stream_flat_lz4"
    started = dt.datetime.now(dt.timezone.utc)
    commit = run("git", "-C", str(REPO), "rev-parse", "--short", "HEAD").strip()
    bootstrap = run(testkit, "start", "--dir", broker_dir).strip().splitlines()[-1]
    try:
        run(testkit, "create-topic", "--bootstrap", bootstrap, "--topic", topic, "--partitions", str(a.partitions))
        t0 = time.monotonic()
        run(testkit, "produce-trending", "--bootstrap", bootstrap, "--topic", topic, "--partitions",
            str(a.partitions), "--events", str(a.events), "--mix", "flat", "--compression", "lz4", "--seed", "7")
        produced_s = time.monotonic() - t0
        want = json.loads(run(kbatch_bin, "trending", "--bootstrap", bootstrap, "--topic", topic, "--top", "1",
                              "--format", "json"))
        options = {"kafka.bootstrap.servers": bootstrap, "subscribe": topic,
                   "kafka.isolation.level": "read_committed"}

        results: Dict[Tuple[int, str], List[Tuple[float, float]]] = {}
        answers: Dict[str, bool] = {}
        counts: Dict[str, int] = {}
        last: Dict[str, List[dict]] = {}
        for cores in [int(c) for c in a.cores.split(",")]:
            spark = session(cores, jars, os.environ.get("PYTHONPATH", ""))
            pid = jvm_pid(spark)
            cases: List[Tuple[str, Callable[[], object]]] = [
                ("count: kafka source", lambda: spark.read.format("kafka").options(**options).load().count()),
                ("count: kbatch source", lambda: spark.read.format("kbatch").options(**options).load().count()),
                ("trending SQL: kafka source", lambda: sql_trending(spark, "kafka", options)),
                ("trending SQL: kbatch source", lambda: sql_trending(spark, "kbatch", options)),
                ("trending: kbatch pushdown", lambda: pushdown_trending(spark, options)),
            ]
            # unmeasured warm-ups of each (JIT, jar loading, Python workers)
            for _ in range(a.warmup):
                for name, fn in cases:
                    fn()
            for r in range(a.rounds):
                for name, fn in cases:
                    c0, w0 = tree_cpu(pid), time.monotonic()
                    got = fn()
                    wall, cpu = time.monotonic() - w0, tree_cpu(pid) - c0
                    results.setdefault((cores, name), []).append((wall, cpu))
                    if name.startswith("count"):
                        counts[name] = got  # type: ignore[assignment]
                    else:
                        answers[name] = answers.get(name, True) and got == want["top"]
                        last[name] = got  # type: ignore[assignment]
                    print(f"local[{cores}] round {r + 1} {name}: {wall:.2f} s wall, {cpu:.2f} s CPU",
                          file=sys.stderr, flush=True)
            spark.stop()
    finally:
        subprocess.run([testkit, "stop", "--dir", broker_dir], capture_output=True, timeout=120)
        shutil.rmtree(broker_dir, ignore_errors=True)

    records = want["records"]
    host = socket.gethostname().split(".")[0]
    import pyspark

    lines = [
        "# kbatch's Spark data source vs Spark's Kafka source",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}, host `{host}`; Linux {platform.release()}; load average at start "
        f"{os.getloadavg()[0]:.1f} (the machine is shared with other builds: figures are noisy)",
        f"- Spark {pyspark.__version__} (pyspark, local mode), Spark's Kafka source "
        f"`spark-sql-kafka-0-10_2.13` {pyspark.__version__} from `{jars_dir.name}`; Kafka 4.3.1, one broker (KRaft), not pinned",
        f"- commit: {commit}",
        f"- data: `{topic}`, the realistic `flat` mix (seed 7, 0.1 % invalid), {a.partitions} partitions, "
        f"{a.events} events ({records} valid+invalid records), lz4, Java producer ({produced_s:.0f} s to produce)",
        f"- command: `make bench-spark BENCH_SPARK_EVENTS={a.events}` (`benches/python/bench_spark.py "
        f"--events {a.events} --rounds {a.rounds} --warmup {a.warmup}`)",
        f"- rounds: {a.rounds} after {a.warmup} warm-up round(s), in alternation; medians (min–max); read_committed everywhere",
        "- CPU: the Spark JVM and its Python workers (/proc), i.e. the executors' and the driver JVM's",
        f"- counts: " + ", ".join(f"{k} = {v}" for k, v in counts.items()),
        "- trending answers equal `kbatch trending --top 1` in every round: "
        + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in answers.items()),
    ]
    def key(r: dict) -> tuple:
        return (r["category"], r["product"], r["views"], r["rank"])

    base = {key(r) for r in want["top"]}
    for name, got in last.items():
        if name == "trending SQL: kbatch source":
            same = got == last.get("trending SQL: kafka source")
            lines.append(f"- the SQL answer over the kbatch source equals the one over the kafka source: {'yes' if same else 'NO'}")
        extra, missing = sorted({key(r) for r in got} - base), sorted(base - {key(r) for r in got})
        if extra or missing:
            lines.append(f"- {name} vs `kbatch trending`: rows only in Spark {extra[:4]}, rows only in kbatch {missing[:4]}")
    if a.note:
        lines.append(f"- note: {a.note}")
    lines += ["", "| executor cores | job | wall s | CPU s | records/s | records/s per core |", "|---|---|---|---|---|---|"]

    def med(xs: List[float]) -> str:
        return f"{statistics.median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})"

    for (cores, name), vals in results.items():
        walls, cpus = [w for w, _ in vals], [c for _, c in vals]
        rate = records / statistics.median(walls)
        lines.append(f"| {cores} | {name} | {med(walls)} | {med(cpus)} | {rate / 1e6:.2f} M | {rate / cores / 1e6:.2f} M |")
    lines += ["", "| executor cores | ratio | wall | CPU |", "|---|---|---|---|"]
    for cores in sorted({c for c, _ in results}):
        def m(name: str, i: int) -> float:
            return statistics.median(v[i] for v in results[(cores, name)])
        for label, slow, fast in [
            ("count: kafka ÷ kbatch source", "count: kafka source", "count: kbatch source"),
            ("trending SQL: kafka ÷ kbatch source", "trending SQL: kafka source", "trending SQL: kbatch source"),
            ("trending: kafka SQL ÷ kbatch pushdown", "trending SQL: kafka source", "trending: kbatch pushdown"),
        ]:
            lines.append(f"| {cores} | {label} | {m(slow, 0) / m(fast, 0):.2f}× | {m(slow, 1) / m(fast, 1):.2f}× |")
    text = "\n".join(lines) + "\n"
    out = Path(a.out) if a.out else REPO / "benches" / "results" / f"{started:%Y-%m-%d}-{host}-spark.md"
    out.write_text(text)
    print(text)
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
