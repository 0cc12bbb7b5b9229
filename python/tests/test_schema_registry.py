"""kbatch.read(value_format="avro") against a real Schema Registry (the testkit's Apicurio,
started by ``kbatch-testkit start-registry``) and values written by confluent-kafka's own
AvroSerializer: the value column is typed as Spark's from_avro types it, and every decoded
value equals what the serializer was given (v1 records read with v2's default)."""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import ROOT, kit

import kbatch

_spec = importlib.util.spec_from_file_location(
    "registry_producer", ROOT / "tests" / "e2e" / "registry_producer.py"
)
assert _spec is not None and _spec.loader is not None
producer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(producer)


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    home = Path(tempfile.mkdtemp(prefix="kbatch-pytest-registry-"))
    try:
        yield kit("start-registry", "--dir", str(home / "registry")).strip()
    finally:
        kit("stop", "--dir", str(home / "registry"))
        shutil.rmtree(home, ignore_errors=True)


def _produce(bootstrap: str, url: str, topic: str, count: int) -> list[dict[str, Any]]:
    """Produce `count` events as registry_producer does; the events as given."""
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = SchemaRegistryClient({"url": url})
    ser = {
        False: AvroSerializer(client, producer.schema(producer.FIELDS_V1)),
        True: AvroSerializer(client, producer.schema(producer.FIELDS_V2)),
    }
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    ctx = SerializationContext(topic, MessageField.VALUE)
    given = []
    for i in range(count):
        v2 = (i // 3) % 2 == 1
        e = producer.event(i, v2)
        p.produce(topic, value=ser[v2](e, ctx), partition=0)
        given.append(e)
    assert p.flush(30) == 0
    return given


def test_read_avro_values_into_a_typed_struct_column(bootstrap: str, registry: str) -> None:
    topic = f"avro-{uuid.uuid4().hex[:8]}"
    kit("create-topic", "--bootstrap", bootstrap, "--topic", topic, "--partitions", "1")
    given = _produce(bootstrap, registry, topic, 12)
    table = kbatch.read(
        topic,
        bootstrap=bootstrap,
        value_format="avro",
        config={"schema.registry.url": registry},
    )
    value_type = table.schema.field("value").type
    want = {
        "id": pa.int64(),
        "category": pa.string(),
        "kind": pa.string(),
        "tags": pa.list_(pa.field("element", pa.string(), nullable=False)),
        "attrs": pa.map_(pa.string(), pa.int64()),
        "note": pa.string(),
        "price": pa.decimal128(10, 2),
        "at": pa.timestamp("us", tz="UTC"),
        "raw": pa.binary(),
        "channel": pa.string(),
    }
    got = {value_type.field(i).name: value_type.field(i).type for i in range(value_type.num_fields)}
    for name, t in want.items():
        assert got[name].equals(t) or str(got[name]) == str(t), (name, got[name], t)
    assert [value_type.field(i).name for i in range(value_type.num_fields)][-1] == "channel"
    rows = table.column("value").to_pylist()
    assert table.column("offset").to_pylist() == list(range(len(given)))
    for i, (row, e) in enumerate(zip(rows, given)):
        want_row = dict(e)
        want_row["channel"] = e.get("channel", "web")
        want_row["attrs"] = list(e["attrs"].items())
        assert row["price"] == e["price"] and isinstance(row["price"], decimal.Decimal)
        assert row["at"] == e["at"] and row["at"].tzinfo is not None
        assert row == want_row, f"offset {i}"


def test_a_value_that_is_not_framed_fails_naming_the_record(
    bootstrap: str, registry: str
) -> None:
    from conftest import Rec, produce

    topic = f"avro-bad-{uuid.uuid4().hex[:8]}"
    kit("create-topic", "--bootstrap", bootstrap, "--topic", topic, "--partitions", "1")
    given = _produce(bootstrap, registry, topic, 2)
    now = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    produce(bootstrap, topic, [Rec(0, None, b'{"plain": "json"}', now)])
    config = {"schema.registry.url": registry}
    with pytest.raises(kbatch.DataError, match=rf"{topic}/0 offset 2: .*not framed"):
        kbatch.read(topic, bootstrap=bootstrap, value_format="avro", config=config)
    table = kbatch.read(
        topic, bootstrap=bootstrap, value_format="avro", config=config, on_undecodable="null"
    )
    rows = table.column("value").to_pylist()
    assert [r["id"] for r in rows[:2]] == [e["id"] for e in given]
    assert rows[2] is None


def test_export_writes_the_typed_value_column(bootstrap: str, registry: str) -> None:
    """kbatch.export(value_format="avro"): the Parquet files hold the column kbatch.read gives,
    and the manifest records the format."""
    import pyarrow.dataset as ds

    topic = f"avro-export-{uuid.uuid4().hex[:8]}"
    kit("create-topic", "--bootstrap", bootstrap, "--topic", topic, "--partitions", "1")
    given = _produce(bootstrap, registry, topic, 7)
    config = {"schema.registry.url": registry}
    out = Path(tempfile.mkdtemp(prefix="kbatch-pytest-export-avro-"))
    try:
        manifest = kbatch.export(
            topic, output=str(out), bootstrap=bootstrap, value_format="avro", config=config
        )
        assert manifest["value_format"] == "avro" and manifest["key_format"] == "raw"
        assert manifest["partitions"][0]["records"] == len(given)
        exported = ds.dataset(str(out), format="parquet").to_table().sort_by("offset")
        read = kbatch.read(topic, bootstrap=bootstrap, value_format="avro", config=config)
        assert exported.schema.field("value").type.equals(read.schema.field("value").type)
        assert exported.column("value").to_pylist() == read.column("value").to_pylist()
        assert [r["id"] for r in exported.column("value").to_pylist()] == [e["id"] for e in given]
    finally:
        shutil.rmtree(out, ignore_errors=True)


_pspec = importlib.util.spec_from_file_location(
    "registry_producer_protobuf", ROOT / "tests" / "e2e" / "registry_producer_protobuf.py"
)
assert _pspec is not None and _pspec.loader is not None
pb_producer = importlib.util.module_from_spec(_pspec)
_pspec.loader.exec_module(pb_producer)


def _arrow_row(order: dict[str, Any]) -> dict[str, Any]:
    """An Order as pyarrow gives back its struct row: every field, proto3 defaults, None for
    an unset message or optional, maps as (key, value) pairs."""
    row = pb_producer.natural(order)
    row["raw"] = order["raw"]
    row["attrs"] = list(order["attrs"].items())
    return row


def test_read_protobuf_values_and_json_schema_keys(bootstrap: str, registry: str) -> None:
    """kbatch.read / read_batches(value_format="protobuf", key_format="json-schema"): the value
    is a struct typed as Spark's from_protobuf types it (Order, message index [1], with a
    message from a referenced file), the key the JSON text (arrow.json); every row equals what
    confluent-kafka's serializers were given; kbatch.schema() is the read's schema."""
    import json

    topic = f"protobuf-{uuid.uuid4().hex[:8]}"
    kit("create-topic", "--bootstrap", bootstrap, "--topic", topic, "--partitions", "1")
    given = pb_producer.produce(bootstrap, registry, topic, 9)
    options: dict[str, Any] = {
        "bootstrap": bootstrap,
        "value_format": "protobuf",
        "key_format": "json-schema",
        "config": {"schema.registry.url": registry},
    }
    table = kbatch.read(topic, **options)
    value_type = table.schema.field("value").type
    want = {
        "id": pa.int64(),
        "status": pa.string(),
        "lines": pa.list_(
            pa.field(
                "element",
                pa.struct(
                    [pa.field("sku", pa.string(), False), pa.field("qty", pa.int32(), False)]
                ),
                nullable=False,
            )
        ),
        "note": pa.string(),
        "raw": pa.binary(),
        "total": pa.struct(
            [pa.field("units", pa.int64(), False), pa.field("currency", pa.string(), False)]
        ),
        "score": pa.float64(),
        "flag": pa.bool_(),
    }
    for name, t in want.items():
        assert value_type.field(name).type.equals(t), (name, value_type.field(name).type, t)
    assert value_type.field("note").nullable and not value_type.field("id").nullable
    keys = [json.loads(k) for k in table.column("key").to_pylist()]
    assert keys == [g["key"] for g in given]
    rows = table.column("value").to_pylist()
    assert rows == [_arrow_row(g["value"]) for g in given]
    assert rows[0]["id"] == 2**53 + 1

    schema = kbatch.schema(
        topic,
        value_format="protobuf",
        key_format="json-schema",
        config={"schema.registry.url": registry},
    )
    assert schema.equals(table.schema)

    batches = list(kbatch.read_batches(topic, **options, batch_rows=4))
    assert len(batches) == 3
    streamed = pa.Table.from_batches(batches)
    assert streamed.schema.equals(table.schema)
    assert streamed.column("value").to_pylist() == rows
    assert streamed.column("key").to_pylist() == table.column("key").to_pylist()

    with pytest.raises(kbatch.DataError, match=r"no subject \"nothing-here-value\""):
        kbatch.schema(
            "nothing-here",
            value_format="protobuf",
            config={"schema.registry.url": registry},
        )


def test_trending_and_top_on_avro_values(bootstrap: str, registry: str) -> None:
    """kbatch.trending / kbatch.top with value_format="avro": paths into the decoded record;
    the rows are what the events the serializer was given count to, and a value that is not
    framed is invalid (not_framed) with its offset."""
    from confluent_kafka import Producer

    topic = f"avro-jobs-{uuid.uuid4().hex[:8]}"
    kit("create-topic", "--bootstrap", bootstrap, "--topic", topic, "--partitions", "1")
    given = _produce(bootstrap, registry, topic, 30)
    p = Producer({"bootstrap.servers": bootstrap})
    p.produce(topic, value=b'{"category": "shoes", "product": "p1"}', partition=0)
    assert p.flush(30) == 0
    config = {"schema.registry.url": registry}

    report = kbatch.trending(
        topic, top=100, bootstrap=bootstrap, value_format="avro", config=config
    )
    views: dict[tuple[str, str], int] = {}
    for e in given:
        views[(e["category"], e["product"])] = views.get((e["category"], e["product"]), 0) + 1
    assert {(r["category"], r["product"]): r["views"] for r in report["top"]} == views
    assert (report["records"], report["invalid"]) == (31, 1)
    assert report["invalid_samples"][0]["offset"] == 30
    assert report["invalid_samples"][0]["reason"] == "not_framed"

    top = kbatch.top(
        topic,
        group="user.name",
        item="kind",
        where="user.age >= 40",
        top="all",
        bootstrap=bootstrap,
        value_format="avro",
        config=config,
    )
    want = sorted((e["user"]["name"], e["kind"]) for e in given if e["user"]["age"] >= 40)
    assert sorted((r["user.name"], r["kind"]) for r in top["top"]) == want
    assert top["filtered"] == sum(1 for e in given if e["user"]["age"] < 40)
    assert top["invalid"] == 1

    # The Spark pushdown's shard calls (what each executor runs) read the same way.
    from kbatch import _native

    common = kbatch._common(topic, bootstrap, None, "read_committed", config)
    shard = json.loads(_native.spark_trending_shard(common, "earliest", "latest", "avro"))
    assert {(c, p): n for c, p, n in shard["pairs"]} == views
    assert (shard["records"], shard["invalid"]) == (31, [["not_framed", 1]])
    question = {"group": ["user.name"], "item": "kind", "metric": "count",
                "wheres": ["user.age >= 40"], "window": None, "top": "all", "strict": False}
    cells = json.loads(_native.spark_top_shard(common, "earliest", "latest", question, "avro"))
    assert sorted((c["group"][0], c["item"]) for c in cells["cells"]) == sorted(set(want))

    with pytest.raises(kbatch.UsageError, match="schema.registry.url"):
        kbatch.trending(topic, bootstrap=bootstrap, value_format="avro")
