"""Fixtures for the CLI tests."""

from __future__ import annotations

from collections.abc import Callable

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
