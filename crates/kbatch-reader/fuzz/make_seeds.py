#!/usr/bin/env python3
"""Writes the fetch_driver target's seeds (seeds/fetch_driver/*.bin) and regression inputs
(regressions/fetch_driver/*.bin): readable scenarios in the byte format that
kbatch_reader::fuzzing documents, from which the fuzzer mutates.
Run from anywhere: python3 crates/kbatch-reader/fuzz/make_seeds.py"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def setup(parts, uncommitted=False):
    """parts: (topic 't'|'u', start 0..15, length 0..39, leader 1..3)"""
    out = [(len(parts) - 1) | (4 if uncommitted else 0)]
    for topic, start, length, leader in parts:
        out += [(0x80 if topic == "u" else 0) | start, length + 40 * (leader - 1)]
    return out


def batch(n, kind=0, epoch=0, compacted=False, codec=0, commit=False):
    """n records 1..6; kind 0 plain, 5 transactional, 6 marker, 7 compressed (codec 0..3)."""
    b = (n - 1) | (8 if compacted else 0)
    c = epoch | (kind << 2) | (codec << 5 if kind == 7 else 0) | (0x80 if commit else 0)
    return [b, c]


def records(batches, first_delta=0, gaps=None, mutation=None):
    """Batches near the fetch offset; first_delta -4..3 from it; gaps -1..2 after each."""
    if not batches:
        return [0, 0]
    gaps = gaps or [0] * len(batches)
    out = [2 + ((len(batches) - 1) << 3), first_delta + 4]
    for b, g in zip(batches, gaps):
        out += b + [g + 1]
    out += mutation or [0]
    return out


def copy(recs, head=None, aborted=None):
    """head: [] no error, or [10, code], [12, epoch+1, delta+8], [13, replica], ..."""
    out = (head or [0]) + recs
    out += [0, aborted + 8] if aborted is not None else [1]
    return out


def fetch(parts, kind=4, throttle=None, grouped=True, reverse=False):
    """parts: per asked partition, in request order: (mode, [copies...]); mode 1 once,
    6 twice, 7 once plus an unrequested one (then a byte choosing it, then its copy)."""
    k = kind | (0x10 if grouped else 0) | (0x20 if reverse else 0)
    out = [k] + (throttle or [0])
    for mode, body in parts:
        out += [mode] + body
    return out


def one(n_batches_of_5, **kw):
    return (1, copy(records([batch(5)] * n_batches_of_5), **kw))


SEEDS = {
    # One partition [0, 10) in two batches of five: read exactly, then the final metadata.
    "happy": setup([("t", 0, 10, 1)]) + fetch([one(2)]),
    # Two topics, three partitions, two leaders.
    "three_partitions": setup([("t", 0, 10, 1), ("u", 3, 5, 2), ("t", 0, 5, 1)])
    + fetch([one(1), (1, copy(records([batch(5)], first_delta=0)))])
    + fetch([one(1)])
    + fetch([one(1)]),
    # A partition that was not asked for.
    "unrequested": setup([("t", 0, 10, 1)]) + fetch([(7, copy(records([batch(5)])) + [2] + copy(records([batch(5)])))]),
    # Throttled, then served.
    "throttled": setup([("t", 0, 5, 1)]) + fetch([one(1)], throttle=[6]) + fetch([one(1)]),
    # Leadership moves: NOT_LEADER_OR_FOLLOWER, metadata moves it, the new leader serves.
    "leader_moves": setup([("t", 0, 10, 1)])
    + fetch([(1, copy([0, 0], head=[10, 4]))]) + [0x10]
    + fetch([one(2)]),
    # The connection drops; metadata fails once; then served.
    "connection_drops": setup([("t", 0, 5, 1), ("t", 0, 5, 2)]) + [0] + [10] + fetch([one(1)]) + fetch([one(1)]),
    # Transactions: data, an abort marker, an aborted-transaction entry, under read_committed.
    "transactions": setup([("t", 0, 10, 1)])
    + fetch([(1, copy(records([batch(4, kind=5), batch(1, kind=6), batch(5)]), aborted=0))]),
    # Compressed batches (gzip, snappy, lz4, zstd).
    "codecs": setup([("t", 0, 20, 1)], uncommitted=True)
    + fetch([(1, copy(records([batch(5, kind=7, codec=c) for c in range(4)])))]),
    # A truncated trailing batch, then a corrupt one.
    "truncated_then_corrupt": setup([("t", 0, 10, 1)])
    + fetch([(1, copy(records([batch(5), batch(5)], mutation=[1, 9])))])
    + fetch([(1, copy(records([batch(5)], mutation=[2, 0, 40, 3])))]),
    # Diverging epoch, then out of range.
    "diverging": setup([("t", 4, 10, 1)]) + fetch([(1, copy([0, 0], head=[12, 2, 8]))]),
    "out_of_range": setup([("t", 4, 10, 1)]) + fetch([(1, copy([0, 0], head=[14, 8, 0, 8]))]) + fetch([(1, copy([0, 0], head=[10, 0]))]),
    # A top-level error code, then a recreated topic in metadata.
    "top_level_error": setup([("t", 0, 10, 1)]) + [3, 4] + [11] + fetch([one(2)]),
    # Batches behind the cursor, overlapping, with gaps and compaction.
    "gaps_and_overlap": setup([("t", 2, 30, 1)])
    + fetch([(1, copy(records([batch(5), batch(5, compacted=True), batch(3)], first_delta=-2, gaps=[-1, 2, 0])))])
    + fetch([(1, copy(records([batch(6)] * 3, first_delta=-4)))]),
}

# Inputs that broke a promise once (regressions/fetch_driver/): a partition listed twice in one
# response, the copies different.
REGRESSIONS = {
    # The second copy is shorter: the driver sliced it by the first copy's length (a panic).
    "duplicate_shorter": setup([("t", 0, 10, 1)])
    + fetch([(6, copy(records([batch(5), batch(5)])) + copy(records([batch(2)])))]),
    # The second copy is longer, of another epoch, with an aborted transaction: its bytes (never
    # walked) and its aborted list were delivered under the first copy's length.
    "duplicate_differs": setup([("t", 0, 10, 1)])
    + fetch([(6, copy(records([batch(5)])) + copy(records([batch(5, epoch=3), batch(5)]), aborted=0))])
    + fetch([one(1)]),
}

if __name__ == "__main__":
    for sub, inputs in (("seeds", SEEDS), ("regressions", REGRESSIONS)):
        out = os.path.join(HERE, sub, "fetch_driver")
        os.makedirs(out, exist_ok=True)
        for name, data in inputs.items():
            with open(os.path.join(out, name + ".bin"), "wb") as f:
                f.write(bytes(b & 0xFF for b in data))
        print(f"{len(inputs)} inputs in {out}")
