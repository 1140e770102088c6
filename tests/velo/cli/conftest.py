"""Fixtures for the CLI tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from velo.cli.main import main


@pytest.fixture()
def champion_and_challenger(tmp_path, model_dirs, monkeypatch) -> Callable[[list[str]], Result]:
    """A registry (``VELO_REGISTRY_DIR``) with velo v1 champion and v2 challenger,
    made through the CLI; returns the runner for further commands."""
    monkeypatch.setenv("VELO_REGISTRY_DIR", str(tmp_path / "reg"))

    def run(args: list[str]) -> Result:
        return CliRunner().invoke(main, args)

    for d in model_dirs:
        assert run(["models", "register", "--name", "velo", "--from", str(d), "--no-publish"]).exit_code == 0
    assert run(["models", "promote", "velo", "1", "--no-publish"]).exit_code == 0
    assert run(["models", "set-challenger", "velo", "2", "--no-publish"]).exit_code == 0
    return run


@pytest.fixture(scope="session")
def sim_file(tmp_path_factory) -> Path:
    """60 simulated days in the canonical format, as ``velo data convert`` writes them."""
    path = tmp_path_factory.mktemp("data") / "sim.parquet"
    res = CliRunner().invoke(main, ["data", "convert", "--source", "sim", "--days", "60", "--output", str(path)])
    assert res.exit_code == 0, res.output
    return path
