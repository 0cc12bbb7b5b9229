"""``kbatch top`` against an independent oracle: DuckDB running the equivalent SQL.

Events are produced into a real broker (the session's testkit broker) by Kafka's Java producer:
realistic nested browsing events (``{"page": {"category"}, "item_id", "device": {"os"},
"customer", "qty", "price", ...}``, four serializers, decoys named like the paths in nested
objects and in strings, keys, headers, timestamps out of order over five hours) and the tricky
records of the issue (escapes, duplicate keys, numbers at the f64 edge, missing and null fields,
non-string group values, invalid JSON and UTF-8). The testkit's realistic ``serializers`` mix
goes to a second topic.

DuckDB's input is read back by another Kafka client, librdkafka (``confluent_kafka``), so
neither kbatch's reader nor its JSON code is on the oracle's side. Every query shape runs as
``kbatch top --format json`` at ``--threads 1`` and ``2`` and through ``kbatch.top``, and must
equal DuckDB's answer row for row (``json_extract_string``, ``sum``, ``count(distinct …)``,
``rank() over (partition by … order by … desc)``, windows by ``ts // size * size``).

Where DuckDB's JSON semantics differ from kbatch's documented ones, the oracle's input says so
and the kbatch rule is checked instead (each difference has its own test below):

* **JSON validity** — kbatch takes serde_json's rules; DuckDB (yyjson) also accepts ``NaN``,
  numbers beyond the f64 range (``1e400``) and nesting deeper than 127. Python's strict
  ``json`` (with those three refused) decides which values are JSON, DuckDB only reads those.
* **Invalid UTF-8** — refused by kbatch (``bad_utf8``) wherever it is; DuckDB cannot hold it in
  a VARCHAR at all.
* **Duplicate keys** on a path (the key itself or an object on its way) — kbatch says
  ``duplicate_field``; DuckDB takes the first. Python's parser lists the duplicated paths and
  the SQL leaves those events out.
* **Number text** — kbatch groups by a number's text as written (``1.50``, ``1e2``, ``-0``);
  DuckDB prints its own form (``1.5``, ``100.0``, ``0``). The oracle's numbers at group paths
  are written canonically; the non-canonical ones have their own test.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Union

import duckdb
import kbatch
import pyarrow as pa
import pytest
from conftest import BASE_TS, CLI, Rec, kit, produce

TOPIC = "top_oracle"
MIX_TOPIC = "top_oracle_mix"
PARTS = 3
EVENTS = 2400
MIX_EVENTS = 2000
HOUR = 3_600_000
#: The first event's timestamp: 03:17 on the test's day, so windows start part-way in.
T0 = BASE_TS + 3 * HOUR + 17 * 60_000
SPAN = 5 * HOUR
#: A cut inside the span, for the timestamp filters (05:40:00Z).
T_CUT = BASE_TS + 5 * HOUR + 40 * 60_000

Path = tuple[Union[str, int], ...]

# --------------------------------------------------------------------------------------------
# The events


class Raw:
    """A number written exactly as given."""

    def __init__(self, text: str) -> None:
        self.text = text


def write(v: Any, style: str, depth: int = 0) -> str:
    """JSON text of ``v`` as one of four serializers writes it: ``compact`` (UTF-8 as is),
    ``python`` (``json.dumps``' defaults: non-ASCII as ``\\u`` escapes), ``sorted`` (sorted
    keys) or ``pretty`` (two-space indentation)."""
    ascii_only = style in ("python", "sorted")
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=ascii_only)
    if v is None or isinstance(v, bool) or isinstance(v, int):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ",".join(write(x, style, depth + 1) for x in v) + "]"
    assert isinstance(v, (dict, Pairs))
    items = list(v.items())
    if style == "sorted":
        items.sort(key=lambda kv: kv[0])
    colon, comma = (": ", ", ") if style == "python" else (":", ",")
    if style == "pretty":
        pad = "\n" + "  " * (depth + 1)
        inner = ("," + pad).join(f"{json.dumps(k, ensure_ascii=False)}: {write(x, style, depth + 1)}"
                                 for k, x in items)
        return "{" + pad + inner + "\n" + "  " * depth + "}" if items else "{}"
    return "{" + comma.join(f"{json.dumps(k, ensure_ascii=ascii_only)}{colon}{write(x, style, depth + 1)}"
                            for k, x in items) + "}"


class Pairs:
    """An object with its members in order, duplicates allowed."""

    def __init__(self, *items: tuple[str, Any]) -> None:
        self._items = list(items)

    def items(self) -> list[tuple[str, Any]]:
        return self._items


CATEGORIES = ["Books", "Küche", "Café & Thé", "Toys & Games", "Électroménager", "Sports"]
OSES = ["iOS", "Android", "Windows", "macOS", "Linux"]
STYLES = ["compact", "compact", "python", "sorted", "pretty"]


def realistic(rng: random.Random, i: int) -> tuple[bytes | None, bytes, list[tuple[str, bytes | None]]]:
    """One browsing event: (key, value, headers)."""
    cat = CATEGORIES[min(int(rng.random() ** 1.5 * len(CATEGORIES)), len(CATEGORIES) - 1)]
    item = f"I{int(rng.random() ** 2 * 30):03d}"  # skewed: a few items dominate, ties in the tail
    customer = f"C{rng.randrange(400):04d}"
    os_name = OSES[rng.randrange(len(OSES))]
    ev: dict[str, Any] = {"event_id": f"e{i}", "ts": T0 + i}
    if rng.random() < 0.2:  # decoys first: a walker that stops at the first name is wrong
        ev["category"] = "Decoy-top"
        ev["note"] = 'copied {"page":{"category":"Decoy-string"},"item_id":"Decoy-string"}'
        ev["ref"] = {"page": {"category": "Decoy-nested"}, "item_id": "Decoy-nested", "customer": "C9999"}
        ev["list"] = [{"item_id": "Decoy-array"}, {"page": {"category": "Decoy-array"}}]
    page = {"category": cat, "url": f"/p/{item}?q=x&r=\"y\""}
    if rng.random() < 0.3:
        page = {"url": page["url"], "category": cat}
    ev["page"] = page
    ev["item_id"] = item
    ev["device"] = {"type": "mobile" if os_name in ("iOS", "Android") else "desktop",
                    "os": os_name, "screen": {"w": Raw("412"), "h": Raw("915")}}
    ev["customer"] = customer
    ev["qty"] = Raw(str(1 + int(rng.random() ** 2 * 5)))
    ev["price"] = Raw(f"{rng.randint(1, 300)}.{rng.randrange(100):02d}")
    ev["tags"] = [rng.choice(["sale", "new", "gift", "eco"]) for _ in range(rng.randrange(4))]
    r = rng.random()
    if r < 0.3:
        ev["coupon"] = rng.choice(["SAVE10", "WELCOME"])
    elif r < 0.35:
        ev["coupon"] = None
    if rng.random() < 0.05:
        ev["page.category"] = "Dotted-" + cat
    if rng.random() < 0.5:  # another key order: item and customer before the page
        ev = {k: ev[k] for k in ["event_id", "item_id", "customer", *[k for k in ev if k not in
                                 ("event_id", "item_id", "customer")]]}
    value = write(ev, STYLES[rng.randrange(len(STYLES))]).encode()
    key = customer.encode() if rng.random() < 0.8 else None
    headers: list[tuple[str, bytes | None]] = []
    if rng.random() < 0.85:
        headers.append(("src", rng.choice([b"web", b"app"])))
    if rng.random() < 0.1:
        headers.append(("trace", None))
    return key, value, headers


def base(**over: Any) -> dict[str, Any]:
    """A valid event to change one thing in."""
    ev: dict[str, Any] = {"page": {"category": "Books"}, "item_id": "I001", "device": {"os": "iOS"},
                          "customer": "C0001", "qty": Raw("2"), "price": Raw("10.00")}
    ev.update(over)
    return {k: v for k, v in ev.items() if v is not _DROP}


_DROP = object()
DEEP = "[" * 200 + "]" * 200


def tricky() -> list[tuple[str, bytes | None, str | None]]:
    """The issue's tricky examples: ``(key, value, the reason kbatch gives without any path
    trouble — None for JSON that is valid by serde_json's rules)``. Keys name the case, so a
    ``key`` filter selects them. Path-level reasons (missing, wrong type, duplicates) are worked
    out per query by :func:`reason_for`."""
    c = lambda ev, style="compact": write(ev, style).encode()  # noqa: E731
    cases: list[tuple[str, bytes | None, str | None]] = []
    add = lambda key, value, reason=None: cases.append((key, value, reason))  # noqa: E731
    # escapes: the same strings after unescaping as the realistic ones, so they count together
    for _ in range(3):
        add("esc-category", b'{"page":{"category":"Caf\\u00e9 & Th\\u00e9"},"item_id":"I001",'
            b'"device":{"os":"iOS"},"customer":"C0001","qty":2,"price":1.00}')
    add("esc-item", b'{"page":{"category":"Books"},"item_id":"I\\u0030\\u00302","device":{"os":"iOS"},'
        b'"customer":"C0002","qty":1,"price":2.50}')
    add("esc-key", b'{"page":{"category":"Books"},"item\\u005fid":"I003","device":{"os":"iOS"},'
        b'"customer":"C0003","qty":1,"price":2.50}')
    for _ in range(2):
        add("esc-quotes", c(base(item_id='say "hi" \\ back/slash')))
    add("esc-quotes", b'{"page":{"category":"Books"},"item_id":"say \\"hi\\" \\\\ back\\/slash",'
        b'"device":{"os":"Android"},"customer":"C0004","qty":3,"price":3.00}')
    add("esc-emoji", b'{"page":{"category":"Books"},"item_id":"\\ud83d\\ude00 smile","device":{"os":"iOS"},'
        b'"customer":"C0005","qty":1,"price":1.00}')
    add("esc-emoji", c(base(item_id="\U0001F600 smile", customer="C0006")))
    add("esc-control", c(base(item_id="tab\there\nline")))
    # duplicate keys off the paths are fine (JSON allows them; kbatch only looks at the paths)
    add("dup-unrelated", b'{"x":1,"x":2,"page":{"category":"Books"},"item_id":"I001","device":{"os":"iOS"},'
        b'"customer":"C0007","qty":1,"price":1.00}')
    add("dup-decoy", b'{"ref":{"item_id":"a","item_id":"b"},"page":{"category":"Books"},"item_id":"I001",'
        b'"device":{"os":"iOS"},"customer":"C0008","qty":1,"price":1.00}')
    # duplicates on a path: duplicate_field for queries that use the path (DuckDB: first wins)
    add("dup-item", b'{"page":{"category":"Books"},"item_id":"I001","item_id":"I002","device":{"os":"iOS"},'
        b'"customer":"C0009","qty":1,"price":1.00}')
    add("dup-category", b'{"page":{"category":"Books","category":"Sports"},"item_id":"I001",'
        b'"device":{"os":"iOS"},"customer":"C0010","qty":1,"price":1.00}')
    add("dup-page", b'{"page":{"category":"Books"},"page":{"category":"Sports"},"item_id":"I001",'
        b'"device":{"os":"iOS"},"customer":"C0011","qty":1,"price":1.00}')
    # numbers at the f64 edge, off the paths: valid by serde_json's rules
    add("num-edge", c(base(big=Raw("1.7976931348623157e308"), small=Raw("-1.7976931348623157e308"),
                           tiny=Raw("5e-324"), under=Raw("1e-400"),
                           huge_int=Raw("123456789012345678901234567890"))))
    # ... and beyond it: bad_json for kbatch (serde_json), a valid value to DuckDB
    add("num-over", c(base(over=Raw("1e400"))), "bad_json")
    add("num-over", c(base(over=Raw("-1e309"))), "bad_json")
    add("num-over", c(base(over=Raw("1" + "0" * 400))), "bad_json")
    add("nan", c(base(score=Raw("NaN"))), "bad_json")
    add("deep", c(base(deep=Raw(DEEP))), "bad_json")
    # integers beyond i64 for sum:qty (exact: i128), and a string qty (wrong_type for sum)
    for q in ("9223372036854775807", "9223372036854775807", "18446744073709551615"):
        add("qty-big", c(base(page={"category": "Sports"}, item_id="I-big", qty=Raw(q))))
    add("qty-string", c(base(qty="3")))
    add("qty-null", c(base(qty=None)))
    add("qty-missing", c(base(qty=_DROP)))
    # non-string group values (their text: canonical numbers and literals, as DuckDB prints them)
    add("nonstring", c(base(device={"os": Raw("7")})))
    add("nonstring", c(base(device={"os": True})))
    add("nonstring", c(base(page={"category": Raw("42")}, item_id=Raw("1001"))))
    add("nonstring", c(base(page={"category": Raw("42")}, item_id=False)))
    add("nonstring", c(base(customer=Raw("12345"))))
    # missing and null fields
    add("missing", c(base(item_id=_DROP)))
    add("missing", c(base(page={"url": "/p"})))
    add("missing", c(base(page=_DROP)))
    add("missing", c(base(device={"type": "mobile"})))
    add("missing", c(base(customer=_DROP)))
    add("null", c(base(item_id=None)))
    add("null", c(base(page={"category": None})))
    add("null", c(base(page=None)))
    add("null", c(base(device={"os": None})))
    add("null", c(base(customer=None)))
    # objects and arrays where a scalar is expected
    add("wrongtype", c(base(item_id={"a": 1})))
    add("wrongtype", c(base(item_id=["I001"])))
    add("wrongtype", c(base(page={"category": ["Books"]})))
    add("wrongtype", c(base(device={"os": {"name": "iOS"}})))
    add("wrongtype", c(base(page="Books")))
    # decoys: the path's names in strings, nested objects, arrays and look-alike keys first
    add("decoy", b'{"note":"{\\"page\\":{\\"category\\":\\"Evil\\"},\\"item_id\\":\\"Evil\\"}",'
        b'"list":[{"item_id":"Evil"}],"ref":{"page":{"category":"Evil"}},"item_idx":"Evil",'
        b'"page_category":"Evil","Page":{"category":"Evil"},"page":{"category":"Books"},"item_id":"I001",'
        b'"device":{"os":"iOS","os_name":"Evil"},"customer":"C0012","qty":1,"price":1.00}')
    add("decoy", c(base(**{"page.category": "Dotted-Books"}), "pretty"))
    add("whitespace", b' \t\r\n{ "page" : { "category" : "Books" } ,\n\t"item_id" : "I001" , "device":'
        b'{"os":"iOS"},"customer":"C0013","qty":1,"price":1.00 } \n')
    # not valid events whatever the query (the reasons precede any path's)
    add("bad-tombstone", None, "tombstone")
    add("bad-empty", b"", "empty")
    add("bad-utf8", b'{"page":{"category":"Books"},"item_id":"I\xc3","device":{"os":"iOS"},"customer":"C1"}',
        "bad_utf8")
    add("bad-utf8", b'{"note":"\xff","page":{"category":"Books"},"item_id":"I001","device":{"os":"iOS"},'
        b'"customer":"C1","qty":1,"price":1.00}', "bad_utf8")
    add("bad-json", c(base())[:-7], "bad_json")
    add("bad-json", c(base()) + b" x", "bad_json")
    add("bad-json", b'{"page":{"category":"Books"},"item_id":"I001",}', "bad_json")
    add("bad-json", b"{'page':{'category':'Books'},'item_id':'I001'}", "bad_json")
    add("bad-json", b'{"page":{"category":"Bo\nks"},"item_id":"I001"}', "bad_json")
    add("bad-json", "\ufeff".encode() + c(base()), "bad_json")
    add("bad-json", b'{"item_id":"I001","item_id":"I002"', "bad_json")  # duplicate, then broken
    add("bad-notobject", b'[{"page":{"category":"Books"},"item_id":"I001"}]', "not_object")
    add("bad-notobject", b'"I001"', "not_object")
    add("bad-notobject", b"42", "not_object")
    return cases


# --------------------------------------------------------------------------------------------
# kbatch's rules on the Python side: JSON validity (serde_json's) and duplicated paths


class _Dup(dict):  # type: ignore[type-arg]
    """An object that remembers the keys it saw twice."""

    dups: tuple[str, ...] = ()


def _pairs(items: list[tuple[str, Any]]) -> _Dup:
    d = _Dup()
    seen = set()
    dups = []
    for k, v in items:
        if k in seen:
            dups.append(k)
        seen.add(k)
        d[k] = v
    d.dups = tuple(dups)
    return d


def _refuse(text: str) -> Any:
    raise ValueError(f"not JSON: {text}")


def _finite(text: str) -> float:
    f = float(text)
    if f in (float("inf"), float("-inf")):
        raise ValueError("beyond the f64 range")
    return f


def _int(text: str) -> Any:
    _finite(text)  # serde_json reads integers beyond u64/i64 as f64: the same range
    return int(text)


def _depth(v: Any) -> int:
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    return 0


def _dup_paths(v: Any, at: Path = ()) -> list[Path]:
    out: list[Path] = []
    if isinstance(v, _Dup):
        out += [at + (k,) for k in v.dups]
        for k, x in v.items():
            out += _dup_paths(x, at + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += _dup_paths(x, at + (i,))
    return out


@dataclass
class Checked:
    """What kbatch's rules say about one value before any path is looked at."""

    reason: str | None  # tombstone, empty, bad_utf8, bad_json, not_object; None: an object
    obj: Any = None
    text: str | None = None
    dups: list[Path] = field(default_factory=list)


