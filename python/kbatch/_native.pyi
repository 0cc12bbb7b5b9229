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
    def close(self) -> None: ...
