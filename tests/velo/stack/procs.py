"""Process-state probes the stack tests share (Linux ``/proc``)."""

from __future__ import annotations

import os
import time


def state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` ("Z" = zombie), or None if no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0]
    except OSError:
        return None


def alive(pid: int) -> bool:
    """Running; a zombie counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    found = state(pid)
    return found is not None and found != "Z"


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The pids still alive after ``timeout`` seconds (empty when all ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def wait_reaped(pid: int, timeout: float = 10.0) -> bool:
    """True once ``pid`` is gone from the process table: dead and reaped, not a zombie."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state(pid) is None:
            return True
        time.sleep(0.05)
    return state(pid) is None
