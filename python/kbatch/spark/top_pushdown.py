"""The ``top`` job pushed down into each shard (``kbatch.job=top``), and its exact merge in Spark.

Each shard runs kbatch's native ``top`` job over its range and yields its *mergeable* partial as
rows (:data:`kbatch.spark.schemas.TOP_DDL`): one row per (window, group, item) cell holding the
cell's state as JSON — a count or an exact decimal sum to add, the set of distinct values, or
the HyperLogLog sketch of ``approx_distinct`` — and one totals row (records, filtered, invalid
by reason). :func:`top` hashes the cells by (window, group) — the unit of ranking — and in each
group kbatch's own merge (``report_from_shards``: sums added exactly, sets united, sketches
merged register by register, never distinct counts summed) ranks the group's items. The union
of shards that tile the ranges is one run over them, so the rows are the single-process ones.

Options (besides the Kafka source's): ``kbatch.group`` (comma-separated paths, as ``--group``),
``kbatch.item``, ``kbatch.metric`` (default ``count``), ``kbatch.where`` (one expression, or a
JSON list of them), ``kbatch.window`` (``1h``…). Ranking (``top``) is :func:`top`'s argument.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .options import OptionError, Request
from .schemas import LOST, TOP_MERGED_DDL

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from .. import _native
    from .shards import Shard

__all__ = ["question", "check", "shard_batch", "cell_rows", "merge_group", "top"]

def question(r: Request, top: int | str = "all") -> _native._Question:
    """The request's question as the native module takes it (``top``: the ranks kept)."""
    group, item, metric, wheres, window = r.top_question
    return {
        "group": [group],
        "item": item,
        "metric": metric,
        "wheres": list(wheres),
        "window": window,
        "top": str(top),
        "strict": False,
    }


def check(r: Request) -> list[str]:
    """The question's report columns; a bad path or expression raises :class:`OptionError`
    naming it (driver side, at ``load()``)."""
    import kbatch
    from kbatch import _native

    try:
        return _native.top_check(question(r))
    except kbatch.UsageError as e:
        raise OptionError(f"kbatch.job=top: {e}") from None


def cell_rows(shard: Mapping[str, Any], lost: int = 0) -> dict[str, list[Any]]:
    """A shard partial (``TopShard``'s JSON, parsed) as the pushdown's columns. Pure."""
    cells = shard.get("cells", [])
    invalid = [(why, n) for why, n in shard.get("invalid", [])]
    if lost:
        invalid.append((LOST, lost))
    n = len(cells)
    return {
        "window_start": [c.get("window_start") for c in cells] + [None],
        "grp": [c["group"] for c in cells] + [None],
        "item": [c["item"] for c in cells] + [None],
        "state": [json.dumps(c["state"], separators=(",", ":")) for c in cells] + [None],
        "records": [None] * n + [shard.get("records", 0)],
        "filtered": [None] * n + [shard.get("filtered", 0)],
        "invalid": [None] * n + [invalid],
    }


_EMPTY = {"records": 0, "filtered": 0, "invalid": [], "cells": []}


def shard_batch(r: Request, shard: Shard, target: pa.Schema) -> pa.RecordBatch:
    """Run the top job's shard form over one shard (executor side) → one Arrow batch."""
    from kbatch import _native

    from .shards import common, resume

    if shard.lost:
        return _batch(cell_rows(_EMPTY, lost=shard.lost), target)

    def attempt(pos: int, lost: int) -> Iterator[tuple[pa.RecordBatch, int]]:
        cells: Mapping[str, Any] = _EMPTY
        if pos < shard.end:
            cells = json.loads(_native.spark_top_shard(
                common(r, [shard.topic], [shard.partition]),
                json.dumps({shard.topic: {str(shard.partition): pos}}),
                json.dumps({shard.topic: {str(shard.partition): shard.end}}), question(r),
                r.value_format,
            ))
        yield _batch(cell_rows(cells, lost), target), shard.end

    (batch,) = resume(r, shard, attempt)
    return batch


def _batch(cols: dict[str, list[Any]], target: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array(cols[f.name], type=f.type) for f in target], schema=target
    )


def merge_group(q: _native._Question, table: pa.Table) -> pa.Table:
    """One (window, group)'s cells from every shard, merged and ranked by kbatch; or, for the
    totals rows (``grp`` null), their sums. Runs in Spark's Python workers."""
    from kbatch import _native

    out: dict[str, list[Any]] = {"window_start": [], "grp": [], "item": [], "value": [], "rank": [],
                                 "records": [], "filtered": [], "invalid": []}
    rows = table.to_pylist()
    if rows and rows[0]["grp"] is None:
        by_reason: dict[str, int] = {}
        for r in rows:
            for why, n in r["invalid"] or []:
                by_reason[why] = by_reason.get(why, 0) + n
        for k, v in (("window_start", None), ("grp", None), ("item", None), ("value", None), ("rank", None),
                     ("records", sum(r["records"] or 0 for r in rows)),
                     ("filtered", sum(r["filtered"] or 0 for r in rows)),
                     ("invalid", json.dumps(by_reason, sort_keys=True))):
            out[k].append(v)
        return pa.table(out, schema=_merged_schema())
    cells = []
    for r in rows:
        cell = {"group": r["grp"], "item": r["item"], "state": "@STATE@"}
        if r["window_start"] is not None:
            cell["window_start"] = r["window_start"]
        cells.append(json.dumps(cell).replace('"@STATE@"', r["state"]))
    shard = '{"records":0,"filtered":0,"invalid":[],"cells":[' + ",".join(cells) + "]}"
    report = json.loads(_native.spark_top_merge(q, [shard]), parse_float=Decimal)
    n_group = len(rows[0]["grp"])
    for row in report["top"]:
        values = list(row.values())  # group paths, item path, value, rank, window_start?
        out["grp"].append(values[:n_group])
        out["item"].append(values[n_group])
        out["value"].append(str(row["value"]))
        out["rank"].append(row["rank"])
        out["window_start"].append(rows[0]["window_start"])
        for k in ("records", "filtered", "invalid"):
            out[k].append(None)
    return pa.table(out, schema=_merged_schema())


