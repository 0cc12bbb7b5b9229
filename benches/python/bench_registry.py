"""Issue 26's speed floors: registry-framed values into a typed pyarrow.Table.

Starts a broker and a Schema Registry with the testkit, produces realistic nested browsing
events with confluent-kafka's own serializers (two versions of the subject interleaved: v2
adds a field with a default), then, in alternation for --rounds rounds, each in its own
process (wall and CPU of that process):

* `kbatch.read(topic, value_format=F, config={"schema.registry.url": ...})`;
* confluent-kafka's `DeserializingConsumer` with its `AvroDeserializer` / `ProtobufDeserializer`
  (what the issue names), building the same table: every 10,000 messages become Arrow columns
  at once, typed by the schema kbatch's table has (so both tables are compared, value for value);
* for Avro, `arrow-avro` alone on the same framed bytes (`avro_alone`, the crate's example:
  its decoder in Confluent-framed mode, and kbatch's decoder in the same process).

Writes a Markdown table (medians, the ratios against the floors) to --out.

usage: bench_registry.py --testkit BIN --avro-alone BIN --events N [--rounds R]
                         [--formats avro,protobuf] [--partitions P] --out FILE
       bench_registry.py worker kbatch|confluent FORMAT BOOTSTRAP URL TOPIC SCHEMA_FILE
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import os
import platform
import random
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIELDS_V1 = [
    {"name": "event_id", "type": "string"},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {
        "name": "user",
        "type": {
            "type": "record",
            "name": "User",
            "fields": [
                {"name": "id", "type": "long"},
                {"name": "country", "type": "string"},
                {
                    "name": "segment",
                    "type": {
                        "type": "enum",
                        "name": "Segment",
                        "symbols": ["NEW", "RETURNING", "LOYAL", "CHURNING"],
                    },
                },
            ],
        },
    },
    {
        "name": "device",
        "type": {
            "type": "record",
            "name": "Device",
            "fields": [
                {"name": "os", "type": "string"},
                {"name": "version", "type": "string"},
                {
                    "name": "screen",
                    "type": {
                        "type": "record",
                        "name": "Screen",
                        "fields": [{"name": "w", "type": "int"}, {"name": "h", "type": "int"}],
                    },
                },
            ],
        },
    },
    {
        "name": "page",
        "type": {
            "type": "record",
            "name": "Page",
            "fields": [
                {"name": "url", "type": "string"},
                {"name": "category", "type": "string"},
                {"name": "referrer", "type": ["null", "string"], "default": None},
            ],
        },
    },
    {"name": "product", "type": "string"},
    {
        "name": "price",
        "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2},
    },
    {"name": "quantity", "type": "int"},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "attrs", "type": {"type": "map", "values": "string"}},
    {"name": "session_ms", "type": "long"},
]
FIELDS_V2 = FIELDS_V1 + [{"name": "channel", "type": "string", "default": "web"}]

CATEGORIES = ["shoes", "books", "games", "garden", "toys", "music", "kitchen", "sports"]
OS = [("ios", "17.4.1"), ("android", "14"), ("windows", "11"), ("macos", "14.4")]
COUNTRIES = ["US", "DE", "FR", "JP", "BR", "IN", "GB", "NL"]
SEGMENTS = ["NEW", "RETURNING", "LOYAL", "CHURNING"]
WORDS = ["red", "sale", "new", "gift", "eco", "\u00e9t\u00e9", 'say "hi"', "a\\b", "x\ty"]


def avro_schema(fields: list) -> str:
    return json.dumps({"type": "record", "name": "View", "namespace": "kbatch.bench", "fields": fields})


def event(rng: random.Random, i: int, v2: bool) -> dict:
    category = rng.choice(CATEGORIES)
    os_name, os_version = rng.choice(OS)
    path = "/".join(rng.choice(WORDS).replace(" ", "-") for _ in range(rng.randint(1, 6)))
    e = {
        "event_id": f"{rng.getrandbits(64):016x}-{i:08d}",
        "ts": dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=i * 37),
        "user": {
            "id": rng.randint(1, 2_000_000) * 1_000_003,
            "country": rng.choice(COUNTRIES),
            "segment": rng.choice(SEGMENTS),
        },
        "device": {
            "os": os_name,
            "version": os_version,
            "screen": {"w": rng.choice([390, 412, 1920, 2560]), "h": rng.choice([844, 915, 1080])},
        },
        "page": {
            "url": f"https://shop.example/{category}/{path}?q={i % 977}",
            "category": category,
            "referrer": None if rng.random() < 0.4 else f"https://ref.example/{rng.randint(1, 99)}",
        },
        "product": f"{category}-{rng.randint(1, 400):04d}",
        "price": decimal.Decimal(rng.randint(99, 99_999)) / 100,
        "quantity": rng.randint(1, 5),
        "tags": [rng.choice(WORDS) for _ in range(rng.randint(0, 4))],
        "attrs": {f"k{j}": rng.choice(WORDS) for j in range(rng.randint(0, 3))},
        "session_ms": rng.randint(0, 3_600_000),
    }
    if v2:
        e["channel"] = rng.choice(["app", "store", "web"])
    return e


# ---- Protobuf: the same events as a proto3 message (built without protoc) -----------------


def proto_classes() -> dict[bool, type]:
    """The `View` message class of v1 and of v2 (v2 adds `channel`), each from its own pool."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    opt, rep, msg = F.LABEL_OPTIONAL, F.LABEL_REPEATED, F.TYPE_MESSAGE

    def field(name: str, number: int, ftype: int, label: int = opt, **kw) -> F:
        return F(name=name, number=number, type=ftype, label=label, **kw)

    out = {}
    for v2 in (False, True):
        f = descriptor_pb2.FileDescriptorProto(
            name="kbatch/bench/view.proto", package="kbatch.bench", syntax="proto3"
        )
        view = f.message_type.add(name="View")
        seg = view.enum_type.add(name="Segment")
        for i, n in enumerate(SEGMENTS):
            seg.value.add(name=n, number=i)
        user = view.nested_type.add(name="User")
        user.field.extend(
            [
                field("id", 1, F.TYPE_INT64),
                field("country", 2, F.TYPE_STRING),
                field("segment", 3, F.TYPE_ENUM, type_name=".kbatch.bench.View.Segment"),
            ]
        )
        screen = view.nested_type.add(name="Screen")
        screen.field.extend([field("w", 1, F.TYPE_INT32), field("h", 2, F.TYPE_INT32)])
        device = view.nested_type.add(name="Device")
        device.field.extend(
            [
                field("os", 1, F.TYPE_STRING),
                field("version", 2, F.TYPE_STRING),
                field("screen", 3, msg, type_name=".kbatch.bench.View.Screen"),
            ]
        )
        page = view.nested_type.add(name="Page")
        page.oneof_decl.add(name="_referrer")
        page.field.extend(
            [
                field("url", 1, F.TYPE_STRING),
                field("category", 2, F.TYPE_STRING),
                field("referrer", 3, F.TYPE_STRING, oneof_index=0, proto3_optional=True),
            ]
        )
        attrs = view.nested_type.add(name="AttrsEntry")
        attrs.options.map_entry = True
        attrs.field.extend([field("key", 1, F.TYPE_STRING), field("value", 2, F.TYPE_STRING)])
        view.field.extend(
            [
                field("event_id", 1, F.TYPE_STRING),
                field("ts_ms", 2, F.TYPE_INT64),
                field("user", 3, msg, type_name=".kbatch.bench.View.User"),
                field("device", 4, msg, type_name=".kbatch.bench.View.Device"),
                field("page", 5, msg, type_name=".kbatch.bench.View.Page"),
                field("product", 6, F.TYPE_STRING),
                field("price_cents", 7, F.TYPE_INT64),
                field("quantity", 8, F.TYPE_INT32),
                field("tags", 9, F.TYPE_STRING, rep),
                field("attrs", 10, msg, rep, type_name=".kbatch.bench.View.AttrsEntry"),
                field("session_ms", 11, F.TYPE_INT64),
            ]
            + ([field("channel", 12, F.TYPE_STRING)] if v2 else [])
        )
        pool = descriptor_pool.DescriptorPool()
        pool.AddSerializedFile(f.SerializeToString())
        out[v2] = message_factory.GetMessageClass(pool.FindMessageTypeByName("kbatch.bench.View"))
    return out


