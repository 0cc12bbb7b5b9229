"""kbatch.read and kbatch.read_batches against what Kafka's Java producer wrote."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

import kbatch
from conftest import CODECS, Dataset

SCHEMA = pa.schema(
    [
        ("key", pa.binary()),
        ("value", pa.binary()),
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("timestampType", pa.int32()),
        (
            "headers",
            pa.list_(
                pa.field(
                    "element",
                    pa.struct([("key", pa.string()), ("value", pa.binary())]),
                )
            ),
        ),
    ]
)


def test_table_equals_what_was_produced(bootstrap: str, dataset: Dataset) -> None:
    table = kbatch.read(dataset.topic, bootstrap=bootstrap)
    assert table.schema.equals(SCHEMA), table.schema
    expected = dataset.rows()
    # Every codec, the nulls, the headers and the transactions are really in the data.
    assert {r["partition"] for r in expected} == set(range(len(CODECS) + 1))
    assert any(r["key"] is None for r in expected) and any(r["value"] is None for r in expected)
    assert any(h["value"] is None for r in expected for h in r["headers"])
    assert table.num_rows == len(expected)
    assert table.to_pylist() == expected


def test_read_uncommitted_has_the_aborted_records(bootstrap: str, dataset: Dataset) -> None:
    table = kbatch.read(dataset.topic, bootstrap=bootstrap, isolation="read_uncommitted")
    assert table.to_pylist() == dataset.rows(committed=False)
    assert table.num_rows > len(dataset.rows())


def test_batches_concatenate_to_the_table(bootstrap: str, dataset: Dataset) -> None:
    reader = kbatch.read_batches(dataset.topic, bootstrap=bootstrap, batch_rows=4)
    assert isinstance(reader, pa.RecordBatchReader)
    assert reader.schema.equals(SCHEMA)
    batches = list(reader)
    assert len(batches) > 10
    assert all(0 < b.num_rows <= 4 for b in batches)
    # Each batch is one partition's rows in offset order; partitions interleave.
    rows = pa.Table.from_batches(batches, schema=SCHEMA).to_pylist()
    rows.sort(key=lambda r: (r["partition"], r["offset"]))
    assert rows == dataset.rows()
    table = kbatch.read(dataset.topic, bootstrap=bootstrap, batch_rows=4)
    assert table.to_pylist() == dataset.rows()


def test_read_batches_stops_when_closed(bootstrap: str, dataset: Dataset) -> None:
    reader = kbatch.read_batches(dataset.topic, bootstrap=bootstrap, batch_rows=1)
    first = reader.read_next_batch()
    assert first.num_rows == 1
    reader.close()
    # A new read after an abandoned one works (nothing of the old one is left in the way).
    assert kbatch.read(dataset.topic, bootstrap=bootstrap).num_rows == len(dataset.rows())


def test_ranges_as_ints_dicts_datetimes_and_specs(bootstrap: str, dataset: Dataset) -> None:
    rows = dataset.rows()

    def expect(pred):
        return [r for r in rows if pred(r)]

    t = kbatch.read(dataset.topic, bootstrap=bootstrap, partitions=[1, 3], start=5, end=9)
    assert t.to_pylist() == expect(lambda r: r["partition"] in (1, 3) and 5 <= r["offset"] < 9)
    t = kbatch.read(dataset.topic, bootstrap=bootstrap, partitions=2, start={"mixed": {"2": 20}})
    assert t.to_pylist() == expect(lambda r: r["partition"] == 2 and r["offset"] >= 20)
    spark = {"mixed": {"0": -1, "4": 3}}  # -1: latest
    t = kbatch.read(dataset.topic, bootstrap=bootstrap, partitions=[0, 4], start=0, end=spark)
    assert t.to_pylist() == expect(lambda r: r["partition"] == 0 or (r["partition"] == 4 and r["offset"] < 3))
    # Partition 3's records are one second apart from 2026-01-01T00:05:00Z.
    since = dt.datetime(2026, 1, 1, 0, 5, 10, tzinfo=dt.timezone.utc)
    t = kbatch.read(dataset.topic, bootstrap=bootstrap, partitions=[3], start=since)
    assert t.to_pylist() == expect(lambda r: r["partition"] == 3 and r["timestamp"] >= since)
    t = kbatch.read(dataset.topic, bootstrap=bootstrap, start="0:2,mixed:1:24", end="0:4")
    assert [(r["partition"], r["offset"]) for r in t.to_pylist()[:3]] == [(0, 2), (0, 3), (1, 24)]


def test_without_headers_and_empty_range(bootstrap: str, dataset: Dataset) -> None:
    t = kbatch.read(dataset.topic, bootstrap=bootstrap, headers=False, partitions=[0])
    assert t.column_names == SCHEMA.names[:-1]
    assert t.num_rows == 25
    empty = kbatch.read(dataset.topic, bootstrap=bootstrap, start="latest")
    assert empty.num_rows == 0 and empty.schema.equals(SCHEMA)
    assert list(kbatch.read_batches(dataset.topic, bootstrap=bootstrap, start="latest")) == []


def test_bootstrap_from_the_environment(
    bootstrap: str, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBATCH_BOOTSTRAP", bootstrap)
    assert kbatch.read(dataset.topic, partitions=[0]).num_rows == 25
    # config's bootstrap.servers wins over the environment, bootstrap= over both.
    monkeypatch.setenv("KBATCH_BOOTSTRAP", "127.0.0.1:1")
    assert kbatch.count(dataset.topic, config={"bootstrap.servers": bootstrap})["records"] > 0
    assert (
        kbatch.count(dataset.topic, bootstrap=bootstrap, config={"bootstrap.servers": "127.0.0.1:1"})[
            "records"
        ]
        > 0
    )
