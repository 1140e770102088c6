import numpy as np
import pandas as pd
import pytest

from velo.backtest.metrics import betting, calibration, race_scores


def test_uniform_scores_zero_and_certainty_scores_one() -> None:
    race = np.repeat(["a", "b"], 4)
    won = np.array([1, 0, 0, 0, 0, 0, 1, 0])
    uni = race_scores(np.full(8, 0.25), won, race)
    assert uni["pseudo_r2"] == pytest.approx(0.0) and uni["logloss"] == pytest.approx(np.log(4))
    perfect = race_scores(won.astype(float), won, race)
    assert perfect["pseudo_r2"] > 0.99 and perfect["top1"] == 1.0
    assert uni["n_races"] == 2


def test_dead_heat_and_missing_values() -> None:
    race = np.repeat(["a", "b"], 2)
    won = np.array([1, 1, 1, 0])
    s = race_scores(np.array([0.5, 0.5, np.nan, 0.5]), won, race)
    assert s["n_races"] == 1 and s["logloss"] == pytest.approx(np.log(2))


def test_calibration_of_a_calibrated_forecast() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 0.5, 200_000)
    won = (rng.random(len(p)) < p).astype(float)
    table, ece = calibration(p, won)
    assert ece < 0.005 and len(table) == 10


def test_betting_flat_and_kelly() -> None:
    frame = pd.DataFrame({"race_id": ["a", "a", "b", "b"], "off_time": pd.to_datetime([1, 1, 2, 2], unit="D")})
    stake = np.array([0.1, 0.0, 0.1, 0.0])
    price = np.array([3.0, 2.0, 4.0, 2.0])
    won = np.array([1, 0, 0, 1])
    res = betting(frame, stake, price, won, stake > 0, commission=0.0)
    assert res["flat"]["bets"] == 2 and res["flat"]["profit"] == pytest.approx(2.0 - 1.0)
    assert res["kelly"]["final_bankroll"] == pytest.approx(1.2 * 0.9)
    assert res["kelly"]["max_drawdown"] == pytest.approx(0.1)
    taxed = betting(frame, stake, price, won, stake > 0)  # 5% of each race's net winnings
    assert taxed["flat"]["profit"] == pytest.approx(2.0 * 0.95 - 1.0)
    assert taxed["kelly"]["final_bankroll"] == pytest.approx((1 + 0.2 * 0.95) * 0.9)


def test_commission_is_on_a_races_net_winnings() -> None:
    """Backing two runners in one race: the loser's stake offsets the winner's profit first."""
    frame = pd.DataFrame({"race_id": ["a", "a"], "off_time": pd.to_datetime([1, 1], unit="D")})
    res = betting(frame, np.array([0.1, 0.1]), np.array([3.0, 5.0]), np.array([1, 0]), np.array([True, True]))
    assert res["flat"]["profit"] == pytest.approx((2.0 - 1.0) * 0.95)
    assert res["flat"]["max_drawdown"] == 0.0 and len(res["_curves"]["flat"]) == 1


def test_kelly_ignores_runners_without_a_price() -> None:
    frame = pd.DataFrame({"race_id": ["a", "a"], "off_time": pd.to_datetime([1, 1], unit="D")})
    res = betting(frame, np.array([0.1, 0.0]), np.array([3.0, np.nan]), np.array([1, 0]), np.array([True, False]),
                  commission=0.0)  # fmt: skip
    assert res["kelly"]["final_bankroll"] == pytest.approx(1.2)