def proto_message(cls: type, e: dict):
    """Event `e` (as `event` makes it) as a `View`."""
    m = cls()
    m.event_id = e["event_id"]
    m.ts_ms = int(e["ts"].timestamp() * 1000)
    m.user.id, m.user.country = e["user"]["id"], e["user"]["country"]
    m.user.segment = SEGMENTS.index(e["user"]["segment"])
    m.device.os, m.device.version = e["device"]["os"], e["device"]["version"]
    m.device.screen.w, m.device.screen.h = e["device"]["screen"]["w"], e["device"]["screen"]["h"]
    m.page.url, m.page.category = e["page"]["url"], e["page"]["category"]
    if e["page"]["referrer"] is not None:
        m.page.referrer = e["page"]["referrer"]
    m.product = e["product"]
    m.price_cents = int(e["price"] * 100)
    m.quantity = e["quantity"]
    m.tags.extend(e["tags"])
    m.attrs.update(e["attrs"])
    m.session_ms = e["session_ms"]
    if "channel" in e:
        m.channel = e["channel"]
    return m


def proto_row(m) -> dict:
    """A deserialized `View` as the row of the typed table (what a user writes by hand: the
    library's json_format turns int64 into strings and drops nothing it should keep)."""
    page = m.page
    return {
        "event_id": m.event_id,
        "ts_ms": m.ts_ms,
        "user": {"id": m.user.id, "country": m.user.country, "segment": SEGMENTS[m.user.segment]},
        "device": {
            "os": m.device.os,
            "version": m.device.version,
            "screen": {"w": m.device.screen.w, "h": m.device.screen.h},
        },
        "page": {
            "url": page.url,
            "category": page.category,
            "referrer": page.referrer if page.HasField("referrer") else None,
        },
        "product": m.product,
        "price_cents": m.price_cents,
        "quantity": m.quantity,
        "tags": list(m.tags),
        "attrs": sorted(m.attrs.items()),
        "session_ms": m.session_ms,
        "channel": m.channel,
    }


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def produce(bootstrap: str, url: str, topic: str, fmt: str, n: int, partitions: int, values: Path):
    """Produce n events; write each framed value as the serializer made it to `values`."""
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = SchemaRegistryClient({"url": url})
    if fmt == "avro":
        from confluent_kafka.schema_registry.avro import AvroSerializer

        avro = {v2: AvroSerializer(client, avro_schema(FIELDS_V2 if v2 else FIELDS_V1)) for v2 in (0, 1)}

        def ser(v2: int, e: dict, ctx) -> bytes:
            return avro[v2](e, ctx)
    elif fmt == "protobuf":
        from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

        classes = proto_classes()
        conf = {"use.deprecated.format": False}
        proto = {v2: ProtobufSerializer(classes[bool(v2)], client, conf) for v2 in (0, 1)}

        def ser(v2: int, e: dict, ctx) -> bytes:
            return proto[v2](proto_message(classes[bool(v2)], e), ctx)
    else:
        raise SystemExit(f"format {fmt}: avro or protobuf")
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    ctx = SerializationContext(topic, MessageField.VALUE)
    rng = random.Random(26)
    with open(values, "wb") as out:
        for i in range(n):
            v2 = (i // 1000) % 2  # runs of 1,000 of each version
            value = ser(v2, event(rng, i, bool(v2)), ctx)
            out.write(struct.pack("<I", len(value)))
            out.write(value)
            while True:
                try:
                    producer.produce(topic, value=value, partition=i % partitions)
                    break
                except BufferError:
                    producer.poll(0.05)
            if i % 10_000 == 0:
                producer.poll(0)
    if producer.flush(120) != 0:
        raise SystemExit("records left unsent")
    ids = sorted(client.get_versions(f"{topic}-value"))
    schemas = []
    for version in ids:
        r = client.get_version(f"{topic}-value", version)
        schemas.append({"id": r.schema_id, "schema": r.schema.schema_str})
    return {"subject": f"{topic}-value", "schemas": schemas}


# ---- the measured processes -------------------------------------------------------------


def worker_kbatch(fmt: str, bootstrap: str, url: str, topic: str, schema_file: str) -> dict:
    import kbatch
    import pyarrow as pa

    table = kbatch.read(topic, bootstrap=bootstrap, value_format=fmt, config={"schema.registry.url": url})
    table = table.select(["partition", "offset", "value"])
    with pa.OSFile(schema_file + ".arrow", "wb") as f, pa.ipc.new_file(f, table.schema) as w:
        w.write_table(table)
    return {"rows": table.num_rows}


def worker_confluent(fmt: str, bootstrap: str, url: str, topic: str, schema_file: str) -> dict:
    import pyarrow as pa
    from confluent_kafka import DeserializingConsumer, KafkaError, TopicPartition
    from confluent_kafka.error import ConsumeError
    from confluent_kafka.schema_registry import SchemaRegistryClient

    want = pa.ipc.open_file(schema_file + ".arrow").schema
    client = SchemaRegistryClient({"url": url})
    if fmt == "avro":
        from confluent_kafka.schema_registry.avro import AvroDeserializer

        # The newest version as the reader schema, as kbatch reads: v1 values get v2's
        # default, so the table has one type.
        newest = json.loads(Path(schema_file).read_text())["schemas"][-1]["schema"]
        deserializer = AvroDeserializer(client, schema_str=newest)

        def row(v):
            return v
    else:
        from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer

        # The v2 class reads v1 values too (channel is then "", proto3's default).
        deserializer = ProtobufDeserializer(proto_classes()[True], {"use.deprecated.format": False})
        row = proto_row
    consumer = DeserializingConsumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "kbatch-bench-registry",
            "enable.auto.commit": False,
            "auto.offset.reset": "error",
            "enable.partition.eof": True,
            "fetch.max.bytes": 33554432,
            "max.partition.fetch.bytes": 1048576,
            "fetch.wait.max.ms": 100,
            "queued.max.messages.kbytes": 16384,
            "queued.min.messages": 20000,
            "value.deserializer": deserializer,
        }
    )
    meta = consumer.list_topics(topic, timeout=10)
    assignment, ends = [], {}
    for p in sorted(meta.topics[topic].partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if high > low:
            ends[p] = high
            assignment.append(TopicPartition(topic, p, low))
    consumer.assign(assignment)
    batches: list = []
    cols: tuple[list, list, list] = ([], [], [])

    def flush() -> None:
        if cols[0]:
            batches.append(
                pa.RecordBatch.from_arrays(
                    [
                        pa.array(cols[0], want.field("partition").type),
                        pa.array(cols[1], want.field("offset").type),
                        pa.array(cols[2], want.field("value").type),
                    ],
                    schema=want,
                )
            )
            for c in cols:
                c.clear()

    while ends:
        try:
            m = consumer.poll(1.0)
        except ConsumeError as e:
            # DeserializingConsumer raises the end-of-partition event instead of returning it.
            if e.code == KafkaError._PARTITION_EOF:
                continue
            raise
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise SystemExit(str(m.error()))
        if m.offset() >= ends.get(m.partition(), -1):
            continue
        cols[0].append(m.partition())
        cols[1].append(m.offset())
        cols[2].append(row(m.value()))
        if len(cols[0]) >= 10_000:
            flush()
        if m.offset() + 1 >= ends[m.partition()]:
            ends.pop(m.partition())
    flush()
    consumer.close()
    table = pa.Table.from_batches(batches, schema=want).sort_by(
        [("partition", "ascending"), ("offset", "ascending")]
    )
    theirs = pa.ipc.open_file(schema_file + ".arrow").read_all()
    if not table.equals(theirs):
        for name in want.names:
            if not table[name].equals(theirs[name]):
                ours, kb = table[name].to_pylist(), theirs[name].to_pylist()
                row = next(i for i, (x, y) in enumerate(zip(ours, kb)) if x != y)
                raise SystemExit(
                    f"confluent-kafka and kbatch.read differ in column {name}, row {row}:\n"
                    f"{ours[row]!r}\n{kb[row]!r}"
                )
        raise SystemExit("confluent-kafka and kbatch.read differ")
    return {"rows": table.num_rows}


def measure(args: list[str]) -> tuple[float, float, dict]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[2:4])} failed:\n{done.stderr}")
    out = done.stdout
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(out.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["worker"]:
        who, fmt, bootstrap, url, topic, schema_file = sys.argv[2:8]
        work = worker_kbatch if who == "kbatch" else worker_confluent
        print(json.dumps(work(fmt, bootstrap, url, topic, schema_file)))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--testkit", required=True)
    ap.add_argument("--avro-alone", required=True)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--formats", default="avro")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kbatch-bench-registry-"))
    bootstrap = sh(a.testkit, "start", "--dir", str(work / "broker"))
    try:
        url = sh(a.testkit, "start-registry", "--dir", str(work / "registry"))
        try:
            rows = run(a, work, bootstrap, url)
        finally:
            sh(a.testkit, "stop", "--dir", str(work / "registry"))
    finally:
        sh(a.testkit, "stop", "--dir", str(work / "broker"))
        shutil.rmtree(work, ignore_errors=True)
    Path(a.out).write_text(report(a, rows))
    print(Path(a.out).read_text())


