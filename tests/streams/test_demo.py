"""``velo demo`` end to end, as a user runs it (a real process, real servers)."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def test_demo_runs_the_whole_loop_and_stops_cleanly() -> None:
    # wide, so that rich does not wrap the lines checked below
    env = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run([sys.executable, "-m", "velo.cli.main", "demo", "--days", "30"], capture_output=True,
                         text=True, timeout=400, env=env)  # fmt: skip
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    m = re.search(r"(\d+)/(\d+) races predicted", text)
    assert m and m.group(1) == m.group(2), text[-4000:]
    assert "champion v1, challenger v2" in text
    assert "recommendation" in text and "final p" in text, "no prediction table was shown"
    assert re.search(r"scored (\d+) out-of-sample races", text)
    assert "Served predictions, scored against results" in text
    assert "worker and embedded stack stopped" in text
