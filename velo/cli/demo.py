"""``velo demo``: the embedded stack with a race card going in and out of Kafka."""

from __future__ import annotations

import asyncio

import click
from rich.console import Console
from rich.table import Table

from velo.config import Settings


@click.command()
def demo() -> None:
    """Start the embedded stack, publish a race card, consume it back, stop."""
    from schemas.examples import race_card
    from streams.embedded import start_embedded_stack
    from streams.roundtrip import card_roundtrip

    console = Console()
    with console.status("starting the embedded broker and Redis"):
        stack = start_embedded_stack(Settings(), 0, 0)
    try:
        s = stack.settings()
        console.print(f"broker [bold]{s.bootstrap_servers}[/], redis [bold]{s.redis_url}[/]")
        card = race_card()
        got, ms, partition = asyncio.run(card_roundtrip(s, card))
        table = Table(title=f"{got.race.course} {got.race.distance_m}m, off {got.race.off_time:%Y-%m-%d %H:%M} UTC")
        for col in ("runner", "draw", "jockey", "trainer", "price"):
            table.add_column(col)
        for r in got.runners:
            table.add_row(r.name or r.runner_id, str(r.draw), r.jockey_id or "", r.trainer_id or "", f"{r.price}")
        console.print(table)
        console.print(
            f"race card {got.race_id} went into [bold]{s.topic_race_cards}[/] (partition {partition}) "
            f"and came back intact in {ms:.1f} ms"
        )
        assert got == card, "the card read back differs from the card sent"
    finally:
        stack.stop()
        console.print("embedded stack stopped")