def run(a: argparse.Namespace, work: Path, bootstrap: str, url: str) -> list[dict]:
    rows = []
    me = [sys.executable, os.path.abspath(__file__), "worker"]
    for fmt in a.formats.split(","):
        topic = f"bench-{fmt}"
        sh(
            a.testkit,
            "create-topic",
            "--bootstrap",
            bootstrap,
            "--topic",
            topic,
            "--partitions",
            str(a.partitions),
        )
        values = work / f"{fmt}.values"
        t = time.perf_counter()
        schemas = produce(bootstrap, url, topic, fmt, a.events, a.partitions, values)
        produced = time.perf_counter() - t
        schema_file = str(work / f"{fmt}.schema")
        Path(schema_file).write_text(json.dumps(schemas))
        size = values.stat().st_size - 4 * a.events
        print(f"{fmt}: {a.events} events, {size} value bytes, produced in {produced:.0f} s", file=sys.stderr)
        worker = [bootstrap, url, topic, schema_file]
        # Warm-up: page cache, the registry's first answers, Python's imports.
        measure(me + ["kbatch", fmt] + worker)
        k, c, alone = [], [], []
        for r in range(a.rounds):
            k.append(measure(me + ["kbatch", fmt] + worker))
            c.append(measure(me + ["confluent", fmt] + worker))
            assert k[-1][2]["rows"] == c[-1][2]["rows"] == a.events, (k[-1], c[-1])
            if fmt == "avro":
                alone.append(json.loads(sh(a.avro_alone, str(values), schema_file, "1")))
            print(f"round {r}: kbatch {k[-1][0]:.2f} s, confluent {c[-1][0]:.2f} s", file=sys.stderr)
        rows.append(
            {
                "format": fmt,
                "events": a.events,
                "bytes": size,
                "kbatch": k,
                "confluent": c,
                "alone": alone,
                "versions": len(schemas["schemas"]),
            }
        )
    return rows


