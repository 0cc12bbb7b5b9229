"""One ``kbatch top`` question answered the way users answer it without kbatch top: ``kbatch.read``
of the topic into a ``pyarrow.Table``, then DuckDB running the equivalent SQL over that table in
the same process (``bench_top``'s comparison; the SQL comes from the harness, which also runs the
``kbatch top`` it must equal).

The SQL reads the table as ``t`` (kbatch.read's columns: ``value`` as BLOB, ``timestamp``, ...) and
returns the columns ``g0``, ``g1``, ..., ``item``, ``value``, ``rank`` (and ``w``, a window's
start in ms, with ``--window``). The rows are printed as
``kbatch top --format json`` spells them: ``{<group path>: ..., <item path>: ..., "value": n,
"rank": r, "window_start"?}`` with the paths' names from ``--names``, in kbatch's order (window, group, rank, item; Python
orders str by code point, which is the byte order of their UTF-8).

Prints one JSON object: ``{"records", "top", "read_wall", "read_cpu", "sql_wall", "sql_cpu"}``
(the two phases' own wall and process CPU seconds; the harness measures the whole process).

Usage: duckdb_top.py BOOTSTRAP TOPIC --names G0,G1,...,ITEM --sql SQL [--start SPEC]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from typing import Any

import duckdb

import kbatch


def rfc3339(ms: int) -> str:
    """A window's start as kbatch prints it: UTC, ``.mmm`` only when it has milliseconds."""
    t = dt.datetime.fromtimestamp(ms // 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{t}.{ms % 1000:03d}Z" if ms % 1000 else f"{t}Z"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("--names", required=True, help="the group paths and the item path, by commas")
    ap.add_argument("--sql", required=True)
    ap.add_argument("--start", default="earliest", help="kbatch.read's start (a --from SPEC)")
    a = ap.parse_args()
    names = a.names.split(",")
    groups, item = names[:-1], names[-1]

    w0, c0 = time.perf_counter(), time.process_time()
    t = kbatch.read(a.topic, bootstrap=a.bootstrap, start=a.start)
    w1, c1 = time.perf_counter(), time.process_time()
    con = duckdb.connect()
    con.register("t", t)
    res = con.execute(a.sql)
    cols = [d[0] for d in res.description]
    got = [dict(zip(cols, r)) for r in res.fetchall()]
    w2, c2 = time.perf_counter(), time.process_time()

    rows: list[dict[str, Any]] = []
    for r in got:
        row: dict[str, Any] = {g: r[f"g{i}"] for i, g in enumerate(groups)}
        row[item] = r["item"]
        row["value"] = int(r["value"])
        row["rank"] = int(r["rank"])
        if "w" in r:
            row["window_start"] = rfc3339(int(r["w"]))
        rows.append(row)
    rows.sort(key=lambda r: (r.get("window_start", ""), *[r[g] for g in groups], r["rank"], r[item]))
    print(json.dumps({
        "records": t.num_rows,
        "top": rows,
        "read_wall": w1 - w0,
        "read_cpu": c1 - c0,
        "sql_wall": w2 - w1,
        "sql_cpu": c2 - c1,
    }))


if __name__ == "__main__":
    main()
