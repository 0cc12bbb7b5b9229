"""``kbatch.spark.top`` (``kbatch.job=top``) on ``local[2]`` against DuckDB, the oracle of
``python/tests/test_top_oracle.py``: the same events (realistic nested ones and the tricky
cases) produced by Kafka's Java producer into the Spark tests' broker, read back by librdkafka
for DuckDB, and each query's rows compared row for row — with shards cut small
(``maxRecordsPerPartition``), so every cell's state is merged across shards (sums added,
distinct sets united, HyperLogLog sketches merged; never distinct counts summed).

Also the pushdown's pure parts: shard partial → rows, and the ``kbatch.*`` options."""

from __future__ import annotations

import datetime as dt
import random
import sys
from pathlib import Path

import pytest
from kbatch.spark import top
from kbatch.spark.options import OptionError, parse
from kbatch.spark.top_pushdown import cell_rows

# The oracle lives with the Python tests (one definition of the events and the SQL).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import test_top_oracle as oracle  # noqa: E402
from conftest import Rec, produce  # noqa: E402

TOPIC = "top_spark"
QUERIES = ["several_groups", "where_in_distinct", "approx_distinct", "sum_decimal", "window_distinct_where",
           "where_timestamp", "where_header_exists_partition"]


@pytest.fixture(scope="module")
def spark():
    """``local[2]``, without Spark's own Kafka source (nothing here compares with it)."""
    from .standalone import session

    s = session("local[2]", "kbatch-top-tests", [], {})
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def topic(kafka):
    """The oracle's events (2400 realistic, the tricky cases) in 3 partitions."""
    kafka.create_topic(TOPIC, oracle.PARTS)
    rng = random.Random(27)
    recs = []
    for i in range(oracle.EVENTS):
        key, value, headers = oracle.realistic(rng, i)
        ts = oracle.T0 + i * oracle.SPAN // oracle.EVENTS + rng.randint(-90_000, 90_000)
        recs.append(Rec(rng.randrange(oracle.PARTS), key, value, ts, headers))
    for n, (key, value, _) in enumerate(oracle.tricky()):
        recs.insert(rng.randrange(len(recs) + 1),
                    Rec(n % oracle.PARTS, key.encode(), value, oracle.T0 + rng.randrange(oracle.SPAN),
                        [("src", b"app")] if n % 2 else []))
    produce(kafka.bootstrap, TOPIC, recs, compression="lz4")
    return TOPIC


@pytest.fixture(scope="module")
def con(kafka, topic):
    return oracle.load_duckdb(oracle.consume(kafka.bootstrap, topic, oracle.PARTS))


def _query(name: str) -> oracle.Query:
    return next(q for q in oracle.QUERIES if q.name == name)


@pytest.mark.parametrize("name", QUERIES)
def test_top_pushdown_equals_duckdb(spark, kafka, topic, con, name):
    q = _query(name)
    q = oracle.Query(q.name, q.group, q.item, q.metric, q.where, q.window, q.top, topic=topic)
    want, valid = oracle.oracle(con, q)
    assert want
    kw = q.kwargs()
    report, totals = top(spark, **kw, options={"kafka.bootstrap.servers": kafka.bootstrap, "subscribe": topic,
                                               "maxRecordsPerPartition": "300"})
    rows = []
    for r in report.collect():
        row = r.asDict()
        if "window_start" in row:
            # PySpark gives a naive datetime in the process's local time: .timestamp() reads it
            # so; then kbatch's RFC 3339 text, as compare() takes the CLI's.
            ms = round(row["window_start"].timestamp() * 1000)
            start = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
            row["window_start"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(row)
    merged = {"records": totals["records"], "invalid": totals["invalid"], "filtered": totals["filtered"],
              "top": rows}
    oracle.compare(q, merged, want, valid)
    assert sum(totals["invalid_by_reason"].values()) == totals["invalid"]
    assert totals["lost_offsets"] == 0


CELL_CASES = [
    ({"records": 9, "filtered": 2, "invalid": [["bad_json", 1]],
      "cells": [{"group": ["Books"], "item": "I1", "state": {"count": 3}},
                {"window_start": 3600000, "group": ["Toys", "iOS"], "item": "I2",
                 "state": {"distinct": ["C1", "C2"]}}]}, 0,
     {"window_start": [None, 3600000, None], "grp": [["Books"], ["Toys", "iOS"], None],
      "item": ["I1", "I2", None], "state": ['{"count":3}', '{"distinct":["C1","C2"]}', None],
      "records": [None, None, 9], "filtered": [None, None, 2], "invalid": [None, None, [("bad_json", 1)]]}),
    # an empty shard still has its totals row, and skipped offsets are counted by their own key
    ({"records": 0, "filtered": 0, "invalid": [], "cells": []}, 40,
     {"window_start": [None], "grp": [None], "item": [None], "state": [None], "records": [0],
      "filtered": [0], "invalid": [[("lost_offsets", 40)]]}),
]


@pytest.mark.parametrize("shard,lost,expected", CELL_CASES)
def test_cell_rows(shard, lost, expected):
    assert cell_rows(shard, lost) == expected


BASE = {"kafka.bootstrap.servers": "b:9092", "subscribe": "t"}


def test_top_options():
    r = parse({**BASE, "kbatch.job": "top", "kbatch.group": "page.category,device.os",
               "kbatch.item": "item_id", "kbatch.where": '["device.os in (\'iOS\')", "qty >= 2"]',
               "kbatch.window": "1h"})
    assert r.top_question == ("page.category,device.os", "item_id", "count",
                              ("device.os in ('iOS')", "qty >= 2"), "1h")
    r = parse({**BASE, "kbatch.job": "top", "kbatch.group": "c", "kbatch.item": "p",
               "kbatch.where": "qty < 3", "kbatch.metric": "sum:qty"})
    assert r.top_question == ("c", "p", "sum:qty", ("qty < 3",), None)
    for bad, words in [({"kbatch.job": "top", "kbatch.item": "p"}, "kbatch.group"),
                       ({"kbatch.job": "top", "kbatch.group": "c"}, "kbatch.item"),
                       ({"kbatch.group": "c"}, "needs kbatch.job=top"),
                       ({"kbatch.job": "top", "kbatch.group": "c", "kbatch.item": "p", "kbatch.where": "[1]"},
                        "kbatch.where")]:
        with pytest.raises(OptionError, match=words):
            parse({**BASE, **bad})


def test_value_format_option():
    """``valueFormat``: raw by default; a registry format for reads (the typed column) and for
    the trending and top pushdowns (the shards decode registry-framed values); ``keyFormat`` and
    ``onUndecodable`` are for reads only; unknown formats are refused naming the option."""
    assert parse({**BASE}).value_format == "raw"
    assert parse({**BASE, "valueFormat": "Protobuf", "keyFormat": "json-schema"}).key_format == "json-schema"
    for job in ("trending", "top"):
        extra = {"kbatch.group": "c", "kbatch.item": "p"} if job == "top" else {}
        r = parse({**BASE, "kbatch.job": job, "valueFormat": "Avro", **extra})
        assert r.value_format == "avro"
    for bad, words in [({"valueFormat": "xml"}, "valueFormat: expected one of raw, avro"),
                       ({"kbatch.job": "trending", "keyFormat": "avro"}, "keyFormat: for kbatch.job=read"),
                       ({"onUndecodable": "skip"}, "onUndecodable: expected fail or null")]:
        with pytest.raises(OptionError, match=words):
            parse({**BASE, **bad})
