# Type stubs of the extension module (python/src/). The public API is kbatch/__init__.py;
# these functions take its normalised arguments.
from typing import List, Optional, Tuple, TypedDict

import pyarrow

class _Common(TypedDict):
    topics: List[str]
    partitions: Optional[List[int]]
    bootstrap: Optional[str]
    config: List[Tuple[str, str]]
    isolation: str

__version__: str

def offsets(common: _Common) -> str: ...
def count(common: _Common, start: str, end: str) -> str: ...
def trending(common: _Common, start: str, end: str, top: int, strict: bool) -> str: ...
def read(
    common: _Common, start: str, end: str, batch_rows: int, headers: bool
) -> pyarrow.Table: ...

class Stream:
    def __init__(
        self, common: _Common, start: str, end: str, batch_rows: int, headers: bool
    ) -> None: ...
    @property
    def schema(self) -> pyarrow.Schema: ...
    def next_batch(self) -> Optional[pyarrow.RecordBatch]: ...
    # JSON list of per-partition counts, once the read ended well; None before and on failure.
    def stats(self) -> Optional[str]: ...
    def close(self) -> None: ...

# kbatch.spark's helpers (python/src/spark.rs): JSON text, loaded by kbatch/spark/.
def spark_topics(common: _Common) -> str: ...
def spark_plan(common: _Common, start: str, end: str) -> str: ...
def spark_trending_shard(common: _Common, start: str, end: str) -> str: ...

# Raised (never defined) here: the classes of kbatch/errors.py, chosen by the reader's error
# kind, each with .topic, .partition and .retriable. A panic inside the extension raises
# kbatch.errors.InternalError, never pyo3's PanicException.