def check_json(value: bytes | None) -> Checked:
    if value is None:
        return Checked("tombstone")
    if value == b"":
        return Checked("empty")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return Checked("bad_utf8")
    try:
        obj = json.loads(text, object_pairs_hook=_pairs, parse_constant=_refuse, parse_float=_finite,
                         parse_int=_int)
    except (ValueError, RecursionError):
        return Checked("bad_json")
    if _depth(obj) > 127:
        return Checked("bad_json")
    if not isinstance(obj, dict):
        return Checked("not_object")
    return Checked(None, obj, text, _dup_paths(obj))


def prefixes(p: Path) -> list[Path]:
    return [p[:i] for i in range(1, len(p) + 1)]


def lookup(obj: Any, p: Path) -> tuple[str, Any]:
    """``("found", value)``, ``("missing", None)``, or ``("blocked", None)`` when a step meets
    a value it cannot go into (a scalar, null, or the wrong kind of container)."""
    for step in p:
        want = list if isinstance(step, int) else dict
        if not isinstance(obj, want):
            return "blocked", None
        if isinstance(step, int) and step >= len(obj) or not isinstance(step, int) and step not in obj:
            return "missing", None
        obj = obj[step]
    return "found", obj


#: The reason kbatch gives a path whose value is JSON null: an object, array, null, or a path
#: blocked on the way (``page`` a string for ``page.category``) is wrong_type; only a path that
#: is not there is missing_field.
NULL_REASON = "wrong_type"


