"""A circuit breaker for the worker's HTTP predictions.

With Redis or the broker down, ``POST /predict`` would wait on a socket
until its timeout, and every client would pile up behind it. The worker
probes both in the background (:meth:`CircuitBreaker.record` with what each
probe found); while any is down the breaker is open, and a request is
answered 503 at once with the reasons and a ``Retry-After``. A transient
failure inside a prediction opens it too, until the next probe that finds
everything up closes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._reasons: list[str] = []
        self._since: float | None = None

    @property
    def open(self) -> bool:
        return bool(self._reasons)

    @property
    def reasons(self) -> list[str]:
        """Why it is open (empty when closed)."""
        return list(self._reasons)

    def open_for(self) -> float:
        """Seconds it has been open (0 when closed)."""
        return 0.0 if self._since is None else self.clock() - self._since

    def record(self, reasons: list[str]) -> None:
        """A probe's findings: the dependencies that are down (none: close)."""
        if reasons and self._since is None:
            self._since = self.clock()
        elif not reasons:
            self._since = None
        self._reasons = list(reasons)

    def trip(self, reason: str) -> None:
        """A request failed on a dependency: open until a probe finds it up."""
        self.record([*self._reasons, reason] if reason not in self._reasons else self._reasons)
