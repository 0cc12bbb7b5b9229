"""The shard plan, pure: which planner calls resolve a request, and how resolved ranges become
Spark input partitions. No I/O; :mod:`kbatch.spark.source` does the calls.

A *range* is ``(topic, partition, start, end)``, half-open, fixed numbers (the driver resolved
``latest`` and timestamps once). A *shard* is one contiguous piece of one range; the shards of
a range tile it exactly (no gap, no overlap), so reading every shard reads every offset of the
range exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .options import Request

__all__ = ["Range", "Call", "Skip", "select_topics", "calls", "clamp_lost", "shards"]

Range = tuple[str, int, int, int]


@dataclass(frozen=True)
class Call:
    """One call of kbatch's planner: these partitions of ``topic`` with one start and end SPEC."""

    topic: str
    partitions: tuple[int, ...]
    start: str
    end: str


@dataclass(frozen=True)
class Skip:
    """Offsets ``[start, end)`` of a partition that are gone (retention, delete-records) and
    were skipped because ``failOnDataLoss`` is false."""

    topic: str
    partition: int
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition} [{self.start}, {self.end})"


def select_topics(request: Request, existing: Iterable[str]) -> list[str]:
    """The topics a request reads, given the cluster's topic names (only needed for
    ``subscribePattern``, which like Spark's matches the whole name)."""
    if request.mode == "subscribe":
        return list(request.topics)
    if request.mode == "assign":
        return [t for t, _ in request.assign]
    rx = re.compile(request.pattern)
    return sorted(t for t in existing if rx.fullmatch(t))


def calls(request: Request, partitions: Sequence[tuple[str, int]]) -> list[Call]:
    """Group ``(topic, partition)`` pairs by their start and end SPEC, one planner call each,
    in the order of the first partition of each group."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for topic, p in partitions:
        key = (topic, request.start.spec_for(topic, p), request.end.spec_for(topic, p))
        groups.setdefault(key, []).append(p)
    return [Call(t, tuple(sorted(ps)), s, e) for (t, s, e), ps in groups.items()]


def clamp_lost(
    calls_: Sequence[Call], earliest: dict[tuple[str, int], int], fail_on_data_loss: bool
) -> tuple[list[Call], list[Skip]]:
    """Explicit start offsets below a partition's earliest offset name deleted records.

    With ``failOnDataLoss`` true the planner's error stands (the call is returned unchanged);
    with false the start moves up to the earliest offset and the gap is reported as a
    :class:`Skip`. Only plain-offset starts can point below the log start; earliest and
    timestamps never do.
    """
    if fail_on_data_loss:
        return list(calls_), []
    out: list[Call] = []
    skipped: list[Skip] = []
    for c in calls_:
        if not re.fullmatch(r"\d+", c.start):
            out.append(c)
            continue
        start = int(c.start)
        keep: list[int] = []
        moved: dict[int, list[int]] = {}
        for p in c.partitions:
            first = earliest.get((c.topic, p), 0)
            if start < first:
                moved.setdefault(first, []).append(p)
                skipped.append(Skip(c.topic, p, start, first))
            else:
                keep.append(p)
        if keep:
            out.append(Call(c.topic, tuple(keep), c.start, c.end))
        for first, ps in sorted(moved.items()):
            out.append(Call(c.topic, tuple(ps), str(first), c.end))
    return out, skipped


def _divide(r: Range, parts: int) -> list[Range]:
    """``parts`` contiguous, non-empty pieces of ``r``, in offset order (integer arithmetic:
    piece i is ``[start + size*i//parts, start + size*(i+1)//parts)``)."""
    topic, p, start, end = r
    size = end - start
    cuts = [start + size * i // parts for i in range(parts + 1)]
    return [(topic, p, a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def shards(
    ranges: Sequence[Range], min_partitions: int | None, max_records: int | None
) -> list[Range]:
    """Spark's ``KafkaOffsetRangeCalculator`` with exact integer cuts.

    Empty ranges are dropped. With ``maxRecordsPerPartition``, a range of ``n`` offsets becomes
    ``ceil(n / max)`` pieces. Then, if there are fewer pieces than ``minPartitions``, each is
    cut again into ``max(1, round(n / total * minPartitions))`` pieces (round half up, as
    Java's ``Math.round``), so large ranges take most of the parallelism. Sizes count offsets
    (control and aborted records included), as Spark's do.
    """
    live = [r for r in ranges if r[3] > r[2]]
    if max_records is not None:
        live = [piece for r in live for piece in _divide(r, -(-(r[3] - r[2]) // max_records))]
    if min_partitions is not None and min_partitions > len(live):
        total = sum(r[3] - r[2] for r in live)
        out: list[Range] = []
        for r in live:
            size = r[3] - r[2]
            # round(size / total * min) half up == floor((2*size*min + total) / (2*total))
            parts = max(1, (2 * size * min_partitions + total) // (2 * total))
            out.extend(_divide(r, parts))
        live = out
    return live