def reason_for(c: Checked, paths: Sequence[Path], numeric: Sequence[Path] = ()) -> str | None:
    """kbatch's reason for an event given the paths a query reads (``numeric``: those that must
    hold a number, ``sum:``'s); None: a valid event. duplicate_field, wrong_type, missing_field
    in that order, after the value-level reasons."""
    if c.reason:
        return c.reason
    dup = set(map(tuple, c.dups))
    if any(q in dup for p in paths for q in prefixes(p)):
        return "duplicate_field"
    reasons = set()
    for p in paths:
        found, v = lookup(c.obj, p)
        if found == "missing":
            reasons.add("missing_field")
        elif found == "blocked" or v is None:
            reasons.add(NULL_REASON)
        elif isinstance(v, (dict, list)):
            reasons.add("wrong_type")
        elif p in numeric and (isinstance(v, (str, bool))):
            reasons.add("wrong_type")
    for r in ("wrong_type", "missing_field"):
        if r in reasons:
            return r
    return None


# --------------------------------------------------------------------------------------------
# Paths in the CLI's grammar and in DuckDB's


def cli_path(p: Path) -> str:
    out = ""
    for step in p:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            plain = step.replace("_", "a").isalnum() and step.isascii()
            name = step if plain else json.dumps(step)
            out += ("." if out else "") + name
    return out


