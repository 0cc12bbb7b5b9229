"""kbatch as a Spark data source: ``spark.read.format("kbatch")`` with the options of Spark's
Kafka source, and the trending job pushed down into every shard.

::

    from kbatch.spark import KbatchDataSource, trending
    spark.dataSource.register(KbatchDataSource)
    df = (spark.read.format("kbatch")
          .option("kafka.bootstrap.servers", "broker:9092")
          .option("subscribe", "web_stream")
          .option("startingOffsets", "-24h")        # Spark's offsets JSON works too
          .option("maxRecordsPerPartition", 1_000_000)
          .load())
    report, totals = trending(spark, top=3, options={"kafka.bootstrap.servers": "broker:9092",
                                                     "subscribe": "web_stream"})
    report, totals = top(spark, group=["page.category", "device.os"], item="item_id",
                         metric="distinct:customer", where="device.os != 'Linux'", top=3,
                         options={"kafka.bootstrap.servers": "broker:9092", "subscribe": "web_stream"})

Modules: :mod:`.options` (option names → a request, pure), :mod:`.plan` (planner calls and
shards, pure), :mod:`.schemas`, :mod:`.source` (the data source: driver planning, executor
 reads), :mod:`.pushdown` (the trending partial per shard and its merge in Spark),
:mod:`.top_pushdown` (``kbatch.job=top``: the top job's mergeable partial per shard and its
exact merge in Spark), :mod:`.shards` (a shard, and the one loop that reads on after deleted
offsets, for every job).
Needs ``pyspark`` ≥ 4.0 (the Python Data Source API); kbatch itself does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .options import OptionError
from .pushdown import trending
from .source import KbatchDataSource
from .top_pushdown import top

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["KbatchDataSource", "trending", "top", "register", "OptionError"]


def register(spark: SparkSession) -> None:
    """``spark.dataSource.register(KbatchDataSource)``."""
    spark.dataSource.register(KbatchDataSource)
