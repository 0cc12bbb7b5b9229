"""The exceptions kbatch raises.

Every failure raises a subclass of :class:`KbatchError` whose message is the one line the
``kbatch`` command prints after ``kbatch:`` for the same failure (it names the topic,
partition, offsets or broker concerned). The class follows the same decision as the
command's exit code (the reader's error kind)::

    KbatchError
    ├── UsageError   (also a ValueError)    bad argument, SPEC or config key   (exit 2)
    │   └── kbatch.spark.OptionError        a bad Spark data-source option
    ├── RangeError                           what was asked for is not in the cluster (exit 1)
    ├── BrokerError                          talking to the cluster failed     (exit 1)
    │   └── AuthError                        the cluster refused who we are    (exit 1)
    ├── DataError                            a record batch in range could not be decoded (exit 1)
    └── InternalError (also a RuntimeError)  kbatch itself failed: a bug       (exit 101)

Every exception has ``.topic`` and ``.partition`` (``None`` when the failure is not about
one) and ``.retriable`` (``True`` when the same call may succeed later: a broker that was
unreachable or kept answering with a retriable Kafka error).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "KbatchError",
    "UsageError",
    "RangeError",
    "BrokerError",
    "AuthError",
    "DataError",
    "InternalError",
]


class KbatchError(Exception):
    """Base class of every kbatch failure; ``str(e)`` is the CLI's one-line message.

    ``topic`` and ``partition`` name what the failure is about (``None`` when it is not about
    one); ``retriable`` says whether the same call may succeed if tried again later.
    """

    topic: str | None
    partition: int | None
    retriable: bool

    def __init__(
        self,
        *args: Any,
        topic: str | None = None,
        partition: int | None = None,
        retriable: bool = False,
    ) -> None:
        super().__init__(*args)
        self.topic = topic
        self.partition = partition
        self.retriable = retriable


class UsageError(KbatchError, ValueError):
    """A bad argument: an unknown ``isolation``, a SPEC that does not parse, an unknown or
    invalid ``config`` key (the CLI exits with code 2 on these). Nothing was sent to a broker
    for bad SPECs and keys."""


class RangeError(KbatchError):
    """What was asked for is not in the cluster: an unknown topic or partition, an explicit
    offset outside ``[earliest, latest]``, a start after its end, an end inside an open
    transaction (read_committed), records deleted by retention or a truncated log, or a topic
    deleted or recreated during the read. Nothing is ever reset or skipped instead."""


class BrokerError(KbatchError):
    """Talking to the cluster failed: no bootstrap broker reachable, no progress within the
    timeout (``request.timeout.ms``), a protocol error, or a Kafka error code."""


class AuthError(BrokerError):
    """The cluster refused who we are: SASL authentication failed, TLS verification failed,
    or an ACL denied access. Never retried (a retried bad password is a lockout risk)."""


class DataError(KbatchError):
    """A record batch in range could not be decoded (CRC, codec, corrupt header), or a
    ``strict`` trending read met a record that is not a valid event. The message names topic,
    partition and offset."""


class InternalError(KbatchError, RuntimeError):
    """kbatch itself failed: a panic caught in the read (a bug; the message says what was
    being read, and the read is never reported complete), or its I/O runtime could not start
    or shut down under the call."""
