"""Spark's Kafka source writing a whole topic to Parquet (snappy), for `make bench-arrow`'s
floor: `kbatch export --format parquet --compression snappy` against the same range.

One session on ``local[CORES]`` (Spark's Kafka jars from ``KBATCH_SPARK_KAFKA_JARS``, the
session settings of python/tests/spark/standalone.py) lives as long as this process, so the
harness can alternate Spark's runs with kbatch's and measure Spark warm (the session's start,
JVM and jars, is reported once, not charged to any run). Protocol, one line each way:

* on start: ``{"ready": true, "start_s": S, "spark": VERSION}`` once the session is up;
* for every ``run`` read from stdin: the range ``earliest`` to ``latest`` (read_committed)
  written to OUT_DIR (overwritten) with ``compression=snappy``, then
  ``{"wall": S, "cpu": S, "records": N, "bytes": B, "files": F, "codecs": [...]}``: the
  action's wall, the Spark JVM's CPU (utime + stime from /proc) over it, and what pyarrow
  reads back from the files' footers;
* end of stdin: the session stops and the process exits 0.

Spark and its JVM write their logs to stderr; only the protocol goes to stdout.

Usage: spark_export.py BOOTSTRAP TOPIC OUT_DIR [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench_spark import jvm_pid, kafka_jars  # the same jars and JVM pid as bench-spark
from standalone import session  # bench_spark put python/tests/spark on sys.path

TICK = os.sysconf("SC_CLK_TCK")


def jvm_cpu(pid: int) -> float:
    """CPU seconds (utime + stime) of the process ``pid`` and its threads."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def written(out_dir: Path) -> dict[str, Any]:
    """Rows, bytes, files and column-chunk codecs of the Parquet files Spark wrote."""
    import pyarrow.parquet as pq

    files = sorted(out_dir.glob("*.parquet"))
    records = size = 0
    codecs = set()
    for f in files:
        meta = pq.ParquetFile(f).metadata
        records += meta.num_rows
        size += f.stat().st_size
        codecs |= {
            meta.row_group(g).column(c).compression
            for g in range(meta.num_row_groups)
            for c in range(meta.num_columns)
        }
    return {"records": records, "bytes": size, "files": len(files), "codecs": sorted(codecs)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("out_dir")
    ap.add_argument("--cores", type=int, default=2)
    a = ap.parse_args()

    # The protocol keeps the real stdout; everything else (the JVM inherits fd 1) goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    import pyspark

    _, jars = kafka_jars()
    t0 = time.monotonic()
    spark = session(f"local[{a.cores}]", "kbatch-bench-spark-export", jars,
                    {"spark.driver.memory": "2g", "spark.sql.parquet.compression.codec": "snappy"})
    try:
        pid = jvm_pid(spark)
        protocol.write(json.dumps({"ready": True, "start_s": time.monotonic() - t0,
                                   "spark": pyspark.__version__}) + "\n")
        out = Path(a.out_dir)
        for line in sys.stdin:
            if line.strip() != "run":
                raise SystemExit(f"spark_export: expected `run`, got {line.strip()!r}")
            c0, w0 = jvm_cpu(pid), time.monotonic()
            (spark.read.format("kafka")
             .option("kafka.bootstrap.servers", a.bootstrap)
             .option("subscribe", a.topic)
             .option("startingOffsets", "earliest")
             .option("endingOffsets", "latest")
             .option("kafka.isolation.level", "read_committed")
             .load()
             .write.mode("overwrite").option("compression", "snappy").parquet(str(out)))
            wall, cpu = time.monotonic() - w0, jvm_cpu(pid) - c0
            protocol.write(json.dumps(dict(written(out), wall=wall, cpu=cpu)) + "\n")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
