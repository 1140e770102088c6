"""``velo up`` as a user runs it: a real process, a third-party client, a signal."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest
import redis

from tests.velo.stack.procs import state, wait_gone, wait_reaped

VELO = [sys.executable, "-m", "velo.cli.main"]
KCAT_FLAGS = ["-X", "api.version.request=false", "-X", "broker.version.fallback=0.9.0"]


class Lines:
    """A pipe read on a thread, so a test can wait for a line with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)

    def wait_for(self, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if needle in line:
                return line
        raise AssertionError(f"no line with {needle!r} within {timeout}s; got:\n{''.join(self.seen)}")


def _start_up() -> tuple[subprocess.Popen, dict[str, str], list[int], Lines]:
    proc = subprocess.Popen(
        [*VELO, "up", "--broker-port", "0", "--redis-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    errors = Lines(proc.stderr)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C to stop" in line:
            break
    text = "".join(lines)
    env = dict(re.findall(r"export (VELO_\w+)=(\S+)", text))
    pids = [int(p) for p in re.findall(r"(?:broker|redis) pid (\d+)", text)]
    assert "VELO_BOOTSTRAP_SERVERS" in env, text + "".join(errors.seen)
    return proc, env, pids, errors


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_up_prints_settings_and_stops_cleanly(sig: signal.Signals) -> None:
    proc, env, pids, _ = _start_up()
    try:
        assert len(pids) == 2
        assert env["VELO_REDIS_URL"].startswith("redis://127.0.0.1:")
    finally:
        proc.send_signal(sig)
        rest = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, rest
    assert "embedded stack stopped" in rest
    assert wait_gone(pids) == [], "broker or redis left behind after velo up stopped"


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat missing (Debian package kcat; .ci/run installs it)")
def test_kcat_lists_the_topics() -> None:
    proc, env, pids, _ = _start_up()
    try:
        out = subprocess.run(
            ["kcat", *KCAT_FLAGS, "-b", env["VELO_BOOTSTRAP_SERVERS"], "-L"],
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ},
        )
        assert out.returncode == 0, out.stderr
        for topic in ("race-cards", "market-updates", "race-results", "predictions", "dead-letter"):
            assert f'topic "{topic}"' in out.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert wait_gone(pids) == []


def test_up_restarts_a_killed_redis_on_its_port_and_says_so() -> None:
    proc, env, pids, errors = _start_up()
    broker, old = pids
    new = None
    try:
        redis.Redis.from_url(env["VELO_REDIS_URL"]).set("kept", "1")
        os.kill(old, signal.SIGKILL)
        line = errors.wait_for(f"redis (pid {old}) died")
        assert "SIGKILL" in line and "restarted" in line, line
        new = int(re.search(r"as pid (\d+)", line).group(1))
        assert wait_reaped(old), f"killed redis is still in the process table: state {state(old)}"
        client = redis.Redis.from_url(env["VELO_REDIS_URL"])
        assert client.ping()
        assert client.get("kept") == b"1", "append-only file not reloaded"
        assert proc.poll() is None, "velo up stopped after a redis restart"
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, rest
    assert wait_gone([broker, *([new] if new else [])]) == []


def test_up_exits_non_zero_when_the_broker_dies_and_stops_redis() -> None:
    proc, env, pids, errors = _start_up()
    broker, rpid = pids
    try:
        os.kill(broker, signal.SIGKILL)
        line = errors.wait_for(f"broker (pid {broker}) died")
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode != 0
    assert "SIGKILL" in line and "stopped" in line, line
    assert wait_gone([rpid]) == [], "redis kept running after the broker died"
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(env["VELO_REDIS_URL"], socket_connect_timeout=1).ping()
