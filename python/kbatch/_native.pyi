# Type stubs of the extension module (python/src/). The public API is kbatch/__init__.py;
# these functions take its normalised arguments.
from typing import Any, TypedDict

import pyarrow

class _Common(TypedDict):
    topics: list[str]
    partitions: list[int] | None
    bootstrap: str | None
    config: list[tuple[str, str]]
    isolation: str

# The reports' JSON (the CLI's, printed by the same serde types: kbatch-reader's
# PartitionOffsets and CountReport, kbatch-trending's Report), as kbatch/__init__.py loads it.

class PartitionOffsets(TypedDict):
    topic: str
    partition: int
    leader: int
    earliest: int
    latest: int
    last_stable: int

class CountPartition(TypedDict):
    topic: str
    partition: int
    start: int
    end: int
    records: int
    aborted: int
    control: int

class CountReport(TypedDict):
    records: int
    partitions: list[CountPartition]

class TrendingPartition(TypedDict):
    topic: str
    partition: int
    start: int
    end: int
    records: int
    aborted: int
    control: int
    invalid: int

class TrendingTopRow(TypedDict):
    category: str
    product: str
    views: int
    rank: int

class InvalidSample(TypedDict):
    topic: str
    partition: int
    offset: int
    reason: str

class TrendingReport(TypedDict):
    records: int
    invalid: int
    partitions: list[TrendingPartition]
    top: list[TrendingTopRow]
    invalid_samples: list[InvalidSample]

class TopPartition(TypedDict):
    topic: str
    partition: int
    start: int
    end: int
    records: int
    aborted: int
    control: int
    invalid: int
    filtered: int
    skipped_batches: int
    skipped_records: int

class TopReport(TypedDict):
    records: int
    invalid: int
    filtered: int
    partitions: list[TopPartition]
    # Each row's keys are the question's own (group paths, item path as spelled), then
    # "value" (int; a sum with a fraction: decimal.Decimal), "rank" and, windowed,
    # "window_start" (RFC 3339 text).
    top: list[dict[str, Any]]
    invalid_samples: list[InvalidSample]

# kbatch.top's question, the CLI's texts (python/src/top.rs parses them).
class _Question(TypedDict):
    group: list[str]
    item: str
    metric: str
    wheres: list[str]
    window: str | None
    top: str
    strict: bool

__version__: str
DEFAULT_BATCH_ROWS: int

# The export's manifest (`_manifest.json`, kbatch-export's Manifest).

class ExportFile(TypedDict):
    name: str
    records: int
    bytes: int
    first_offset: int
    last_offset: int

class ExportPartition(TypedDict):
    partition: int
    start: int
    end: int
    records: int
    aborted: int
    control: int
    files: list[ExportFile]

class _ExportManifestKeys(TypedDict):
    kbatch_version: str
    topic: str
    format: str
    compression: str
    isolation: str
    partitions: list[ExportPartition]

class ExportManifest(_ExportManifestKeys, total=False):
    # Absent when the output could not be listed.
    orphans: list[str]

class _ExportOptions(TypedDict):
    output: str
    format: str
    compression: str | None
    max_file_bytes: int
    from_manifest: str | None
    binary: bool
    batch_rows: int
    threads: int
    value_format: str
    key_format: str
    on_undecodable: str


def offsets(common: _Common) -> str: ...
def count(common: _Common, start: str, end: str) -> str: ...
def trending(
    common: _Common, start: str, end: str, top: int, strict: bool, value_format: str = "raw"
) -> str: ...
def top(
    common: _Common, start: str, end: str, question: _Question, value_format: str = "raw"
) -> str: ...
# The report's row columns, once the question is checked (UsageError otherwise).
def top_check(question: _Question) -> list[str]: ...
def export(common: _Common, start: str, end: str, options: _ExportOptions) -> str: ...
def read(
    common: _Common,
    start: str,
    end: str,
    batch_rows: int,
    headers: bool,
    value_format: str = "raw",
    key_format: str = "raw",
    on_undecodable: str = "fail",
) -> pyarrow.Table: ...

def schema(
    common: _Common,
    headers: bool,
    value_format: str = "raw",
    key_format: str = "raw",
) -> pyarrow.Schema: ...

class Stream:
    def __init__(
        self,
        common: _Common,
        start: str,
        end: str,
        batch_rows: int,
        headers: bool,
        value_format: str = "raw",
        key_format: str = "raw",
        on_undecodable: str = "fail",
    ) -> None: ...
    @property
    def schema(self) -> pyarrow.Schema: ...
    def next_batch(self) -> pyarrow.RecordBatch | None: ...
    # JSON list of per-partition counts, once the read ended well; None before and on failure.
    def stats(self) -> str | None: ...
    def close(self) -> None: ...

# kbatch.spark's helpers (python/src/spark.rs): JSON text, loaded by kbatch/spark/.
def spark_topics(common: _Common) -> str: ...
def spark_plan(common: _Common, start: str, end: str) -> str: ...
def spark_trending_shard(
    common: _Common, start: str, end: str, value_format: str = "raw"
) -> str: ...
# kbatch_trending::TopShard as JSON: records, filtered, invalid by reason, mergeable cells.
def spark_top_shard(
    common: _Common, start: str, end: str, question: _Question, value_format: str = "raw"
) -> str: ...
# The report of one run over the shards' union (no partitions, no samples), as JSON.
def spark_top_merge(question: _Question, shards: list[str]) -> str: ...

# Raised (never defined) here: the classes of kbatch/errors.py, chosen by the reader's error
# kind, each with .topic, .partition and .retriable. A panic inside the extension raises
# kbatch.errors.InternalError, never pyo3's PanicException.
