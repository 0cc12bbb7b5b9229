"""Spark's Kafka source + SQL answering ``top --group category --item product`` (trending's
question), for ``bench_top --spark``: the floor that kbatch answers it at least 20× faster than
Spark on ``local[2]``.

One warm session as in spark_export.py (the session's start is reported once, not charged to
any run). Protocol, one line each way:

* on start: ``{"ready": true, "start_s": S, "spark": VERSION}`` once the session is up;
* for every ``run`` read from stdin: bench_spark.py's :data:`TRENDING_SQL` (kbatch's validity
  rules in Spark SQL, views per (category, product), ``rank()`` per category, rank ≤ ``--top``)
  over ``spark.read.format("kafka")`` from earliest to latest (read_committed), then
  ``{"wall": S, "cpu": S, "top": [{"category", "product", "value", "rank"}, ...]}``: the
  action's wall, the Spark JVM's CPU (utime + stime from /proc) over it, and the rows in
  kbatch's order (category, rank, product);
* end of stdin: the session stops and the process exits 0.

Usage: spark_top.py BOOTSTRAP TOPIC [--cores 2] [--top 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from bench_spark import TRENDING_SQL, jvm_pid, kafka_jars
from spark_export import jvm_cpu
from standalone import session  # bench_spark put python/tests/spark on sys.path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--top", type=int, default=3)
    a = ap.parse_args()

    # The protocol keeps the real stdout; everything else (the JVM inherits fd 1) goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    import pyspark

    _, jars = kafka_jars()
    t0 = time.monotonic()
    spark = session(f"local[{a.cores}]", "kbatch-bench-spark-top", jars, {"spark.driver.memory": "2g"})
    try:
        pid = jvm_pid(spark)
        protocol.write(json.dumps({"ready": True, "start_s": time.monotonic() - t0,
                                   "spark": pyspark.__version__}) + "\n")
        sql = TRENDING_SQL.format(source="src", top=a.top)
        for line in sys.stdin:
            if line.strip() != "run":
                raise SystemExit(f"spark_top: expected `run`, got {line.strip()!r}")
            c0, w0 = jvm_cpu(pid), time.monotonic()
            (spark.read.format("kafka")
             .option("kafka.bootstrap.servers", a.bootstrap)
             .option("subscribe", a.topic)
             .option("startingOffsets", "earliest")
             .option("endingOffsets", "latest")
             .option("kafka.isolation.level", "read_committed")
             .load()
             .createOrReplaceTempView("src"))
            rows = spark.sql(sql).collect()
            wall, cpu = time.monotonic() - w0, jvm_cpu(pid) - c0
            top = [{"category": r["category"], "product": r["product"], "value": int(r["views"]),
                    "rank": int(r["rank"])} for r in rows]
            top.sort(key=lambda r: (r["category"], r["rank"], r["product"]))
            protocol.write(json.dumps({"wall": wall, "cpu": cpu, "top": top}) + "\n")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
