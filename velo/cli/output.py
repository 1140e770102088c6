"""Machine-readable output: one ``--json`` flag, the same everywhere.

Tables and colours are for people; scripts want a document. Every command
that reports something (models list and history, train, backtest, compare,
monitor) takes ``--json`` and then prints one JSON document on stdout and
nothing else there.
"""

from __future__ import annotations

import click

JSON_OPTION = click.option("--json", "as_json", is_flag=True,
                           help="print one JSON document on stdout instead of tables, for scripts")  # fmt: skip
