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
