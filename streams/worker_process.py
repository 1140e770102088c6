"""A ``velo worker`` child process on a free port, and waiting for its health:
for the demo and the benchmarks (the tests keep their own, with HTTP helpers)."""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path

from velo.config import Settings
from velo.stack.ports import free_port
from velo.stack.process import ManagedProcess


def start_worker(settings: Settings, workdir: Path, *args: str) -> tuple[ManagedProcess, int]:
    """``args`` go to ``velo worker`` (``--wait-for-model`` to start before the
    model is registered, as the demo does to overlap start-up with training)."""
    port = free_port()
    proc = ManagedProcess(
        "worker",
        [sys.executable, "-m", "velo.cli.main", "worker", "--web-port", str(port), *args],
        workdir / "worker.log",
        env=settings.env(),
    )
    proc.start()
    return proc, port


def wait_healthy(proc: ManagedProcess, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"the worker exited:\n{proc.log_tail()}")
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the worker was not healthy within {timeout_s:.0f}s:\n{proc.log_tail()}")
