"""``velo feed``: market updates into the market-updates topic, from Betfair
stream recordings or Betfair's live stream."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from velo.config import Settings


def race_id_options(f):
    """``--race-ids`` and ``--mapping``, shared with ``velo data convert``."""
    f = click.option(
        "--mapping",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="CSV with columns market_id,race_id (implies --race-ids mapping)",
    )(f)
    return click.option(
        "--race-ids",
        "race_ids_by",
        type=click.Choice(["market", "definition", "mapping"]),
        default="market",
        show_default=True,
        help="race id of a market: bf-<market id>, the market definition's venue and start time "
        "(venue-YYYYMMDDTHHMMZ), or --mapping",
    )(f)


def race_ids_from(by: str, mapping: Path | None):
    """The RaceIds the options name; a bad choice or file is one clear line."""
    from velo.data.betfair_stream import RaceIds

    if mapping is not None or by == "mapping":
        if mapping is None:
            raise click.BadParameter("--race-ids mapping needs --mapping FILE", param_hint="--mapping")
        try:
            return RaceIds.from_file(mapping)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--mapping") from None
    return RaceIds(by)


@click.group()
def feed() -> None:
    """Publish market updates from Betfair: recorded stream files or the live stream."""


@feed.command("betfair-stream")
@click.option(
    "--data",
    "--input",
    "inputs",
    type=click.Path(exists=True, path_type=Path),
    multiple=True,
    required=True,
    help="a recording (Betfair stream JSON lines, gzipped or not) or a folder of them; repeatable",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    help="pace by the recorded times, compressed by this factor (1 = as recorded); default: flat out",
)
@race_id_options
def betfair_stream(inputs: tuple[Path, ...], speed: float | None, race_ids_by: str, mapping: Path | None) -> None:
    """Publish recorded Betfair stream files as MarketUpdate events.

    The updates are exactly those ``velo data convert --source stream`` writes
    for the same files and race-id choice, in publish-time order across files.
    """
    from streams.feed import publish_recorded
    from velo.data import betfair_stream as bs

    race_ids = race_ids_from(race_ids_by, mapping)
    updates, report = bs.load(list(inputs), race_ids)
    if not updates:
        raise click.ClickException(f"no market updates in {', '.join(map(str, inputs))}: {report.summary()}")
    settings = Settings()
    try:
        summary = asyncio.run(publish_recorded(updates, settings, speed=speed))
    except TimeoutError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary())
    click.echo(
        f"published {summary.market_updates:,} market updates for {len({u.race_id for u in updates}):,} "
        f"races to {settings.topic_market_updates} on {settings.bootstrap_servers} "
        f"in {summary.seconds:.1f} s"
    )


@feed.command("betfair")
@click.option("--country", "countries", multiple=True, help="country code to subscribe to (repeatable; default all)")
@click.option(
    "--market-type",
    "market_types",
    multiple=True,
    default=("WIN",),
    show_default=True,
    help="Betfair market type (repeatable)",
)
@race_id_options
def betfair_live(
    countries: tuple[str, ...], market_types: tuple[str, ...], race_ids_by: str, mapping: Path | None
) -> None:
    """Publish Betfair's live horse-racing market stream as MarketUpdate events.

    Credentials come from VELO_BETFAIR_USERNAME, VELO_BETFAIR_PASSWORD,
    VELO_BETFAIR_APP_KEY and, for certificate login, VELO_BETFAIR_CERTS (a
    folder holding the API certificate). Runs until interrupted.
    """
    from streams.feed import BetfairCredentials, LiveFeed

    race_ids = race_ids_from(race_ids_by, mapping)
    try:
        credentials = BetfairCredentials.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    live = LiveFeed(Settings(), credentials, race_ids, countries, market_types)
    try:
        asyncio.run(live.run())
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # login refused, network, the stream closing: one line, not a traceback
        raise click.ClickException(f"the Betfair feed stopped: {exc}") from None
    finally:
        click.echo(f"published {live.published:,} market updates; {live.report.summary()}")
