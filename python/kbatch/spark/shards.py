"""One shard and how an executor reads it whatever retention deleted meanwhile: what the
plain read (:mod:`.source`) and the trending pushdown (:mod:`.pushdown`) share.

A shard's range was resolved on the driver; by the time an executor reads it, retention or
``delete-records`` may have removed its first offsets, and the read fails with a
:class:`kbatch.RangeError`. :func:`resume` is the one loop that decides what then happens
(:func:`lost_start`: fail, naming the range, with ``failOnDataLoss=true``; else skip the deleted
offsets, log them and read on).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from pyspark.sql.datasource import InputPartition

from .options import Request

if TYPE_CHECKING:
    from .. import _native

__all__ = ["Shard", "common", "lost_start", "resume", "log"]

T = TypeVar("T")


def log(message: str) -> None:
    """One line on stderr: the driver's log for planning, the executor's log for reads."""
    print(f"kbatch.spark: {message}", file=sys.stderr, flush=True)


class Shard(InputPartition):
    """One contiguous piece ``[start, end)`` of one partition; or, with ``lost`` set, the
    offsets the driver skipped (``failOnDataLoss=false``), reported by the pushdown's totals."""

    def __init__(self, topic: str, partition: int, start: int, end: int, lost: int = 0) -> None:
        super().__init__((topic, partition, start, end, lost))
        self.topic, self.partition, self.start, self.end, self.lost = topic, partition, start, end, lost

    def __repr__(self) -> str:
        return f"Shard({self.topic}-{self.partition} [{self.start}, {self.end}))"


def common(r: Request, topics: list[str], partitions: list[int] | None = None) -> _native._Common:
    """The native calls' shared arguments for ``topics`` of a request."""
    import kbatch

    return kbatch._common(topics, r.bootstrap, partitions, r.isolation, r.config_dict())


def lost_start(r: Request, topic: str, partition: int, pos: int, end: int, error: Exception) -> int:
    """After a read of ``[pos, end)`` failed with a range error: where to go on.

    ``failOnDataLoss=true`` raises, naming the range; false moves to the partition's earliest
    offset if records below it were deleted, logs the skipped offsets and returns the new
    position. Any other range error is raised as it is.
    """
    import kbatch

    if r.fail_on_data_loss:
        raise kbatch.RangeError(
            f"{topic}-{partition} [{pos}, {end}) cannot be read (failOnDataLoss=true; set it to "
            f"false to skip deleted records): {error}"
        ) from error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        offs = kbatch.offsets(topic, bootstrap=r.bootstrap, partitions=[partition], isolation=r.isolation,
                              config=r.config_dict())
    first = offs[0]["earliest"]
    if first <= pos:
        raise error
    log(f"failOnDataLoss=false: skipping {topic}-{partition} [{pos}, {min(first, end)}): deleted")
    return min(first, end)


def resume(r: Request, s: Shard, read: Callable[[int, int], Iterator[tuple[T, int]]]) -> Iterator[T]:
    """Read shard ``s`` with ``read(pos, lost)`` from its start, going on after deleted offsets.

    ``read`` yields ``(item, next_pos)``: each item is passed on, and a later
    :class:`kbatch.RangeError` resumes from ``next_pos`` of the last item (or from where the
    failed attempt started), moved by :func:`lost_start`; ``lost`` is how many offsets were
    skipped so far. ``pos`` may reach ``s.end`` that way: ``read`` then yields what an empty
    rest of the shard gives.
    """
    import kbatch

    pos, lost = s.start, 0
    while True:
        try:
            for item, next_pos in read(pos, lost):
                yield item
                pos = next_pos
            return
        except kbatch.RangeError as e:
            moved = lost_start(r, s.topic, s.partition, pos, s.end, e)
            lost += moved - pos
            pos = moved
