"""Small array helpers shared by the feature engine and the form book."""

from __future__ import annotations

import numpy as np

NAN = np.nan


def as_float(x: float | int | None) -> float:
    """A stored number, NaN where it is missing."""
    return NAN if x is None else float(x)


def group_mean(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Mean of the known ``values`` of each of ``n`` groups (NaN where a
    group has none): a race's field, or a runner's recent runs."""
    ok = ~np.isnan(values)
    count = np.bincount(group[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.bincount(group[ok], values[ok], minlength=n) / count, NAN)
