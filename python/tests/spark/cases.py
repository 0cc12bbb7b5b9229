"""The kbatch data source's cases against a real broker holding data from Kafka's Java producer.
Collected by ``test_local.py`` (every case, ``local[2]``) and ``test_cluster.py`` (the reads,
splits and pushdown, on the standalone cluster); each module provides the ``spark`` fixture, so
only one Spark session lives at a time."""

from __future__ import annotations

import pyarrow as pa
import pytest

import kbatch
from kbatch.spark import trending

from .conftest import EVENTS, INVALID, PARTITIONS, TOPIC


def opts(kafka, **kw):
    out = {"kafka.bootstrap.servers": kafka.bootstrap, "subscribe": TOPIC}
    out.update(kw)
    return out


def load(spark, options):
    return spark.read.format("kbatch").options(**options).load()


def rows(table: pa.Table):
    """Every column of every row, in (topic, partition, offset) order."""
    t = table.sort_by([("topic", "ascending"), ("partition", "ascending"), ("offset", "ascending")])
    return t.to_pylist()


def same_as_kbatch_read(spark, kafka, headers: bool, **kw):
    df = load(spark, opts(kafka, includeHeaders=str(headers).lower(), **kw))
    got = rows(df.toArrow())
    want = rows(kbatch.read(TOPIC, bootstrap=kafka.bootstrap, headers=headers))
    if headers:  # no headers: null in Spark's Kafka source (and so in ours), [] in kbatch.read
        for r in want:
            r["headers"] = r["headers"] or None
    assert len(got) == len(want) == kbatch.count(TOPIC, bootstrap=kafka.bootstrap)["records"]
    assert got == want
    return df


def test_dataframe_equals_kbatch_read_every_column(spark, kafka):
    df = same_as_kbatch_read(spark, kafka, headers=False)
    assert df.columns == ["key", "value", "topic", "partition", "offset", "timestamp", "timestampType"]
    assert df.rdd.getNumPartitions() == PARTITIONS


def test_headers_only_when_asked(spark, kafka):
    df = same_as_kbatch_read(spark, kafka, headers=True)
    assert df.columns[-1] == "headers"


@pytest.mark.parametrize("split", [{"maxRecordsPerPartition": "777"}, {"minPartitions": "13"},
                                   {"minPartitions": "9", "maxRecordsPerPartition": "3000"}])
def test_hot_partition_splits_change_nothing(spark, kafka, split):
    df = same_as_kbatch_read(spark, kafka, headers=False, **split)
    assert df.rdd.getNumPartitions() > PARTITIONS


def test_same_rows_as_sparks_kafka_source(spark, kafka):
    """``format("kafka")`` (Spark's own source, its jar at pyspark's version) and
    ``format("kbatch")`` over the same range, both read_uncommitted (Spark's default): the same
    rows, every column, headers included; the range starts mid-partition and ends at latest."""
    import json

    start = json.dumps({TOPIC: {str(p): (-2 if p % 2 else 100 + p) for p in range(PARTITIONS)}})
    common = opts(kafka, startingOffsets=start, endingOffsets="latest", includeHeaders="true")
    common["kafka.isolation.level"] = "read_uncommitted"
    theirs = spark.read.format("kafka").options(**common).load()
    ours = load(spark, common)
    assert ours.schema == theirs.schema
    got, want = rows(ours.toArrow()), rows(theirs.toArrow())
    assert len(got) == len(want) > EVENTS // 2
    differ = [(col, g[col], w[col]) for g, w in zip(got, want) for col in w if g[col] != w[col]]
    assert not differ, f"{len(differ)} cells differ; first: {differ[:3]}"


def test_plan_is_fixed_at_load(spark, kafka):
    df = load(spark, opts(kafka))
    before = df.count()
    kafka.produce_trending(TOPIC, PARTITIONS, 500, 0, seed=7)
    assert df.count() == before
    now = kbatch.count(TOPIC, bootstrap=kafka.bootstrap)["records"]
    assert now > before  # (produce-trending's --events is not the record count)
    assert load(spark, opts(kafka)).count() == now


def test_trending_pushdown_equals_kbatch_trending(spark, kafka):
    for top in (1, 3):
        report, totals = trending(spark, top=top, options=opts(kafka, minPartitions="7"))
        want = kafka.trending_json(TOPIC, top)
        got = [r.asDict() for r in report.collect()]
        assert got == want["top"], top
        assert totals["records"] == want["records"]
        assert totals["invalid"] == want["invalid"] >= INVALID
        assert sum(totals["invalid_by_reason"].values()) == want["invalid"]
        assert totals["lost_offsets"] == 0
    # the sample has exact ties: two products at rank 1 in some category
    assert any(sum(1 for r in want["top"] if r["category"] == c and r["rank"] == 1) > 1
               for c in {r["category"] for r in want["top"]})



def test_trending_reads_the_shards_once(spark, kafka):
    """One query: the shuffle's map stage and the rank are the only Spark jobs (AQE runs them
    as two), and the report, already computed, starts none when collected."""
    sc = spark.sparkContext
    sc.setJobGroup("kbatch-trending-jobs", "trending")
    try:
        report, _ = trending(spark, top=1, options=opts(kafka))
        report.collect()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert 1 <= len(sc.statusTracker().getJobIdsForGroup("kbatch-trending-jobs")) <= 2


BAD = [
    ({"startingOffset": "1"}, "startingoffset"),
    ({"includeHeaders": "maybe"}, "includeHeaders"),
    ({"startingOffsets": "latest"}, "'latest' is not allowed"),
    ({"kbatch.job": "wordcount"}, "kbatch.job"),
]


@pytest.mark.parametrize("bad,words", BAD)
def test_bad_options_fail_the_load_naming_them(spark, kafka, bad, words):
    with pytest.raises(Exception) as e:
        load(spark, opts(kafka, **bad)).count()
    assert words in str(e.value)


def test_unknown_topic_and_unreachable_broker_fail_with_kbatch_messages(spark, kafka):
    with pytest.raises(Exception) as e:
        load(spark, opts(kafka, subscribe="no_such_topic")).count()
    assert "no_such_topic" in str(e.value)
    with pytest.raises(Exception) as e:
        load(spark, {"kafka.bootstrap.servers": "127.0.0.1:1", "subscribe": TOPIC,
                           "kafka.request.timeout.ms": "2000"}).count()
    assert "127.0.0.1:1" in str(e.value)


def test_fail_on_data_loss(spark, kafka):
    topic = "web_spark_loss"
    kafka.create_topic(topic, 1)
    kafka.produce_trending(topic, 1, 2000, 0)
    kafka.delete_records(topic, 0, 300)
    base = {"kafka.bootstrap.servers": kafka.bootstrap, "subscribe": topic,
            "startingOffsets": f'{{"{topic}": {{"0": 0}}}}'}
    with pytest.raises(Exception) as e:
        load(spark, base).count()
    assert f"{topic}" in str(e.value)
    skipped = dict(base, failOnDataLoss="false")
    assert load(spark, skipped).count() == kbatch.count(topic, bootstrap=kafka.bootstrap)["records"]
    _, totals = trending(spark, options=skipped)
    assert totals["lost_offsets"] == 300
    assert totals["records"] == kbatch.count(topic, bootstrap=kafka.bootstrap)["records"]
