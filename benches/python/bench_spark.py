"""`make bench-spark`: the seed's trending query three ways on Spark, same broker, same data,
same run: Spark's Kafka source + SQL, kbatch's data source + the same SQL, and kbatch's
pushdown (``kbatch.spark.trending``). Writes benches/results/<date>-<host>-spark-standalone.md
(``--cluster standalone``, the default) or <date>-<host>-spark.md (``--cluster local``).

Data: the realistic ``flat`` mix (``kbatch-testkit produce-trending --mix flat --seed 7
--compression lz4``, 0.1 % invalid events), ``--partitions`` partitions, on one broker started
by the testkit.

Spark:

* ``--cluster standalone``: a master and ``--workers`` workers of ``--worker-cores`` cores
  started from pyspark's ``spark-class`` (python/tests/spark/standalone.py, which the tests
  use too), one executor per worker; the driver is this process and its JVM;
* ``--cluster local``: ``local[N]`` for each N of ``--cores`` (one session each).

Before the rounds, :data:`CLASSIFIED_SQL` classifies kbatch's table of verdicts
(``fixtures/trending/extract_cases.jsonl``). Every round runs, in alternation (``--count`` adds
the two plain counts first):

* ``trending SQL: kafka source`` / ``kbatch source``: :data:`TRENDING_SQL` over
  ``spark.read.format(F).load()``: kbatch's validity rules (README, "What counts as an event")
  written in Spark SQL, then views per (category, product), ``rank()`` per category, rank ≤ top;
* ``trending: kbatch pushdown``: ``kbatch.spark.trending`` (the job in every shard, Spark merges);
* ``kbatch trending (one process)``: the CLI on the same range, for reference.

All readers use read_committed (the producer is not transactional, so it equals
read_uncommitted here). Every round's three answers are compared with ``kbatch trending``'s and
the pushdown's totals with the CLI's. After the rounds, unmeasured, :data:`REASONS_SQL` counts
every record by reason on both sources and is compared with the pushdown's invalid counts.

Measured per job: wall; executor CPU as Spark reports it (the driver's REST API: the stages
of the job's group, ``executorCpuTime + executorDeserializeCpuTime``: the executor JVMs' task
threads only); CPU from /proc of the executor processes (the executor JVMs and, separately,
their Python workers, which Spark's metric does not see) and of the driver (its JVM and the
Python workers it starts to plan Python data sources; this script's own CPU is left out); the
number of Spark jobs and tasks; records/s per executor core.

Usage: bench_spark.py [--events 4000000] [--cluster standalone|local] [--rounds 3] [--warmup 1]
       [--warmup-fraction 0.1] [--partitions 8] [--top 1] [--workers 2] [--worker-cores 1]
       [--executor-memory 1g] [--worker-memory 2g] [--cores 1,2] [--count] [--no-reasons]
       [--out FILE] [--note TEXT]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("KBATCH_BIN_DIR", REPO / "target" / "release"))
TICK = os.sysconf("SC_CLK_TCK")
TOPIC = "web_stream_flat_lz4"
#: The issue's floor: the pushdown at least this many times faster (wall) than Kafka source + SQL.
PUSHDOWN_FLOOR = 10.0

# The cluster and session code of the tests (python/tests/spark/standalone.py).
sys.path.insert(0, str(REPO / "python" / "tests" / "spark"))
from standalone import Standalone, free_port, session  # noqa: E402

#: How :data:`CLASSIFIED_SQL` expresses each of kbatch's verdicts (README, "What counts as an
#: event"), in kbatch's order of precedence; the results file repeats it.
SQL_RULES = (
    ("tombstone, empty", "`s IS NULL`, `s = ''` where `s = CAST(value AS STRING)`"),
    ("bad_utf8", "`NOT is_valid_utf8(s)`: the cast keeps the bytes as they are"),
    ("bad_json", "`json_array_length('[' || s || ']') <> 1`: true unless `s` is exactly one JSON value with "
                 "only whitespace around it (trailing bytes, a second value, a truncated text); `from_json` "
                 "alone ignores what follows the first value"),
    ("not_object", "`json_object_keys(s) IS NULL`: null for anything but an object"),
    ("bad_json", "`from_json`'s `_corrupt_record` set, with `allowSingleQuotes` false: what the lenient parser "
                 "of the `json_*` functions takes (single quotes, raw control characters in strings)"),
    ("duplicate_field", "`json_object_keys` lists every top-level key as written, escapes decoded; "
                        "`size(k) - size(array_remove(k, 'product')) > 1` (or `category`): other keys may repeat"),
    ("wrong_type", "`schema_of_variant` of either field, parsed by `from_json` as VARIANT, is not `STRING`: "
                   "`from_json` into a STRING field would turn a number or an object into its text"),
    ("missing_field", "either field absent at top level (nested ones do not count)"),
)

#: Every record of ``{source}`` (a view of Spark's Kafka schema) classified the way kbatch's
#: trending job classifies it (:data:`SQL_RULES`); ``category``/``product`` are the event's
#: when ``reason = 'valid'``.
CLASSIFIED_SQL = """\
WITH parsed AS (
  SELECT s,
         json_object_keys(s) AS k,
         from_json(s, 'product VARIANT, category VARIANT, _corrupt_record STRING',
                   map('allowSingleQuotes', 'false')) AS j
  FROM (SELECT CAST(value AS STRING) AS s FROM {source})
),
classified AS (
  SELECT s,
         CAST(j.category AS STRING) AS category,
         CAST(j.product AS STRING) AS product,
         CASE
           WHEN s IS NULL THEN 'tombstone'
           WHEN s = '' THEN 'empty'
           WHEN NOT is_valid_utf8(s) THEN 'bad_utf8'
           WHEN coalesce(json_array_length(concat('[', s, ']')), 0) <> 1 THEN 'bad_json'
           WHEN k IS NULL THEN 'not_object'
           WHEN j._corrupt_record IS NOT NULL THEN 'bad_json'
           WHEN size(k) - size(array_remove(k, 'product')) > 1
             OR size(k) - size(array_remove(k, 'category')) > 1 THEN 'duplicate_field'
           WHEN schema_of_variant(j.product) <> 'STRING'
             OR schema_of_variant(j.category) <> 'STRING' THEN 'wrong_type'
           WHEN j.product IS NULL OR j.category IS NULL THEN 'missing_field'
           ELSE 'valid'
         END AS reason
  FROM parsed
)"""

#: The seed's query: views per (category, product) of the valid events, top ``{top}`` per
#: category by competition rank (``rank()``: ties kept, 1 + products with more views).
#: ``count_if`` rather than ``WHERE reason = 'valid'``: Spark pushes a filter down through both
#: projections, inlining ``from_json`` and ``json_object_keys`` into every branch of the CASE
#: (up to six JSON parses per record instead of three: 2.5× the CPU of this form on 200 k
#: cached values in local[1]).
TRENDING_SQL = CLASSIFIED_SQL + """,
views AS (
  SELECT category, product, count_if(reason = 'valid') AS views
  FROM classified
  GROUP BY category, product
)
SELECT category, product, views, rank
FROM (SELECT *, rank() OVER (PARTITION BY category ORDER BY views DESC) AS rank
      FROM views WHERE views > 0)