def duck_path(p: Path) -> str:
    out = "$"
    for step in p:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            plain = step.replace("_", "a").isalnum() and step.isascii()
            out += "." + (step if plain else json.dumps(step))
    return out


#: Metric paths that hold integers (summed as HUGEINT); the others hold decimals with at most
#: 4 digits after the point.
INT_SUMS = {("qty",), ("quantity",)}
SCALAR_TYPES = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN')"
NUMBER_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE')"


def S(p: Path) -> str:
    """The path's text when it is a string, number or boolean; NULL otherwise."""
    d = duck_path(p)
    return f"(CASE WHEN json_type(j, '{d}') IN {SCALAR_TYPES} THEN json_extract_string(j, '{d}') END)"


def N(p: Path) -> str:
    """The path's number (DOUBLE) when it is one; NULL otherwise."""
    d = duck_path(p)
    number = f"CAST(json_extract_string(j, '{d}') AS DOUBLE)"
    return f"(CASE WHEN json_type(j, '{d}') IN {NUMBER_TYPES} THEN {number} END)"


def E(p: Path) -> str:
    """``exists(PATH)``: the path leads to a value, JSON null included (DuckDB's json_type
    is 'NULL' there, SQL NULL for a missing path)."""
    return f"(json_type(j, '{duck_path(p)}') IS NOT NULL)"


# --------------------------------------------------------------------------------------------
# Queries


@dataclass
class Where:
    cli: str
    sql: str
    paths: tuple[Path, ...] = ()


@dataclass
class Query:
    name: str
    group: tuple[Path, ...]
    item: Path
    metric: str = "count"  # count | sum:qty | sum:price | distinct:customer | approx_distinct:customer
    where: tuple[Where, ...] = ()
    window: tuple[str, int] | None = None  # (CLI text, milliseconds)
    top: int | str = 1
    topic: str = TOPIC

    def metric_path(self) -> Path | None:
        if self.metric == "count":
            return None
        return tuple(self.metric.split(":", 1)[1].split("."))

    def paths(self) -> list[Path]:
        m = self.metric_path()
        return [*self.group, self.item, *([m] if m else [])]

    def cli_args(self) -> list[str]:
        args = ["--group", ",".join(cli_path(g) for g in self.group), "--item", cli_path(self.item),
                "--metric", self.metric, "--top", str(self.top)]
        for w in self.where:
            args += ["--where", w.cli]
        if self.window:
            args += ["--window", self.window[0]]
        return args

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"group": [cli_path(g) for g in self.group], "item": cli_path(self.item),
                              "metric": self.metric, "top": self.top,
                              "where": [w.cli for w in self.where]}
        if self.window:
            kw["window"] = self.window[0]
        return kw


def oracle_sql(q: Query, final: str | None = None) -> str:
    """The DuckDB SQL of a query, over ``recs(topic, partition, "offset", ts, key, src,
    has_src, j, dups)`` where ``j`` is set only for values that are JSON by kbatch's rules
    and ``dups`` lists their duplicated paths (JSON text of each path)."""
    m = q.metric_path()
    used = [*q.paths(), *(p for w in q.where for p in w.paths)]
    dup_keys = sorted({json.dumps(list(x)) for p in used for x in prefixes(p)})
    dup_list = "[" + ", ".join("'" + d.replace("'", "''") + "'" for d in dup_keys) + "]::VARCHAR[]"
    groups = [f"{S(g)} AS g{i}" for i, g in enumerate(q.group)]
    gnames = [f"g{i}" for i in range(len(q.group))]
    valid = [f"{S(p)} IS NOT NULL" for p in (*q.group, q.item)]
    if q.metric == "count":
        metric_in, agg = "1", "count(*)"
    elif q.metric.startswith("sum:"):
        assert m is not None
        cast = "HUGEINT" if m in INT_SUMS else "DECIMAL(38, 4)"
        d = duck_path(m)
        metric_in = f"CAST(json_extract_string(j, '{d}') AS {cast})"
        valid.append(f"json_type(j, '{d}') IN {NUMBER_TYPES}")
        agg = "sum(m)"
    else:
        assert m is not None
        metric_in = S(m)
        valid.append(f"{S(m)} IS NOT NULL")
        agg = "count(DISTINCT m)"
    win = f"(ts // {q.window[1]}) * {q.window[1]}" if q.window else "NULL::BIGINT"
    filters = " AND ".join(f"({w.sql})" for w in q.where) or "TRUE"
    part = ", ".join(["w", *gnames])
    keep = "" if q.top == "all" else f"WHERE rank <= {int(q.top)}"
    return f"""
        WITH f AS (
            SELECT * FROM recs
            WHERE topic = '{q.topic}' AND j IS NOT NULL AND NOT list_has_any(dups, {dup_list}) AND {filters}
        ), v AS (
            SELECT {win} AS w, {", ".join(groups)}, {S(q.item)} AS item, {metric_in} AS m
            FROM f WHERE {" AND ".join(valid)}
        ), agg AS (
            SELECT w, {", ".join(gnames)}, item, {agg} AS value, count(*) AS events
            FROM v GROUP BY ALL
        ), ranked AS (
            SELECT *, rank() OVER (PARTITION BY {part} ORDER BY value DESC) AS rank FROM agg
        )
        {final or f"SELECT * FROM ranked {keep}"}
    """


