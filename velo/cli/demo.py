"""``velo demo``: the whole loop on the embedded stack, in under two minutes."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a canonical file to use instead of the simulator (the last ~40 race days are used)",
)
@click.option("--seed", type=int, default=7, show_default=True, help="simulator seed")
@click.option(
    "--days",
    type=click.IntRange(30, 400),
    default=60,
    show_default=True,
    help="calendar days simulated (racing every second day), as in velo data convert and velo replay",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="also write the report here")
def demo(data: Path | None, seed: int, days: int, out: Path | None) -> None:
    """Start Kafka (Tansu) and Redis, train and register a champion and a
    challenger, start a worker, replay a history through it, show the last
    meeting's predictions as they arrive, score the unseen races, stop."""
    from rich.console import Console

    from streams.demo import run_demo
    from velo.backtest.report import render, write_report
    from velo.data.sources import Dataset, load_dataset

    console = Console()
    if data is None:
        ds = load_dataset("sim", seed=seed, days=days)
    else:
        ds = load_dataset("canonical", data)
        ds = Dataset(_last_days(ds.canonical, 40), ds.report)
    try:
        report = run_demo(ds, console)
    except (ValueError, RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from None
    render(report, console)
    if out:
        console.print("wrote " + ", ".join(str(f) for f in write_report(report, out)))


def _last_days(frame, n: int):
    import pandas as pd

    day = pd.to_datetime(frame["off_time"], utc=True).dt.normalize()
    keep = sorted(day.unique())[-n:]
    return frame[day.isin(keep)].reset_index(drop=True)
