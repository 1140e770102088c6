"""``velo models``: every registry operation, then the event broadcast."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from velo.config import Settings
from velo.registry import Registry, RegistryError


def _registry() -> Registry:
    return Registry(Settings().registry_dir)


def _publish(registry: Registry, no_publish: bool) -> None:
    """Broadcast pending events; a broker outage leaves them queued, not lost."""
    pending = len(registry.outbox(after=registry.published_seq()))
    if no_publish or not pending:
        if pending:
            click.echo(f"{pending} registry event(s) queued in the outbox; `velo models publish` sends them")
        return
    from streams.registry_events import publish_outbox

    try:
        sent = asyncio.run(publish_outbox(Settings(), registry, attempts=3))
        click.echo(f"published {sent} registry event(s) to {Settings().topic_registry_events}")
    except RuntimeError as exc:
        click.echo(f"warning: {exc}; the change is recorded and the events stay queued "
                   "(`velo models publish` retries)", err=True)  # fmt: skip


def _run(op, *args, no_publish: bool = False):
    reg = _registry()
    try:
        rec = op(reg, *args)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{rec.name} v{rec.version}: stage {rec.stage}, role {rec.role}")
    _publish(reg, no_publish)
    return rec


NO_PUBLISH = click.option("--no-publish", is_flag=True, help="record the change only; do not contact Kafka")


@click.group()
def models() -> None:
    """Register, compare and promote models (registry in VELO_REGISTRY_DIR)."""


@models.command()
@click.option("--name", required=True)
@click.option("--from", "src", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="a directory written by velo train")  # fmt: skip
@NO_PUBLISH
def register(name: str, src: Path, no_publish: bool) -> None:
    """Register a trained model as the next version, in staging."""
    _run(lambda r: r.register(src, name), no_publish=no_publish)


@models.command("set-challenger")
@click.argument("name")
@click.argument("version")
@NO_PUBLISH
def set_challenger(name: str, version: str, no_publish: bool) -> None:
    """Run this staging model in shadow beside the champion."""
    _run(lambda r: r.set_challenger(name, version), no_publish=no_publish)


@models.command()
@click.argument("name")
@click.argument("version")
@NO_PUBLISH
def promote(name: str, version: str, no_publish: bool) -> None:
    """Make a staging model the champion (the previous champion is archived)."""
    _run(lambda r: r.promote(name, version), no_publish=no_publish)


@models.command()
@click.argument("name")
@click.argument("version")
@NO_PUBLISH
def demote(name: str, version: str, no_publish: bool) -> None:
    """Take the champion out of production."""
    _run(lambda r: r.demote(name, version), no_publish=no_publish)


@models.command()
@click.argument("name")
@click.argument("version")
@NO_PUBLISH
def archive(name: str, version: str, no_publish: bool) -> None:
    """Archive a model that is not the champion."""
    _run(lambda r: r.archive(name, version), no_publish=no_publish)


@models.command()
@click.argument("name")
@NO_PUBLISH
def rollback(name: str, no_publish: bool) -> None:
    """Bring back the previous champion."""
    _run(lambda r: r.rollback(name), no_publish=no_publish)


@models.command("publish")
def publish_cmd() -> None:
    """Send registry events that are still queued in the outbox."""
    _publish(_registry(), no_publish=False)


@models.command("list")
@click.option("--name", help="only this model name")
def list_cmd(name: str | None) -> None:
    """Every registered version with its stage, role and provenance."""
    recs = _registry().list(name)
    if not recs:
        click.echo("no models registered" + (f" under {name!r}" if name else ""))
        return
    t = Table(title=f"Model registry ({Settings().registry_dir})")
    for col in ("name", "version", "stage", "role", "trained on", "created", "sha256"):
        t.add_column(col)
    for r in recs:
        rng = f"{(r.data_range.get('from') or '?')[:10]} .. {(r.data_range.get('to') or '?')[:10]}"
        style = "bold green" if r.role == "champion" else "yellow" if r.role == "challenger" else None
        t.add_row(r.name, r.version, r.stage, r.role, rng, r.created[:19], r.artifact_sha256[:12], style=style)
    Console().print(t)


@models.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def history(name: str, as_json: bool) -> None:
    """Who was champion when: every change to NAME, oldest first."""
    lines = _registry().history(name)
    if as_json:
        click.echo(json.dumps(lines, indent=2))
        return
    if not lines:
        raise click.ClickException(f"no history for {name!r}")
    t = Table(title=f"History of {name}")
    for col in ("time (UTC)", "action", "version", "stage", "role", "by", "detail"):
        t.add_column(col)
    for x in lines:
        t.add_row(x["time"][:19], x["action"], x["version"], x["stage"], x["role"], x["by"], x.get("detail", ""))
    Console().print(t)
    reigns = [x for x in lines if x["role"] == "champion"]
    if reigns:
        click.echo("champions: " + " -> ".join(f"v{x['version']} from {x['time'][:19]}" for x in reigns))