_ORACLE: dict[tuple[int, str], tuple[list[dict[str, Any]], int]] = {}


def oracle(con: duckdb.DuckDBPyConnection, q: Query) -> tuple[list[dict[str, Any]], int]:
    """:func:`oracle_rows`, once per query and connection (each runner compares against it)."""
    key = (id(con), q.name)
    if key not in _ORACLE:
        _ORACLE[key] = oracle_rows(con, q)
    rows, valid = _ORACLE[key]
    return [dict(r) for r in rows], valid


def oracle_rows(con: duckdb.DuckDBPyConnection, q: Query) -> tuple[list[dict[str, Any]], int]:
    """DuckDB's rows, as kbatch's JSON spells them (keys in kbatch's order), in kbatch's row
    order (window, group, rank, item byte-wise: Python orders str by code point, which is the
    order of their UTF-8 bytes), and the number of valid events."""
    res = con.execute(oracle_sql(q))
    names = [d[0] for d in res.description]
    got = [dict(zip(names, r)) for r in res.fetchall()]
    rows = []
    for r in got:
        row: dict[str, Any] = {}
        for i, g in enumerate(q.group):
            row[cli_path(g)] = r[f"g{i}"]
        row[cli_path(q.item)] = r["item"]
        row["value"] = r["value"]
        row["rank"] = r["rank"]
        if q.window:
            row["window_start"] = r["w"]
        rows.append(row)
    gkeys = [cli_path(g) for g in q.group]
    ikey = cli_path(q.item)
    rows.sort(key=lambda r: (r.get("window_start", 0), *[r[k] for k in gkeys], r["rank"], r[ikey]))
    valid = con.execute(oracle_sql(q, final="SELECT count(*) FROM v")).fetchone()
    return rows, int(valid[0]) if valid else 0


def _ms(rfc3339: str) -> int:
    t = dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    assert t.utcoffset() == dt.timedelta(0), rfc3339
    return round(t.timestamp() * 1000)


def _same_value(metric: str, got: Any, want: Any) -> bool:
    if metric.startswith("sum:"):
        # Exact: integers as integers, decimals as their exact decimal text (or a number that
        # prints it); a float would have to hold the exact sum.
        if isinstance(got, float):
            return Decimal(repr(got)) == Decimal(want)
        return Decimal(str(got)) == Decimal(want)
    if metric.startswith("approx_distinct:"):
        return isinstance(got, int) and abs(got - want) <= 0.02 * want
    return isinstance(got, int) and not isinstance(got, bool) and got == want


def compare(q: Query, report: dict[str, Any], want: list[dict[str, Any]], valid: int) -> None:
    """kbatch's report against DuckDB's rows, row for row, and the totals."""
    rows = report["top"]
    gkeys = [cli_path(g) for g in q.group]
    ikey = cli_path(q.item)
    order = [*gkeys, ikey, "value", "rank", *(["window_start"] if q.window else [])]
    for r in rows:
        assert list(r) == order, f"row keys {list(r)}, expected {order}"
    got = [dict(r) for r in rows]
    for r in got:
        if q.window:
            r["window_start"] = _ms(r["window_start"])
    assert report["records"] - report["invalid"] - report["filtered"] == valid, (
        f"valid events: kbatch {report['records'] - report['invalid'] - report['filtered']}, DuckDB {valid}")
    parts = report.get("partitions")
    for k in ("records", "invalid", "filtered"):
        # (a report merged from Spark shards has no per-partition figures)
        assert parts is None or sum(p[k] for p in parts) == report[k], k
    if q.metric.startswith("approx_distinct:"):
        # Ranks follow kbatch's own estimates; every key and every estimate within 2 %.
        key = lambda r: tuple(r[k] for k in order[: len(gkeys) + 1] + (["window_start"] if q.window else []))  # noqa: E731
        assert sorted(map(key, got)) == sorted(map(key, want))
        exact = {key(r): r["value"] for r in want}
        for r in got:
            assert _same_value(q.metric, r["value"], exact[key(r)]), (r, exact[key(r)])
        return
    assert len(got) == len(want), f"{len(got)} rows from kbatch, {len(want)} from DuckDB"
    for i, (g, w) in enumerate(zip(got, want)):
        gv, wv = g.pop("value"), w.pop("value")
        assert g == w, f"row {i}: kbatch {g}, DuckDB {w}"
        assert _same_value(q.metric, gv, wv), f"row {i} {g}: value kbatch {gv!r}, DuckDB {wv!r}"
        w["value"] = wv


OS = ("device", "os")
CAT = ("page", "category")
ITEM = ("item_id",)


def W(cli: str, sql: str, *paths: Path) -> Where:
    return Where(cli, sql, paths)


