"""Watch the stack's children: Redis is brought back, a dead broker ends the stack.

The two are treated differently because of what a restart can recover. Redis
reloads its append-only file, so a restart on the same port is invisible to
clients apart from a reconnect. The Tansu broker keeps every topic, message
and committed offset in memory: a broker restarted in place would answer on
the same port with none of them, which consumers and producers would take
for a healthy, empty cluster. Stopping loudly is the honest outcome.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable

from velo.stack.embedded import EmbeddedStack
from velo.stack.process import ChildExit, ProcessStartError


class StackFailed(RuntimeError):
    """The stack could not go on and has been stopped; the message is one line for the user."""


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Supervisor:
    """Reap the stack's children and apply the policy above on each ``check``.

    Redis may be restarted ``max_restarts`` times in any ``window`` seconds;
    a Redis that dies more often than that is failing, not unlucky, and the
    stack stops. Children killed through ``EmbeddedStack.kill_*`` are left
    to whoever killed them.
    """

    def __init__(
        self,
        stack: EmbeddedStack,
        report: Callable[[str], None] = _to_stderr,
        max_restarts: int = 5,
        window: float = 60.0,
    ) -> None:
        self.stack = stack
        self.report = report
        self.max_restarts = max_restarts
        self.window = window
        self._restarts: deque[float] = deque()

    def check(self) -> None:
        """Handle every child that died since the last check; raise ``StackFailed`` if the stack is gone."""
        for dead in self.stack.dead_children():
            if dead.name == "broker":
                self._fail(
                    f"{dead}; its topics, messages and offsets lived in memory only and are lost, "
                    "so the stack was stopped (Redis too) rather than restarted empty"
                )
            self._restart_redis(dead)

    def watch(self, stop: threading.Event, interval: float = 0.2) -> None:
        """``check`` every ``interval`` seconds until ``stop`` is set or ``StackFailed`` is raised."""
        while not stop.wait(interval):
            self.check()

    def _restart_redis(self, dead: ChildExit) -> None:
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > self.window:
            self._restarts.popleft()
        if len(self._restarts) >= self.max_restarts:
            self._fail(
                f"{dead}; redis died {len(self._restarts) + 1} times in {self.window:g} s, so the stack was stopped"
            )
        self._restarts.append(now)
        redis = self.stack.redis
        try:
            self.stack.restart_redis()
        except ProcessStartError as exc:
            reason = str(exc).splitlines()[0]
            self._fail(f"{dead}; restarting it on port {redis.port} failed ({reason}), so the stack was stopped")
        assert redis.process is not None
        if redis.appendonly:
            kept = f"its data were reloaded from the append-only file in {redis.workdir}"
        else:
            kept = "its in-memory data are gone (persistence is off)"
        self.report(f"{dead}; restarted on port {redis.port} as pid {redis.process.pid}; {kept}")

    def _fail(self, message: str) -> None:
        self.stack.stop()
        raise StackFailed(message)
