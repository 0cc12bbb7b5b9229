"""Produce Protobuf values (and JSON Schema keys) with confluent-kafka's own ProtobufSerializer
and JSONSerializer against a real Schema Registry, for kbatch's end-to-end tests; print, one
JSON line per record in offset order, the natural JSON kbatch must print for its key and value
(computed from what the serializers were given).

usage: registry_producer_protobuf.py BOOTSTRAP REGISTRY_URL TOPIC COUNT [--mixed]

The message classes are built from FileDescriptorProtos (no protoc). `kbtest/orders.proto`
imports `kbtest/common.proto`, which the serializer registers as its own subject and names as
a schema reference. The values are `Order`, the file's second message (message index [1]),
with a nested message type, an enum, repeated and map fields, proto3 `optional`, an int64
beyond 2^53, bytes and a message from the referenced file. The keys are JSON Schema objects.
With --mixed the last record's value is a `Header` (index [0]) instead: two message types in
one topic.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
OPTIONAL, REPEATED = F.LABEL_OPTIONAL, F.LABEL_REPEATED

KEY_SCHEMA = json.dumps(
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "OrderKey",
        "type": "object",
        "properties": {"user": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["user", "n"],
    }
)


def _field(name: str, number: int, ftype: int, label: int = OPTIONAL, **kw: Any) -> F:
    return F(name=name, number=number, type=ftype, label=label, **kw)


def _files() -> tuple[descriptor_pb2.FileDescriptorProto, descriptor_pb2.FileDescriptorProto]:
    common = descriptor_pb2.FileDescriptorProto(
        name="kbtest/common.proto", package="kbtest.common", syntax="proto3"
    )
    money = common.message_type.add(name="Money")
    money.field.extend(
        [_field("units", 1, F.TYPE_INT64), _field("currency", 2, F.TYPE_STRING)]
    )

    orders = descriptor_pb2.FileDescriptorProto(
        name="kbtest/orders.proto", package="kbtest", syntax="proto3"
    )
    orders.dependency.append("kbtest/common.proto")
    orders.message_type.add(name="Header").field.append(_field("source", 1, F.TYPE_STRING))
    order = orders.message_type.add(name="Order")
    status = order.enum_type.add(name="Status")
    for i, n in enumerate(["NEW", "PAID", "SHIPPED"]):
        status.value.add(name=n, number=i)
    line = order.nested_type.add(name="Line")
    line.field.extend([_field("sku", 1, F.TYPE_STRING), _field("qty", 2, F.TYPE_INT32)])
    entry = order.nested_type.add(name="AttrsEntry")
    entry.options.map_entry = True
    entry.field.extend([_field("key", 1, F.TYPE_STRING), _field("value", 2, F.TYPE_INT64)])
    order.oneof_decl.add(name="_note")
    M = F.TYPE_MESSAGE
    order.field.extend(
        [
            _field("id", 1, F.TYPE_INT64),
            _field("status", 2, F.TYPE_ENUM, type_name=".kbtest.Order.Status"),
            _field("lines", 3, M, REPEATED, type_name=".kbtest.Order.Line"),
            _field("attrs", 4, M, REPEATED, type_name=".kbtest.Order.AttrsEntry"),
            _field("note", 5, F.TYPE_STRING, oneof_index=0, proto3_optional=True),
            _field("raw", 6, F.TYPE_BYTES),
            _field("total", 7, M, type_name=".kbtest.common.Money"),
            _field("header", 8, M, type_name=".kbtest.Header"),
            _field("counts", 9, F.TYPE_INT32, REPEATED),
            _field("score", 10, F.TYPE_DOUBLE),
            _field("flag", 11, F.TYPE_BOOL),
        ]
    )
    return common, orders


def message_classes() -> tuple[type, type]:
    """The `Header` and `Order` classes, from a pool of their own."""
    pool = descriptor_pool.DescriptorPool()
    for f in _files():
        pool.AddSerializedFile(f.SerializeToString())
    header = message_factory.GetMessageClass(pool.FindMessageTypeByName("kbtest.Header"))
    order = message_factory.GetMessageClass(pool.FindMessageTypeByName("kbtest.Order"))
    return header, order


def order(i: int) -> dict[str, Any]:
    """Order `i` as given to the serializer; fields left out are unset."""
    o: dict[str, Any] = {
        "id": 2**53 + 1 + i * 1_000_003,
        "status": ["NEW", "PAID", "SHIPPED"][i % 3],
        "lines": [{"sku": f"s{i}-{j}", "qty": j} for j in range(i % 3)],
        "attrs": {f"k{j}": -(2**40) * j - i for j in range(i % 2 + 1)},
        "raw": bytes([i % 256, 0, 255]),
        "total": {"units": 100 * i, "currency": "EUR"},
        "counts": list(range(i % 4)),
        "score": i / 4,
        "flag": i % 2 == 1,
    }
    if i % 2 == 0:
        o["note"] = f"note {i} \u00e9\""
    if i % 3 != 1:
        o["header"] = {"source": f"web{i}"}
    return o


def build(cls: type, o: dict[str, Any]) -> Any:
    m = cls()
    for k, v in o.items():
        if k == "lines":
            for line in v:
                m.lines.add(**line)
        elif k == "attrs":
            m.attrs.update(v)
        elif k in ("total", "header"):
            for fk, fv in v.items():
                setattr(getattr(m, k), fk, fv)
        elif k == "counts":
            m.counts.extend(v)
        elif k == "status":
            m.status = ["NEW", "PAID", "SHIPPED"].index(v)
        else:
            setattr(m, k, v)
    return m


def natural(o: dict[str, Any]) -> dict[str, Any]:
    """The JSON kbatch prints for `o`: every field, proto3 defaults, null for unset presence."""
    return {
        "id": o["id"],
        "status": o["status"],
        "lines": o["lines"],
        "attrs": o["attrs"],
        "note": o.get("note"),
        "raw": base64.b64encode(o["raw"]).decode(),
        "total": o["total"],
        "header": o.get("header"),
        "counts": o["counts"],
        "score": float(o["score"]),
        "flag": o["flag"],
    }


def key(i: int) -> dict[str, Any]:
    return {"user": f"u{i}", "n": i}


def produce(
    bootstrap: str, url: str, topic: str, count: int, mixed: bool = False
) -> list[dict[str, Any]]:
    """Produce `count` records to partition 0; each record's key and value as given (the
    value as the `order` dict, or {"source": ...} for the --mixed last one)."""
    client = SchemaRegistryClient({"url": url})
    header_cls, order_cls = message_classes()
    values = ProtobufSerializer(order_cls, client)
    headers = ProtobufSerializer(header_cls, client)
    keys = JSONSerializer(KEY_SCHEMA, client)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    vctx = SerializationContext(topic, MessageField.VALUE)
    kctx = SerializationContext(topic, MessageField.KEY)
    given = []
    for i in range(count):
        if mixed and i == count - 1:
            v: dict[str, Any] = {"source": "other"}
            value = headers(build(header_cls, v), vctx)
        else:
            v = order(i)
            value = values(build(order_cls, v), vctx)
        p.produce(topic, key=keys(key(i), kctx), value=value, partition=0)
        given.append({"key": key(i), "value": v})
    if p.flush(30) != 0:
        raise SystemExit("records left unsent")
    return given


def main() -> None:
    bootstrap, url, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    mixed = "--mixed" in sys.argv[5:]
    for g in produce(bootstrap, url, topic, count, mixed):
        value = g["value"] if "source" in g["value"] else natural(g["value"])
        print(json.dumps({"key": g["key"], "value": value}))


if __name__ == "__main__":
    main()
