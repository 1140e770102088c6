"""What a worker knows about its own health, kept apart from HTTP and Kafka.

Two questions, as Kubernetes asks them:

- *ready* (``/ready``): may this worker take work now? Not while it has no
  champion, or while it waits out an outage of Redis or the broker.
- *healthy* (``/health``): is it doing its job? Not after a handler crashed,
  while a partition's commits are stalled with messages waiting, after a
  refused model swap, or while publishing fails; an outage being waited out is
  reported here too, so an operator sees why offsets stand still.

The stream adapter reports events; the views only read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("velo.health")

#: A stalled-commit report older than this is taken as resolved (the input
#: consumer re-reports a stall on every commit round while it lasts).
STALL_MEMORY_S = 120.0
#: While an outage lasts, log it again at most this often.
RELOG_EVERY_S = 10.0


@dataclass
class _Outage:
    since: float
    reason: str
    logged_at: float


class WorkerHealth:
    def __init__(self, stall_after_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.stall_after_s = stall_after_s
        self.crashes: list[str] = []
        self.outages: dict[str, _Outage] = {}
        self.stalls: dict[str, tuple[float, str]] = {}
        self._held: dict[int, tuple[float, str]] = {}

    # -- reports ---------------------------------------------------------
    def waiting(self, what: str, reason: str) -> None:
        """Work for ``what`` is being retried; log loudly, then now and then."""
        now = self.clock()
        current = self.outages.get(what)
        if current is None:
            self.outages[what] = _Outage(now, reason, now)
            log.error("waiting for %s: %s (retrying; nothing is committed meanwhile)", what, reason)
        else:
            current.reason = reason
            if now - current.logged_at >= RELOG_EVERY_S:
                current.logged_at = now
                log.error("still waiting for %s after %.0f s: %s", what, now - current.since, reason)

    def recovered(self, what: str) -> None:
        gone = self.outages.pop(what, None)
        if gone is not None:
            log.warning("%s is back after %.1f s", what, self.clock() - gone.since)

    def crashed(self, agent: str, error: str) -> None:
        """An agent raised past its own handling: its held messages stay
        uncommitted until the process restarts, so this is sticky."""
        self.crashes.append(f"agent {agent} crashed: {error}")
        log.critical("agent %s crashed: %s", agent, error)

    def commit_stalled(self, partition: str, detail: str) -> None:
        """Commits of ``partition`` (or of the input topics) kept failing past the stall limit."""
        self.stalls[partition] = (self.clock(), detail)

    def holding(self, token: int, what: str) -> None:
        """Messages taken and held (uncommitted) until :meth:`released`."""
        self._held[token] = (self.clock(), what)

    def released(self, token: int) -> None:
        self._held.pop(token, None)

    # -- questions -------------------------------------------------------
    def outage_reasons(self) -> list[str]:
        now = self.clock()
        return [f"waiting for {what} for {now - o.since:.0f} s: {o.reason}" for what, o in self.outages.items()]

    def problems(self, swap_error: str | None = None) -> list[str]:
        """Why the worker is not healthy (empty when it is)."""
        now = self.clock()
        stalled = [
            f"commits stalled on {tp} with messages waiting: {d}"
            for tp, (at, d) in self.stalls.items()
            if now - at < STALL_MEMORY_S
        ]
        stalled += [
            f"commits stalled: {what} held unsettled for {now - since:.0f} s"
            for since, what in self._held.values()
            if now - since >= self.stall_after_s
        ]
        swap = [f"model swap failed: {swap_error}"] if swap_error else []
        return [*self.crashes, *stalled, *swap, *self.outage_reasons()]
