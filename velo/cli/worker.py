"""``velo worker``: run the streaming worker (Faust) on the configured stack."""

from __future__ import annotations

import asyncio
import sys

import click

from velo.config import Settings


@click.command()
@click.option("--model", "model_name", default="velo", show_default=True, help="registry name to serve")
@click.option("--web-port", type=click.IntRange(1, 65535), default=6066, show_default=True)
@click.option("--loglevel", type=click.Choice(["crit", "error", "warn", "info", "debug"]), default="warn",
              show_default=True)  # fmt: skip
def worker(model_name: str, web_port: int, loglevel: str) -> None:
    """Consume race cards, market updates and results; publish predictions."""
    from streams.admin import ensure_topics
    from streams.app import Worker

    settings = Settings()
    asyncio.run(ensure_topics(settings))
    w = Worker(settings, model_name=model_name, web_port=web_port)
    sys.argv = ["velo-worker", "worker", "--loglevel", loglevel, "--web-port", str(web_port), "--web-host",
                settings.web_host]  # fmt: skip
    w.app.main()