WHERE rank <= {top}
ORDER BY category, rank, product"""

#: Records per reason, for the check against kbatch's own counts.
REASONS_SQL = CLASSIFIED_SQL + """
SELECT reason, count(*) AS n FROM classified GROUP BY reason"""


def run(*args: str, timeout: float = 1800) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


# -- CPU from /proc -------------------------------------------------------------------------

def _procs() -> Tuple[Dict[int, List[int]], Dict[int, float], Dict[int, str]]:
    """Children by parent, own CPU seconds (utime + stime) and command line of every process."""
    children: Dict[int, List[int]] = {}
    cpu: Dict[int, float] = {}
    cmd: Dict[int, str] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            text = Path(f"/proc/{d}/stat").read_text()
            argv = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        pid = int(d)
        children.setdefault(int(fields[1]), []).append(pid)
        cpu[pid] = (int(fields[11]) + int(fields[12])) / TICK  # utime stime
        cmd[pid] = argv
    return children, cpu, cmd


def snapshot(roots: Dict[str, List[int]]) -> Dict[int, Tuple[str, float]]:
    """Role and CPU seconds of every process in the trees under each group of roots
    (``executors``: the workers; ``driver``: the driver JVM; ``local``: the JVM of local mode).
    Roles: ``executor JVMs`` (Spark's CoarseGrainedExecutorBackend), ``executor Python``
    (pyspark's daemon and workers under them), ``worker JVMs``, ``driver JVM``, ``driver
    Python``, ``Spark JVM`` and ``Python workers`` (local mode)."""
    children, cpu, cmd = _procs()
    out: Dict[int, Tuple[str, float]] = {}
    for group, pids in roots.items():
        todo = list(pids)
        while todo:
            pid = todo.pop()
            todo.extend(children.get(pid, []))
            argv = cmd.get(pid, "")
            python = "python" in Path(argv.split(" ", 1)[0]).name
            if group == "executors":
                role = "executor Python" if python else (
                    "executor JVMs" if "CoarseGrainedExecutorBackend" in argv else "worker JVMs")
            elif group == "driver":
                role = "driver Python" if python else "driver JVM"
            else:
                role = "Python workers" if python else "Spark JVM"
            out[pid] = (role, cpu.get(pid, 0.0))
    return out


def cpu_between(before: Dict[int, Tuple[str, float]], after: Dict[int, Tuple[str, float]]) -> Dict[str, float]:
    """CPU seconds by role spent between two snapshots, from each process's own time (reaped
    children's ``cutime`` is left out: a Python daemon killed when idle would bring its workers'
    whole past into its parent's). A process keeps the role it had first (an exited, unreaped
    one has no command line left). Spark's processes are long-lived (executors, pyspark's
    daemons and their reused workers): only the last CPU of one that exits in between is lost."""
    out: Dict[str, float] = {}
    for pid, (role, cpu) in after.items():
        role0, cpu0 = before.get(pid, (role, 0.0))
        out[role0] = out.get(role0, 0.0) + cpu - cpu0
    return out


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


# -- Spark's own metrics (the driver's REST API) ----------------------------------------------

class SparkMetrics:
    """The stages and jobs of one job group, from the driver's ``/api/v1`` (the UI is on for
    this). The listener that feeds it runs behind the action that returned, so :meth:`group`
    waits until every job of the group has ended."""

    def __init__(self, spark) -> None:
        sc = spark.sparkContext
        self.base = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}"

    def _get(self, path: str):
        with urllib.request.urlopen(f"{self.base}/{path}", timeout=30) as r:
            return json.loads(r.read())

    def group(self, name: str) -> dict:
        deadline = time.monotonic() + 30
        while True:
            jobs = [j for j in self._get("jobs") if j.get("jobGroup") == name]
            if jobs and all(j["status"] in ("SUCCEEDED", "FAILED") for j in jobs) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        ids = {s for j in jobs for s in j["stageIds"]}
        stages = [s for s in self._get("stages") if s["stageId"] in ids and s["status"] != "SKIPPED"]
        return {
            "jobs": len(jobs),
            "tasks": sum(s["numCompleteTasks"] for s in stages),
            "cpu": sum(s["executorCpuTime"] + s["executorDeserializeCpuTime"] for s in stages) / 1e9,
            "run": sum(s["executorRunTime"] for s in stages) / 1e3,
            "job_walls": sorted(
                (j["jobId"], _span(j.get("submissionTime"), j.get("completionTime")), j.get("name", ""))
                for j in jobs
            ),
        }


def _span(start: Optional[str], end: Optional[str]) -> float:
    if not start or not end:
        return float("nan")
    fmt = "%Y-%m-%dT%H:%M:%S.%f%Z"
    a = dt.datetime.strptime(start.replace("GMT", "UTC"), fmt)
    b = dt.datetime.strptime(end.replace("GMT", "UTC"), fmt)
    return (b - a).total_seconds()


# -- the jobs ---------------------------------------------------------------------------------

def sql_trending(spark, fmt: str, options: dict, top: int) -> List[dict]:
    view = f"events_{fmt}"
    spark.read.format(fmt).options(**options).load().createOrReplaceTempView(view)
    rows = spark.sql(TRENDING_SQL.format(source=view, top=top)).collect()
    return [dict(category=r["category"], product=r["product"], views=r["views"], rank=r["rank"]) for r in rows]


def sql_reasons(spark, fmt: str, options: dict) -> Dict[str, int]:
    view = f"events_{fmt}"
    spark.read.format(fmt).options(**options).load().createOrReplaceTempView(view)
    return {r["reason"]: r["n"] for r in spark.sql(REASONS_SQL.format(source=view)).collect()}


def fixture_check(spark) -> Tuple[int, List[str]]:
    """:data:`CLASSIFIED_SQL` over ``fixtures/trending/extract_cases.jsonl`` (kbatch's table of
    verdicts): the number of cases and a line for each the SQL classifies otherwise (or, valid,
    with other strings)."""
    import base64

    cases = []
    for line in (REPO / "fixtures" / "trending" / "extract_cases.jsonl").read_text().splitlines():
        c = json.loads(line)
        value = None if c.get("value_null") else (
            base64.b64decode(c["value_b64"]) if "value_b64" in c else c["value"].encode())
        cases.append((len(cases), value, c["expect"], c.get("category"), c.get("product"), c.get("note", "")))
    spark.createDataFrame([(v,) for _, v, *_ in cases], "value binary").createOrReplaceTempView("cases")
    sql = CLASSIFIED_SQL.format(source="cases") + "\nSELECT CAST(s AS BINARY) AS value, category, product, reason FROM classified"
    got = {None if r["value"] is None else bytes(r["value"]): r for r in spark.sql(sql).collect()}
    differ = []
    for _, value, expect, category, product, note in cases:
        r = got[value]
        if r["reason"] != expect or (expect == "valid" and (r["category"], r["product"]) != (category, product)):
            differ.append(f"{note or expect}: kbatch {expect}, the SQL {r['reason']}")
    return len(cases), differ


def pushdown_trending(spark, options: dict, top: int) -> Tuple[List[dict], dict]:
    from kbatch.spark import trending

    report, totals = trending(spark, top=top, options=options)
    return [r.asDict() for r in report.collect()], totals


def cli_trending(bootstrap: str, top: int) -> Tuple[dict, float]:
    """``kbatch trending --format json`` and its CPU seconds (user + system of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = json.loads(run(str(BIN / "kbatch"), "trending", "--bootstrap", bootstrap, "--topic", TOPIC,
                         "--top", str(top), "--format", "json"))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@dataclass
class Sample:
    wall: float
    proc: Dict[str, float]
    spark: Optional[dict] = None
    equal: Optional[bool] = None


@dataclass
class Setup:
    """One Spark deployment of the run: its label, executor cores and the process roots whose
    CPU counts as executors' or driver's."""

    label: str
    executor_cores: int
    roots: Callable[[], Dict[str, List[int]]]
    samples: Dict[str, List[Sample]] = field(default_factory=dict)
    job_walls: Dict[str, list] = field(default_factory=dict)
    reasons: Dict[str, Dict[str, int]] = field(default_factory=dict)
    rounds_equal: List[Dict[str, bool]] = field(default_factory=list)
    fixtures: Tuple[int, List[str]] = (0, [])
    differences: List[str] = field(default_factory=list)


def jvm_pid(spark) -> int:
    return int(spark.sparkContext._jvm.ProcessHandle.current().pid())


def measure(spark, setup: Setup, metrics: SparkMetrics, name: str, group: str, fn: Callable[[], object]):
    spark.sparkContext.setJobGroup(group, group)
    c0, w0 = snapshot(setup.roots()), time.monotonic()
    got = fn()
    wall = time.monotonic() - w0
    proc = cpu_between(c0, snapshot(setup.roots()))
    spark.sparkContext.setJobGroup("other", "other")
    return got, Sample(wall, proc, metrics.group(group))


def warmup_options(options: dict, want: dict, fraction: float) -> dict:
    """``options`` ending at ``fraction`` of every partition's range: the warm-up rounds run
    every job (jars, JIT of the same generated code, Python workers) on a tenth of the data."""
    ends = {str(p["partition"]): p["start"] + max(1, int((p["end"] - p["start"]) * fraction))
            for p in want["partitions"] if p["end"] > p["start"]}
    return dict(options, endingOffsets=json.dumps({TOPIC: ends}))


def bench_setup(spark, setup: Setup, options: dict, want: dict, a, bootstrap: str) -> None:
    metrics = SparkMetrics(spark)
    top = a.top

    def cases(o: dict) -> List[Tuple[str, Callable[[], object]]]:
        out: List[Tuple[str, Callable[[], object]]] = []
        if a.count:
            out += [
                ("count: kafka source", lambda: spark.read.format("kafka").options(**o).load().count()),
                ("count: kbatch source", lambda: spark.read.format("kbatch").options(**o).load().count()),
            ]
        return out + [
            ("trending SQL: kafka source", lambda: sql_trending(spark, "kafka", o, top)),
            ("trending SQL: kbatch source", lambda: sql_trending(spark, "kbatch", o, top)),
            ("trending: kbatch pushdown", lambda: pushdown_trending(spark, o, top)),
        ]

    setup.fixtures = fixture_check(spark)
    print(f"{setup.label} fixtures: {setup.fixtures[0]} cases, differ: {setup.fixtures[1]}", file=sys.stderr, flush=True)
    warm = warmup_options(options, want, a.warmup_fraction)
    want_totals = (want["records"], want["invalid"])
    for r in range(-a.warmup, a.rounds):
        tag = f"warm-up {r + a.warmup + 1}" if r < 0 else f"round {r + 1}"
        equal: Dict[str, bool] = {}
        for name, fn in cases(warm if r < 0 else options):
            got, s = measure(spark, setup, metrics, name, f"{name} / {tag}", fn)
            if r < 0:
                print(f"{setup.label} {tag} {name}: {s.wall:.2f} s wall", file=sys.stderr, flush=True)
                continue
            why = ""
            if name.startswith("count"):
                s.equal = got == want["records"]
                why = f"{got} records, `kbatch trending` {want['records']}"
            elif name.endswith("pushdown"):
                rows, totals = got  # type: ignore[misc]
                s.equal = rows == want["top"] and (totals["records"], totals["invalid"]) == want_totals
                why = f"{diff(rows, want['top'])}; totals {totals}, `kbatch trending` {want_totals}"
                setup.reasons["kbatch pushdown (totals)"] = dict(totals["invalid_by_reason"],
                                                                 valid=totals["records"] - totals["invalid"])
            else:
                s.equal = got == want["top"]
                why = diff(got, want["top"])  # type: ignore[arg-type]
            equal[name] = bool(s.equal)
            if not s.equal:
                setup.differences.append(f"{tag}, {name}: {why}")
                print(f"  {name} differs from `kbatch trending`: {why}", file=sys.stderr)
            proc = ", ".join(f"{k} {v:.1f}" for k, v in sorted(s.proc.items()) if v >= 0.05)
            print(f"{setup.label} {tag} {name}: {s.wall:.2f} s wall; Spark executor CPU {s.spark['cpu']:.2f} s; "
                  f"/proc: {proc}; {s.spark['jobs']} jobs, {s.spark['tasks']} tasks; "
                  f"answer equal: {'yes' if s.equal else 'NO'}", file=sys.stderr, flush=True)
            setup.samples.setdefault(name, []).append(s)
            setup.job_walls[name] = s.spark["job_walls"]
        if r >= 0:
            setup.rounds_equal.append(equal)
            # the single-process CLI on the same range, in the same round, for reference
            w0 = time.monotonic()
            out, cpu = cli_trending(bootstrap, top)
            s = Sample(time.monotonic() - w0, {"kbatch": cpu}, equal=out["top"] == want["top"])
            setup.samples.setdefault("kbatch trending (one process)", []).append(s)
    if a.reasons:
        for fmt in ("kafka", "kbatch"):
            spark.sparkContext.setJobGroup("reasons", "reasons")
            setup.reasons[f"SQL over the {fmt} source"] = sql_reasons(spark, fmt, options)
            print(f"{setup.label} reasons over {fmt}: {setup.reasons[f'SQL over the {fmt} source']}",
                  file=sys.stderr, flush=True)


def diff(got: List[dict], want: List[dict]) -> str:
    def key(r: dict) -> tuple:
        return (r["category"], r["product"], r["views"], r["rank"])

    g, w = [key(r) for r in got], [key(r) for r in want]
    if g == w:
        return "same rows"
    if sorted(g) == sorted(w):
        return "same rows, other order"
    return f"rows only in Spark {sorted(set(g) - set(w))[:4]}, rows only in kbatch {sorted(set(w) - set(g))[:4]}"


def kafka_jars() -> Tuple[Path, List[str]]:
    jars_dir = Path(os.environ.get("KBATCH_SPARK_KAFKA_JARS") or REPO / ".cache" / "spark-kafka-4.2.0")
    jars = sorted(str(j) for j in jars_dir.glob("*.jar"))
    if not any("spark-sql-kafka" in j for j in jars):
        sys.exit(f"Spark's Kafka source is missing from {jars_dir}: run `make spark-kafka-jars`")
    return jars_dir, jars


def main() -> None:
    import pyarrow.compute as pc

    import kbatch

    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=4_000_000)
    ap.add_argument("--cluster", choices=("standalone", "local"), default="standalone")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--warmup-fraction", type=float, default=0.1,
                    help="the warm-up rounds read this share of every partition")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--top", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-cores", type=int, default=1)
    ap.add_argument("--executor-memory", default="1g")
    ap.add_argument("--worker-memory", default="2g", help="what a worker offers; ≥ the executor memory")
    ap.add_argument("--cores", default="1,2", help="local mode: local[N] for each N")
    ap.add_argument("--count", action="store_true", help="also time count() on both sources")
    ap.add_argument("--no-reasons", dest="reasons", action="store_false",
                    help="skip the per-reason check of the SQL classification")
    ap.add_argument("--out", default="")
    ap.add_argument("--note", default="")
    a = ap.parse_args()

    jars_dir, jars = kafka_jars()
    testkit = str(BIN / "kbatch-testkit")
    broker_dir = tempfile.mkdtemp(prefix="kbatch-bench-spark-")
    started = dt.datetime.now(dt.timezone.utc)
    load_start = os.getloadavg()
    commit = run("git", "-C", str(REPO), "rev-parse", "--short", "HEAD").strip()
    dirty = bool(run("git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no").strip())
    setups: List[Setup] = []
    bootstrap = run(testkit, "start", "--dir", broker_dir).strip().splitlines()[-1]
    try:
        run(testkit, "create-topic", "--bootstrap", bootstrap, "--topic", TOPIC, "--partitions", str(a.partitions))
        t0 = time.monotonic()
        done = subprocess.run([testkit, "produce-trending", "--bootstrap", bootstrap, "--topic", TOPIC,
                               "--partitions", str(a.partitions), "--events", str(a.events), "--mix", "flat",
                               "--compression", "lz4", "--seed", "7"], capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise RuntimeError(f"produce-trending failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        produced = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        produced_s = time.monotonic() - t0
        want, _ = cli_trending(bootstrap, a.top)
        p0 = next(p for p in want["partitions"] if p["partition"] == 0)
        sample = kbatch.read(TOPIC, bootstrap=bootstrap, partitions=[0], end=min(p0["end"], p0["start"] + 20000),
                             headers=False)["value"]
        value_bytes = pc.mean(pc.binary_length(sample)).as_py()
        options = {"kafka.bootstrap.servers": bootstrap, "subscribe": TOPIC,
                   "kafka.isolation.level": "read_committed"}
        conf = {
            "spark.ui.enabled": "true",  # the REST API of Spark's metrics
            "spark.ui.port": str(free_port()),
            "spark.driver.memory": "2g",
        }
        if a.cluster == "standalone":
            cores = a.workers * a.worker_cores
            cluster = Standalone(workers=a.workers, cores=a.worker_cores, memory=a.worker_memory)
            try:
                cluster.start()
                spark = session(cluster.url, "kbatch-bench-spark-standalone", jars, dict(conf, **{
                    "spark.executor.cores": str(a.worker_cores),
                    "spark.cores.max": str(cores),
                    "spark.executor.memory": a.executor_memory,
                    "spark.sql.shuffle.partitions": str(cores * 2),
                }))
                try:
                    driver = jvm_pid(spark)
                    pids = cluster.pids()
                    setup = Setup(f"standalone {a.workers}×{a.worker_cores}", cores, lambda: {
                        "executors": [pids[n] for n in cluster.worker_names()], "driver": [driver]})
                    setups.append(setup)
                    bench_setup(spark, setup, options, want, a, bootstrap)
                finally:
                    spark.stop()
            finally:
                cluster.stop()
        else:
            for cores in [int(c) for c in a.cores.split(",")]:
                spark = session(f"local[{cores}]", f"kbatch-bench-spark-{cores}", jars,
                                dict(conf, **{"spark.sql.shuffle.partitions": str(cores * 2)}))
                try:
                    driver = jvm_pid(spark)
                    setup = Setup(f"local[{cores}]", cores, lambda: {"local": [driver]})
                    setups.append(setup)
                    bench_setup(spark, setup, options, want, a, bootstrap)
                finally:
                    spark.stop()
    finally:
        subprocess.run([testkit, "stop", "--dir", broker_dir], capture_output=True, timeout=120)
        shutil.rmtree(broker_dir, ignore_errors=True)

    text = report(a, setups, want, started, load_start, commit, dirty, jars_dir, produced, produced_s, value_bytes)
    host = socket.gethostname().split(".")[0]
    suffix = "spark-standalone" if a.cluster == "standalone" else "spark"
    out = Path(a.out) if a.out else REPO / "benches" / "results" / f"{started:%Y-%m-%d}-{host}-{suffix}.md"
    out.write_text(text)
    print(text)
    print(f"written to {out}", file=sys.stderr)


# -- the results file -------------------------------------------------------------------------

def med(xs: List[float]) -> str:
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})"


