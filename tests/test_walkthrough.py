"""The newcomer's first hour runs as written: ``docs/walkthrough.sh`` end to
end (data, training, registry, backtests, explanations, then a real broker,
Redis, worker, replay and the served backtest), and the README's Walkthrough
section holds the same commands, so neither can drift from what works."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from velo.stack.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "walkthrough.sh"


def _commands(text: str) -> list[str]:
    return [line.split("#")[0].strip() for line in text.splitlines() if re.match(r"^velo ", line.strip())]


def test_the_readme_walkthrough_is_the_script() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    assert _commands(block) == _commands(SCRIPT.read_text()) and len(_commands(block)) >= 12


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough waits for the worker with curl")
def test_the_walkthrough_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELO_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["WEB_PORT"] = str(free_port())
    out = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-3000:], (tmp_path / "worker.log").read_text()[-2000:]
                                 if (tmp_path / "worker.log").exists() else "")  # fmt: skip
    assert "Traceback" not in out.stdout + out.stderr
    for report in ("walk-forward", "offline", "served"):
        assert json.loads((tmp_path / "out" / report / "report.json").read_text())["overall"]["model"]["n_races"] > 0
    assert (tmp_path / "out" / "explain" / "importance.png").stat().st_size > 0
    tailed = [line for line in out.stdout.splitlines() if line.startswith("predictions[")]
    assert len(tailed) == 3 and all('"request_id"' in line for line in tailed)