def _merged_schema() -> pa.Schema:
    """:data:`~kbatch.spark.schemas.TOP_MERGED_DDL` in Arrow (built here: parsing DDL takes
    Spark's JVM, which a Python worker does not have)."""
    return pa.schema([
        ("window_start", pa.int64()), ("grp", pa.list_(pa.string())), ("item", pa.string()),
        ("value", pa.string()), ("rank", pa.int64()), ("records", pa.int64()),
        ("filtered", pa.int64()), ("invalid", pa.string()),
    ])


def top(
    spark: SparkSession,
    group: str | Iterable[str],
    item: str,
    metric: str = "count",
    where: str | Iterable[str] = (),
    window: str | None = None,
    top: int | str = 1,
    options: Mapping[str, str] | None = None,
    **kw: str,
) -> tuple[Any, dict[str, Any]]:
    """``kbatch top`` over a Kafka range, counted in every shard and merged exactly in Spark.

    ``group``, ``item``, ``metric``, ``where``, ``window`` and ``top`` mean what
    :func:`kbatch.top`'s do; ``options`` (and keyword arguments, for names without dots) are
    the data source's. Returns ``(report, totals)``: the report is a DataFrame with a column
    per group path and the item path (as spelled), ``value`` (long; ``sum``: decimal(38, s)),
    ``rank`` (long) and, windowed, ``window_start`` (timestamp), ordered by window, group,
    rank, item — ``kbatch top``'s rows; totals is ``{"records", "invalid", "filtered",
    "invalid_by_reason", "lost_offsets"}``.

    One Spark query reads the shards once: the cells are hashed by (window, group), each group
    merged and ranked by kbatch in a Python worker (``applyInArrow``), the totals rows fall in
    their own group, and only the kept rows come back to the driver.
    """
    from .options import parse

    groups = [group] if isinstance(group, str) else list(group)
    wheres = [where] if isinstance(where, str) else list(where)
    if isinstance(top, bool) or not (isinstance(top, int) and top >= 1 or top == "all"):
        raise ValueError(f"top must be a positive int or 'all', got {top!r}")
    opts = dict(options or {})
    opts.update(kw)
    opts.update({
        "kbatch.job": "top",
        "kbatch.group": ",".join(groups),
        "kbatch.item": item,
        "kbatch.metric": metric,
    })
    if wheres:
        opts["kbatch.where"] = json.dumps(wheres)
    if window:
        opts["kbatch.window"] = window
    r = parse(opts)
    q = question(r, top)
    names = check(r)
    parts = spark.read.format("kbatch").options(**opts).load()
    merged = parts.groupBy("window_start", "grp").applyInArrow(
        lambda t: merge_group(q, t), TOP_MERGED_DDL
    )
    rows = merged.collect()

    # The columns: group paths, item path, value, rank, window_start when windowed.
    n_group = len(names) - 3 - (1 if window else 0)
    out: list[tuple[Any, ...]] = []
    records = filtered = 0
    by_reason: dict[str, int] = {}
    for row in rows:
        if row["grp"] is None:
            records += row["records"] or 0
            filtered += row["filtered"] or 0
            for why, n in json.loads(row["invalid"]).items():
                by_reason[why] = by_reason.get(why, 0) + n
            continue
        out.append((row["window_start"], *row["grp"], row["item"], Decimal(row["value"]), row["rank"]))
    # Python orders str by code point, which is kbatch's byte order of UTF-8.
    out.sort(key=lambda t: (t[0] if t[0] is not None else 0, *t[1 : n_group + 1], t[-1], t[n_group + 1]))
    sums = metric.strip().startswith("sum:")
    scale = max([-int(v[-2].as_tuple().exponent) for v in out] + [0]) if sums else 0
    value_type = pa.decimal128(38, scale) if sums else pa.int64()
    cols = list(zip(*out)) or [()] * (n_group + 4)
    arrays = [pa.array(cols[1 + i], pa.string()) for i in range(n_group)]
    arrays.append(pa.array(cols[n_group + 1], pa.string()))
    values = list(cols[n_group + 2]) if sums else [int(v) for v in cols[n_group + 2]]
    arrays.append(pa.array(values, value_type))
    arrays.append(pa.array(cols[n_group + 3], pa.int64()))
    if window:
        starts = [dt.datetime.fromtimestamp(w / 1000, dt.timezone.utc) for w in cols[0]]
        arrays.append(pa.array(starts, pa.timestamp("ms", tz="UTC")))
    table = pa.Table.from_arrays(arrays, names=names)
    # From Arrow, a small table becomes a LocalRelation: acting on the report runs no Spark job.
    report = spark.createDataFrame(table)
    lost = by_reason.pop(LOST, 0)
    totals = {
        "records": records,
        "invalid": sum(by_reason.values()),
        "filtered": filtered,
        "invalid_by_reason": dict(sorted(by_reason.items())),
        "lost_offsets": lost,
    }
    return report, totals
