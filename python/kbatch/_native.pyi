# Type stubs of the extension module (python/src/). The public API is kbatch/__init__.py;
# these functions take its normalised arguments.
from typing import TypedDict

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

__version__: str

def offsets(common: _Common) -> str: ...
def count(common: _Common, start: str, end: str) -> str: ...
def trending(common: _Common, start: str, end: str, top: int, strict: bool) -> str: ...
def export(common: _Common, start: str, end: str, options: _ExportOptions) -> str: ...
def read(
    common: _Common, start: str, end: str, batch_rows: int, headers: bool
) -> pyarrow.Table: ...

class Stream:
    def __init__(
        self, common: _Common, start: str, end: str, batch_rows: int, headers: bool
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
def spark_trending_shard(common: _Common, start: str, end: str) -> str: ...

# Raised (never defined) here: the classes of kbatch/errors.py, chosen by the reader's error
# kind, each with .topic, .partition and .retriable. A panic inside the extension raises
# kbatch.errors.InternalError, never pyo3's PanicException.
