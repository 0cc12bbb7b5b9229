"""``format("kbatch")`` with ``valueFormat=avro`` on ``local[2]``: the value column arrives typed
(no ``from_avro``, no 5-byte prefix to strip), equal to what :func:`kbatch.read` decodes, and
Spark SQL reaches into it. The registry is the testkit's Apicurio; the values are written by
confluent-kafka's own AvroSerializer (two versions of the subject interleaved)."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import kbatch

from .conftest import REPO, _bin, run

_spec = importlib.util.spec_from_file_location(
    "registry_producer", REPO / "tests" / "e2e" / "registry_producer.py"
)
assert _spec is not None and _spec.loader is not None
producer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(producer)


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    home = Path(tempfile.mkdtemp(prefix="kbatch-spark-registry-"))
    try:
        yield run(_bin("kbatch-testkit"), "start-registry", "--dir", str(home / "r"), timeout=180).strip()
    finally:
        run(_bin("kbatch-testkit"), "stop", "--dir", str(home / "r"))
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def avro_topic(kafka, registry: str) -> str:
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    topic = f"spark-avro-{uuid.uuid4().hex[:8]}"
    kafka.create_topic(topic, 2)
    client = SchemaRegistryClient({"url": registry})
    ser = {
        v2: AvroSerializer(client, producer.schema(producer.FIELDS_V2 if v2 else producer.FIELDS_V1))
        for v2 in (False, True)
    }
    p = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 5})
    ctx = SerializationContext(topic, MessageField.VALUE)
    for i in range(60):
        v2 = (i // 3) % 2 == 1
        p.produce(topic, value=ser[v2](producer.event(i, v2), ctx), partition=i % 2)
    assert p.flush(30) == 0
    return topic


def _load(spark, kafka, registry: str, topic: str, **options: str):
    reader = (
        spark.read.format("kbatch")
        .option("kafka.bootstrap.servers", kafka.bootstrap)
        .option("subscribe", topic)
        .option("schema.registry.url", registry)
    )
    for k, v in options.items():
        reader = reader.option(k, v)
    return reader.load()


def test_value_format_avro_gives_the_typed_column_kbatch_read_gives(
    spark_local, kafka, registry: str, avro_topic: str
) -> None:
    df = _load(spark_local, kafka, registry, avro_topic, valueFormat="avro")
    value_type = df.schema["value"].dataType
    assert value_type.typeName() == "struct"
    assert [f.name for f in value_type.fields][:3] == ["id", "category", "product"]
    assert "channel" in value_type.fieldNames()  # v2's field: the newest version is the reader
    got = df.orderBy("partition", "offset").select("partition", "offset", "value").toArrow()
    ours = kbatch.read(
        avro_topic,
        bootstrap=kafka.bootstrap,
        value_format="avro",
        config={"schema.registry.url": registry},
    ).sort_by([("partition", "ascending"), ("offset", "ascending")])
    assert got.num_rows == ours.num_rows == 60
    assert got.column("offset").to_pylist() == ours.column("offset").to_pylist()
    want = ours.column("value").cast(got.schema.field("value").type)
    assert got.column("value").combine_chunks().equals(want.combine_chunks())
    # Spark SQL reaches into the struct: the same counts as the decoded table.
    shoes = df.where("value.category = 'shoes' AND value.user.age >= 30").count()
    rows = ours.column("value").to_pylist()
    assert shoes == sum(1 for v in rows if v["category"] == "shoes" and v["user"]["age"] >= 30) > 0
    # v1 records read as v2 show v2's default.
    channels = {r["channel"] for r in df.select("value.channel").collect()}
    assert channels == {"web", "app", "store"}


def test_a_value_that_is_not_framed_fails_the_read_or_becomes_null(
    spark_local, kafka, registry: str, avro_topic: str
) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    topic = f"{avro_topic}-bad"
    kafka.create_topic(topic, 1)
    ser = AvroSerializer(SchemaRegistryClient({"url": registry}), producer.schema(producer.FIELDS_V2))
    p = Producer({"bootstrap.servers": kafka.bootstrap})
    ctx = SerializationContext(topic, MessageField.VALUE)
    p.produce(topic, value=ser(producer.event(1, True), ctx), partition=0)
    p.produce(topic, value=b'{"not": "avro"}', partition=0)
    assert p.flush(30) == 0
    df = _load(spark_local, kafka, registry, topic, valueFormat="avro")
    with pytest.raises(Exception) as e:
        df.collect()
    assert "not framed" in str(e.value) and "offset 1" in str(e.value), str(e.value)[-2000:]
    df = _load(spark_local, kafka, registry, topic, valueFormat="avro", onUndecodable="null")
    values = [r["value"] for r in df.orderBy("offset").select("value").collect()]
    assert values[0]["id"] == producer.event(1, True)["id"] and values[1] is None


def test_pushdowns_on_avro_values_equal_kbatch(spark_local, kafka, registry: str, avro_topic: str) -> None:
    """``valueFormat=avro`` with the trending and top pushdowns: every shard decodes its Avro
    values and Spark merges the partials into kbatch's own single-process answers."""
    from kbatch.spark import top, trending

    options = {
        "kafka.bootstrap.servers": kafka.bootstrap,
        "subscribe": avro_topic,
        "valueFormat": "avro",
        "schema.registry.url": registry,
        "minPartitions": "4",
    }
    config = {"schema.registry.url": registry}
    report, totals = trending(spark_local, top=2, options=options)
    want = kbatch.trending(avro_topic, bootstrap=kafka.bootstrap, top=2, value_format="avro", config=config)
    assert [r.asDict() for r in report.collect()] == want["top"]
    assert totals["records"] == want["records"] == 60
    report, totals = top(
        spark_local, group="kind", item="channel", metric="distinct:user.name", top="all", options=options
    )
    want = kbatch.top(
        avro_topic,
        bootstrap=kafka.bootstrap,
        group=["kind"],
        item="channel",
        metric="distinct:user.name",
        top="all",
        value_format="avro",
        config=config,
    )
    got = sorted((r["kind"], r["channel"], int(r["value"]), r["rank"]) for r in report.collect())
    assert got == sorted((r["kind"], r["channel"], r["value"], r["rank"]) for r in want["top"]) != []
