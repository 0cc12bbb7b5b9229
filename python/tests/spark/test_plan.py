"""The shard plan: table-driven, no Spark, no broker."""

import pytest

from kbatch.spark.options import parse
from kbatch.spark.plan import Call, Skip, calls, clamp_lost, select_topics, shards

B = {"kafka.bootstrap.servers": "h:1"}

# (ranges, minPartitions, maxRecordsPerPartition, expected shards)
SHARDS = [
    # nothing to split: ranges as they are, empty ones dropped
    ([("t", 0, 0, 10), ("t", 1, 5, 5)], None, None, [("t", 0, 0, 10)]),
    ([("t", 0, 0, 10), ("t", 1, 0, 10)], 2, None, [("t", 0, 0, 10), ("t", 1, 0, 10)]),
    # maxRecordsPerPartition: ceil(n / max) pieces, exact integer cuts
    ([("t", 0, 0, 10)], None, 3, [("t", 0, 0, 2), ("t", 0, 2, 5), ("t", 0, 5, 7), ("t", 0, 7, 10)]),
    ([("t", 0, 100, 110)], None, 5, [("t", 0, 100, 105), ("t", 0, 105, 110)]),
    ([("t", 0, 0, 10)], None, 10, [("t", 0, 0, 10)]),
    ([("t", 0, 0, 10)], None, 1000, [("t", 0, 0, 10)]),
    # minPartitions: the hot partition takes the parallelism, small ones stay whole
    ([("t", 0, 0, 90), ("t", 1, 0, 10)], 4, None,
     [("t", 0, 0, 22), ("t", 0, 22, 45), ("t", 0, 45, 67), ("t", 0, 67, 90), ("t", 1, 0, 10)]),
    # round half up (Java's Math.round): 5/10*3 = 1.5 -> 2 pieces each
    ([("t", 0, 0, 5), ("t", 1, 0, 5)], 3, None, [("t", 0, 0, 2), ("t", 0, 2, 5), ("t", 1, 0, 2), ("t", 1, 2, 5)]),
    # more pieces than offsets: no empty shard
    ([("t", 0, 0, 2)], 5, None, [("t", 0, 0, 1), ("t", 0, 1, 2)]),
    # both: max first, then min
    ([("t", 0, 0, 8)], 4, 4, [("t", 0, 0, 2), ("t", 0, 2, 4), ("t", 0, 4, 6), ("t", 0, 6, 8)]),
    ([], 4, 10, []),
]


@pytest.mark.parametrize("ranges,min_p,max_r,expected", SHARDS)
def test_shards(ranges, min_p, max_r, expected):
    assert shards(ranges, min_p, max_r) == expected


@pytest.mark.parametrize("min_p", [None, 1, 2, 3, 7, 64, 1000])
@pytest.mark.parametrize("max_r", [None, 1, 2, 3, 999, 10**9])
def test_shards_tile_every_range_exactly(min_p, max_r):
    ranges = [("a", 0, 0, 1000), ("a", 1, 17, 18), ("a", 2, 5, 5), ("b", 0, 3, 340)]
    got = shards(ranges, min_p, max_r)
    for topic, p, start, end in ranges:
        mine = [s for s in got if s[:2] == (topic, p)]
        offsets = [o for s in mine for o in range(s[2], s[3])]
        assert offsets == list(range(start, end)), (topic, p)
        assert all(s[3] > s[2] for s in mine)
        if max_r is not None:
            assert all(s[3] - s[2] <= max_r for s in mine)
    # minPartitions is a wish, as in Spark (rounded shares), but never fewer than the ranges
    assert len(got) >= 3


def test_calls_group_partitions_by_their_specs():
    r = parse({**B, "subscribe": "t", "startingOffsets": '{"t": {"0": 5, "2": 5, "1": -2}}',
               "endingOffsetsByTimestamp": '{"t": {"2": 1700}}'})
    got = calls(r, [("t", 0), ("t", 1), ("t", 2), ("t", 3)])
    assert got == [
        Call("t", (0,), "5", "latest"),
        Call("t", (1, 3), "earliest", "latest"),
        Call("t", (2,), "5", "@1700"),
    ]


