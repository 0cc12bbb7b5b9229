"""Spark Kafka source options → one kbatch read request. Pure: no I/O, no Spark.

The option names are those of Spark's Kafka source (``spark.read.format("kafka")``), so a job
switches by changing the format name. Spark passes options case-insensitively (its
``CaseInsensitiveDict`` lower-cases the keys), and so does :func:`parse`.

Where kbatch differs from Spark's source, on purpose:

* ``kafka.isolation.level`` defaults to ``read_committed`` (Spark's consumer defaults to
  ``read_uncommitted``): ranges end at the last stable offset and aborted records are dropped.
* ``startingOffsets``/``endingOffsets`` also take kbatch's SPEC strings (``-24h``,
  ``@2026-11-24T10:00:00Z``, ``1200``, ``0:17,2:100``); in the offsets JSON, partitions left
  out keep the default instead of being an error.
* A timestamp matching no record means "latest" for starts and ends alike (kbatch's rule);
  ``startingOffsetsByTimestampStrategy`` is therefore accepted with a warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from .. import DEFAULT_BATCH_ROWS
from ..errors import UsageError

__all__ = [
    "OptionError", "Request", "Bound", "parse", "CONSUMER_ONLY", "SPARK_REFUSED", "is_secret", "REDACTED"
]


class OptionError(UsageError):
    """A data-source option that cannot be honoured; the message names the option. A
    :class:`kbatch.UsageError` (and so a ``ValueError``)."""


#: What a repr prints instead of a secret value.
REDACTED = "[redacted]"

#: Parts of a client key that mark its value as secret: passwords, inline private keys and
#: keystores, client secrets, JAAS lines (which hold passwords or secrets), tokens, the
#: registry's ``user:password``.
_SECRET_MARKS = (
    "password",
    "secret",
    "jaas",
    "key.pem",
    "keystore.key",
    "oauthbearer.config",
    "token",
    "user.info",
)

#: The Schema Registry's keys, given as they are (no ``kafka.``): handed to the one client
#: configuration, which checks them.
REGISTRY_PREFIX = "schema.registry."


def is_secret(key: str) -> bool:
    """Whether a client key's value must never be printed (``sasl.password``, ``sasl.jaas.config``,
    ``sasl.oauthbearer.client.secret``, ``ssl.key.pem``, ...); with or without ``kafka.``."""
    k = key.lower()
    if k.endswith("token.endpoint.url"):
        return False
    return any(m in k for m in _SECRET_MARKS)


#: Options of Spark's source that only steer its consumer or its streaming triggers: a
#: bounded kbatch read has no consumer group, no poll loop and no trigger. Accepted with a
#: warning so existing jobs keep running.
CONSUMER_ONLY = (
    "kafkaconsumer.polltimeoutms",
    "fetchoffset.numretries",
    "fetchoffset.retryintervalms",
    "groupidprefix",
    "kafka.group.id",
    "startingoffsetsbytimestampstrategy",
    "maxoffsetspertrigger",
    "minoffsetspertrigger",
    "maxtriggerdelay",
    "kafka.auto.commit.interval.ms",
    "kafka.session.timeout.ms",
    "kafka.heartbeat.interval.ms",
    "kafka.max.poll.records",
    "kafka.max.poll.interval.ms",
)

#: ``kafka.`` keys Spark's own source refuses (records are bytes, offsets are explicit, there
#: is no commit): refused here too, with Spark's reason.
SPARK_REFUSED = {
    "kafka.auto.offset.reset": "set startingOffsets instead",
    "kafka.key.deserializer": "keys are always read as bytes (cast them in SQL)",
    "kafka.value.deserializer": "values are always read as bytes (cast them in SQL)",
    "kafka.enable.auto.commit": "a bounded read commits no offsets",
    "kafka.interceptor.classes": "there is no Java consumer to intercept",
}

#: The options of ``kbatch.job=top`` (:func:`top_question`).
TOP_OPTIONS = ("kbatch.group", "kbatch.item", "kbatch.metric", "kbatch.where", "kbatch.window")

_SOURCE = (
    "kafka.bootstrap.servers",
    "subscribe",
    "assign",
    "subscribepattern",
    "startingoffsets",
    "endingoffsets",
    "startingtimestamp",
    "endingtimestamp",
    "startingoffsetsbytimestamp",
    "endingoffsetsbytimestamp",
    "minpartitions",
    "maxrecordsperpartition",
    "includeheaders",
    "failondataloss",
    "kafka.isolation.level",
    "kbatch.job",
    "kbatch.batchrows",
    "valueformat",
    *TOP_OPTIONS,
)

#: The camel-case spelling of each option, for messages.
_SPELLING = {
    n.lower(): n
    for n in (
        "subscribePattern",
        "startingOffsets",
        "endingOffsets",
        "startingTimestamp",
        "endingTimestamp",
        "startingOffsetsByTimestamp",
        "endingOffsetsByTimestamp",
        "minPartitions",
        "maxRecordsPerPartition",
        "includeHeaders",
        "failOnDataLoss",
        "kbatch.batchRows",
        "valueFormat",
        "kafkaConsumer.pollTimeoutMs",
        "fetchOffset.numRetries",
        "fetchOffset.retryIntervalMs",
        "groupIdPrefix",
        "startingOffsetsByTimestampStrategy",
        "maxOffsetsPerTrigger",
        "minOffsetsPerTrigger",
        "maxTriggerDelay",
    )
}

JOBS = ("read", "trending", "top")


def spelled(key: str) -> str:
    """The documented spelling of a (lower-cased) option name."""
    return _SPELLING.get(key, key)


@dataclass(frozen=True)
class Bound:
    """One end of the range, before resolution.

    ``kind`` is one of:

    * ``"spec"``: ``value`` is SPEC text for every partition (``earliest``, ``latest``,
      ``-24h``, ``@…``, ``1200``, ``0:17,2:100``);
    * ``"offsets"``: ``value`` maps topic → partition → offset (-2 earliest, -1 latest);
      partitions left out take ``default``;
    * ``"timestamps"``: ``value`` maps topic → partition → epoch milliseconds; partitions left
      out take ``default``.
    """

    kind: str
    value: object
    default: str

    def spec_for(self, topic: str, partition: int) -> str:
        """SPEC text of this bound for one partition (what kbatch's planner resolves)."""
        if self.kind == "spec":
            return str(self.value)
        per = cast("Mapping[str, Mapping[int, int]]", self.value).get(topic, {})
        if partition not in per:
            return self.default
        v = per[partition]
        if self.kind == "timestamps":
            return f"@{v}"
        return {-2: "earliest", -1: "latest"}.get(v, str(v))


@dataclass(frozen=True)
class Request:
    """Everything a load needs, validated."""

    bootstrap: str
    #: ``"subscribe"`` (topics), ``"assign"`` (topic → partitions) or ``"pattern"`` (regex).
    mode: str
    topics: tuple[str, ...] = ()
    assign: tuple[tuple[str, tuple[int, ...]], ...] = ()
    pattern: str = ""
    start: Bound = Bound("spec", "earliest", "earliest")
    end: Bound = Bound("spec", "latest", "latest")
    isolation: str = "read_committed"
    config: tuple[tuple[str, str], ...] = ()
    min_partitions: int | None = None
    max_records: int | None = None
    headers: bool = False
    fail_on_data_loss: bool = True
    job: str = "read"
    batch_rows: int = DEFAULT_BATCH_ROWS
    #: ``kbatch.job=top``'s question: (group paths text, item, metric, where expressions,
    #: window or None); see :func:`top_question`.
    top_question: tuple[str, str, str, tuple[str, ...], str | None] = ("", "", "", (), None)
    #: ``valueFormat``: ``raw`` (JSON events) or ``avro`` (registry-framed values, for the
    #: trending and top pushdowns).
    value_format: str = "raw"
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def config_dict(self) -> dict[str, str]:
        return dict(self.config)

    def __repr__(self) -> str:
        # The dataclass repr would print every client key's value, passwords included.
        shown = tuple((k, REDACTED if is_secret(k) else v) for k, v in self.config)
        fields = []
        for name in self.__dataclass_fields__:
            value = shown if name == "config" else getattr(self, name)
            fields.append(f"{name}={value!r}")
        return f"Request({', '.join(fields)})"

    __str__ = __repr__


def _bool(key: str, value: str) -> bool:
    v = str(value).strip().lower()
    if v in ("true", "false"):
        return v == "true"
    raise OptionError(f"option {spelled(key)}: expected true or false, got {value!r}")


def _positive(key: str, value: str) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise OptionError(f"option {spelled(key)}: expected a positive integer, got {value!r}") from None
    if n < 1:
        raise OptionError(f"option {spelled(key)}: expected a positive integer, got {value!r}")
    return n


def _json_object(key: str, value: str) -> dict[str, Any]:
    try:
        obj = json.loads(value)
    except json.JSONDecodeError as e:
        raise OptionError(f"option {spelled(key)}: not valid JSON ({e.msg} at {e.pos})") from None
    if not isinstance(obj, dict):
        raise OptionError(f"option {spelled(key)}: expected a JSON object, got {value!r}")
    return obj


def _per_partition(key: str, value: str) -> dict[str, dict[int, int]]:
    """``{"topic": {"0": 23}}`` → ``{"topic": {0: 23}}``, checked."""
    out: dict[str, dict[int, int]] = {}
    for topic, parts in _json_object(key, value).items():
        if not isinstance(parts, dict):
            raise OptionError(f'option {spelled(key)}: topic {topic!r} needs an object like {{"0": 23}}')
        per: dict[int, int] = {}
        for p, n in parts.items():
            try:
                pid = int(p)
            except ValueError:
                raise OptionError(f"option {spelled(key)}: topic {topic!r}: bad partition {p!r}") from None
            if pid < 0 or isinstance(n, bool) or not isinstance(n, int):
                raise OptionError(f"option {spelled(key)}: {topic}-{p}: expected an integer, got {n!r}")
            per[pid] = n
        out[topic] = per
    return out


def _bound(opts: Mapping[str, str], side: str) -> Bound:
    """``starting…``/``ending…`` options → a Bound; Spark's precedence: the global timestamp,
    then the per-partition timestamps, then the offsets."""
    default = "earliest" if side == "starting" else "latest"
    ts_key, by_ts_key, off_key = f"{side}timestamp", f"{side}offsetsbytimestamp", f"{side}offsets"
    if ts_key in opts:
        raw = str(opts[ts_key]).strip()
        if not re.fullmatch(r"\d+", raw):
            raise OptionError(f"option {spelled(ts_key)}: expected epoch milliseconds, got {raw!r}")
        return Bound("spec", f"@{raw}", default)
    if by_ts_key in opts:
        per = _per_partition(by_ts_key, opts[by_ts_key])
        return Bound("timestamps", per, default)
    if off_key not in opts:
        return Bound("spec", default, default)
    raw = str(opts[off_key]).strip()
    forbidden = "latest" if side == "starting" else "earliest"
    if raw.lower() == forbidden:
        raise OptionError(
            f"option {spelled(off_key)}: {forbidden!r} is not allowed in a batch read "
            f"(as in Spark's Kafka source: the range would be empty)"
        )
    if raw.startswith("{"):
        per = _per_partition(off_key, raw)
        bad = -1 if side == "starting" else -2
        for topic, parts in per.items():
            for p, n in parts.items():
                if n == bad:
                    raise OptionError(
                        f"option {spelled(off_key)}: {topic}-{p}: {bad} ({forbidden}) is not allowed "
                        f"in a batch read (as in Spark's Kafka source)"
                    )
                if n < -2:
                    raise OptionError(f"option {spelled(off_key)}: {topic}-{p}: bad offset {n}")
        return Bound("offsets", per, default)
    if not raw:
        raise OptionError(f"option {spelled(off_key)}: empty")
    # earliest/latest, or any kbatch SPEC: kbatch's planner parses and checks it.
    return Bound("spec", raw.lower() if raw.lower() in ("earliest", "latest") else raw, default)


def _assign(value: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    out = []
    for topic, parts in _json_object("assign", value).items():
        if not isinstance(parts, list) or not parts:
            raise OptionError(f'option assign: topic {topic!r} needs a list of partitions like [0, 1]')
        if not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in parts):
            raise OptionError(f"option assign: topic {topic!r}: partitions must be integers ≥ 0")
        out.append((topic, tuple(sorted(set(parts)))))
    if not out:
        raise OptionError("option assign: no topic given")
    return tuple(out)


def parse(options: Mapping[str, str]) -> Request:
    """Validate the data source's options (any case) into a :class:`Request`.

    Raises :class:`OptionError` naming every unknown option at once, or the first invalid one.
    Consumer-only options come back as ``Request.warnings``.
    """
    opts = {str(k).lower(): ("" if v is None else str(v)) for k, v in options.items()}
    unknown = sorted(
        k
        for k in opts
        if k not in _SOURCE
        and k not in CONSUMER_ONLY
        and not k.startswith("kafka.")
        and not k.startswith(REGISTRY_PREFIX)
    )
    if unknown:
        raise OptionError(
            "unknown option(s) for the kbatch data source: "
            + ", ".join(spelled(k) for k in unknown)
            + " (Spark Kafka source names, kafka.* client keys, schema.registry.* keys and"
            " kbatch.job/kbatch.batchRows are accepted)"
        )
    for key, why in SPARK_REFUSED.items():
        if key in opts:
            raise OptionError(f"option {key} is not supported: {why}")
    warnings: list[str] = [
        f"option {spelled(k)} is ignored: kbatch reads fixed ranges without a consumer group or poll loop"
        for k in sorted(opts)
        if k in CONSUMER_ONLY
    ]

    bootstrap = opts.get("kafka.bootstrap.servers", "").strip()
    if not bootstrap:
        raise OptionError("option kafka.bootstrap.servers is required (host:port,...)")

    chosen = [k for k in ("subscribe", "assign", "subscribepattern") if k in opts]
    if len(chosen) != 1:
        raise OptionError(
            "exactly one of the options subscribe, assign, subscribePattern is required"
            + (f" (got {', '.join(spelled(k) for k in chosen)})" if chosen else "")
        )
    topics: tuple[str, ...] = ()
    assign: tuple[tuple[str, tuple[int, ...]], ...] = ()
    pattern = ""
    if chosen[0] == "subscribe":
        mode = "subscribe"
        topics = tuple(t.strip() for t in opts["subscribe"].split(",") if t.strip())
        if not topics:
            raise OptionError("option subscribe: no topic given")
    elif chosen[0] == "assign":
        mode = "assign"
        assign = _assign(opts["assign"])
    else:
        mode = "pattern"
        pattern = opts["subscribepattern"]
        try:
            re.compile(pattern)
        except re.error as e:
            raise OptionError(f"option subscribePattern: not a regular expression: {e}") from None
        if not pattern:
            raise OptionError("option subscribePattern: empty")

    isolation = opts.get("kafka.isolation.level", "read_committed").strip().lower()
    if isolation not in ("read_committed", "read_uncommitted"):
        raise OptionError(
            f"option kafka.isolation.level: expected read_committed or read_uncommitted, got {isolation!r}"
        )
    job = opts.get("kbatch.job", "read").strip().lower()
    if job not in JOBS:
        raise OptionError(f"option kbatch.job: expected one of {', '.join(JOBS)}, got {job!r}")

    passed = {"kafka.bootstrap.servers", "kafka.isolation.level", *CONSUMER_ONLY}
    config = tuple(
        (k[len("kafka."):], opts[k]) for k in sorted(opts) if k.startswith("kafka.") and k not in passed
    ) + tuple((k, opts[k]) for k in sorted(opts) if k.startswith(REGISTRY_PREFIX))
    return Request(
        bootstrap=bootstrap,
        mode=mode,
        topics=topics,
        assign=assign,
        pattern=pattern,
        start=_bound(opts, "starting"),
        end=_bound(opts, "ending"),
        isolation=isolation,
        config=config,
        min_partitions=_positive("minpartitions", opts["minpartitions"]) if "minpartitions" in opts else None,
        max_records=(
            _positive("maxrecordsperpartition", opts["maxrecordsperpartition"])
            if "maxrecordsperpartition" in opts
            else None
        ),
        headers=_bool("includeheaders", opts["includeheaders"]) if "includeheaders" in opts else False,
        fail_on_data_loss=(
            _bool("failondataloss", opts["failondataloss"]) if "failondataloss" in opts else True
        ),
        job=job,
        batch_rows=(
            _positive("kbatch.batchrows", opts["kbatch.batchrows"])
            if "kbatch.batchrows" in opts
            else DEFAULT_BATCH_ROWS
        ),
        top_question=top_question(opts, job),
        value_format=value_format(opts, job),
        warnings=tuple(warnings),
    )


def value_format(opts: Mapping[str, str], job: str) -> str:
    """``valueFormat`` (lower-cased key): ``raw`` or ``avro``; ``avro`` reads registry-framed
    values (schemas from the ``schema.registry.*`` options) in the trending and top pushdowns."""
    fmt = opts.get("valueformat", "raw").strip().lower()
    if fmt not in ("raw", "avro"):
        raise OptionError(f"option valueFormat: expected raw or avro, got {fmt!r}")
    if fmt != "raw" and job == "read":
        raise OptionError(
            "option valueFormat: decoded values are read by the trending and top pushdowns "
            "(kbatch.job=trending or top); kbatch.job=read returns the bytes"
        )
    return fmt


def top_question(opts: Mapping[str, str], job: str) -> tuple[str, str, str, tuple[str, ...], str | None]:
    """The ``kbatch.*`` options of ``kbatch.job=top`` (lower-cased keys): ``kbatch.group``
    (comma-separated paths, as ``--group``) and ``kbatch.item`` required, ``kbatch.metric``
    (default ``count``), ``kbatch.where`` (one expression, or a JSON list of them),
    ``kbatch.window``. Their grammar is kbatch's parser's (checked natively at ``load()``)."""
    given = [k for k in TOP_OPTIONS if k in opts]
    if job != "top":
        if given:
            raise OptionError(f"option {given[0]} needs kbatch.job=top (got kbatch.job={job})")
        return ("", "", "", (), None)
    for k in ("kbatch.group", "kbatch.item"):
        if not opts.get(k, "").strip():
            raise OptionError(f"option {k} is required with kbatch.job=top (a path such as page.category)")
    raw = opts.get("kbatch.where", "").strip()
    wheres: tuple[str, ...] = ()
    if raw.startswith("["):  # a path never starts with "[": a JSON list of expressions
        try:
            listed = json.loads(raw)
        except json.JSONDecodeError as e:
            why = f"not a JSON list of expressions ({e.msg} at {e.pos})"
            raise OptionError(f"option kbatch.where: {why}") from None
        if not isinstance(listed, list) or not all(isinstance(w, str) for w in listed):
            raise OptionError("option kbatch.where: expected an expression or a JSON list of strings")
        wheres = tuple(listed)
    elif raw:
        wheres = (raw,)
    return (
        opts["kbatch.group"].strip(),
        opts["kbatch.item"].strip(),
        opts.get("kbatch.metric", "").strip() or "count",
        wheres,
        opts.get("kbatch.window", "").strip() or None,
    )
