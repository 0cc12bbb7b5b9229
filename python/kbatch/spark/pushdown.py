"""The trending job pushed down into each shard, and its merge in Spark.

Each shard runs kbatch's native trending job over its range and yields its partial as rows
(:data:`kbatch.spark.schemas.TRENDING_DDL`): views per (category, product), plus one totals
row (data records, invalid records by reason). :func:`trending` sums them in Spark and ranks
with Spark's ``rank()`` in one query (competition rank, ties kept), which is how ``kbatch trending`` ranks:
the sum over shards that tile the ranges is the count of one run over them, so the report is
the single-process one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .options import Request
from .schemas import LOST, REPORT_DDL
from .shards import Shard, common, resume

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["shard_batch", "partial_rows", "trending"]


def partial_rows(partial: Mapping[str, Any], lost: int = 0) -> dict[str, list[Any]]:
    """A shard partial (``{"pairs", "records", "invalid"}``) as the pushdown's columns. Pure."""
    pairs = partial.get("pairs", [])
    invalid = [(why, n) for why, n in partial.get("invalid", [])]
    if lost:
        invalid.append((LOST, lost))
    n = len(pairs)
    return {
        "category": [c for c, _, _ in pairs] + [None],
        "product": [p for _, p, _ in pairs] + [None],
        "views": [v for _, _, v in pairs] + [None],
        "records": [None] * n + [partial.get("records", 0)],
        "invalid": [None] * n + [invalid],
    }


def shard_batch(r: Request, shard: Shard, target: pa.Schema) -> pa.RecordBatch:
    """Run the trending job over one shard (executor side) → one Arrow batch."""
    from kbatch import _native

    if shard.lost:
        return _batch(partial_rows({}, lost=shard.lost), target)

    def attempt(pos: int, lost: int) -> Iterator[tuple[pa.RecordBatch, int]]:
        partial: Mapping[str, Any] = {"pairs": [], "records": 0, "invalid": []}
        if pos < shard.end:
            partial = json.loads(_native.spark_trending_shard(
                common(r, [shard.topic], [shard.partition]),
                json.dumps({shard.topic: {str(shard.partition): pos}}),
                json.dumps({shard.topic: {str(shard.partition): shard.end}}),
                r.value_format,
            ))
        yield _batch(partial_rows(partial, lost), target), shard.end

    (batch,) = resume(r, shard, attempt)
    return batch


def _batch(cols: dict[str, list[Any]], target: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array(cols[f.name], type=f.type) for f in target], schema=target
    )


def trending(
    spark: SparkSession, top: int = 1, options: Mapping[str, str] | None = None, **kw: str
) -> tuple[Any, dict[str, Any]]:
    """Top products per category over a Kafka range, counted in every shard and merged in Spark.

    ``options`` (and keyword arguments, for names without dots) are the data source's; e.g.
    ``trending(spark, top=3, options={"kafka.bootstrap.servers": b, "subscribe": "web_stream"})``.
    Returns ``(report, totals)``: the report is a DataFrame ``category, product, views, rank``
    ordered by category, rank, product (rank: 1 + products with strictly more views; rows with
    rank ≤ ``top``), equal to ``kbatch trending``'s ``top``; totals is ``{"records", "invalid",
    "invalid_by_reason", "lost_offsets"}``.

    One Spark query reads the shards once: their rows are hashed by category (one shuffle
    serves both the sum per (category, product) and the rank per category), each shard's
    totals row falls into the (null, null) group, and the rows of rank ≤ ``top`` and that group
    come back to the driver. So a call costs two Spark jobs (the shuffle's map stage, then the
    rank), and the report, already computed, is a local DataFrame: acting on it starts none.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive int, got {top!r}")
    opts = dict(options or {})
    opts.update(kw)
    opts["kbatch.job"] = "trending"
    parts = spark.read.format("kbatch").options(**opts).load()
    merged = (
        parts.repartition("category")
        .groupBy("category", "product")
        .agg(
            F.sum("views").alias("views"),
            F.sum("records").alias("records"),
            F.collect_list("invalid").alias("invalid"),
        )
    )
    rank = F.rank().over(Window.partitionBy("category").orderBy(F.col("views").desc()))
    kept = F.col("category").isNull() | (F.col("rank") <= top)
    rows = merged.withColumn("rank", rank).where(kept).collect()

    top_rows = []
    by_reason: dict[str, int] = {}
    records = 0
    for row in rows:
        if row["category"] is not None:
            top_rows.append((row["category"], row["product"], row["views"], row["rank"]))
            continue
        records += row["records"] or 0
        for shard in row["invalid"]:
            for why, n in shard.items():
                by_reason[why] = by_reason.get(why, 0) + n
    # Python orders str by code point, which is Spark's (and kbatch's) byte order of UTF-8.
    top_rows.sort(key=lambda r: (r[0], r[3], r[1]))
    # From Arrow, a small table becomes a LocalRelation: acting on the report runs no Spark job
    # (from a list of tuples it would be an RDD, unpickled by a Python worker on an executor).
    columns = list(zip(*top_rows)) or [(), (), (), ()]
    table = pa.table(
        [pa.array(columns[0], pa.string()), pa.array(columns[1], pa.string()),
         pa.array(columns[2], pa.int64()), pa.array(columns[3], pa.int64())],
        names=["category", "product", "views", "rank"],
    )
    report = spark.createDataFrame(table, REPORT_DDL)
    lost = by_reason.pop(LOST, 0)
    totals = {
        "records": records,
        "invalid": sum(by_reason.values()),
        "invalid_by_reason": dict(sorted(by_reason.items())),
        "lost_offsets": lost,
    }
    return report, totals
