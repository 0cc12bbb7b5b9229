"""kbatch: bounded, exact reads of Kafka topics, into Arrow tables.

Read a slice of one or more topics — between two offsets, timestamps or "the last 24 hours" —
exactly once, and get it as a :class:`pyarrow.Table` with the columns of Spark's Kafka source
(``key``, ``value``, ``topic``, ``partition``, ``offset``, ``timestamp``, ``timestampType``,
``headers``), or run the ``kbatch`` command's ``offsets``, ``count``, ``trending``, ``top``
and ``export`` and get their JSON as dicts::

    import kbatch
    table = kbatch.read("web_stream", bootstrap="localhost:9092", start="-1h")
    for batch in kbatch.read_batches("web_stream", start=0, end=1_000_000):
        ...

Kafka is read by kbatch's own Rust client (no librdkafka, no JVM). The GIL is released while
it reads, Ctrl-C interrupts a read within about 0.1 s, and records reach pyarrow through the
Arrow C data interface, without a copy and without a Python object per record.

Arguments every function shares:

* ``topic``: a topic name, or a list of names.
* ``bootstrap``: ``"host:port,..."``; default: ``bootstrap.servers`` from ``config``, else
  ``$KBATCH_BOOTSTRAP``, else ``localhost:9092`` (as the CLI's ``--bootstrap``).
* ``start`` / ``end``: where the half-open range ``[start, end)`` of every partition starts
  and ends: a SPEC string as the CLI's ``--from``/``--to`` take it (``"earliest"``,
  ``"latest"``, ``"1200"``, ``"0:17,2:100"``, ``"@2026-11-24T10:00:00Z"``, ``"-24h"``), an int
  offset, a timezone-aware :class:`datetime.datetime` (the first offset whose record timestamp
  is at or after it), or Spark's offsets dict ``{"topic": {"0": 23, "1": -2}}`` (-2 earliest,
  -1 latest; partitions left out keep the default).
* ``partitions``: only these partition ids (an int or a list).
* ``isolation``: ``"read_committed"`` (ranges end at the last stable offset; aborted records
  are dropped) or ``"read_uncommitted"``.
* ``config``: client keys as the CLI's ``-X`` takes them, librdkafka's or the Java client's
  names (``security.protocol``, ``sasl.mechanism``, ``sasl.username``, ``sasl.password``,
  ``ssl.ca.location``, ``request.timeout.ms``, ``fetch.max.bytes``, ...). Keys that mean
  nothing to a bounded read give one :class:`UserWarning`; unknown keys raise
  :class:`UsageError`. Secret values never appear in messages.

Errors raise a subclass of :class:`KbatchError` (see :mod:`kbatch.errors`).
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import json as _json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, Union, cast, overload

import pyarrow as _pa

from . import _native
from .errors import AuthError, BrokerError, DataError, InternalError, KbatchError, RangeError, UsageError

if TYPE_CHECKING:
    # The reports' types live in the extension's stub only (the extension defines no such
    # classes at run time), so they are names for annotations, not run-time attributes.
    from ._native import CountPartition as CountPartition
    from ._native import CountReport as CountReport
    from ._native import ExportFile as ExportFile
    from ._native import ExportManifest as ExportManifest
    from ._native import ExportPartition as ExportPartition
    from ._native import InvalidSample as InvalidSample
    from ._native import PartitionOffsets as PartitionOffsets
    from ._native import TopPartition as TopPartition
    from ._native import TopReport as TopReport
    from ._native import TrendingPartition as TrendingPartition
    from ._native import TrendingReport as TrendingReport
    from ._native import TrendingTopRow as TrendingTopRow

__all__ = [
    "read",
    "read_batches",
    "schema",
    "offsets",
    "count",
    "trending",
    "top",
    "export",
    "DEFAULT_MAX_FILE_BYTES",
    "KbatchError",
    "UsageError",
    "RangeError",
    "BrokerError",
    "AuthError",
    "DataError",
    "InternalError",
    "DEFAULT_BATCH_ROWS",
]

__version__: str = _native.__version__

#: Rows per Arrow record batch unless ``batch_rows`` says otherwise (the Rust crate's
#: ``kbatch_arrow::DEFAULT_BATCH_ROWS``).
DEFAULT_BATCH_ROWS: int = _native.DEFAULT_BATCH_ROWS

Topic = Union[str, Iterable[str]]
Position = Union[str, int, _dt.datetime, Mapping[str, Mapping[Union[str, int], int]]]
Partitions = Union[int, Iterable[int], None]
ConfigValue = Union[str, int, float, bool]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MS = _dt.timedelta(milliseconds=1)


def read(
    topic: Topic,
    *,
    bootstrap: str | None = None,
    start: Position = "earliest",
    end: Position = "latest",
    partitions: Partitions = None,
    isolation: str = "read_committed",
    config: Mapping[str, ConfigValue] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    headers: bool = True,
    value_format: str = "raw",
    key_format: str = "raw",
    on_undecodable: str = "fail",
) -> _pa.Table:
    """Read ``[start, end)`` of every selected partition into one :class:`pyarrow.Table`.

    Rows are ordered by topic (as given), partition, offset. The schema is Spark's Kafka
    source's: ``key`` binary, ``value`` binary, ``topic`` string, ``partition`` int32,
    ``offset`` int64, ``timestamp`` timestamp[us, UTC], ``timestampType`` int32 (0 create
    time, 1 log-append time), ``headers`` list<struct<key: string, value: binary>> (left out
    with ``headers=False``; a header key that is not UTF-8 is replaced lossily). Null keys,
    values and header values are nulls. Control records and, under read_committed, aborted
    records are not rows.

    The whole slice is held in memory; for large slices use :func:`read_batches`.
    ``batch_rows`` is the size of the table's chunks.

    ``value_format="avro"``, ``"protobuf"`` or ``"json-schema"`` (and ``key_format``) decodes
    Confluent-framed values with schemas from the Schema Registry named by
    ``config={"schema.registry.url": ...}`` into a typed column, as Spark's ``from_avro`` /
    ``from_protobuf`` type it (a struct for a record or message; JSON Schema values are their
    JSON text, a string column marked ``arrow.json``); every value is read with the latest
    version of the subject ``{topic}-value`` (``-key``) as the reader schema. A value that is
    not framed raises ``DataError`` naming the record, unless ``on_undecodable="null"``.
    """
    common = _common(topic, bootstrap, partitions, isolation, config)
    return _native.read(
        common,
        _position(start, "start"),
        _position(end, "end"),
        _rows(batch_rows),
        headers,
        value_format,
        key_format,
        on_undecodable,
    )


def read_batches(
    topic: Topic,
    *,
    bootstrap: str | None = None,
    start: Position = "earliest",
    end: Position = "latest",
    partitions: Partitions = None,
    isolation: str = "read_committed",
    config: Mapping[str, ConfigValue] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    headers: bool = True,
    value_format: str = "raw",
    key_format: str = "raw",
    on_undecodable: str = "fail",
) -> _pa.RecordBatchReader:
    """Stream ``[start, end)`` as a :class:`pyarrow.RecordBatchReader`, with bounded memory.

    The schema is :func:`read`'s. Each batch holds rows of one partition, in offset order;
    batches of different partitions interleave. Fetching pauses while batches are not being
    consumed, so memory stays bounded however large the slice. Closing the reader (or
    dropping it) stops the read. Connecting and planning happen here, so their errors raise
    from this call; errors during the read raise from the reader's iteration.

    ``value_format`` / ``key_format`` / ``on_undecodable`` decode as :func:`read`'s; the
    decoded columns' types are fixed before the first batch, from the registry (as
    :func:`schema` gives them), so the subject must exist.
    """
    stream = _stream(
        topic,
        bootstrap,
        start,
        end,
        partitions,
        isolation,
        config,
        batch_rows,
        headers,
        value_format=value_format,
        key_format=key_format,
        on_undecodable=on_undecodable,
    )
    return _pa.RecordBatchReader.from_batches(stream.schema, _drain(stream))


def schema(
    topic: Topic,
    *,
    bootstrap: str | None = None,
    value_format: str = "raw",
    key_format: str = "raw",
    config: Mapping[str, ConfigValue] | None = None,
    headers: bool = True,
) -> _pa.Schema:
    """The :class:`pyarrow.Schema` that :func:`read` with these options returns.

    The decoded columns are typed from the Schema Registry's latest version of the subject
    ``{topic}-value`` (``-key``), without reading the topic (no broker is asked;
    ``bootstrap`` is taken for symmetry with :func:`read`). A subject that does not exist yet
    raises :class:`DataError` naming it; so does a Protobuf schema with several top-level
    messages that no other uses (the values' message-index lists decide the type).
    """
    common = _common(topic, bootstrap, None, "read_committed", config)
    return _native.schema(common, headers, value_format, key_format)


def _stream(
    topic: Topic,
    bootstrap: str | None,
    start: Position,
    end: Position,
    partitions: Partitions,
    isolation: str,
    config: Mapping[str, ConfigValue] | None,
    batch_rows: int,
    headers: bool,
    *,
    value_format: str = "raw",
    key_format: str = "raw",
    on_undecodable: str = "fail",
) -> _native.Stream:
    """The native stream behind :func:`read_batches` (``kbatch.spark`` reads its ``stats()``
    after the end, to check that a shard was read to its end)."""
    common = _common(topic, bootstrap, partitions, isolation, config)
    return _native.Stream(
        common,
        _position(start, "start"),
        _position(end, "end"),
        _rows(batch_rows),
        headers,
        value_format,
        key_format,
        on_undecodable,
    )


def _drain(stream: _native.Stream) -> Iterator[_pa.RecordBatch]:
    while True:
        batch = stream.next_batch()
        if batch is None:
            return
        yield batch


def offsets(
    topic: Topic,
    *,
    bootstrap: str | None = None,
    partitions: Partitions = None,
    isolation: str = "read_committed",
    config: Mapping[str, ConfigValue] | None = None,
) -> list[PartitionOffsets]:
    """Leader, earliest, latest (high watermark) and last stable offset of each partition.

    The list of ``kbatch offsets``' ``partitions``: dicts with ``topic``, ``partition``,
    ``leader``, ``earliest``, ``latest``, ``last_stable``.
    """
    common = _common(topic, bootstrap, partitions, isolation, config)
    return cast("list[PartitionOffsets]", _json.loads(_native.offsets(common)))


def count(
    topic: Topic,
    *,
    bootstrap: str | None = None,
    start: Position = "earliest",
    end: Position = "latest",
    partitions: Partitions = None,
    isolation: str = "read_committed",
    config: Mapping[str, ConfigValue] | None = None,
) -> CountReport:
    """Decode every record in range and count them per partition (``kbatch count``'s JSON).

    ``{"records": N, "partitions": [{"topic", "partition", "start", "end", "records",
    "aborted", "control"}]}``; per partition ``records + aborted + control + compaction gaps
    = end - start``.
    """
    common = _common(topic, bootstrap, partitions, isolation, config)
    report = _native.count(common, _position(start, "start"), _position(end, "end"))
    return cast("CountReport", _json.loads(report))


def trending(
    topic: Topic,
    *,
    top: int = 1,
    strict: bool = False,
    bootstrap: str | None = None,
    start: Position = "earliest",
    end: Position = "latest",
    partitions: Partitions = None,
    isolation: str = "read_committed",
    config: Mapping[str, ConfigValue] | None = None,
    value_format: str = "raw",
) -> TrendingReport:
    """Views per (category, product) and the top products of every category.

    ``kbatch trending --format json``'s report: ``{"records", "invalid", "partitions",
    "top": [{"category", "product", "views", "rank"}], "invalid_samples"}``. ``top`` keeps
    products whose competition rank is at most ``top`` (ties are all kept); ``strict`` raises
    :class:`DataError` at the first record that is not a valid event. ``value_format="avro"``
    reads Confluent-framed Avro values (schemas from ``config``'s ``schema.registry.url``):
    ``category`` and ``product`` are the decoded record's fields, a value that is not framed
    is invalid (``not_framed``), one whose body does not decode ``undecodable``.
    """
    if isinstance(top, bool) or not isinstance(top, int):
        raise TypeError(f"top must be an int, not {type(top).__name__}")
    if not 1 <= top <= 0xFFFF_FFFF:
        raise UsageError("top must be at least 1")
    common = _common(topic, bootstrap, partitions, isolation, config)
    report = _native.trending(
        common,
        _position(start, "start"),
        _position(end, "end"),
        top,
        bool(strict),
        value_format,
    )
    return cast("TrendingReport", _json.loads(report))


@overload
def top(
    topic: Topic,
    *,
    group: str | Iterable[str],
    item: str,
    metric: str = ...,
    where: str | Iterable[str] = ...,
    window: str | _dt.timedelta | None = ...,
    top: int | str = ...,
    strict: bool = ...,
    as_arrow: Literal[False] = ...,
    bootstrap: str | None = ...,
    start: Position = ...,
    end: Position = ...,
    partitions: Partitions = ...,
    isolation: str = ...,
    config: Mapping[str, ConfigValue] | None = ...,
    value_format: str = ...,
) -> TopReport: ...


@overload
def top(
    topic: Topic,
    *,
    group: str | Iterable[str],
    item: str,
    metric: str = ...,
    where: str | Iterable[str] = ...,
    window: str | _dt.timedelta | None = ...,
    top: int | str = ...,
    strict: bool = ...,
    as_arrow: Literal[True],
    bootstrap: str | None = ...,
    start: Position = ...,
    end: Position = ...,
    partitions: Partitions = ...,
    isolation: str = ...,
    config: Mapping[str, ConfigValue] | None = ...,
    value_format: str = ...,
) -> _pa.Table: ...


def top(
    topic: Topic,
    *,
    group: str | Iterable[str],
    item: str,
    metric: str = "count",
    where: str | Iterable[str] = (),
    window: str | _dt.timedelta | None = None,
    top: int | str = 1,
    strict: bool = False,
    as_arrow: bool = False,
    bootstrap: str | None = None,
    start: Position = "earliest",
    end: Position = "latest",
    partitions: Partitions = None,
    isolation: str = "read_committed",
    config: Mapping[str, ConfigValue] | None = None,
    value_format: str = "raw",
) -> TopReport | _pa.Table:
    """Rank items by a metric within groups (and time windows): ``kbatch top --format json``.

    * ``group``: one path or a list of paths into the JSON value (``"page.category"``,
      ``"tags[0]"``, ``'"a.b"'`` for a key with a dot); ``item``: the ranked path.
    * ``metric``: ``"count"``, ``"sum:PATH"`` (exact), ``"distinct:PATH"`` (exact) or
      ``"approx_distinct:PATH"`` (HyperLogLog).
    * ``where``: one ``--where`` expression or a list (all must hold): ``"device.os in ('iOS',
      'Android')"``, ``"qty >= 2"``, ``"exists(coupon)"``, ``"key = 'x'"``,
      ``"header.src = 'app'"``, ``"partition in (0, 2)"``, ``"timestamp >= '2026-11-24T10:00:00Z'"``.
    * ``window``: tumbling windows by record timestamp (``"1h"``, ``"15m"``, or a
      :class:`datetime.timedelta` of whole milliseconds); ``top``: ranks kept per (window, group),
      an int ≥ 1 or ``"all"``; ``strict``: raise :class:`DataError` at the first invalid record.

    Returns the report ``{"records", "invalid", "filtered", "partitions", "top",
    "invalid_samples"}``, each ``top`` row a dict keyed by the group paths, the item path,
    ``value``, ``rank`` and, windowed, ``window_start`` (RFC 3339 text); a sum with a fraction
    is a :class:`decimal.Decimal` (exact). With ``as_arrow=True``, the rows as a
    :class:`pyarrow.Table` instead: path columns string, ``value`` int64 (``sum``:
    decimal128(38, scale)), ``rank`` int64, ``window_start`` timestamp[ms, UTC].

    ``value_format="avro"`` reads Confluent-framed Avro values (schemas from ``config``'s
    ``schema.registry.url``): paths name the decoded record's fields (nested records
    ``page.category``, arrays ``tags[0]``, map keys), with the verdicts of JSON events; a value
    that is not framed is invalid (``not_framed``), one whose body does not decode
    ``undecodable``.

    Bad paths or expressions raise :class:`UsageError` naming what was expected.
    """
    question = _question(group, item, metric, where, window, top, strict)
    common = _common(topic, bootstrap, partitions, isolation, config)
    text = _native.top(
        common, _position(start, "start"), _position(end, "end"), question, value_format
    )
    report = cast("TopReport", _json.loads(text, parse_float=_decimal.Decimal))
    if not as_arrow:
        return report
    columns = _native.top_check(question)
    return _top_table(columns, question["metric"], report["top"])


def _question(
    group: str | Iterable[str],
    item: str,
    metric: str,
    where: str | Iterable[str],
    window: str | _dt.timedelta | None,
    top: int | str,
    strict: bool,
) -> _native._Question:
    """``kbatch.top``'s question as the native module takes it (the CLI's texts)."""
    groups = [group] if isinstance(group, str) else list(group)
    if not all(isinstance(g, str) for g in groups):
        raise TypeError("group must be a str or a list of str")
    if not groups:
        raise UsageError("group: expected at least one path")
    wheres = [where] if isinstance(where, str) else list(where)
    if not all(isinstance(w, str) for w in wheres):
        raise TypeError("where must be a str or a list of str")
    for name, v in (("item", item), ("metric", metric)):
        if not isinstance(v, str):
            raise TypeError(f"{name} must be a str, not {type(v).__name__}")
    if isinstance(window, _dt.timedelta):
        ms, rest = divmod(window, _MS)
        if rest or ms < 1:
            raise UsageError(f"window: expected a whole number of milliseconds ≥ 1, got {window}")
        win: str | None = f"{ms}ms"
    elif window is None or isinstance(window, str):
        win = window
    else:
        raise TypeError(f"window must be a str or a timedelta, not {type(window).__name__}")
    if isinstance(top, bool) or not isinstance(top, (int, str)):
        raise TypeError(f"top must be an int or \"all\", not {type(top).__name__}")
    if isinstance(top, int) and top < 1:
        raise UsageError("top must be at least 1 (or \"all\")")
    return {
        "group": groups,
        "item": item,
        "metric": metric,
        "wheres": wheres,
        "window": win,
        "top": str(top),
        "strict": bool(strict),
    }


def _top_table(columns: list[str], metric: str, rows: list[dict[str, Any]]) -> _pa.Table:
    """The report's rows as a table (column names as the report's keys)."""
    arrays = []
    fields = []
    for name in columns:
        values = [r[name] for r in rows]
        if name == "value":
            if metric.startswith("sum:"):
                digits = [_decimal.Decimal(v).as_tuple().exponent for v in values]
                scale = max([-int(e) for e in digits if isinstance(e, int)] + [0])
                typ = _pa.decimal128(38, scale)
                values = [_decimal.Decimal(v) for v in values]
            else:
                typ = _pa.int64()
        elif name == "rank":
            typ = _pa.int64()
        elif name == "window_start":
            typ = _pa.timestamp("ms", tz="UTC")
            values = [_dt.datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values]
        else:
            typ = _pa.string()
        arrays.append(_pa.array(values, type=typ))
        fields.append(_pa.field(name, typ, nullable=False))
    return _pa.Table.from_arrays(arrays, schema=_pa.schema(fields))


def _common(
    topic: Topic,
    bootstrap: str | None,
    partitions: Partitions,
    isolation: str,
    config: Mapping[str, ConfigValue] | None,
) -> _native._Common:
    """The arguments every call shares, as the native module takes them."""
    if isinstance(topic, str):
        topics = [topic]
    elif isinstance(topic, Iterable):
        topics = list(topic)
        if not all(isinstance(t, str) for t in topics):
            raise TypeError("topic must be a str or a list of str")
    else:
        raise TypeError(f"topic must be a str or a list of str, not {type(topic).__name__}")
    if not topics or not all(topics):
        raise UsageError("topic: no topic given")
    if partitions is None:
        parts = None
    elif isinstance(partitions, int) and not isinstance(partitions, bool):
        parts = [partitions]
    elif isinstance(partitions, Iterable):
        parts = list(partitions)
    else:
        raise TypeError(f"partitions must be an int or a list of int, not {type(partitions).__name__}")
    if parts is not None:
        for p in parts:
            if isinstance(p, bool) or not isinstance(p, int):
                raise TypeError("partitions must be ints")
            if not 0 <= p < 2**31:
                raise UsageError(f"partitions: bad partition {p}")
    if bootstrap is not None and not isinstance(bootstrap, str):
        raise TypeError(f"bootstrap must be a str, not {type(bootstrap).__name__}")
    if not isinstance(isolation, str):
        raise TypeError(f"isolation must be a str, not {type(isolation).__name__}")
    pairs: list[tuple[str, str]] = []
    if config is not None:
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a dict, not {type(config).__name__}")
        for key, value in config.items():
            if not isinstance(key, str):
                raise TypeError("config keys must be str")
            pairs.append((key, _config_value(key, value)))
    return {
        "topics": topics,
        "partitions": parts,
        "bootstrap": bootstrap,
        "config": pairs,
        "isolation": isolation,
    }


def _config_value(key: str, value: ConfigValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    # The value is not quoted: it may be a password.
    raise TypeError(f"config[{key!r}] must be a str, int, float or bool")


def _position(value: Position, name: str) -> str:
    """``start``/``end`` as SPEC text (the CLI's grammar, parsed in Rust)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a SPEC str, an int offset, a datetime or a dict, not bool")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise UsageError(
                f"{name}: a naive datetime is ambiguous; give it a timezone "
                "(e.g. datetime.now(timezone.utc))"
            )
        # Kafka timestamps are milliseconds: the first record at or after a time within a
        # millisecond is at or after the next whole millisecond (ceiling, exactly).
        return "@" + str(-((_EPOCH - value) // _MS))
    if isinstance(value, Mapping):
        try:
            return _json.dumps({str(t): {str(p): o for p, o in parts.items()} for t, parts in value.items()})
        except (AttributeError, TypeError) as e:
            raise UsageError(
                f"{name}: Spark offsets must look like {{\"topic\": {{\"0\": 23, \"1\": -2}}}}"
            ) from e
    raise TypeError(
        f"{name} must be a SPEC str, an int offset, a datetime or a dict, not {type(value).__name__}"
    )


def _rows(batch_rows: int) -> int:
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int):
        raise TypeError("batch_rows must be an int")
    if batch_rows < 1:
        raise UsageError("batch_rows must be at least 1")
    return batch_rows


#: A partition's file is cut once it reaches this many bytes unless ``max_file_bytes`` says
#: otherwise (128 MiB, as the CLI's ``--max-file-bytes``).
DEFAULT_MAX_FILE_BYTES = 128 << 20


def export(
    topic: str,
    *,
    output: str,
    format: str = "parquet",
    compression: str | None = None,
    from_manifest: str | None = None,
    bootstrap: str | None = None,
    start: Position = "earliest",
    end: Position = "latest",
    partitions: Partitions = None,
    isolation: str = "read_committed",
    config: Mapping[str, ConfigValue] | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    binary: bool = False,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    threads: int = 0,
    value_format: str = "raw",
    key_format: str = "raw",
    on_undecodable: str = "fail",
) -> ExportManifest:
    """Write ``[start, end)`` of one topic as files, then ``_manifest.json``: ``kbatch export``.

    ``output`` is a local directory (created if missing) or ``s3://bucket/prefix`` (S3 settings
    from the usual ``AWS_*`` environment variables). Each partition range becomes one or more
    files named ``TOPIC.PARTITION.FIRSTOFFSET.EXT``, cut at ``max_file_bytes``; ``format`` is
    ``"parquet"`` or ``"arrow"`` (Spark's Kafka schema, as :func:`read`'s) or ``"jsonl"``
    (``kbatch dump``'s lines; ``binary=True`` writes keys and values as base64).
    ``compression``: for Parquet ``"snappy"``, ``"lz4_raw"``, ``"zstd"``, ``"zstd:LEVEL"``
    (1-22), ``"gzip"``, ``"gzip:LEVEL"`` (0-9) or ``"none"`` (default ``"zstd:3"``); for Arrow
    ``"zstd[:LEVEL]"`` or ``"none"`` (default); jsonl is never compressed.
    ``from_manifest`` (a path or URL of a previous export's ``_manifest.json``) starts each
    partition where that export ended (then ``start`` must be left at its default).
    ``value_format`` (``"avro"``, ``"protobuf"``, ``"json-schema"``) / ``key_format`` /
    ``on_undecodable`` as :func:`read`'s: Parquet and Arrow files get the typed column
    :func:`read` gives (one schema for every file of the run), jsonl the natural JSON
    ``kbatch dump --value-format F`` prints; the manifest records
    the formats and, per partition, ``undecodable`` (values written as null).

    Returns the manifest written (``topic``, ``format``, ``compression``, ``isolation``, and
    per partition its range, counts and files). A run that fails writes no manifest and
    aborts its unfinished files; Ctrl-C stops it the same way.
    """
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a str (export writes one topic), not {type(topic).__name__}")
    if not isinstance(output, str):
        raise TypeError(f"output must be a str, not {type(output).__name__}")
    if not isinstance(format, str):
        raise TypeError(f"format must be a str, not {type(format).__name__}")
    if compression is not None and not isinstance(compression, str):
        raise TypeError(f"compression must be a str, not {type(compression).__name__}")
    if from_manifest is not None and not isinstance(from_manifest, str):
        raise TypeError(f"from_manifest must be a str, not {type(from_manifest).__name__}")
    for name, value in (("max_file_bytes", max_file_bytes), ("threads", threads)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int")
    if max_file_bytes < 1:
        raise UsageError("max_file_bytes must be at least 1")
    if not 0 <= threads < 2**16:
        raise UsageError(f"threads: expected 0 (one per core) to 65535, got {threads}")
    common = _common(topic, bootstrap, partitions, isolation, config)
    options: _native._ExportOptions = {
        "output": output,
        "format": format,
        "compression": compression,
        "max_file_bytes": max_file_bytes,
        "from_manifest": from_manifest,
        "binary": bool(binary),
        "batch_rows": _rows(batch_rows),
        "threads": threads,
        "value_format": value_format,
        "key_format": key_format,
        "on_undecodable": on_undecodable,
    }
    manifest = _native.export(common, _position(start, "start"), _position(end, "end"), options)
    return cast("ExportManifest", _json.loads(manifest))
