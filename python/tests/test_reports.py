"""offsets, count and trending return the CLI's JSON objects for the same read."""

from __future__ import annotations

import kbatch
from conftest import Dataset, cli_json


def test_offsets_match_the_cli(bootstrap: str, dataset: Dataset) -> None:
    got = kbatch.offsets(dataset.topic, bootstrap=bootstrap)
    assert got == cli_json("offsets", "--bootstrap", bootstrap, "--topic", dataset.topic)["partitions"]
    assert [p["partition"] for p in got] == list(range(6))
    assert kbatch.offsets([dataset.topic], bootstrap=bootstrap, partitions=[2]) == [got[2]]


def test_count_matches_the_cli_and_the_producer(bootstrap: str, dataset: Dataset) -> None:
    got = kbatch.count(dataset.topic, bootstrap=bootstrap)
    assert got == cli_json("count", "--bootstrap", bootstrap, "--topic", dataset.topic)
    assert got["records"] == len(dataset.rows())
    txn = got["partitions"][5]
    assert txn["aborted"] == sum(r.aborted for r in dataset.records)
    assert txn["control"] == 3  # commit, abort, commit markers
    some = kbatch.count(dataset.topic, bootstrap=bootstrap, start=3, end={"mixed": {"1": 10}}, partitions=[1])
    assert some == cli_json(
        "count", "--bootstrap", bootstrap, "--topic", dataset.topic, "--partitions", "1",
        "--from", "3", "--to", '{"mixed":{"1":10}}',
    )
    assert some["records"] == 7


def test_trending_matches_the_cli(bootstrap: str, events: str) -> None:
    for top in (1, 3):
        got = kbatch.trending(events, bootstrap=bootstrap, top=top)
        want = cli_json(
            "trending", "--bootstrap", bootstrap, "--topic", events, "--top", str(top), "--format", "json"
        )
        assert got == want
        assert got["invalid"] == 4 and got["top"]
