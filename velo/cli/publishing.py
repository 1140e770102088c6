"""Broadcasting the registry's pending events after a command changed it:
every command that registers, promotes or retrains ends here."""

from __future__ import annotations

import asyncio

import click

from velo.config import Settings
from velo.registry import Registry


def publish_pending(registry: Registry, no_publish: bool, must: bool = False) -> None:
    """Broadcast pending events; a broker outage leaves them queued, not lost.
    ``must``: publishing is the command's whole job, so an outage is an error
    (exit 1) rather than a warning after a recorded change."""
    pending = len(registry.outbox(after=registry.published_seq()))
    if no_publish or not pending:
        if pending:
            click.echo(f"{pending} registry event(s) queued in the outbox; `velo models publish` sends them")
        return
    from streams.clients import BrokerUnreachable
    from streams.registry_events import publish_outbox

    try:
        sent = asyncio.run(publish_outbox(Settings(), registry, attempts=3))
        click.echo(f"published {sent} registry event(s) to {Settings().topic_registry_events}")
    except (BrokerUnreachable, RuntimeError) as exc:
        why = f"no Kafka broker at {exc.servers}" if isinstance(exc, BrokerUnreachable) else str(exc)
        line = (
            f"{pending} registry event(s) wait in the outbox ({why}); "
            "`velo models publish` sends them once the broker is up"
        )
        if must:
            raise click.ClickException(line) from None
        click.echo(f"warning: the change is recorded; {line}", err=True)
