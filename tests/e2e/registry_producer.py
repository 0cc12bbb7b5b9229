"""Produce Avro values with confluent-kafka's own AvroSerializer against a real Schema
Registry, for kbatch's end-to-end tests; print, one JSON line per record in offset order,
the natural JSON kbatch must print for it (computed from what the serializer was given).

usage: registry_producer.py BOOTSTRAP REGISTRY_URL TOPIC COUNT [JSON_TOPIC]

With JSON_TOPIC, the same events are also written there as JSON text (that natural JSON), so a
job's report on the Avro topic can be compared with its report on the JSON one.

Two versions of one subject, interleaved: v2 adds `channel` with a default, so v1 records
read as v2 show the default. Values cover a nested record, an enum, an array, a map, a
nullable union, bytes, a decimal and a timestamp.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import sys

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

FIELDS_V1 = [
    {"name": "id", "type": "long"},
    {"name": "category", "type": "string"},
    {"name": "product", "type": "string"},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["VIEW", "CART", "BUY"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "attrs", "type": {"type": "map", "values": "long"}},
    {"name": "note", "type": ["null", "string"], "default": None},
    {
        "name": "price",
        "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2},
    },
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {
        "name": "user",
        "type": {
            "type": "record",
            "name": "User",
            "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"}],
        },
    },
    {"name": "raw", "type": "bytes"},
]
FIELDS_V2 = FIELDS_V1 + [{"name": "channel", "type": "string", "default": "web"}]


def schema(fields: list) -> str:
    return json.dumps(
        {"type": "record", "name": "Event", "namespace": "kbatch.test", "fields": fields}
    )


def event(i: int, v2: bool) -> dict:
    e = {
        "id": 1_000_000_000_000 + i,
        "category": ["shoes", "books", "games"][i % 3],
        "product": f"p{i % 7}",
        "kind": ["VIEW", "CART", "BUY"][i % 3],
        "tags": [f"t{j}" for j in range(i % 3)],
        "attrs": {f"k{j}": i * 10 + j for j in range(i % 2 + 1)},
        "note": None if i % 2 else f"note {i} \u00e9\"",
        "price": decimal.Decimal(i * 101 - 50) / 100,
        "at": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
        + dt.timedelta(milliseconds=i * 1234),
        "user": {"name": f"u{i}", "age": 20 + i},
        "raw": bytes([i % 256, 0, 255]),
    }
    if v2:
        e["channel"] = ["app", "store"][i % 2]
    return e


def natural(e: dict) -> dict:
    """The JSON kbatch prints for `e` read with the v2 (newest) schema."""
    return {
        "id": e["id"],
        "category": e["category"],
        "product": e["product"],
        "kind": e["kind"],
        "tags": e["tags"],
        "attrs": e["attrs"],
        "note": e["note"],
        "price": float(e["price"]),
        "at": e["at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "user": e["user"],
        "raw": base64.b64encode(e["raw"]).decode(),
        "channel": e.get("channel", "web"),
    }


def main() -> None:
    bootstrap, url, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    json_topic = sys.argv[5] if len(sys.argv) > 5 else None
    client = SchemaRegistryClient({"url": url})
    ser = {
        False: AvroSerializer(client, schema(FIELDS_V1)),
        True: AvroSerializer(client, schema(FIELDS_V2)),
    }
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    ctx = SerializationContext(topic, MessageField.VALUE)
    out = []
    for i in range(count):
        v2 = (i // 3) % 2 == 1  # v1, v1, v1, v2, v2, v2, v1, ...
        e = event(i, v2)
        producer.produce(topic, value=ser[v2](e, ctx), partition=0)
        out.append(natural(e))
        if json_topic:
            producer.produce(json_topic, value=json.dumps(out[-1]).encode(), partition=0)
        if i % 10 == 9:
            # Batches of ten: a read fetching one batch at a time sees several chunks, and
            # the jobs' Avro field reader takes over after the first.
            producer.flush(30)
    if producer.flush(30) != 0:
        raise SystemExit("records left unsent")
    for o in out:
        print(json.dumps(o))


if __name__ == "__main__":
    main()
