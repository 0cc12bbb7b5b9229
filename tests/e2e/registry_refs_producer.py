"""Produce Avro values whose schema uses a named type from another subject (a schema
reference), with confluent-kafka's own AvroSerializer against a real Schema Registry; print the
natural JSON of each value, one line per record in offset order.

usage: registry_refs_producer.py BOOTSTRAP REGISTRY_URL TOPIC COUNT

`acme.Address` (a record) and `acme.Kind` (an enum) are registered under their own subjects;
`Order` uses Address twice (the second use by name) and Kind inside an array.
"""

from __future__ import annotations

import json
import sys

from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

ADDRESS = {
    "type": "record",
    "name": "Address",
    "namespace": "acme",
    "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": "int"}],
}
KIND = {"type": "enum", "name": "Kind", "namespace": "acme", "symbols": ["GIFT", "FRAGILE"]}
ORDER = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "ship_to", "type": "acme.Address"},
        {"name": "bill_to", "type": ["null", "acme.Address"], "default": None},
        {"name": "kinds", "type": {"type": "array", "items": "acme.Kind"}},
    ],
}


def main() -> None:
    bootstrap, url, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = SchemaRegistryClient({"url": url})
    refs = []
    for name, subject, schema in [
        ("acme.Address", f"{topic}-acme.Address", ADDRESS),
        ("acme.Kind", f"{topic}-acme.Kind", KIND),
    ]:
        client.register_schema(subject, Schema(json.dumps(schema), "AVRO"))
        version = client.get_latest_version(subject).version
        refs.append(SchemaReference(name, subject, version))
    ser = AvroSerializer(client, Schema(json.dumps(ORDER), "AVRO", refs))
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    ctx = SerializationContext(topic, MessageField.VALUE)
    out = []
    for i in range(count):
        order = {
            "id": 7_000_000_000 + i,
            "ship_to": {"city": f"city {i} \u00e9", "zip": 10_000 + i},
            "bill_to": None if i % 2 else {"city": "billing", "zip": i},
            "kinds": ["GIFT", "FRAGILE"][: i % 3],
        }
        producer.produce(topic, value=ser(order, ctx), partition=0)
        out.append(order)
    if producer.flush(30) != 0:
        raise SystemExit("records left unsent")
    for o in out:
        print(json.dumps(o))


if __name__ == "__main__":
    main()
