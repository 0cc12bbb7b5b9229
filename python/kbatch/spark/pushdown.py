"""The trending job pushed down into each shard, and its merge in Spark.

Each shard runs kbatch's native trending job over its range and yields its partial as rows
(:data:`kbatch.spark.schemas.TRENDING_DDL`): views per (category, product), plus one totals
row (data records, invalid records by reason). :func:`trending` sums them in Spark and ranks
with Spark's ``rank()`` (competition rank, ties kept), which is how ``kbatch trending`` ranks:
the sum over shards that tile the ranges is the count of one run over them, so the report is
the single-process one.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Tuple

import pyarrow as pa

from .options import Request
from .schemas import LOST

__all__ = ["shard_batch", "partial_rows", "trending"]


def partial_rows(partial: Mapping[str, Any], lost: int = 0) -> Dict[str, list]:
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


def shard_batch(r: Request, shard, target: pa.Schema) -> pa.RecordBatch:
    """Run the trending job over one shard (executor side) → one Arrow batch."""
    import kbatch
    from kbatch import _native

    from .source import _common, lost_start

    if shard.lost:
        return _batch(partial_rows({}, lost=shard.lost), target)
    pos, lost = shard.start, 0
    while True:
        try:
            common = _common(r, [shard.topic], [shard.partition])
            text = _native.spark_trending_shard(
                common, json.dumps({shard.topic: {str(shard.partition): pos}}),
                json.dumps({shard.topic: {str(shard.partition): shard.end}}),
            ) if pos < shard.end else json.dumps({"pairs": [], "records": 0, "invalid": []})
            return _batch(partial_rows(json.loads(text), lost), target)
        except kbatch.RangeError as e:
            moved = lost_start(r, shard.topic, shard.partition, pos, shard.end, e)
            lost += moved - pos
            pos = moved


def _batch(cols: Dict[str, list], target: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array(cols[f.name], type=f.type) for f in target], schema=target
    )


def trending(spark, top: int = 1, options: Optional[Mapping[str, str]] = None, **kw: str) -> Tuple[Any, Dict[str, Any]]:
    """Top products per category over a Kafka range, counted in every shard and merged in Spark.

    ``options`` (and keyword arguments, for names without dots) are the data source's; e.g.
    ``trending(spark, top=3, options={"kafka.bootstrap.servers": b, "subscribe": "web_stream"})``.
    Returns ``(report, totals)``: the report is a DataFrame ``category, product, views, rank``
    ordered by category, rank, product (rank: 1 + products with strictly more views; rows with
    rank ≤ ``top``), equal to ``kbatch trending``'s ``top``; totals is ``{"records", "invalid",
    "invalid_by_reason", "lost_offsets"}``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive int, got {top!r}")
    opts = dict(options or {})
    opts.update(kw)
    opts["kbatch.job"] = "trending"
    parts = spark.read.format("kbatch").options(**opts).load().persist()
    try:
        views = (
            parts.where(F.col("category").isNotNull())
            .groupBy("category", "product")
            .agg(F.sum("views").alias("views"))
        )
        ranked = views.withColumn(
            "rank", F.rank().over(Window.partitionBy("category").orderBy(F.col("views").desc()))
        )
        report = (
            ranked.where(F.col("rank") <= top)
            .select("category", "product", "views", F.col("rank").cast("long").alias("rank"))
            .orderBy("category", "rank", "product")
        )
        totals_rows = parts.where(F.col("category").isNull()).select("records", "invalid").collect()
        by_reason: Dict[str, int] = {}
        records = 0
        for row in totals_rows:
            records += row["records"] or 0
            for why, n in (row["invalid"] or {}).items():
                by_reason[why] = by_reason.get(why, 0) + n
        lost = by_reason.pop(LOST, 0)
        totals = {
            "records": records,
            "invalid": sum(by_reason.values()),
            "invalid_by_reason": dict(sorted(by_reason.items())),
            "lost_offsets": lost,
        }
        report = report.localCheckpoint(eager=True)
    finally:
        parts.unpersist()
    return report, totals
