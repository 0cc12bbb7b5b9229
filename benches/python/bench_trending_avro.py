"""`kbatch trending` on Avro values against the same events as JSON (issue 26's CPU floor).

1. Starts one Kafka broker (pinned to core 0) and the testkit's Schema Registry (Apicurio).
2. Produces the realistic `flat` mix (`kbatch-testkit produce-trending --mix flat`, ~460-byte
   browsing events) into a source topic, reads it back with `kbatch.read`, and writes every
   record twice with the same confluent-kafka producer settings (lz4, linger 20 ms, partition
   kept): as the JSON bytes to `<prefix>_json`, and as Avro through confluent-kafka's own
   `AvroSerializer` (the registry's Confluent framing) to `<prefix>_avro`. A source record that
   is not a valid event is written as is to both (it is `not_framed` on the Avro topic).
3. `--rounds` rounds, in alternation, of `kbatch trending --threads 1` pinned to core 1 on each
   topic; wall and CPU (the child's rusage) per run; medians; rows checked equal every round.

usage: bench_trending_avro.py --events N --rounds R --out FILE
(env: KBATCH_BIN, KBATCH_TESTKIT: release binaries)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import kbatch
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

SCHEMA = {
    "type": "record",
    "name": "PageView",
    "namespace": "kbatch.bench",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "ts", "type": "long"},
        {"name": "customer_id", "type": "string"},
        {"name": "session_id", "type": "string"},
        {"name": "product", "type": "string"},
        {"name": "category", "type": "string"},
        {"name": "price", "type": "double"},
        {"name": "quantity", "type": "int"},
        {"name": "ip", "type": "string"},
        {"name": "user_agent", "type": "string"},
        {"name": "url", "type": "string"},
        {"name": "referrer", "type": "string"},
    ],
}
TYPES = {"string": str, "long": int, "int": int, "double": (int, float)}


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose keys are unique (a duplicate is an invalid event for kbatch)."""
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("duplicate key")
    return d


def valid(e: object) -> bool:
    if not isinstance(e, dict) or set(e) != {f["name"] for f in SCHEMA["fields"]}:
        return False
    return all(isinstance(e[f["name"]], TYPES[f["type"]]) for f in SCHEMA["fields"])


