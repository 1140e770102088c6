"""Time-ordered splits in which a race day never straddles train and test."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from sklearn.model_selection import TimeSeriesSplit


def day_splits(off_time: pd.Series, n_splits: int = 5) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """TimeSeriesSplit over race days (UTC dates), mapped back to row indices."""
    days = off_time.dt.tz_convert("UTC").dt.normalize().to_numpy()
    unique = np.unique(days)
    if len(unique) < n_splits + 1:
        raise ValueError(f"need at least {n_splits + 1} race days for {n_splits} splits, got {len(unique)}")
    for train_days, test_days in TimeSeriesSplit(n_splits=n_splits).split(unique):
        yield (np.flatnonzero(np.isin(days, unique[train_days])), np.flatnonzero(np.isin(days, unique[test_days])))


def period_label(off_time: pd.Series, period: str) -> pd.Series:
    """Walk-forward period of each row.

    ``season``: Hong Kong style, September to August, named by the year it
    ends (season 2001 = 2000-09-01 .. 2001-08-31). ``month``: YYYY-MM.
    ``year``: YYYY.
    """
    t = off_time.dt.tz_convert("UTC")
    if period == "season":
        return (t.dt.year + (t.dt.month >= 9).astype(int)).astype(str)
    if period == "month":
        return t.dt.strftime("%Y-%m")
    if period == "year":
        return t.dt.year.astype(str)
    raise ValueError(f"unknown period {period!r}: use season, month or year")
