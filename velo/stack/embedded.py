"""Broker plus Redis, started together and stopped together."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from velo.config import Settings
from velo.stack.broker import BrokerServer
from velo.stack.ports import port_is_free
from velo.stack.redis import RedisServer


class EmbeddedStack:
    """The local stack ``velo up``, ``velo demo`` and the tests run on.

    Ports of 0 mean "any free port". The stack's own scratch directory (logs,
    Redis append-only file) is removed on stop unless ``workdir`` was given.
    """

    def __init__(self, broker_port: int = 0, redis_port: int = 0, workdir: Path | None = None) -> None:
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="velo-stack-"))
        self.broker = BrokerServer(self.workdir, broker_port or None)
        self.redis = RedisServer(self.workdir / "redis", redis_port or None)

    @classmethod
    def on_default_ports(cls, settings: Settings, workdir: Path | None = None) -> EmbeddedStack:
        """Use the settings' ports when free, so default settings just work."""
        from urllib.parse import urlparse

        bport = int(settings.bootstrap_servers.split(",")[0].rsplit(":", 1)[1])
        rport = urlparse(settings.redis_url).port or 6379
        return cls(bport if port_is_free(bport) else 0, rport if port_is_free(rport) else 0, workdir)

    def start(self) -> EmbeddedStack:
        try:
            self.broker.start()
            self.redis.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.redis.stop()
        self.broker.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def settings(self, **overrides: object) -> Settings:
        """Settings pointing at this stack."""
        return Settings(bootstrap_servers=self.broker.bootstrap, redis_url=self.redis.url, **overrides)

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
