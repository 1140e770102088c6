"""The entry point: every command is where the map says, and ``velo --help``
imports none of the heavy libraries."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from velo.cli.main import COMMANDS, main


def test_every_listed_command_loads_under_its_name() -> None:
    ctx = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name, name
    out = CliRunner().invoke(main, ["--help"])
    assert out.exit_code == 0 and all(f"  {name} " in out.output for name in COMMANDS)


def test_help_imports_no_heavy_library() -> None:
    code = ("import sys; from click.testing import CliRunner; from velo.cli.main import main; "
            "CliRunner().invoke(main, ['--help']); "
            "print(sorted(m for m in ('pandas', 'sklearn', 'aiokafka', 'faust') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
