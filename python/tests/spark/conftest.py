"""Real things for the Spark tests: a Kafka broker from the testkit with data from Kafka's Java
producer, and Spark sessions on ``local[2]`` and on a standalone cluster (a master and two
one-core workers started from pyspark's own ``spark-class``), each reaped at the end even when
a test fails.

Environment: ``KBATCH_BIN_DIR`` (default ``<repo>/target/release``) holds ``kbatch`` and
``kbatch-testkit``; ``KBATCH_KAFKA_LIBS`` the Kafka jars (the Makefile exports it);
``KBATCH_SPARK_PYTHONPATH`` is prepended to the executors' ``PYTHONPATH`` (``make python-pkg``'s
``target/python``); ``KBATCH_SPARK_KAFKA_JARS`` holds Spark's own Kafka source (``make
spark-kafka-jars``), given to every session as ``spark.jars`` for the comparison. A missing broker or binary fails the tests (it is never a
silent pass); the message says which ``make`` target provides it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def _python_env() -> dict:
    env = dict(os.environ)
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    extra = os.environ.get("KBATCH_SPARK_PYTHONPATH")
    if extra:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, env.get("PYTHONPATH")) if p)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return env


def spark_kafka_jars() -> list:
    """Spark's own Kafka source and the jars pyspark lacks for it (``make spark-kafka-jars``)."""
    d = Path(os.environ.get("KBATCH_SPARK_KAFKA_JARS") or REPO / ".cache" / "spark-kafka-4.2.0")
    jars = sorted(str(j) for j in d.glob("*.jar"))
    if not any("spark-sql-kafka" in j for j in jars):
        pytest.fail(f"Spark's Kafka source is missing from {d}: run `make spark-kafka-jars`")
    return jars


def _session(master: str, extra: dict):
    from pyspark.sql import SparkSession

    from kbatch.spark import KbatchDataSource

    os.environ.update({k: v for k, v in _python_env().items() if k in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "PYTHONPATH", "SPARK_LOCAL_IP")})
    b = (
        SparkSession.builder.master(master)
        .appName("kbatch-spark-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if os.environ.get("KBATCH_SPARK_PYTHONPATH"):
        b = b.config("spark.executorEnv.PYTHONPATH", os.environ["PYTHONPATH"])
    b = b.config("spark.jars", ",".join(spark_kafka_jars()))
    for k, v in extra.items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.dataSource.register(KbatchDataSource)
    return spark


@pytest.fixture(scope="module")
def spark_local():
    spark = _session("local[2]", {})
    try:
        yield spark
    finally:
        spark.stop()


class Standalone:
    """A Spark standalone master and two one-core workers on 127.0.0.1, free ports, each in its
    own process group so the whole tree is reaped."""

    def __init__(self) -> None:
        import pyspark

        self.home = Path(pyspark.__file__).parent
        self.dir = Path(tempfile.mkdtemp(prefix="kbatch-spark-cluster-"))
        self.procs: list = []
        self.port = free_port()
        self.url = f"spark://127.0.0.1:{self.port}"

    def _start(self, name: str, *args: str) -> None:
        log = open(self.dir / f"{name}.log", "w")
        env = _python_env()
        env["SPARK_HOME"] = str(self.home)
        env["SPARK_WORKER_DIR"] = str(self.dir / "work")
        env["SPARK_LOG_DIR"] = str(self.dir)
        p = subprocess.Popen(
            [str(self.home / "bin" / "spark-class"), *args],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        self.procs.append((name, p, log))

    def log(self, name: str) -> str:
        try:
            return (self.dir / f"{name}.log").read_text()[-3000:]
        except OSError:
            return ""

    def start(self) -> "Standalone":
        self._start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(self.port), "--webui-port", str(free_port()))
        for i in (1, 2):
            self._start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                        "--port", str(free_port()), "--webui-port", str(free_port()), "--cores", "1",
                        "--memory", "1g", "--work-dir", str(self.dir / f"work{i}"), self.url)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            registered = sum("Successfully registered with master" in self.log(f"worker{i}") for i in (1, 2))
            if registered == 2:
                return self
            for name, p, _ in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"spark {name} exited ({p.returncode}): {self.log(name)}")
            time.sleep(0.5)
        raise RuntimeError(f"the Spark workers did not register within 90 s: {self.log('worker1')}")

    def stop(self) -> None:
        for _, p, _ in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _, p, log in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


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
