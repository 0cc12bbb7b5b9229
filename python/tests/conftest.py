"""The real broker and the produced data every test reads.

One Kafka broker (KRaft, on 127.0.0.1) is started for the session by the testkit binary
(``$KBATCH_BIN_DIR/kbatch-testkit``: ``make test-python`` points it at ``target/testbin``,
the test build's testkit beside the static ``kbatch``; default ``target/release``) and stopped at the end,
also when tests fail; the testkit's watchdog kills it if this process dies. Records are
written by Kafka's own Java producer (``kbatch-testkit produce``), and what it reports (the
partition and offset of every record) is the oracle the tests compare against.

A missing broker fails the tests, it never skips them: run ``make test-python``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("KBATCH_BIN_DIR", ROOT / "target" / "release"))
TESTKIT = BIN / "kbatch-testkit"
CLI = BIN / "kbatch"
UTC = dt.timezone.utc


def kit(*args: str, timeout: float = 300) -> str:
    """Run the testkit; its stdout, or a failure with its stderr."""
    if not TESTKIT.exists():
        pytest.fail(f"{TESTKIT} is missing: run `make test-python` (it builds it)")
    done = subprocess.run(
        [str(TESTKIT), *args], capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise AssertionError(f"kbatch-testkit {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


def cli_json(*args: str) -> Any:
    """Run the kbatch CLI and parse its JSON output."""
    done = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def bootstrap() -> Any:
    home = Path(tempfile.mkdtemp(prefix="kbatch-pytest-"))
    broker_dir = home / "broker"
    try:
        address = kit("start", "--dir", str(broker_dir)).strip()
        yield address
    finally:
        kit("stop", "--dir", str(broker_dir))
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class Rec:
    """One record as produced, in the columns of kbatch.read's table."""

    partition: int
    key: Optional[bytes]
    value: Optional[bytes]
    timestamp_ms: int
    headers: List[Tuple[str, Optional[bytes]]] = field(default_factory=list)
    aborted: bool = False
    offset: int = -1

    def row(self, topic: str) -> Dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "topic": topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": dt.datetime.fromtimestamp(self.timestamp_ms / 1000, UTC),
            "timestampType": 0,
            "headers": [{"key": k, "value": v} for k, v in self.headers],
        }


def _b64(b: Optional[bytes]) -> Optional[str]:
    return None if b is None else base64.b64encode(b).decode()


def produce(
    bootstrap: str,
    topic: str,
    ops: List[Any],
    *,
    compression: Optional[str] = None,
    transactional_id: Optional[str] = None,
) -> None:
    """Run ``ops`` (Rec or "begin"/"commit"/"abort"/"flush") with Kafka's Java producer and
    set each Rec's offset from what the producer reports."""
    lines = []
    records = []
    for op in ops:
        if isinstance(op, Rec):
            records.append(op)
            lines.append(
                json.dumps(
                    {
                        "op": "record",
                        "partition": op.partition,
                        "timestamp": op.timestamp_ms,
                        "key": _b64(op.key),
                        "value": _b64(op.value),
                        "headers": [[k, _b64(v)] for k, v in op.headers],
                    }
                )
            )
        else:
            lines.append(json.dumps({"op": op}))
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    try:
        args = ["produce", "--bootstrap", bootstrap, "--topic", topic, "--ops", f.name]
        if compression:
            args += ["--compression", compression]
        if transactional_id:
            args += ["--transactional-id", transactional_id]
        landed = [json.loads(l) for l in kit(*args).splitlines() if l.strip()]
    finally:
        os.unlink(f.name)
    assert len(landed) == len(records), landed
    for rec, where in zip(records, landed):
        assert where["partition"] == rec.partition
        rec.offset = where["offset"]


CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
BASE_TS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@dataclass
class Dataset:
    topic: str
    records: List[Rec]

    def rows(self, *, committed: bool = True) -> List[Dict[str, Any]]:
        recs = [r for r in self.records if not (committed and r.aborted)]
        recs.sort(key=lambda r: (r.partition, r.offset))
        return [r.row(self.topic) for r in recs]


def _records(partition: int, n: int, tag: str, ts: int) -> List[Rec]:
    """Every kind of record: null key, null value (tombstone), empty value, headers with a
    null value and a repeated key, binary bytes, and a large, compressible value."""
    out = []
    for i in range(n):
        key: Optional[bytes] = f"{tag}-k{i}".encode()
        value: Optional[bytes] = json.dumps({"id": i, "tag": tag, "pad": "x" * (i % 7)}).encode()
        headers: List[Tuple[str, Optional[bytes]]] = []
        if i % 5 == 1:
            key = None
        if i % 5 == 2:
            value = None
        if i % 5 == 3:
            value = b""
            headers = [("trace", b"\x00\xff" + bytes([i % 256])), ("trace", None), ("n", b"")]
        if i % 5 == 4:
            value = bytes(range(256)) * 20
            headers = [("h\u00e9", str(i).encode())]
        out.append(Rec(partition, key, value, ts + i * 1000, headers))
    return out


@pytest.fixture(scope="session")
def dataset(bootstrap: str) -> Dataset:
    """Topic ``mixed``: partition i written with codec CODECS[i] (none, gzip, snappy, lz4,
    zstd), then partition 5 by a transactional producer: a committed transaction, an aborted
    one, and a committed one again (control markers and aborted records in range)."""
    topic = "mixed"
    # The records carry fixed timestamps in the past: without retention.ms=-1 the broker's
    # retention check (every 5 minutes) would delete them in the middle of the session.
    kit(
        "create-topic", "--bootstrap", bootstrap, "--topic", topic, "--partitions", "6",
        "--config", "retention.ms=-1",
    )
    records: List[Rec] = []
    for p, codec in enumerate(CODECS):
        recs = _records(p, 25, codec, BASE_TS + p * 100_000)
        produce(bootstrap, topic, recs, compression=codec)
        records += recs
    t1 = _records(5, 10, "t1", BASE_TS + 600_000)
    t2 = _records(5, 7, "t2", BASE_TS + 700_000)
    t3 = _records(5, 4, "t3", BASE_TS + 800_000)
    for r in t2:
        r.aborted = True
    produce(
        bootstrap,
        topic,
        ["begin", *t1, "commit", "begin", *t2, "abort", "begin", *t3, "commit"],
        compression="zstd",
        transactional_id="kbatch-pytest",
    )
    records += t1 + t2 + t3
    return Dataset(topic, records)


@pytest.fixture(scope="session")
def events(bootstrap: str) -> str:
    """Topic ``web``: browsing events for trending (3 partitions, 4 invalid)."""
    topic = "web"
    kit("create-topic", "--bootstrap", bootstrap, "--topic", topic, "--partitions", "3")
    kit(
        "produce-trending", "--bootstrap", bootstrap, "--topic", topic, "--partitions", "3",
        "--events", "3000", "--invalid", "4", "--compression", "lz4",
    )
    return topic
