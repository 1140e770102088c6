"""``velo data``: convert sources into the canonical format."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from velo.cli.feed import race_id_options, race_ids_from
from velo.cli.options import SIM_DAYS_OPTION


def _check_output(path: Path) -> None:
    if not (path.suffix == ".parquet" or path.name.endswith((".csv", ".csv.gz"))):
        raise click.BadParameter(f"{path}: use a .csv, .csv.gz or .parquet file name", param_hint="--output")


@click.group()
def data() -> None:
    """Load, convert and inspect racing data."""


@data.command()
@click.option("--source", type=click.Choice(["hk", "anz", "stream", "sim", "canonical"]), required=True)
@click.option(
    "--data", "--input", "input_", type=click.Path(exists=True, path_type=Path), help="file or folder (not for sim)"
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--seed", type=int, default=7, show_default=True, help="sim only")
@SIM_DAYS_OPTION
@click.option("--hk-final-as-pre", is_flag=True, help="hk only: use final tote odds as price_pre (Benter's setting)")
@race_id_options
def convert(
    source: str,
    input_: Path | None,
    output: Path,
    seed: int,
    days: int,
    hk_final_as_pre: bool,
    race_ids_by: str,
    mapping: Path | None,
) -> None:
    """Write the canonical format (CSV or Parquet by the output's extension).

    For ``--source stream`` the output is a table of MarketUpdate events
    (``--race-ids`` and ``--mapping`` say which race each market belongs to,
    as for ``velo feed betfair-stream``).
    """
    from velo.data import canonical

    _check_output(output)
    if source != "sim" and input_ is None:
        raise click.BadParameter(f"--data is required for --source {source}", param_hint="--data")
    if source != "stream":
        from velo.data.sources import load_dataset

        ds = load_dataset(source, input_, seed=seed, days=days, hk_final_as_pre=hk_final_as_pre)
        df, report = ds.canonical, ds.report
    else:
        from velo.data import betfair_stream

        assert input_ is not None  # --data is required for every source but sim (checked above)
        updates, report = betfair_stream.load(input_, race_ids_from(race_ids_by, mapping))
        table = pd.DataFrame([u.model_dump(mode="python") for u in updates])
        output.parent.mkdir(parents=True, exist_ok=True)
        if output.suffix == ".parquet":
            table.to_parquet(output, index=False)
        else:
            table.to_csv(output, index=False)
        click.echo(report.summary())
        click.echo(f"wrote {len(table):,} market updates to {output}")
        return
    canonical.write(df, output)
    click.echo(report.summary())
    click.echo(f"wrote {len(df):,} runners in {df['race_id'].nunique():,} races to {output}")