def table(setup: Setup, records: int) -> List[str]:
    """The jobs' medians: wall, CPU by role, Spark's metric, jobs and tasks, throughput."""
    roles = sorted({k for ss in setup.samples.values() for s in ss for k in s.proc if k != "kbatch"},
                   key=lambda r: (not r.startswith(("executor", "Spark", "Python")), r))
    head = ["job", "wall s", "Spark executor CPU s"] + [f"{r} CPU s" for r in roles] + \
           ["Spark jobs / tasks", "records/s", "records/s per executor core"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, ss in setup.samples.items():
        walls = [s.wall for s in ss]
        rate = records / statistics.median(walls)
        if name.startswith("kbatch trending"):
            row = [f"{name}, for reference (its CPU: {med([s.proc['kbatch'] for s in ss])} s)", med(walls), "–"] + \
                  ["–"] * len(roles) + ["–", f"{rate / 1e6:.3f} M", "–"]
        else:
            row = [name, med(walls), med([s.spark["cpu"] for s in ss])] + \
                  [med([s.proc.get(r, 0.0) for s in ss]) for r in roles] + \
                  [f"{statistics.median(s.spark['jobs'] for s in ss):.0f} / "
                   f"{statistics.median(s.spark['tasks'] for s in ss):.0f}",
                   f"{rate / 1e6:.3f} M", f"{rate / setup.executor_cores / 1e6:.3f} M"]
        out.append("| " + " | ".join(row) + " |")
    return out


def executor_cpu(s: Sample) -> float:
    """/proc CPU of the executor side: executor JVMs and their Python workers (standalone), or
    the whole Spark JVM and its Python workers (local mode, where the driver is an executor)."""
    return sum(v for k, v in s.proc.items() if k in ("executor JVMs", "executor Python", "Spark JVM", "Python workers"))


def ratios(setup: Setup, count: bool) -> List[str]:
    def m(name: str, f: Callable[[Sample], float]) -> float:
        return statistics.median(f(s) for s in setup.samples[name])

    out = ["", "| ratio of medians | wall | executor CPU (/proc) | Spark executor CPU | floor (wall) |",
           "|---|---|---|---|---|"]
    rows = [("trending SQL: kafka source ÷ kbatch source", "trending SQL: kafka source",
             "trending SQL: kbatch source", 1.0),
            ("trending: kafka source + SQL ÷ kbatch pushdown", "trending SQL: kafka source",
             "trending: kbatch pushdown", PUSHDOWN_FLOOR)]
    if count:
        rows.insert(0, ("count: kafka source ÷ kbatch source", "count: kafka source", "count: kbatch source", None))
    for label, slow, fast, floor in rows:
        w = m(slow, lambda s: s.wall) / m(fast, lambda s: s.wall)
        c = m(slow, executor_cpu) / m(fast, executor_cpu)
        sc = m(slow, lambda s: s.spark["cpu"]) / max(m(fast, lambda s: s.spark["cpu"]), 1e-9)
        if floor is None:
            verdict = "–"
        elif floor == 1.0:
            verdict = f"> 1× (kbatch source faster): {'met' if w > floor else '**missed**'}"
        else:
            verdict = f"≥ {floor:.0f}×: {'met' if w >= floor else '**missed**'}"
        out.append(f"| {label} | {w:.2f}× | {c:.2f}× | {sc:.2f}× | {verdict} |")
    return out


def report(a, setups: List[Setup], want: dict, started, load_start, commit: str, dirty: bool, jars_dir: Path,
           produced: str, produced_s: float, value_bytes: float) -> str:
    import pyspark

    records = want["records"]
    standalone = a.cluster == "standalone"
    if standalone:
        layout = (f"standalone cluster: a master and {a.workers} workers of {a.worker_cores} core(s) from pyspark's "
                  f"`spark-class` (python/tests/spark/standalone.py), one executor per worker "
                  f"(`spark.executor.memory` {a.executor_memory}), the driver in this process (2 GiB), "
                  f"everything on this one machine with the broker")
    else:
        layout = f"local mode, {', '.join(s.label for s in setups)} (one session each)"
    cmd = "make bench-spark" + ("" if a.events == 4_000_000 else f" BENCH_SPARK_EVENTS={a.events}")
    args, skip = [], False
    for arg in sys.argv[1:]:  # --out and --note say where and why, not what ran
        if skip or arg.startswith(("--out=", "--note=")):
            skip = False
            continue
        if arg in ("--out", "--note"):
            skip = True
            continue
        args.append(arg)
    args = " ".join(args)
    lines = [
        f"# The trending query on Spark ({'standalone cluster' if standalone else 'local mode'}): "
        "Spark's Kafka source + SQL, kbatch's source + the same SQL, kbatch's pushdown",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}; Linux {platform.release()}; load average (1 min) {load_start[0]:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end (the machine is shared with other builds: figures are noisy)",
        f"- Spark {pyspark.__version__} (pyspark), {layout}; Spark's Kafka source `spark-sql-kafka-0-10_2.13` "
        f"{pyspark.__version__} from `{jars_dir.name}`; Kafka 4.3.1, one broker (KRaft) from kbatch-testkit",
        f"- commit: {commit}{' (with uncommitted changes: this file and the benchmark)' if dirty else ''}",
        f"- data: `{TOPIC}`, `kbatch-testkit produce-trending --mix flat --seed 7 --compression lz4` "
        f"(\"{produced}\"), {a.partitions} partitions, "
        f"{records} records ({want['invalid']} invalid), {value_bytes:.0f} bytes per value on average (the first "
        f"≤ 20000 of partition 0), Java producer ({produced_s:.0f} s to produce)",
        f"- command: `{cmd}` (`benches/python/bench_spark.py {args}`)",
        f"- rounds: {a.rounds} after {a.warmup} unmeasured warm-up round(s) (every job over the first "
        f"{a.warmup_fraction:.0%} of each partition: jars, JIT, Python workers), the jobs in alternation; medians "
        "(min–max); read_committed everywhere",
        "- wall: the action as the driver script sees it (`load()` to the collected rows: planning included)",
        "- Spark executor CPU: Spark's own metric (driver REST API, the stages of the job's group, "
        "`executorCpuTime + executorDeserializeCpuTime`): the executor JVMs' task threads only; it does not see "
        "Python workers (where kbatch's source and the pushdown run) or JVM threads outside tasks",
        "- /proc CPU (each process's own utime + stime): " + (
            "`executor JVMs` and `executor Python` (pyspark's daemon and workers under them) are the executor "
            "side; `worker JVMs` the standalone workers themselves; `driver JVM` and `driver Python` (the "
            "Python workers it starts to plan Python data sources); the driver script's own Python is left out"
            if standalone else
            "`Spark JVM` (driver and executors: local mode) and its `Python workers`"),
        "- executor CPU (/proc) in the ratios: " + ("executor JVMs + executor Python" if standalone else
                                                   "Spark JVM + Python workers"),
        "- per executor core: records ÷ wall ÷ executor cores",
    ]
    if a.note:
        lines.append(f"- note: {a.note}")

    for setup in setups:
        lines += ["", f"## {setup.label}" if len(setups) > 1 else "## Results", ""]
        lines += table(setup, records)
        lines += ratios(setup, a.count)

        lines += ["", f"Answers equal to `kbatch trending --top {a.top}` on the same range (the pushdown: its "
                  "records and invalid totals too), every round:", ""]
        names = list(setup.rounds_equal[0]) if setup.rounds_equal else []
        lines += ["| round | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for i, eq in enumerate(setup.rounds_equal, 1):
            lines.append(f"| {i} | " + " | ".join("yes" if eq[n] else "**NO**" for n in names) + " |")
        for d in setup.differences:
            lines.append(f"- differs: {d}")
        same = False
        if any(k.startswith("SQL") for k in setup.reasons):
            reasons = sorted({k for v in setup.reasons.values() for k in v}, key=lambda k: (k != "valid", k))
            lines += ["", "Records by reason: the SQL's classification (`REASONS_SQL` over the whole range, "
                      "unmeasured, after the rounds) and kbatch's (the pushdown's totals):", "",
                      "| counted by | " + " | ".join(reasons) + " |", "|---|" + "---|" * len(reasons)]
            for who, by in setup.reasons.items():
                lines.append(f"| {who} | " + " | ".join(str(by.get(k, 0)) for k in reasons) + " |")
            sql = [v for k, v in setup.reasons.items() if k.startswith("SQL")]
            kb = setup.reasons.get("kbatch pushdown (totals)", {})
            same = all({k: v for k, v in x.items() if v} == {k: v for k, v in kb.items() if v} for x in sql)
            lines.append(f"\nThe SQL classifies every record of the run as kbatch does: {'yes' if same else '**NO**'}")
        n, differ = setup.fixtures
        lines += ["", f"Against kbatch's own table of verdicts (`fixtures/trending/extract_cases.jsonl`, {n} cases) the "
                  f"SQL agrees on {n - len(differ)}" + ("." if not differ else "; it differs on these" + (
                      " (the equal counts above show that the benchmark's data has none of them)" if same
                      else "") + ":")]
        lines += [f"- {d}" for d in differ]
        if "trending: kbatch pushdown" in setup.job_walls:
            jw = setup.job_walls["trending: kbatch pushdown"]
            lines += ["", "The pushdown's Spark jobs in the last round, submission to completion: "
                      + "; ".join(f"job {j} {w:.2f} s" for j, w, _ in jw)]

    lines += ["", f"The answer (`kbatch trending --top {a.top}`, {len(want['top'])} rows):", "",
              "| category | product | views | rank |", "|---|---|---|---|"]
    lines += [f"| {r['category']} | {r['product']} | {r['views']} | {r['rank']} |" for r in want["top"]]
    lines += ["", "## The SQL", "",
              "The same text over both sources (`{source}` is the loaded DataFrame's temporary view). It applies "
              "kbatch's definition of an event (README, \"What counts as an event\"), verdict by verdict in kbatch's "
              "order of precedence:", "", "| kbatch's verdict | in Spark SQL |", "|---|---|"]
    lines += [f"| {why} | {how} |" for why, how in SQL_RULES]
    lines += ["", "Views are `count_if(reason = 'valid')` per (category, product) rather than a `WHERE`: Spark pushes "
              "a filter down through both projections and inlines `from_json` and `json_object_keys` into every "
              "branch of the CASE, parsing each record up to six times instead of three.", "", "```sql",
              TRENDING_SQL.format(source="{source}", top=a.top), "```", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
