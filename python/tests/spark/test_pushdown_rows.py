"""The pushdown's rows from a shard partial: table-driven, no Spark, no broker."""

import pytest

from kbatch.spark.pushdown import partial_rows

CASES = [
    # (partial, lost, expected columns)
    ({"pairs": [["Books", "A", 3], ["Toys", "T", 1]], "records": 6, "invalid": [["bad_json", 2]]}, 0,
     {"category": ["Books", "Toys", None], "product": ["A", "T", None], "views": [3, 1, None],
      "records": [None, None, 6], "invalid": [None, None, [("bad_json", 2)]]}),
    # an empty shard still has its totals row (0 records), so every shard is accounted for
    ({"pairs": [], "records": 0, "invalid": []}, 0,
     {"category": [None], "product": [None], "views": [None], "records": [0], "invalid": [[]]}),
    # offsets skipped with failOnDataLoss=false are counted under their own key
    ({}, 300, {"category": [None], "product": [None], "views": [None], "records": [0],
               "invalid": [[("lost_offsets", 300)]]}),
]


@pytest.mark.parametrize("partial,lost,expected", CASES)
def test_partial_rows(partial, lost, expected):
    assert partial_rows(partial, lost) == expected