def report(a: argparse.Namespace, rows: list[dict]) -> str:
    med = statistics.median
    commit = sh("git", "rev-parse", "--short", "HEAD")
    floors = {"avro": 10.0, "protobuf": 5.0}
    lines = [
        f"# Registry-framed values into a typed pyarrow.Table ({dt.date.today()}, {commit})",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores; load average "
        f"{os.getloadavg()[0]:.2f} at the end",
        f'- command: `make bench-registry BENCH_REGISTRY_ARGS="--events {a.events} '
        f'--rounds {a.rounds} --formats {a.formats}"`',
        f"- data: {a.events} realistic nested browsing events per format (nested records, an "
        "enum, a nullable union, a decimal, a timestamp, an array, a map, escapes), two "
        "versions of the subject interleaved in runs of 1,000 (v2 adds a field with a "
        "default), serialized by confluent-kafka's own serializers against Apicurio "
        f"Registry, {a.partitions} partitions, lz4; Protobuf: the same events as a proto3 "
        "`View` (nested messages, an enum, an `optional`, repeated, a map; price in cents, "
        "time in ms), v2 adding a field, read by confluent-kafka's `ProtobufDeserializer` into "
        "the v2 class and turned into rows by hand (json_format would make int64 strings)",
        "- each reader in its own process (Python start and imports included for both), "
        "medians of the rounds, one warm-up; the two tables are compared value for value "
        "every round",
        "",
        "| format | value bytes | kbatch.read wall / CPU | confluent-kafka wall / CPU | "
        "wall ratio (floor) | CPU ratio | kbatch rows/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        kw, kc = med(x[0] for x in r["kbatch"]), med(x[1] for x in r["kbatch"])
        cw, cc = med(x[0] for x in r["confluent"]), med(x[1] for x in r["confluent"])
        lines.append(
            f"| {r['format']} | {r['bytes']:,} | {kw:.2f} s / {kc:.2f} s | {cw:.2f} s / "
            f"{cc:.2f} s | **{cw / kw:.1f}×** (≥ {floors[r['format']]:.0f}×) | "
            f"{cc / kc:.1f}× | {r['events'] / kw:,.0f} |"
        )
    for r in rows:
        if not r["alone"]:
            continue
        al = r["alone"]
        lines += [
            "",
            f"Decoding alone, {r['format']}, in memory, one core (`avro_alone`, medians of "
            f"{len(al)} runs; {r['events']:,} values, {r['bytes']:,} bytes):",
            "",
            "| decoder | rows/s | GB/s of values |",
            "|---|---|---|",
            f"| arrow-avro alone (Confluent-framed mode, reader schema v{r['versions']}) | "
            f"{med(x['arrow_avro_rows_per_s'] for x in al):,.0f} | "
            f"{med(x['arrow_avro_gb_per_s'] for x in al):.3f} |",
            f"| kbatch's `AvroDecoder` (prefix split, Spark's types) | "
            f"{med(x['kbatch_rows_per_s'] for x in al):,.0f} | "
            f"{med(x['kbatch_gb_per_s'] for x in al):.3f} |",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
