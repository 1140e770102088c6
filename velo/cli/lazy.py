"""Subcommands imported only when they run.

Importing every command module made each ``velo`` call (even ``--help``)
import pandas, scikit-learn, aiokafka and the rest: about 4 s here before
anything happened. :class:`LazyGroup` knows each subcommand by its import
path and one line of help, and imports a module when its command is
invoked (or asked for its own help or completion).
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    """A click group whose subcommands are ``name -> ("module:attr", "short help")``."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, attr = self.lazy[cmd_name][0].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the map, so that ``velo --help`` imports none of them."""
        rows = [
            (name, self.lazy[name][1] if name in self.lazy else (self.commands[name].get_short_help_str()))
            for name in self.list_commands(ctx)
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