QUERIES = [
    Query("nested_group", (CAT,), ITEM, top=3),
    Query("several_groups", (CAT, OS), ITEM),
    Query("top_all", (CAT,), ITEM, top="all"),
    Query("ties_top2", (OS,), ("customer",), top=2),
    Query("where_eq", (CAT,), ITEM, where=(W("device.os = 'iOS'", f"{S(OS)} = 'iOS'", OS),), top=2),
    Query("where_ne", (CAT,), ITEM, where=(W("device.os != 'iOS'", f"{S(OS)} <> 'iOS'", OS),), top=2),
    Query("where_in_distinct", (CAT,), ITEM, metric="distinct:customer",
          where=(W("device.os in ('iOS', 'Android')", f"{S(OS)} IN ('iOS', 'Android')", OS),), top=2),
    Query("where_lt", (CAT,), ITEM, where=(W("qty < 3", f"{N(('qty',))} < 3", ("qty",)),), top="all"),
    Query("where_ge_sum", (OS,), ITEM, metric="sum:qty",
          where=(W("price >= 100.5", f"{N(('price',))} >= 100.5", ("price",)),), top=2),
    Query("where_exists", (CAT,), ITEM, where=(W("exists(coupon)", E(("coupon",)), ("coupon",)),), top=2),
    Query("where_key_in", (CAT,), ITEM,
          where=(W("key in ('C0001', 'C0002', 'C0003', 'C0100', 'esc-quotes')",
                   "key IN ('C0001', 'C0002', 'C0003', 'C0100', 'esc-quotes')"),), top="all"),
    Query("where_header", (CAT,), ITEM, where=(W("header.src = 'app'", "src = 'app'"),), top=2),
    Query("where_header_exists_partition", (OS,), ITEM,
          where=(W("exists(header.src)", "has_src"), W("partition in (0, 2)", "partition IN (0, 2)")), top=2),
    Query("where_timestamp", (CAT,), ITEM,
          where=(W("timestamp >= '2026-01-01T05:40:00Z'", f"ts >= {T_CUT}"),), top=2),
    Query("where_timestamp_before", (CAT,), ITEM,
          where=(W(f"timestamp < @{T_CUT}", f"ts < {T_CUT}"),), top=2),
    Query("where_several", (CAT,), ITEM, metric="distinct:customer",
          where=(W("device.os in ('iOS', 'Android', 'Linux')", f"{S(OS)} IN ('iOS', 'Android', 'Linux')", OS),
                 W("qty >= 2", f"{N(('qty',))} >= 2", ("qty",)),
                 W("header.src = 'web'", "src = 'web'")), top=1),
    Query("sum_int", (CAT,), ITEM, metric="sum:qty", top=2),
    Query("sum_decimal", (CAT,), ITEM, metric="sum:price", top=1),
    Query("distinct", (CAT,), ITEM, metric="distinct:customer", top=3),
    Query("approx_distinct", (CAT,), ITEM, metric="approx_distinct:customer", top="all"),
    Query("window", (CAT,), ITEM, window=("1h", HOUR), top=1),
    Query("window_distinct_where", (OS,), ITEM, metric="distinct:customer", window=("30m", HOUR // 2),
          where=(W("device.os != 'Windows'", f"{S(OS)} <> 'Windows'", OS),), top=2),
    Query("array_item", (CAT,), ("tags", 0), top="all"),
    Query("dotted_key", (("page.category",),), ITEM, top=1),
    Query("two_nested_where_distinct", (CAT, OS), ITEM, metric="distinct:customer",
          where=(W("device.os != 'Linux'", f"{S(OS)} <> 'Linux'", OS),), top=1),
    # the testkit's realistic serializers mix
    Query("mix_trending", (("category",),), ("product",), top=2, topic=MIX_TOPIC),
    Query("mix_nested_where_distinct", (("device", "os", "name"), ("category",)), ("product",),
          metric="distinct:customer_id",
          where=(W("device.type = 'mobile'", f"{S(('device', 'type'))} = 'mobile'", ("device", "type")),),
          topic=MIX_TOPIC),
    Query("mix_sum_tags", (("category",),), ("tags", 0), metric="sum:quantity", top="all", topic=MIX_TOPIC),
    Query("mix_sum_price_window", (("category",),), ("product",), metric="sum:price", window=("1h", HOUR),
          topic=MIX_TOPIC),
]

# --------------------------------------------------------------------------------------------
# Fixtures: the topics, DuckDB's table, the runners


@dataclass
class Topics:
    bootstrap: str
    #: (key, value, reason before paths) of the tricky records.
    tricky: list[tuple[str, bytes | None, str | None]]
    #: Every record as librdkafka read it back: (topic, partition, offset, ts, key, value, headers).
    records: list[tuple[str, int, int, int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]]


def consume(bootstrap: str, topic: str, partitions: int) -> list[Any]:
    """Every record of ``topic`` as librdkafka reads it (read_committed, earliest to the end)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "top-oracle", "enable.auto.commit": False,
                  "enable.partition.eof": True, "isolation.level": "read_committed"})
    try:
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                for p in range(partitions)}
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        out = []
        done = {p for p, e in ends.items() if e == 0}
        deadline = time.monotonic() + 120
        while len(done) < partitions:
            assert time.monotonic() < deadline, f"librdkafka did not reach the end of {topic}: {done}"
            msg = c.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    if msg.offset() >= ends[msg.partition()]:
                        done.add(msg.partition())
                    continue
                raise AssertionError(f"librdkafka: {msg.error()}")
            out.append((topic, msg.partition(), msg.offset(), msg.timestamp()[1], msg.key(), msg.value(),
                        list(msg.headers() or [])))
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        return out
    finally:
        c.close()


@pytest.fixture(scope="module")
def topics(bootstrap: str) -> Topics:
    kit("create-topic", "--bootstrap", bootstrap, "--topic", TOPIC, "--partitions", str(PARTS),
        "--config", "retention.ms=-1")
    rng = random.Random(27)
    recs: list[Rec] = []
    for i in range(EVENTS):
        key, value, headers = realistic(rng, i)
        ts = T0 + i * SPAN // EVENTS + rng.randint(-90_000, 90_000)  # out of order within batches
        recs.append(Rec(rng.randrange(PARTS), key, value, ts, headers))
    cases = tricky()
    for n, (key, value, _) in enumerate(cases):
        at = rng.randrange(len(recs) + 1)
        ts = T0 + rng.randrange(SPAN)
        headers = [("src", b"app")] if n % 2 else []
        recs.insert(at, Rec(n % PARTS, key.encode(), value, ts, headers))
    produce(bootstrap, TOPIC, recs, compression="lz4")
    kit("create-topic", "--bootstrap", bootstrap, "--topic", MIX_TOPIC, "--partitions", "2")
    kit("produce-trending", "--bootstrap", bootstrap, "--topic", MIX_TOPIC, "--partitions", "2",
        "--events", str(MIX_EVENTS), "--mix", "serializers", "--seed", "27", "--compression", "zstd")
    records = consume(bootstrap, TOPIC, PARTS) + consume(bootstrap, MIX_TOPIC, 2)
    # librdkafka read back what the Java producer wrote.
    ours = sorted((r.partition, r.offset, r.timestamp_ms, r.key, r.value) for r in recs)
    assert ours == sorted((p, o, ts, k, v) for t, p, o, ts, k, v, _ in records if t == TOPIC)
    return Topics(bootstrap, cases, records)


@pytest.fixture(scope="module")
def con(topics: Topics) -> duckdb.DuckDBPyConnection:
    return load_duckdb(topics.records)


def load_duckdb(records: list[Any]) -> duckdb.DuckDBPyConnection:
    """DuckDB with ``recs``: one row per record; ``j`` only for values that are JSON by
    kbatch's rules (see the module's docstring), ``dups`` their duplicated paths."""
    names = ("topic", "partition", "offset", "ts", "key", "src", "has_src", "j", "dups")
    cols: dict[str, list[Any]] = {k: [] for k in names}
    for t, p, o, ts, k, v, hs in records:
        c = check_json(v)
        src = [hv for hk, hv in hs if hk == "src"]
        cols["topic"].append(t)
        cols["partition"].append(p)
        cols["offset"].append(o)
        cols["ts"].append(ts)
        cols["key"].append(None if k is None else k.decode())
        cols["src"].append(src[0].decode() if src and src[0] is not None else None)
        cols["has_src"].append(bool(src))
        cols["j"].append(c.text)
        cols["dups"].append([json.dumps(list(d)) for d in c.dups])
    table = pa.table({
        "topic": pa.array(cols["topic"], pa.string()),
        "partition": pa.array(cols["partition"], pa.int32()),
        "offset": pa.array(cols["offset"], pa.int64()),
        "ts": pa.array(cols["ts"], pa.int64()),
        "key": pa.array(cols["key"], pa.string()),
        "src": pa.array(cols["src"], pa.string()),
        "has_src": pa.array(cols["has_src"], pa.bool_()),
        "j": pa.array(cols["j"], pa.string()),
        "dups": pa.array(cols["dups"], pa.list_(pa.string())),
    })
    c = duckdb.connect()
    c.register("recs_arrow", table)
    c.execute('CREATE TABLE recs AS SELECT topic, partition, "offset", ts, key, src, has_src, '
              "j::JSON AS j, dups FROM recs_arrow")
    return c


def run_cli(bootstrap: str, topic: str, args: Sequence[str], threads: int) -> dict[str, Any]:
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: build kbatch (make release) or set KBATCH_BIN_DIR")
    cmd = [str(CLI), "top", "--bootstrap", bootstrap, "--topic", topic, "--threads", str(threads),
           "--format", "json", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(cmd)}: {done.stderr.strip()}"
    # Decimal sums are exact JSON numbers (12.50): read them as decimals, not floats.
    report: dict[str, Any] = json.loads(done.stdout, parse_float=Decimal)
    return report


RUNNERS = ["cli-1", "cli-2", "python"]


def run(topics: Topics, q: Query, runner: str) -> dict[str, Any]:
    if runner == "python":
        report: dict[str, Any] = dict(kbatch.top(q.topic, bootstrap=topics.bootstrap, **q.kwargs()))
        return report
    return run_cli(topics.bootstrap, q.topic, q.cli_args(), int(runner.split("-")[1]))


# --------------------------------------------------------------------------------------------
# The tests


def test_oracle_input_is_what_the_cases_say(topics: Topics, con: duckdb.DuckDBPyConnection) -> None:
    """The Python-side rules give every tricky record the reason the case names, and DuckDB
    holds every JSON record (so the oracle's input is the whole topic, not a convenient part)."""
    for key, value, reason in topics.tricky:
        assert check_json(value).reason == reason, (key, value)
    n = con.execute(f"SELECT count(*) FROM recs WHERE topic = '{TOPIC}'").fetchone()
    assert n is not None and n[0] == EVENTS + len(topics.tricky)
    mix_invalid = sum(1 for t, *_, v, _h in topics.records if t == MIX_TOPIC and check_json(v).reason)
    assert 0 < mix_invalid < MIX_EVENTS // 100


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("q", QUERIES, ids=[q.name for q in QUERIES])
def test_top_equals_duckdb(topics: Topics, con: duckdb.DuckDBPyConnection, q: Query, runner: str) -> None:
    want, valid = oracle(con, q)
    assert want, "the oracle's answer is empty: the query tests nothing"
    report = run(topics, q, runner)
    compare(q, report, want, valid)
    if not q.where:
        # Without filters: nothing is filtered, every record is in range, and the invalid ones
        # are those kbatch's rules refuse for the query's paths (checked in Python, not DuckDB).
        numeric = [q.metric_path()] if q.metric.startswith("sum:") else []
        rows = [r for r in topics.records if r[0] == q.topic]
        reasons = [reason_for(check_json(r[5]), q.paths(), numeric) for r in rows]
        assert report["filtered"] == 0
        assert report["records"] == len(rows)
        assert report["invalid"] == sum(1 for x in reasons if x), "invalid events"
        assert report["records"] - report["invalid"] == valid
        by_offset = {(r[1], r[2]): why for r, why in zip(rows, reasons)}
        for s in report["invalid_samples"]:
            assert s["reason"] == by_offset[(s["partition"], s["offset"])], s


def test_top_ties_are_kept(con: duckdb.DuckDBPyConnection, topics: Topics) -> None:
    """The tie queries really have ties at the cut (else ``--top N`` with ties tests nothing)."""
    q = next(q for q in QUERIES if q.name == "ties_top2")
    want, _ = oracle(con, q)
    assert any(r["rank"] == 2 for r in want)
    per_group: dict[Any, int] = {}
    for r in want:
        per_group[r[cli_path(OS)]] = per_group.get(r[cli_path(OS)], 0) + 1
    assert max(per_group.values()) > 2, "no tie at the cut"


REASON_KEYS = {
    "bad-tombstone": "tombstone", "bad-empty": "empty", "bad-utf8": "bad_utf8", "bad-json": "bad_json",
    "bad-notobject": "not_object", "num-over": "bad_json", "nan": "bad_json", "deep": "bad_json",
    "dup-item": "duplicate_field", "dup-category": "duplicate_field", "dup-page": "duplicate_field",
    "wrongtype": "wrong_type", "null": "wrong_type", "missing": "missing_field",
}
#: A query that reads every path the tricky cases break.
EVERY_PATH = [CAT, OS, ITEM, ("customer",)]


@pytest.mark.parametrize("key", sorted(REASON_KEYS))
def test_invalid_reasons_follow_kbatch_rules(topics: Topics, key: str) -> None:
    """Each kind of bad record, selected by its key (key filters run before any JSON is read),
    is invalid with the documented reason when the query reads the path it breaks."""
    cases = [v for k, v, _ in topics.tricky if k == key]
    assert {reason_for(check_json(v), EVERY_PATH) for v in cases} == {REASON_KEYS[key]}
    report = run_cli(topics.bootstrap, TOPIC, ["--group", "page.category,device.os", "--item", "item_id",
                                               "--metric", "distinct:customer",
                                               "--where", f"key = '{key}'", "--top", "all"], 2)
    assert report["invalid"] == len(cases) and report["top"] == []
    assert report["records"] - report["filtered"] == len(cases)
    assert {s["reason"] for s in report["invalid_samples"]} == {REASON_KEYS[key]}


def test_duplicate_keys_are_invalid_where_duckdb_takes_the_first(topics: Topics,
                                                                 con: duckdb.DuckDBPyConnection) -> None:
    """The documented difference: DuckDB reads the first of two equal keys, kbatch refuses the
    event (``duplicate_field``) when the duplicate is on a path it reads, and ignores it off the
    paths (``dup-unrelated``, ``dup-decoy`` are valid events)."""
    first = con.execute("SELECT json_extract_string(j::JSON, '$.item_id') FROM "
                        "(SELECT '{\"item_id\":\"I001\",\"item_id\":\"I002\"}' AS j)").fetchone()
    assert first == ("I001",)
    report = run_cli(topics.bootstrap, TOPIC, ["--group", "page.category", "--item", "item_id", "--where",
                                               "key in ('dup-item', 'dup-unrelated', 'dup-decoy')",
                                               "--top", "all"], 1)
    assert report["invalid"] == 1
    assert report["top"] == [{"page.category": "Books", "item_id": "I001", "value": 2, "rank": 1}]
    # The same event with a query that does not read item_id: valid.
    report = run_cli(topics.bootstrap, TOPIC, ["--group", "page.category", "--item", "customer", "--where",
                                               "key = 'dup-item'", "--top", "all"], 1)
    assert report["invalid"] == 0
    assert report["top"] == [{"page.category": "Books", "customer": "C0009", "value": 1, "rank": 1}]


def test_numbers_are_grouped_by_their_text_as_written(bootstrap: str, topics: Topics,
                                                      con: duckdb.DuckDBPyConnection) -> None:
    """The documented difference: a number at a path is its text exactly as written; DuckDB
    prints its own form of it (so the oracle's group numbers are canonical)."""
    topic = "top_oracle_numbers"
    kit("create-topic", "--bootstrap", bootstrap, "--topic", topic, "--partitions", "1")
    texts = ["1.50", "1.5", "-0", "0", "1e2", "1E+2", "100", "0.10", "true", "12345678901234567890123"]
    recs = [Rec(0, b"n", f'{{"kind":"n","variant":{t}}}'.encode(), BASE_TS) for t in texts for _ in range(2)]
    produce(bootstrap, topic, recs)
    report = run_cli(bootstrap, topic, ["--group", "kind", "--item", "variant", "--top", "all"], 1)
    assert report["invalid"] == 0
    assert sorted(r["variant"] for r in report["top"]) == sorted(texts)
    assert all(r["value"] == 2 and r["rank"] == 1 for r in report["top"])
    duck = {t: con.execute(f"SELECT json_extract_string('{{\"v\":{t}}}'::JSON, '$.v')").fetchone()[0]  # type: ignore[index]
            for t in texts}
    assert duck["1.50"] == duck["1.5"] and duck["1e2"] != "1e2", duck  # DuckDB's own number text


def test_duckdb_accepts_json_that_kbatch_refuses(topics: Topics, con: duckdb.DuckDBPyConnection) -> None:
    """The documented difference: NaN, numbers beyond the f64 range and nesting deeper than 127
    are JSON to DuckDB, not to serde_json (and so not to kbatch: ``bad_json``)."""
    for _, value, reason in topics.tricky:
        marks = (b"NaN", b"1e400", DEEP.encode())
        if reason == "bad_json" and value is not None and any(m in value for m in marks):
            ok = con.execute("SELECT json_valid(?)", [value.decode()]).fetchone()
            assert ok == (True,), value[:80]
    report = run_cli(topics.bootstrap, TOPIC, ["--group", "page.category", "--item", "item_id",
                                               "--where", "key in ('num-over', 'nan', 'deep', 'num-edge')",
                                               "--top", "all"], 1)
    assert report["invalid"] == 5
    assert report["top"] == [{"page.category": "Books", "item_id": "I001", "value": 1, "rank": 1}]


def test_python_as_arrow(topics: Topics, con: duckdb.DuckDBPyConnection) -> None:
    """``kbatch.top(..., as_arrow=True)``: the rows of the report as a table, columns named as
    the report's keys."""
    q = next(q for q in QUERIES if q.name == "window")
    table = kbatch.top(q.topic, bootstrap=topics.bootstrap, as_arrow=True, **q.kwargs())
    assert isinstance(table, pa.Table)
    assert table.column_names == ["page.category", "item_id", "value", "rank", "window_start"]
    assert table.schema.field("window_start").type == pa.timestamp("ms", tz="UTC")
    want, _ = oracle(con, q)
    rows = table.to_pylist()
    for r in rows:
        r["window_start"] = round(r["window_start"].timestamp() * 1000)
    assert rows == want


def test_bad_queries_are_usage_errors(topics: Topics) -> None:
    """A bad ``--where`` or path names what was expected: exit 2 from the CLI, UsageError from
    Python."""
    for args in (["--where", "qty <"], ["--where", "device.os = iOS"], ["--group", "page..category"],
                 ["--metric", "median:qty"], ["--window", "soon"]):
        full = ["--group", "page.category", "--item", "item_id", *args]
        if args[0] == "--group":
            full = [*args, "--item", "item_id"]
        done = subprocess.run([str(CLI), "top", "--bootstrap", topics.bootstrap, "--topic", TOPIC, *full],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.strip(), args
    with pytest.raises(kbatch.UsageError):
        kbatch.top(TOPIC, bootstrap=topics.bootstrap, group=["page.category"], item="item_id",
                   where=["qty <"])
    with pytest.raises(kbatch.UsageError):
        kbatch.top(TOPIC, bootstrap=topics.bootstrap, group=[], item="item_id")


def test_duckdb_figures(topics: Topics, con: duckdb.DuckDBPyConnection) -> None:
    """Not a speed assertion: prints DuckDB's and kbatch's time for the floor query on this
    table (``-s`` shows it), for the report."""
    q = next(q for q in QUERIES if q.name == "two_nested_where_distinct")
    t = time.perf_counter()
    want, _ = oracle(con, q)
    duck = time.perf_counter() - t
    t = time.perf_counter()
    report = run_cli(topics.bootstrap, TOPIC, q.cli_args(), 2)
    kb = time.perf_counter() - t
    print(f"\n{q.name}: DuckDB SQL over the loaded table {duck * 1000:.1f} ms; "
          f"kbatch top (process, connect, read {report['records']} records) {kb * 1000:.1f} ms")
    assert len(report["top"]) == len(want)

