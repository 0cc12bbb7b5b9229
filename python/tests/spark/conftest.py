"""Real things for the Spark tests: a Kafka broker from the testkit with data from Kafka's Java
producer, and Spark sessions on ``local[2]`` and on a standalone cluster (a master and two
one-core workers started from pyspark's own ``spark-class``, :mod:`.standalone`, which
``make bench-spark`` shares), each reaped at the end even when a test fails.

Environment: ``KBATCH_BIN_DIR`` (default ``<repo>/target/release``; ``make test-spark``:
``target/testbin``) holds ``kbatch`` and ``kbatch-testkit``; ``KBATCH_KAFKA_LIBS`` the Kafka jars (the Makefile exports it);
``KBATCH_SPARK_PYTHONPATH`` is prepended to the executors' ``PYTHONPATH`` (``make python-pkg``'s
``target/python``); ``KBATCH_SPARK_KAFKA_JARS`` holds Spark's own Kafka source (``make
spark-kafka-jars``), given to every session as ``spark.jars`` for the comparison. A missing broker or binary fails the tests (it is never a
silent pass); the message says which ``make`` target provides it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .standalone import Standalone, session

REPO = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("KBATCH_BIN_DIR", REPO / "target" / "release"))

#: The data every test reads: the trending sample (exact ties, invalid records), 4 partitions.
TOPIC = "web_spark"
PARTITIONS = 4
EVENTS = 20000
INVALID = 13


def _bin(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make release` (or set KBATCH_BIN_DIR)")
    return str(path)


def run(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


class Kafka:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def create_topic(self, topic: str, partitions: int) -> None:
        run(_bin("kbatch-testkit"), "create-topic", "--bootstrap", self.bootstrap, "--topic", topic,
            "--partitions", str(partitions))

    def produce_trending(self, topic: str, partitions: int, events: int, invalid: int, seed: int = 2018) -> None:
        run(_bin("kbatch-testkit"), "produce-trending", "--bootstrap", self.bootstrap, "--topic", topic,
            "--partitions", str(partitions), "--events", str(events), "--invalid", str(invalid),
            "--seed", str(seed), "--compression", "lz4", timeout=300)

    def delete_records(self, topic: str, partition: int, before: int) -> None:
        """Kafka's own kafka-delete-records tool: the log start of the partition moves to
        ``before``."""
        libs = os.environ.get("KBATCH_KAFKA_LIBS") or str(REPO / ".cache" / "kafka-4.3.1" / "libs")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"partitions": [{"topic": topic, "partition": partition, "offset": before}], "version": 1}, f)
        try:
            run("java", "-cp", f"{libs}/*", "org.apache.kafka.tools.DeleteRecordsCommand",
                "--bootstrap-server", self.bootstrap, "--offset-json-file", f.name)
        finally:
            os.unlink(f.name)

    def trending_json(self, topic: str, top: int, start: str = "earliest") -> dict:
        """``kbatch trending --format json``: the single-process answer."""
        return json.loads(run(_bin("kbatch"), "trending", "--bootstrap", self.bootstrap, "--topic", topic,
                              "--top", str(top), "--from", start, "--format", "json"))


@pytest.fixture(scope="session")
def kafka():
    d = tempfile.mkdtemp(prefix="kbatch-spark-broker-")
    testkit = _bin("kbatch-testkit")
    try:
        bootstrap = run(testkit, "start", "--dir", d, timeout=180).strip().splitlines()[-1]
    except Exception as e:
        shutil.rmtree(d, ignore_errors=True)
        pytest.fail(f"could not start the test broker ({e}); `make kafka release` provides the jars and binaries")
    k = Kafka(bootstrap)
    try:
        k.create_topic(TOPIC, PARTITIONS)
        k.produce_trending(TOPIC, PARTITIONS, EVENTS, INVALID)
        yield k
    finally:
        subprocess.run([testkit, "stop", "--dir", d], capture_output=True, timeout=120)
        shutil.rmtree(d, ignore_errors=True)


def spark_kafka_jars() -> list:
    """Spark's own Kafka source and the jars pyspark lacks for it (``make spark-kafka-jars``)."""
    d = Path(os.environ.get("KBATCH_SPARK_KAFKA_JARS") or REPO / ".cache" / "spark-kafka-4.2.0")
    jars = sorted(str(j) for j in d.glob("*.jar"))
    if not any("spark-sql-kafka" in j for j in jars):
        pytest.fail(f"Spark's Kafka source is missing from {d}: run `make spark-kafka-jars`")
    return jars


def _session(master: str, extra: dict):
    return session(master, "kbatch-spark-tests", spark_kafka_jars(), extra)


@pytest.fixture(scope="module")
def spark_local():
    spark = _session("local[2]", {})
    try:
        yield spark
    finally:
        spark.stop()


@pytest.fixture(scope="module")
def spark_cluster():
    cluster = Standalone()
    try:
        cluster.start()
        spark = _session(cluster.url, {"spark.executor.cores": "1", "spark.cores.max": "2",
                                       "spark.executor.memory": "768m"})
        try:
            yield spark
        finally:
            spark.stop()
    finally:
        cluster.stop()
