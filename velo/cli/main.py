"""Entry point: one click group, each command group in its own module."""

from __future__ import annotations

import click

from velo.cli.data import data
from velo.cli.demo import demo
from velo.cli.errors import VeloGroup, quiet_client_logs
from velo.cli.feed import feed
from velo.cli.model_cmds import backtest, explain, train
from velo.cli.models import models
from velo.cli.monitor import monitor
from velo.cli.replay import replay
from velo.cli.schemas_cmd import schemas
from velo.cli.topics import topics
from velo.cli.up import up
from velo.cli.worker import worker


@click.group(cls=VeloGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="velo-oracle")
@click.pass_context
def main(ctx: click.Context) -> None:
    """VÉLØ Oracle: streaming win probabilities for horse races."""
    if ctx.invoked_subcommand != "worker":
        ctx.with_resource(quiet_client_logs())


main.add_command(up)
main.add_command(demo)
main.add_command(data)
main.add_command(train)
main.add_command(backtest)
main.add_command(explain)
main.add_command(models)
main.add_command(monitor)
main.add_command(worker)
main.add_command(replay)
main.add_command(feed)
main.add_command(schemas)
main.add_command(topics)


if __name__ == "__main__":
    main()
