from __future__ import annotations

import numpy as np
import pandas as pd

from velo.sim import SimConfig, simulate


def test_deterministic_per_seed() -> None:
    a = simulate(SimConfig(seed=9, days=10, n_horses=200))
    b = simulate(SimConfig(seed=9, days=10, n_horses=200))
    c = simulate(SimConfig(seed=10, days=10, n_horses=200))
    pd.testing.assert_frame_equal(a.canonical, b.canonical)
    pd.testing.assert_frame_equal(a.ticks, b.ticks)
    assert not a.canonical["won"].equals(c.canonical["won"])


def test_truth_is_a_distribution_and_is_calibrated() -> None:
    sim = simulate(SimConfig(seed=1, days=300, n_horses=1200))
    df = sim.canonical
    sums = df.groupby("race_id")["true_prob"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-9)
    assert (df.groupby("race_id")["won"].sum() == 1).all()
    bins = pd.qcut(df["true_prob"], 5)
    table = df.groupby(bins, observed=True).agg(p=("true_prob", "mean"), w=("won", "mean"), n=("won", "size"))
    se = np.sqrt(table.p * (1 - table.p) / table.n)
    assert (np.abs(table.w - table.p) < 4 * se + 0.005).all(), table


def _race_logloss(df: pd.DataFrame, prob: pd.Series) -> float:
    p = prob / prob.groupby(df["race_id"]).transform("sum")
    return float(-np.log(p[df["won"] == 1]).mean())


def test_market_holds_part_of_the_truth_and_learns_late() -> None:
    sim = simulate(SimConfig(seed=2, days=300, n_horses=1200))
    df = sim.canonical
    uniform = float(np.log(df.groupby("race_id").size()).mean())
    truth = _race_logloss(df, df["true_prob"])
    pre = _race_logloss(df, 1 / df["price_pre"])
    sp = _race_logloss(df, 1 / df["price_final"])
    assert truth < sp < uniform and truth < pre < uniform
    assert sp < pre, "the starting price should know more than the decision-time price"


def test_regime_shift_changes_the_truth() -> None:
    base = simulate(SimConfig(seed=4, days=40, n_horses=400))
    shifted = simulate(SimConfig(seed=4, days=40, n_horses=400, shift_day=20))
    early = base.canonical["off_time"] < base.config.start + pd.Timedelta(days=20)
    pd.testing.assert_series_equal(base.canonical.loc[early, "true_prob"], shifted.canonical.loc[early, "true_prob"])
    assert not np.allclose(base.canonical.loc[~early, "true_prob"], shifted.canonical.loc[~early, "true_prob"])


def test_several_meetings_a_day_and_no_ticks_change_only_what_they_say() -> None:
    """Market ticks off leaves the races as they were (same draws of the
    random generator); several meetings put several courses on one day."""
    with_ticks = simulate(SimConfig(seed=3, days=10, n_horses=300))
    without = simulate(SimConfig(seed=3, days=10, n_horses=300, market_ticks=False))
    pd.testing.assert_frame_equal(with_ticks.canonical, without.canonical)
    assert len(with_ticks.ticks) > 0 and len(without.ticks) == 0
    assert len(without.events()) < len(with_ticks.events())
    busy = simulate(SimConfig(seed=3, days=10, n_horses=1200, meetings_per_day=3, market_ticks=False)).canonical
    per_day = busy.groupby(busy["off_time"].dt.date)
    assert per_day["course"].nunique().min() == 3
    assert per_day["race_id"].nunique().min() == 24
