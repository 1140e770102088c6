"""``velo topics``: create and inspect the topics the engine uses."""

from __future__ import annotations

import asyncio

import click

from velo.config import Settings


@click.group()
def topics() -> None:
    """Create or list the engine's Kafka topics (names and partitions from VELO_*)."""


@topics.command("create")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True)
def create(timeout: float) -> None:
    """Create every missing topic; existing ones are left alone."""
    from streams.admin import ensure_topics

    settings = Settings()
    made = asyncio.run(ensure_topics(settings, timeout=timeout))
    click.echo(f"created: {', '.join(made) if made else 'nothing (all exist)'}")


@topics.command("list")
def list_() -> None:
    """Every topic on the broker with its partition count."""
    from streams.admin import describe_topics

    for name, n in sorted(asyncio.run(describe_topics(Settings())).items()):
        click.echo(f"{name}\t{n}")
