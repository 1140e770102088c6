"""One way to load any supported source as canonical rows (and, for the
simulator, its market ticks), shared by ``velo data convert``, ``velo
replay`` and ``velo demo``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd

from velo.data.events import Event, build_events
from velo.data.report import LoadReport

#: Sources that hold race cards and results (``stream`` holds market updates only).
RACE_SOURCES = ("hk", "anz", "sim", "canonical")


@dataclass
class Dataset:
    canonical: pd.DataFrame
    report: LoadReport
    #: simulator market ticks; None for real sources (their snapshot comes from price_pre)
    ticks: pd.DataFrame | None = None

    def events(self, card_lead: timedelta | None = None) -> list[Event]:
        """See :func:`velo.data.events.build_events` (``card_lead``: cards
        published that long before the off, before their market forms)."""
        return build_events(self.canonical, ticks=self.ticks, card_lead=card_lead)


def load_dataset(
    source: str, path: Path | None = None, seed: int = 7, days: int = 120, hk_final_as_pre: bool = False
) -> Dataset:
    """Raises ValueError naming what is missing or unknown."""
    if source not in RACE_SOURCES:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join(RACE_SOURCES)}")
    if source == "sim":
        from velo.data.simulator import SimConfig, simulate

        sim = simulate(SimConfig(seed=seed, days=days))
        report = LoadReport(source=f"sim seed {seed}", rows_read=len(sim.canonical), rows_kept=len(sim.canonical))
        report.races = int(sim.canonical["race_id"].nunique())
        return Dataset(sim.canonical, report, sim.ticks)
    if path is None:
        raise ValueError(f"a file or folder is required for source {source!r}")
    if source == "hk":
        from velo.data import hk

        df, report = hk.load(path, final_as_pre=hk_final_as_pre)
    elif source == "anz":
        from velo.data import anz

        df, report = anz.load(path)
    else:
        from velo.data import canonical

        df, report = canonical.read(path)
    return Dataset(df, report)
