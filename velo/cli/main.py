"""Entry point: one click group, each command group in its own module,
imported only when it runs (see :mod:`velo.cli.lazy`)."""

from __future__ import annotations

import click

from velo.cli.errors import VeloGroup, quiet_client_logs
from velo.cli.lazy import LazyGroup

#: name -> (where the command is, its line in ``velo --help``)
COMMANDS = {
    "up": ("velo.cli.up:up", "Start the embedded broker (Tansu) and Redis; Ctrl-C stops both."),
    "demo": ("velo.cli.demo:demo", "The whole loop on the embedded stack: train, serve, replay, score, stop."),
    "data": ("velo.cli.data:data", "Load, convert and inspect racing data."),
    "train": ("velo.cli.model_cmds:train", "Train SQPE, TIE and the orchestrator; write artifacts and provenance."),
    "backtest": ("velo.cli.model_cmds:backtest", "Walk-forward, a fixed model offline, or the served predictions."),
    "explain": ("velo.cli.model_cmds:explain", "SHAP explanations per runner, and a global importance plot."),
    "models": ("velo.cli.models:models", "Register, compare and promote models (registry in VELO_REGISTRY_DIR)."),
    "monitor": ("velo.cli.monitor:monitor", "Feature drift and live log-loss/calibration; ALERT lines, exit 1."),
    "worker": ("velo.cli.worker:worker", "Consume race cards, market updates and results; publish predictions."),
    "replay": ("velo.cli.replay:replay", "Publish race cards, market updates and results, a day at a time."),
    "feed": ("velo.cli.feed:feed", "Publish market updates from Betfair: recordings or the live stream."),
    "schemas": ("velo.cli.schemas_cmd:schemas", "Generate schemas/json/*.json from the message contracts."),
    "topics": ("velo.cli.topics:topics", "Create, list or tail the engine's Kafka topics."),
}


class MainGroup(VeloGroup, LazyGroup):
    """Errors as one line (:class:`VeloGroup`), commands imported when used (:class:`LazyGroup`)."""


@click.group(cls=MainGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="velo-oracle")
@click.pass_context
def main(ctx: click.Context) -> None:
    """VÉLØ Oracle: streaming win probabilities for horse races."""
    if ctx.invoked_subcommand != "worker":
        ctx.with_resource(quiet_client_logs())


if __name__ == "__main__":
    main()
