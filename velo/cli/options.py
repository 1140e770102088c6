"""Options several commands share, defined once so they mean one thing.

``--json``: tables and colours are for people; scripts want a document.
Every command that reports something (models list and history, train,
backtest, compare, monitor) takes it and then prints one JSON document on
stdout and nothing else there.

``--days``: how much the simulator makes, the same default wherever a
command simulates.
"""

from __future__ import annotations

import click

JSON_OPTION = click.option("--json", "as_json", is_flag=True,
                           help="print one JSON document on stdout instead of tables, for scripts")  # fmt: skip

SIM_DAYS_OPTION = click.option("--days", type=click.IntRange(min=2), default=60, show_default=True,
                               help="sim only: calendar days simulated (racing every second day)")  # fmt: skip
