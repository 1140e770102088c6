"""Broker plus Redis, started together and stopped together."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from velo.config import Settings
from velo.stack.broker import BrokerServer
from velo.stack.ports import port_is_free
from velo.stack.process import ChildExit
from velo.stack.redis import RedisServer


class EmbeddedStack:
    """The local stack ``velo up``, ``velo demo`` and the tests run on.

    Ports of 0 mean "any free port". The stack's own scratch directory (logs,
    Redis append-only file) is removed on stop unless ``workdir`` was given.

    Fault injection: ``kill_redis``/``kill_broker`` SIGKILL a child (and reap
    it); ``restart_redis``/``restart_broker`` bring it back on the same port.
    Redis comes back with its data (append-only file); the broker comes back
    empty, so callers re-create topics (``streams.admin.ensure_topics``).
    These and ``dead_children`` share a lock, so a ``Supervisor`` thread and a
    harness can use one stack together.
    """

    def __init__(self, broker_port: int = 0, redis_port: int = 0, workdir: Path | None = None) -> None:
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="velo-stack-"))
        self.broker = BrokerServer(self.workdir, broker_port or None)
        self.redis = RedisServer(self.workdir / "redis", redis_port or None)
        self._lock = threading.RLock()

    @classmethod
    def on_default_ports(cls, settings: Settings, workdir: Path | None = None) -> EmbeddedStack:
        """Use the settings' ports when free, so default settings just work."""
        from urllib.parse import urlparse

        bport = int(settings.bootstrap_servers.split(",")[0].rsplit(":", 1)[1])
        rport = urlparse(settings.redis_url).port or 6379
        return cls(bport if port_is_free(bport) else 0, rport if port_is_free(rport) else 0, workdir)

    def start(self) -> EmbeddedStack:
        """Start both, Redis empty.

        An append-only file left in a reused ``workdir`` belongs to an earlier
        stack, whose broker (and so whose topics and offsets) no longer exist.
        """
        with self._lock:
            shutil.rmtree(self.redis.workdir, ignore_errors=True)
            try:
                self.broker.start()
                self.redis.start()
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        with self._lock:
            self.redis.stop()
            self.broker.stop()
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def dead_children(self) -> list[ChildExit]:
        """Children that ended on their own since the last call, broker first; reaps them.

        Children killed or stopped through this API are not listed.
        """
        with self._lock:
            found = (s.process.unexpected_exit() for s in (self.broker, self.redis) if s.process)
            return [e for e in found if e is not None]

    def kill_redis(self) -> None:
        """SIGKILL Redis and reap it; it stays down until ``restart_redis``."""
        with self._lock:
            self.redis.kill()

    def kill_broker(self) -> None:
        """SIGKILL the broker and reap it; its topics and messages are gone."""
        with self._lock:
            self.broker.kill()

    def restart_redis(self, timeout: float = 10.0) -> None:
        """(Re)start Redis on its port, returning once it answers PING."""
        with self._lock:
            self.redis.restart(timeout)

    def restart_broker(self, timeout: float = 15.0) -> None:
        """(Re)start the broker on its port, returning once it accepts connections.

        It starts empty: re-create topics with ``streams.admin.ensure_topics``.
        """
        with self._lock:
            self.broker.restart(timeout)

    def settings(self, **overrides: Any) -> Settings:
        """Settings pointing at this stack."""
        return Settings(bootstrap_servers=self.broker.bootstrap, redis_url=self.redis.url, **overrides)

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
