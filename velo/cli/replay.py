"""``velo replay``: publish a dataset into the input topics in event-time order."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from velo.cli.options import SIM_DAYS_OPTION
from velo.config import Settings


@click.command()
@click.option("--source", type=click.Choice(["canonical", "hk", "anz", "sim"]), default="canonical", show_default=True)
@click.option(
    "--data",
    "path",
    type=click.Path(exists=True, path_type=Path),
    help="the file (canonical) or the source's file or folder (hk, anz)",
)
@click.option("--seed", type=int, default=7, show_default=True, help="sim only")
@SIM_DAYS_OPTION
@click.option("--hk-final-as-pre", is_flag=True, help="hk only: final odds as the decision price (Benter's setting)")
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    help="compress event time by this factor (3600 = an hour a second); default: flat out",
)
@click.option(
    "--model",
    "model_name",
    default="velo",
    show_default=True,
    help="the registry name the workers serve (their consumer group is velo-NAME)",
)
@click.option(
    "--no-wait", is_flag=True, help="do not wait for the workers at day barriers (features may then see a day late)"
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120,
    show_default=True,
    help="seconds to wait for the workers at one barrier",
)
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False, path_type=Path), help="also write JSON")
def replay(
    source: str,
    path: Path | None,
    seed: int,
    days: int,
    hk_final_as_pre: bool,
    speed: float | None,
    model_name: str,
    no_wait: bool,
    timeout: float,
    summary_path: Path | None,
) -> None:
    """Publish race cards, market updates and results, a day at a time.

    Before each day's cards it waits until the workers have processed
    everything sent so far, so every card sees what it would have seen live.
    """
    from rich.console import Console
    from tqdm import tqdm

    from streams.app import worker_group
    from streams.replay import replay as run
    from velo.data.sources import load_dataset
    from velo.registry import RegistryError
    from velo.registry.refs import served_name

    try:
        model_name = served_name(model_name)
    except RegistryError as exc:
        raise click.BadParameter(str(exc), param_hint="--model") from None
    if source != "sim" and path is None:
        raise click.BadParameter(f"--data is required for --source {source}", param_hint="--data")
    try:
        ds = load_dataset(source, path, seed=seed, days=days, hk_final_as_pre=hk_final_as_pre)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--data") from None
    events = ds.events()
    if not events:
        raise click.ClickException(f"no events in {path or source}: {ds.report.summary()}")
    settings = Settings()
    console = Console(stderr=True)
    console.print(
        f"replaying {len(events):,} events ({ds.report.races:,} races) into {settings.bootstrap_servers}"
        + ("" if no_wait else f", waiting for group {worker_group(model_name)} at each day")
    )
    with tqdm(total=len(events), unit="ev", desc="replay", mininterval=0.5) as bar:
        try:
            group = None if no_wait else worker_group(model_name)
            summary = asyncio.run(
                run(events, settings, speed=speed, group=group, timeout_s=timeout, on_progress=bar.update)
            )
        except TimeoutError as exc:
            raise click.ClickException(str(exc)) from None
    s = summary.as_dict()
    click.echo(
        f"published {s['events']:,} events ({s['cards']:,} cards, {s['market_updates']:,} market updates, "
        f"{s['results']:,} results) over {s['days']} race days in {s['seconds']:.1f} s: "
        f"{s['events_per_s']:,.0f} events/s ({s['waiting_seconds']:.1f} s waiting for the workers)"
    )
    if summary_path:
        summary_path.write_text(json.dumps(s, indent=2))
