"""``velo up`` as a user runs it: a real process, a third-party client, a signal."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.velo.stack.test_embedded import _wait_gone

VELO = [sys.executable, "-m", "velo.cli.main"]
KCAT_FLAGS = ["-X", "api.version.request=false", "-X", "broker.version.fallback=0.9.0"]


def _start_up() -> tuple[subprocess.Popen, dict[str, str], list[int]]:
    proc = subprocess.Popen(
        [*VELO, "up", "--broker-port", "0", "--redis-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C to stop" in line:
            break
    text = "".join(lines)
    env = dict(re.findall(r"export (VELO_\w+)=(\S+)", text))
    pids = [int(p) for p in re.findall(r"(?:broker|redis) pid (\d+)", text)]
    assert "VELO_BOOTSTRAP_SERVERS" in env, text
    return proc, env, pids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_up_prints_settings_and_stops_cleanly(sig: signal.Signals) -> None:
    proc, env, pids = _start_up()
    try:
        assert len(pids) == 2
        assert env["VELO_REDIS_URL"].startswith("redis://127.0.0.1:")
    finally:
        proc.send_signal(sig)
        rest = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, rest
    assert "embedded stack stopped" in rest
    assert _wait_gone(pids) == [], "broker or redis left behind after velo up stopped"


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat missing (Debian package kcat; .ci/run installs it)")
def test_kcat_lists_the_topics() -> None:
    proc, env, pids = _start_up()
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
    assert _wait_gone(pids) == []
