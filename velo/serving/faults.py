"""Which failures are waited out and which are a message's own fault.

The worker's guarantee (every input ends as a prediction, applied state or a
dead letter) rests on telling the two apart. A *transient* failure belongs to
a service we depend on (Redis, the broker): the same message will succeed once
the service is back, so it is retried with backoff and nothing is committed
meanwhile. Anything else raised while decoding, validating or scoring one
message is that message's fault: it is isolated and dead-lettered, and its
neighbours go on.

This module imports no Kafka client: Kafka's errors say themselves whether
they are retriable (``retriable`` on aiokafka's and confluent-kafka's errors).
"""

from __future__ import annotations

import redis.exceptions


class NotReady(Exception):
    """The worker cannot score yet (no champion loaded): wait, do not dead-letter."""


_TRANSIENT = (
    redis.exceptions.ConnectionError,  # includes BusyLoadingError (a restarting Redis)
    redis.exceptions.TimeoutError,
    ConnectionError,  # the OS's refused, reset and aborted connections
    TimeoutError,
    NotReady,
)


def is_transient(exc: BaseException) -> bool:
    """True if retrying the same work later can succeed without changing it."""
    if isinstance(exc, _TRANSIENT):
        return True
    if getattr(exc, "retriable", False) is True:  # Kafka client errors
        return True
    cause = exc.__cause__  # explicit ``raise ... from`` a transient failure
    return cause is not None and is_transient(cause)


def describe(exc: BaseException) -> str:
    """One line for a dead letter or a health reason: the type and the message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
