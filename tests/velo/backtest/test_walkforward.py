"""Walk-forward honesty checks on the simulator (known truth, fast)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from velo.backtest.walkforward import walk_forward
from velo.features.offline import build_training_set
from velo.sim import SimConfig, simulate
from velo.training.pipeline import TrainConfig

FAST = TrainConfig(sqpe_max_iter=40, sqpe_learning_rate=0.2)


@pytest.fixture(scope="module")
def sim_frame() -> pd.DataFrame:
    sim = simulate(SimConfig(seed=31, days=150, n_horses=600))
    return build_training_set(sim.events())


@pytest.fixture(scope="module")
def report(sim_frame):
    start = sim_frame["off_time"].min() + pd.Timedelta(days=90)
    return walk_forward(sim_frame, start, period="month", config=FAST)


def test_each_period_trains_only_on_earlier_races(report) -> None:
    rep, pred = report
    assert len(rep["periods"]) >= 3
    for p in rep["periods"]:
        assert pd.Timestamp(p["train_to"]) < pd.Timestamp(p["test_from"])
    assert [p["train_races"] for p in rep["periods"]] == sorted(p["train_races"] for p in rep["periods"])
    assert pred.groupby("race_id")["final_prob"].sum().sub(1).abs().max() < 1e-9


def test_report_has_every_required_figure(report) -> None:
    rep, _ = report
    for scope in ("model", "sqpe", "market_pre", "market_final"):
        for key in ("pseudo_r2", "logloss", "n_races", "brier", "top1"):
            assert key in rep["overall"][scope]
            assert key in rep["periods"][0][scope]
    assert rep["overall"]["calibration"]["table"] and 0 <= rep["overall"]["calibration"]["ece"] < 0.05
    for kind in ("flat", "kelly"):
        assert {"roi", "turnover", "max_drawdown", "bets"} <= set(rep["overall"]["betting"][kind])
    assert rep["overall"]["model"]["pseudo_r2"] > rep["overall"]["market_pre"]["pseudo_r2"], (
        "on the simulator the market is blind to draw bias and plots, so the combination must add to it"
    )


def test_permuted_labels_show_no_skill(sim_frame) -> None:
    start = sim_frame["off_time"].min() + pd.Timedelta(days=120)
    end = start + pd.Timedelta(days=30)
    real, _ = walk_forward(sim_frame, start, end, period="month", config=FAST)
    fake, _ = walk_forward(sim_frame, start, end, period="month", config=FAST, permute_labels_seed=1)
    assert real["overall"]["sqpe"]["pseudo_r2"] > 0.05
    assert abs(fake["overall"]["sqpe"]["pseudo_r2"]) < 0.02, fake["overall"]["sqpe"]


def test_fundamental_only_file_without_prices(sim_frame) -> None:
    bare = sim_frame.assign(price_pre=np.nan, price_final=np.nan, market_prob=np.nan)
    start = bare["off_time"].min() + pd.Timedelta(days=125)
    rep, _ = walk_forward(bare, start, period="month", config=FAST)
    assert "market_pre" not in rep["overall"] and "market_final" not in rep["overall"]
    assert rep["overall"]["betting"] is None
    assert rep["overall"]["model"]["n_races"] > 0


def test_empty_window_is_a_clear_error(sim_frame) -> None:
    with pytest.raises(ValueError, match="no races to test"):
        walk_forward(sim_frame, pd.Timestamp("2099-01-01", tz="UTC"), config=FAST)
