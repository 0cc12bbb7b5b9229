"""The exceptions kbatch raises.

Every failure raises a subclass of :class:`KbatchError` whose message is the one line the
``kbatch`` command prints after ``kbatch:`` for the same failure (it names the topic,
partition, offsets or broker concerned)::

    KbatchError
    ├── UsageError   (also a ValueError)  bad argument, SPEC or config key
    ├── RangeError                         what was asked for is not in the cluster
    ├── BrokerError                        talking to the cluster failed
    │   └── AuthError                      the cluster refused who we are
    └── DataError                          a record batch in range could not be decoded
"""

__all__ = ["KbatchError", "UsageError", "RangeError", "BrokerError", "AuthError", "DataError"]


class KbatchError(Exception):
    """Base class of every kbatch failure; ``str(e)`` is the CLI's one-line message."""


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
