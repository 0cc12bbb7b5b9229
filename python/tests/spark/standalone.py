"""Spark processes shared by the Spark tests (``conftest.py``) and ``make bench-spark``
(``benches/python/bench_spark.py``): a standalone cluster started from pyspark's own
``spark-class`` (one master, N workers of a few cores, on 127.0.0.1 with free ports, each in
its own process group so the whole tree is reaped) and the session settings both use.

No pytest here: the benchmark imports this file by path. Callers report errors their own way
(the tests fail naming the ``make`` target, the benchmark exits).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional

__all__ = ["free_port", "python_env", "Standalone", "session"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python_env() -> Dict[str, str]:
    """The environment Spark's processes need: this interpreter (the project virtualenv, which
    has kbatch and pyarrow) for the driver and every Python worker, ``KBATCH_SPARK_PYTHONPATH``
    in front of ``PYTHONPATH``, and 127.0.0.1 as the local address."""
    env = dict(os.environ)
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    extra = os.environ.get("KBATCH_SPARK_PYTHONPATH")
    if extra:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, env.get("PYTHONPATH")) if p)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return env


class Standalone:
    """A Spark standalone master and ``workers`` workers of ``cores`` cores and ``memory`` each.

    ``start()`` returns once every worker registered with the master (or raises with the log of
    the process that died); ``stop()`` terminates each process group (the worker's executors and
    their Python workers are in it) and removes the logs and work directories.
    """

    def __init__(self, workers: int = 2, cores: int = 1, memory: str = "1g") -> None:
        import pyspark

        self.home = Path(pyspark.__file__).parent
        self.workers, self.cores, self.memory = workers, cores, memory
        self.dir = Path(tempfile.mkdtemp(prefix="kbatch-spark-cluster-"))
        self.procs: List[tuple] = []
        self.port = free_port()
        self.url = f"spark://127.0.0.1:{self.port}"

    def _start(self, name: str, *args: str) -> None:
        log = open(self.dir / f"{name}.log", "w")
        env = python_env()
        env["SPARK_HOME"] = str(self.home)
        env["SPARK_WORKER_DIR"] = str(self.dir / "work")
        env["SPARK_LOG_DIR"] = str(self.dir)
        p = subprocess.Popen(
            [str(self.home / "bin" / "spark-class"), *args],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        self.procs.append((name, p, log))
        # start_new_session made p the leader of its own group: list it for .ci/run's reaper.
        pgids = os.environ.get("KBATCH_RUN_PGIDS")
        if pgids:
            with open(pgids, "a") as f:
                f.write(f"{p.pid}\n")

    def log(self, name: str) -> str:
        try:
            return (self.dir / f"{name}.log").read_text()[-3000:]
        except OSError:
            return ""

    def worker_names(self) -> List[str]:
        return [f"worker{i}" for i in range(1, self.workers + 1)]

    def pids(self) -> Dict[str, int]:
        """``master``, ``worker1``, …: the JVM of each (``spark-class`` execs it), the root of
        the process tree that holds a worker's executors and their Python workers."""
        return {name: p.pid for name, p, _ in self.procs}

    def start(self, timeout: float = 90) -> "Standalone":
        self._start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(self.port), "--webui-port", str(free_port()))
        for i, name in enumerate(self.worker_names(), 1):
            self._start(name, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                        "--port", str(free_port()), "--webui-port", str(free_port()),
                        "--cores", str(self.cores), "--memory", self.memory,
                        "--work-dir", str(self.dir / f"work{i}"), self.url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            registered = sum("Successfully registered with master" in self.log(n) for n in self.worker_names())
            if registered == self.workers:
                return self
            for name, p, _ in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"spark {name} exited ({p.returncode}): {self.log(name)}")
            time.sleep(0.5)
        raise RuntimeError(f"the Spark workers did not register within {timeout:.0f} s: {self.log('worker1')}")

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


def session(master: str, app: str, jars: List[str], conf: Optional[Mapping[str, str]] = None):
    """A Spark session on ``master`` with kbatch's data source registered: UI off unless
    ``conf`` turns it on, driver on 127.0.0.1, UTC, ``jars`` (Spark's Kafka source) as
    ``spark.jars``; ``conf`` last, so it overrides any of these."""
    from pyspark.sql import SparkSession

    from kbatch.spark import KbatchDataSource

    env = python_env()
    os.environ.update({k: env[k] for k in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "PYTHONPATH", "SPARK_LOCAL_IP")
                       if k in env})
    b = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.jars", ",".join(jars))
    )
    if os.environ.get("KBATCH_SPARK_PYTHONPATH"):
        b = b.config("spark.executorEnv.PYTHONPATH", os.environ["PYTHONPATH"])
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.dataSource.register(KbatchDataSource)
    return spark
