"""``KbatchDataSource``: kbatch as a Spark data source (``spark.read.format("kbatch")``).

Roles, in the order a query meets them:

* on ``load()`` (driver side) the options are checked (:mod:`.options`), and the first call
  of ``schema()`` resolves the read **once**: topics listed (for ``subscribePattern``), every
  bound resolved by kbatch's planner into fixed offsets, lost starts clamped or refused
  (``failOnDataLoss``), and the ranges cut into shards (:mod:`.plan`). The plan is stored in
  the data source instance that Spark pickles after ``schema()``, so every action on that
  DataFrame reads the same records;
* ``partitions()`` hands out one :class:`Shard` per piece;
* ``read(shard)`` (executors) reads exactly ``[start, end)`` of one partition with
  :func:`kbatch.read_batches` and yields its Arrow record batches as they are (Spark's Kafka
  schema), or, with ``kbatch.job=trending``, runs the native trending job over the shard and
  yields its partial (:mod:`.pushdown`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.types import StructType

from . import plan as _plan
from .options import OptionError, Request, parse
from .schemas import TOP_DDL, TRENDING_DDL, kafka_ddl
from .shards import Shard, lost_start, resume
from .shards import common as _common
from .shards import log as _log

__all__ = ["KbatchDataSource", "Shard", "resolve", "lost_start", "OptionError"]


@dataclass
class Resolved:
    shards: list[tuple[str, int, int, int]]
    skipped: list[_plan.Skip]


def resolve(r: Request) -> Resolved:
    """Resolve a request against the cluster, once: the shards every executor will read."""
    import kbatch
    from kbatch import _native

    if r.mode == "pattern":
        existing = json.loads(_native.spark_topics(_common(r, ["*"])))
        topics = _plan.select_topics(r, existing)
    else:
        topics = _plan.select_topics(r, ())
    assigned: dict[str, tuple[int, ...]] = dict(r.assign)
    parts: list[tuple[str, int]] = []
    earliest: dict[tuple[str, int], int] = {}
    for topic in topics:
        want = list(assigned[topic]) if topic in assigned else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the config warning is given once, below
            offs = kbatch.offsets(
                topic, bootstrap=r.bootstrap, partitions=want, isolation=r.isolation, config=r.config_dict()
            )
        for o in offs:
            parts.append((o["topic"], o["partition"]))
            earliest[(o["topic"], o["partition"])] = o["earliest"]
    calls, skipped = _plan.clamp_lost(_plan.calls(r, parts), earliest, r.fail_on_data_loss)
    for s in skipped:
        _log(f"failOnDataLoss=false: skipping {s}: those offsets were deleted (retention or delete-records)")
    ranges: list[tuple[str, int, int, int]] = []
    for c in calls:
        got = json.loads(_native.spark_plan(_common(r, [c.topic], list(c.partitions)), c.start, c.end))
        ranges.extend((g["topic"], g["partition"], g["start"], g["end"]) for g in got)
    # Planner calls were grouped by SPEC; shards follow topic, partition order.
    ranges.sort(key=lambda g: (topics.index(g[0]), g[1]))
    return Resolved(_plan.shards(ranges, r.min_partitions, r.max_records), skipped)


class KbatchDataSource(DataSource):
    """A bounded read of Kafka topics by kbatch, with the options of Spark's Kafka source.

    Register once per session, then read as with ``format("kafka")``::

        spark.dataSource.register(KbatchDataSource)
        df = (spark.read.format("kbatch")
              .option("kafka.bootstrap.servers", "broker:9092")
              .option("subscribe", "web_stream")
              .load())
    """

    def __init__(self, options: MutableMapping[str, str]) -> None:
        super().__init__(options)
        self.request = parse(options)
        for w in self.request.warnings:
            _log(w)
        if self.request.job == "top":
            from .top_pushdown import check

            check(self.request)
        self.resolved: Resolved | None = None

    @classmethod
    def name(cls) -> str:
        return "kbatch"

    def _resolve(self) -> Resolved:
        if self.resolved is None:
            self.resolved = resolve(self.request)
        return self.resolved

    def schema(self) -> str | StructType:
        resolved = self._resolve()
        if self.request.job == "top":
            return TOP_DDL
        if self.request.job == "trending":
            return TRENDING_DDL
        if self.request.value_format == "raw" and self.request.key_format == "raw":
            return kafka_ddl(self.request.headers)
        return decoded_schema(self.request, resolved)

    def reader(self, schema: StructType) -> KbatchReader:
        return KbatchReader(self.request, self._resolve(), schema)


def decoded_schema(r: Request, resolved: Resolved) -> StructType:
    """Spark's Kafka schema with ``key`` / ``value`` typed by the registry (``keyFormat`` /
    ``valueFormat``): the latest version of each topic's subject, as :func:`kbatch.schema`
    gives it (every topic read must give one type), converted as Spark converts Arrow."""
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import (
        ArrayType,
        BinaryType,
        DataType,
        IntegerType,
        LongType,
        StringType,
        StructField,
        TimestampType,
    )

    import kbatch

    topics = sorted({s[0] for s in resolved.shards}) or [t for t in r.topics]
    if not topics:
        raise OptionError("valueFormat/keyFormat: no topic to take the schema from")
    arrow = kbatch.schema(
        topics,
        bootstrap=r.bootstrap,
        value_format=r.value_format,
        key_format=r.key_format,
        config=r.config_dict(),
        headers=r.headers,
    )
    # Spark's Kafka schema (``kafka_ddl``), built from types: no Spark session here to parse DDL.
    t: dict[str, DataType] = {
        "key": BinaryType(),
        "value": BinaryType(),
        "topic": StringType(),
        "partition": IntegerType(),
        "offset": LongType(),
        "timestamp": TimestampType(),
        "timestampType": IntegerType(),
    }
    if r.headers:
        t["headers"] = ArrayType(
            StructType([StructField("key", StringType()), StructField("value", BinaryType())])
        )
    for column in ("key", "value"):
        decoded = arrow.field(column).type
        if decoded != pa.binary():
            t[column] = from_arrow_type(decoded)
    return StructType([StructField(name, dt, True) for name, dt in t.items()])


class KbatchReader(DataSourceReader):
    def __init__(self, request: Request, resolved: Resolved, schema: StructType) -> None:
        self.request = request
        self.resolved = resolved
        self.schema = schema

    def partitions(self) -> list[InputPartition]:
        out: list[InputPartition] = [Shard(*s) for s in self.resolved.shards]
        if self.request.job in ("trending", "top"):
            out.extend(
                Shard(s.topic, s.partition, s.start, s.end, lost=s.end - s.start)
                for s in self.resolved.skipped
            )
        return out

    def read(self, shard: InputPartition) -> Iterator[pa.RecordBatch]:
        if not isinstance(shard, Shard):  # Spark's placeholder when there is nothing to read
            return iter(())
        from pyspark.sql.pandas.types import to_arrow_schema

        target = to_arrow_schema(self.schema, timezone="UTC")
        if self.request.job == "trending":
            from .pushdown import shard_batch

            return iter([shard_batch(self.request, shard, target)])
        if self.request.job == "top":
            from .top_pushdown import shard_batch as top_shard_batch

            return iter([top_shard_batch(self.request, shard, target)])
        return _read_range(self.request, shard, target)


def _read_range(r: Request, s: Shard, target: pa.Schema) -> Iterator[pa.RecordBatch]:
    import kbatch

    def attempt(pos: int, lost: int) -> Iterator[tuple[pa.RecordBatch, int]]:
        if pos >= s.end:
            return
        stream = kbatch._stream(
            s.topic,
            r.bootstrap,
            {s.topic: {str(s.partition): pos}},
            {s.topic: {str(s.partition): s.end}},
            [s.partition],
            r.isolation,
            r.config_dict(),
            r.batch_rows,
            r.headers,
            value_format=r.value_format,
            key_format=r.key_format,
            on_undecodable=r.on_undecodable,
        )
        while True:
            batch = stream.next_batch()
            if batch is None:
                break
            if batch.num_rows == 0:
                continue
            last = batch.column("offset")[batch.num_rows - 1].as_py()
            if r.headers:
                batch = _null_empty_headers(batch)
            yield (batch if batch.schema.equals(target) else batch.cast(target)), last + 1
        _check_complete(s, stream.stats())

    return resume(r, s, attempt)


def _check_complete(s: Shard, stats: str | None) -> None:
    """A shard is complete only when the stream ended with the reader's counts and they cover
    the shard's partition up to its end: anything else fails the task (Spark retries it),
    never a shard with fewer rows."""
    import kbatch

    done = json.loads(stats) if stats is not None else None
    ok = (
        done is not None
        and len(done) == 1
        and done[0]["topic"] == s.topic
        and done[0]["partition"] == s.partition
        and done[0]["end"] == s.end
    )
    if not ok:
        raise kbatch.InternalError(
            f"{s.topic}-{s.partition} [{s.start}, {s.end}): the read ended without reaching the "
            f"shard's end (counts: {stats}); refusing a short shard",
            topic=s.topic,
            partition=s.partition,
        )


def _null_empty_headers(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A record without headers has ``headers`` null in Spark's Kafka source (its row converter
    writes null, not an empty array); kbatch's Arrow batches hold an empty list. Spark's way here,
    so ``format("kafka")`` → ``format("kbatch")`` changes no row."""
    import pyarrow.compute as pc

    i = batch.schema.get_field_index("headers")
    col = batch.column(i)
    empty = pc.equal(pc.list_value_length(col), 0)
    if not pc.any(empty).as_py():
        return batch
    nulls = pa.nulls(len(col), type=col.type)
    return batch.set_column(i, batch.schema.field(i), pc.if_else(empty, nulls, col))
