"""``velo topics``: create and inspect the topics the engine uses."""

from __future__ import annotations

import asyncio
import contextlib

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


@topics.command("tail")
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="start at the topic's first message (default: new ones only)")
@click.option("--limit", type=click.IntRange(min=1), help="stop after this many messages")
@click.option("--pretty", is_flag=True, help="indent each message's JSON (default: one line a message)")
def tail(topic: str, from_beginning: bool, limit: int | None, pretty: bool) -> None:
    """Print a topic's messages as they arrive, like `kcat -C` (which cannot
    read the embedded broker): partition@offset, key, then the JSON value.
    Ctrl-C stops."""
    import orjson

    from streams.topic_reader import follow_topic

    option = orjson.OPT_INDENT_2 if pretty else 0

    def show(partition: int, offset: int, key: bytes | None, value: bytes) -> str:
        try:
            body = orjson.dumps(orjson.loads(value), option=option).decode()
        except orjson.JSONDecodeError:
            body = repr(value)
        return f"{topic}[{partition}]@{offset} {(key or b'').decode(errors='replace')} {body}"

    async def run() -> None:
        seen = 0
        async for message in follow_topic(Settings(), topic, from_beginning):
            click.echo(show(*message))
            seen += 1
            if limit and seen >= limit:
                return

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a live tail ends
        asyncio.run(run())
