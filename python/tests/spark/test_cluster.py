"""The reads, the hot-partition splits and the pushdown on a Spark standalone cluster (a master
and two one-core workers), where shards really run in other processes."""

import pytest

from .cases import (  # noqa: F401 (collected here)
    test_dataframe_equals_kbatch_read_every_column,
    test_hot_partition_splits_change_nothing,
    test_trending_pushdown_equals_kbatch_trending,
    test_trending_reads_the_shards_once,
)


@pytest.fixture(scope="module")
def spark(spark_cluster):
    return spark_cluster