def timed(cmd: list[str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out")
    ap.add_argument("--perf", help="also record one Avro run with `perf record` into this file")
    a = ap.parse_args()
    kb = os.environ.get("KBATCH_BIN", "target/release/kbatch")
    testkit = os.environ.get("KBATCH_TESTKIT", "target/release/kbatch-testkit")
    bdir = tempfile.mkdtemp(prefix="kbatch-bench-broker-")
    rdir = tempfile.mkdtemp(prefix="kbatch-bench-registry-")
    bootstrap = sh("taskset", "-c", "0", testkit, "start", "--dir", bdir).splitlines()[0]
    bootstrap = bootstrap.split("=", 1)[-1]
    try:
        url = sh(testkit, "start-registry", "--dir", rdir).splitlines()[-1]
        src, tj, ta = "bench_src", "bench_trending_json", "bench_trending_avro"
        t0 = time.perf_counter()
        for t in (src, tj, ta):
            sh(testkit, "create-topic", "--bootstrap", bootstrap, "--topic", t, "--partitions", "8")
        sh(testkit, "produce-trending", "--bootstrap", bootstrap, "--topic", src,
           "--partitions", "8", "--events", str(a.events), "--mix", "flat",
           "--compression", "lz4")
        table = kbatch.read(src, bootstrap=bootstrap)
        values = table.column("value").to_pylist()
        parts = table.column("partition").to_pylist()
        ser = AvroSerializer(SchemaRegistryClient({"url": url}), json.dumps(SCHEMA))
        ctx = SerializationContext(ta, MessageField.VALUE)
        settings = {"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4",
                    "batch.size": 1_000_000, "queue.buffering.max.messages": 2_000_000}
        producer = Producer(settings)
        json_bytes = avro_bytes = 0
        for v, p in zip(values, parts):
            try:
                e = json.loads(v, object_pairs_hook=unique) if v is not None else None
            except (UnicodeDecodeError, ValueError):
                e = None
            framed = ser(e, ctx) if valid(e) else v
            producer.produce(tj, value=v, partition=p)
            producer.produce(ta, value=framed, partition=p)
            json_bytes += len(v or b"")
            avro_bytes += len(framed or b"")
            producer.poll(0)
        if producer.flush(120) != 0:
            raise SystemExit("records left unsent")
        produced_s = time.perf_counter() - t0
        print(f"produced {len(values)} events twice in {produced_s:.0f} s "
              f"(JSON {json_bytes / len(values):.0f} B, Avro {avro_bytes / len(values):.0f} B "
              f"per value)", file=sys.stderr)

        common = ["--bootstrap", bootstrap, "--threads", "1", "--format", "json", "--top", "3"]
        runs: dict[str, list[tuple[float, float]]] = {"json": [], "avro": []}
        for r in range(a.rounds):
            wj, cj, oj = timed(["taskset", "-c", "1", kb, "trending", "--topic", tj, *common])
            wa, ca, oa = timed(["taskset", "-c", "1", kb, "trending", "--topic", ta, *common,
                                "--value-format", "avro", "-X", f"schema.registry.url={url}"])
            rj, ra = json.loads(oj), json.loads(oa)
            assert rj["top"] == ra["top"], "the rows differ"
            assert (rj["records"], rj["invalid"]) == (ra["records"], ra["invalid"]), (
                rj["records"], rj["invalid"], ra["records"], ra["invalid"])
            runs["json"].append((wj, cj))
            runs["avro"].append((wa, ca))
            print(f"round {r + 1}: json {wj:.3f} s wall {cj:.3f} s cpu; "
                  f"avro {wa:.3f} s wall {ca:.3f} s cpu", file=sys.stderr)
        if a.perf:
            subprocess.run(["perf", "record", "-q", "-o", a.perf, "--", kb, "trending", "--topic", ta,
                            *common, "--value-format", "avro", "-X", f"schema.registry.url={url}"],
                           check=True, capture_output=True)
        med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
               for k, v in runs.items()}
        span = {k: (min(c for _, c in v), max(c for _, c in v)) for k, v in runs.items()}
        ratio = med["avro"][1] / med["json"][1]
        n = rj["records"]
        lines = [
            "| topic | records | value bytes (mean) | wall median | CPU median (min–max) | records/s per CPU-s |",
            "|---|---|---|---|---|---|",
            f"| JSON | {n} | {json_bytes / len(values):.0f} | {med['json'][0]:.3f} s | "
            f"{med['json'][1]:.3f} s ({span['json'][0]:.3f}–{span['json'][1]:.3f}) | "
            f"{n / med['json'][1]:,.0f} |",
            f"| Avro | {n} | {avro_bytes / len(values):.0f} | {med['avro'][0]:.3f} s | "
            f"{med['avro'][1]:.3f} s ({span['avro'][0]:.3f}–{span['avro'][1]:.3f}) | "
            f"{n / med['avro'][1]:,.0f} |",
            "",
            f"Avro CPU / JSON CPU (ratio of medians): **{ratio:.2f}** (floor: ≤ 1.00); "
            f"invalid on both: {rj['invalid']}; rows equal in every round.",
        ]
        text = "\n".join(lines)
        print(text)
        if a.out:
            with open(a.out, "a") as f:
                f.write(text + "\n")
    finally:
        subprocess.run([testkit, "stop", "--dir", rdir], capture_output=True)
        subprocess.run([testkit, "stop", "--dir", bdir], capture_output=True)
        shutil.rmtree(bdir, ignore_errors=True)
        shutil.rmtree(rdir, ignore_errors=True)


if __name__ == "__main__":
    main()
