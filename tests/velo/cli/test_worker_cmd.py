"""``velo worker`` refuses, at start-up and in one line, a model name the
registry does not know: a typo used to start quietly and dead-letter every
card in the topic ("no champion loaded")."""

from __future__ import annotations

import subprocess
import sys

from velo.registry import Registry


def _worker(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {"VELO_REGISTRY_DIR": str(tmp_path / "reg"), "VELO_BOOTSTRAP_SERVERS": "127.0.0.1:1", "PATH": ""}
    return subprocess.run([sys.executable, "-m", "velo.cli.main", "worker", *args], capture_output=True, text=True,
                          timeout=60, env=env)  # fmt: skip


def test_an_unknown_model_name_is_refused_before_anything_is_consumed(tmp_path, model_dirs) -> None:
    Registry(tmp_path / "reg").register(model_dirs[0], "velo")
    out = _worker(tmp_path, "--model", "nosuch")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "no model named 'nosuch'" in out.stderr and "known: velo" in out.stderr
    assert "--wait-for-model" in out.stderr


def test_an_invalid_model_name_is_refused(tmp_path) -> None:
    out = _worker(tmp_path, "--model", "../../tmp/x")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "invalid model name" in out.stderr
