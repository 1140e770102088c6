"""A child server process that is stopped for sure, and whose death is seen.

Children run in their own session (so a terminal Ctrl-C reaches only the
parent, which then stops them in order) and, on Linux, ask the kernel to kill
them if the parent dies without cleaning up, so no broker or Redis outlives
``velo up`` or a crashed test run.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1


class ProcessStartError(RuntimeError):
    """A server did not become ready; the message carries its log tail."""


@dataclass(frozen=True)
class ChildExit:
    """A child that ended without being asked to; ``returncode`` < 0 is a signal."""

    name: str
    pid: int
    returncode: int

    @property
    def how(self) -> str:
        return describe_exit(self.returncode)

    def __str__(self) -> str:
        return f"{self.name} (pid {self.pid}) died: {self.how}"


def describe_exit(returncode: int) -> str:
    """``-9`` -> "killed by signal 9 (SIGKILL)", ``1`` -> "exit code 1"."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "unknown signal"
    return f"killed by signal {-returncode} ({name})"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def _spawn_thread() -> ThreadPoolExecutor:
    """One thread that lives as long as the process, to fork children from.

    The kernel's parent-death signal fires when the *thread* that forked the
    child ends, not the process: a Redis restarted from a short-lived thread
    (``asyncio.to_thread``, a harness's worker) would be SIGKILLed with it.
    """
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="velo-stack-spawn")
        return _spawner


class ManagedProcess:
    """One server process with its output in ``log_path``."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self._proc: subprocess.Popen[bytes] | None = None
        self._deliberate = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        self._deliberate = False
        if threading.current_thread() is threading.main_thread():
            self._proc = self._popen()
        else:
            self._proc = _spawn_thread().submit(self._popen).result()

    def _popen(self) -> subprocess.Popen[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the fd
            return subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                env={**os.environ, **(self.env or {})},
            )

    def alive(self) -> bool:
        """Running; checking also reaps a dead child, so it never lingers as a zombie."""
        return self._proc is not None and self._proc.poll() is None

    def unexpected_exit(self) -> ChildExit | None:
        """How the child ended if it ended on its own (reaping it); None while it runs.

        Ends caused by ``kill()`` or ``stop()`` are not reported: whoever
        killed it on purpose decides what happens next. Reported once.
        """
        proc = self._proc
        if proc is None or self._deliberate or proc.poll() is None:
            return None
        self._deliberate = True
        return ChildExit(self.name, proc.pid, proc.returncode)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL and reap, for fault injection; not reported by ``unexpected_exit``."""
        self._deliberate = True
        if self.alive():
            assert self._proc is not None
            self._proc.kill()
            self._proc.wait()

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; always reaps."""
        self._deliberate = True
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None
