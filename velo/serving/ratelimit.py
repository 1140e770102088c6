"""A token bucket per caller: a steady rate with room for a burst.

One client that loops on ``POST /predict`` should not take the worker's
scoring thread from everyone else, and a client told to wait should know for
how long: :meth:`RateLimiter.take` returns the seconds until a token is
there, which the API sends as ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``rate`` tokens a second per caller, at most ``burst`` saved up."""

    #: callers remembered; past this the idle ones are forgotten (a full bucket)
    MAX_CALLERS = 10_000

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, caller: str) -> float:
        """Spend one of ``caller``'s tokens: 0.0 if it had one, else the
        seconds until it will (nothing is spent then)."""
        now = self.clock()
        b = self._buckets.get(caller)
        if b is None:
            if len(self._buckets) >= self.MAX_CALLERS:
                self._forget_full(now)
            b = self._buckets[caller] = _Bucket(self.burst, now)
        else:
            b.tokens = min(self.burst, b.tokens + (now - b.at) * self.rate)
            b.at = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        full_after = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < full_after}


def retry_after(seconds: float) -> str:
    """``Retry-After`` in whole seconds, at least 1 (the header has no fractions)."""
    return str(max(1, math.ceil(seconds)))
