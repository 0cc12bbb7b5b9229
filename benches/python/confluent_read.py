"""A bounded slice of a topic into a pyarrow.Table with confluent-kafka: the best plain-Python
way (what Ray Data's and Daft's read_kafka do), the comparison for `kbatch.read`.

Every partition is assigned at its low watermark and read up to the high watermark fixed at
start; messages come `consume(num_messages=10000)` at a time and each consumed batch becomes
Arrow columns at once (not row by row into Python lists of dicts). The fetch settings are the
tuned ones of the rdkafka reader (benches/src/bin/rdkafka_trending.rs). Prints
{"records": N, "bytes": value bytes} as JSON.

Usage: confluent_read.py BOOTSTRAP TOPIC
"""

import json
import sys

import pyarrow as pa
from confluent_kafka import Consumer, KafkaError, TopicPartition

BINARY = pa.binary()


def main(bootstrap: str, topic: str) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "kbatch-bench-confluent",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "error",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "fetch.max.bytes": 33554432,
            "max.partition.fetch.bytes": 1048576,
            "fetch.wait.max.ms": 100,
            "queued.max.messages.kbytes": 16384,
            "queued.min.messages": 20000,
            "fetch.queue.backoff.ms": 5,
        }
    )
    meta = consumer.list_topics(topic, timeout=10)
    ends = {}
    assignment = []
    for p in sorted(meta.topics[topic].partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if high > low:
            ends[p] = high
            assignment.append(TopicPartition(topic, p, low))
    consumer.assign(assignment)
    batches = []
    while ends:
        msgs = consumer.consume(num_messages=10000, timeout=1.0)
        keys, values, parts, offsets, stamps = [], [], [], [], []
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(f"{topic}/{m.partition()}: {err}")
            p, o = m.partition(), m.offset()
            if p not in ends or o >= ends[p]:
                continue
            keys.append(m.key())
            values.append(m.value())
            parts.append(p)
            offsets.append(o)
            stamps.append(m.timestamp()[1] * 1000)
            if o + 1 >= ends[p]:
                del ends[p]
        if offsets:
            batches.append(
                pa.record_batch(
                    [
                        pa.array(keys, BINARY),
                        pa.array(values, BINARY),
                        pa.array([topic] * len(offsets), pa.string()),
                        pa.array(parts, pa.int32()),
                        pa.array(offsets, pa.int64()),
                        pa.array(stamps, pa.timestamp("us", tz="UTC")),
                    ],
                    names=["key", "value", "topic", "partition", "offset", "timestamp"],
                )
            )
    consumer.close()
    table = pa.Table.from_batches(batches)
    print(json.dumps({"records": table.num_rows, "bytes": value_bytes(table)}))


def value_bytes(table: pa.Table) -> int:
    import pyarrow.compute as pc

    return int(pc.sum(pc.binary_length(table["value"])).as_py() or 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
