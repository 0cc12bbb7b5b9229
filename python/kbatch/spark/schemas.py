"""The DataFrame schemas of the kbatch data source, in Spark's DDL. Pure."""

from __future__ import annotations

__all__ = ["kafka_ddl", "TRENDING_DDL", "REPORT_DDL", "TOP_DDL", "TOP_MERGED_DDL", "LOST"]

#: Spark's Kafka source schema (``headers`` only with ``includeHeaders=true``, as Spark).
_KAFKA = (
    "key binary, value binary, topic string, partition int, offset long, "
    "timestamp timestamp, timestampType int"
)

#: The pushdown's rows: one per (category, product) of a shard (``records``/``invalid``
#: null), and one totals row per shard (``category``/``product``/``views`` null, ``invalid``
#: by reason code).
TRENDING_DDL = "category string, product string, views long, records long, invalid map<string, long>"

#: :func:`kbatch.spark.trending`'s report (``kbatch trending``'s ``top`` rows).
REPORT_DDL = "category string, product string, views long, rank long"

#: ``kbatch.job=top``'s rows: one per (window, group, item) cell of a shard, its mergeable
#: state as JSON (``records``/``filtered``/``invalid`` null); and one totals row per shard
#: (``grp`` null, ``invalid`` by reason code).
TOP_DDL = (
    "window_start long, grp array<string>, item string, state string, records long, filtered long, "
    "invalid map<string, long>"
)

#: One (window, group) merged and ranked by :func:`kbatch.spark.top.top` (``value`` exact, as
#: text); the totals group (``grp`` null) carries the sums, ``invalid`` as a JSON object.
TOP_MERGED_DDL = (
    "window_start long, grp array<string>, item string, value string, rank long, records long, "
    "filtered long, invalid string"
)

#: The key of a totals row's ``invalid`` map that counts offsets skipped because they were
#: deleted (``failOnDataLoss=false``); not a reason code of invalid events.
LOST = "lost_offsets"


def kafka_ddl(headers: bool) -> str:
    return _KAFKA + (", headers array<struct<key: string, value: binary>>" if headers else "")