def test_calls_one_per_topic_for_plain_specs():
    r = parse({**B, "subscribe": "a,b", "startingOffsets": "-1h"})
    assert calls(r, [("a", 0), ("a", 1), ("b", 0)]) == [
        Call("a", (0, 1), "-1h", "latest"),
        Call("b", (0,), "-1h", "latest"),
    ]


SELECT = [
    ({"subscribe": "b,a"}, ["a", "b", "c"], ["b", "a"]),
    ({"assign": '{"x": [0]}'}, [], ["x"]),
    # the whole name must match, as Java's Pattern.matches
    ({"subscribePattern": "web_.*"}, ["web_a", "web_b", "old_web_c", "web"], ["web_a", "web_b"]),
    ({"subscribePattern": "web"}, ["web_a", "web"], ["web"]),
]


@pytest.mark.parametrize("options,existing,expected", SELECT)
def test_select_topics(options, existing, expected):
    assert select_topics(parse({**B, **options}), existing) == expected


LOST = [
    # (fail_on_data_loss, calls, earliest, expected calls, expected skips)
    (True, [Call("t", (0, 1), "0", "latest")], {("t", 0): 50}, [Call("t", (0, 1), "0", "latest")], []),
    (False, [Call("t", (0, 1), "0", "latest")], {("t", 0): 50, ("t", 1): 0},
     [Call("t", (1,), "0", "latest"), Call("t", (0,), "50", "latest")], [Skip("t", 0, 0, 50)]),
    (False, [Call("t", (0,), "60", "latest")], {("t", 0): 50}, [Call("t", (0,), "60", "latest")], []),
    (False, [Call("t", (0,), "earliest", "latest")], {("t", 0): 50}, [Call("t", (0,), "earliest", "latest")], []),
    (False, [Call("t", (0,), "@17", "latest")], {("t", 0): 50}, [Call("t", (0,), "@17", "latest")], []),
]


@pytest.mark.parametrize("fail,calls_,earliest,expected,skips", LOST)
def test_clamp_lost(fail, calls_, earliest, expected, skips):
    assert clamp_lost(calls_, earliest, fail) == (expected, skips)
    assert [str(s) for s in skips] == [f"{s.topic}-{s.partition} [{s.start}, {s.end})" for s in skips]


def _stats(*parts: tuple) -> str:
    import json

    return json.dumps([
        {"topic": t, "partition": p, "start": s, "end": e, "records": e - s, "aborted": 0, "control": 0}
        for t, p, s, e in parts
    ])


# (the stream's end counts, complete?): a shard counts only when the reader said it ended at
# the shard's end; no counts (the stream died), another partition or a shorter end fail it.
COMPLETE = [
    (_stats(("t", 0, 10, 20)), True),
    (_stats(("t", 0, 12, 20)), True),  # failOnDataLoss=false moved the start: still complete
    (None, False),
    (_stats(("t", 0, 10, 19)), False),
    (_stats(("t", 1, 10, 20)), False),
    (_stats(("u", 0, 10, 20)), False),
    (_stats(), False),
    (_stats(("t", 0, 10, 20), ("t", 0, 10, 20)), False),
]


@pytest.mark.parametrize("stats,complete", COMPLETE)
def test_a_shard_is_complete_only_at_its_end(stats: "str | None", complete: bool) -> None:
    import kbatch
    from kbatch.spark.source import Shard, _check_complete

    shard = Shard("t", 0, 10, 20)
    if complete:
        _check_complete(shard, stats)
    else:
        with pytest.raises(kbatch.InternalError, match="refusing a short shard") as e:
            _check_complete(shard, stats)
        assert (e.value.topic, e.value.partition) == ("t", 0)
