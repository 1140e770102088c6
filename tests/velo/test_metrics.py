"""velo.metrics: the one set of conventions the backtest, comparison and live monitor share."""

from __future__ import annotations

import json

import numpy as np
import pytest

from velo.metrics import json_safe, per_race_logloss, race_logloss, race_scores


def test_the_three_views_of_log_loss_agree() -> None:
    rng = np.random.default_rng(3)
    race = np.repeat(np.arange(30), 8).astype(str)
    won = np.zeros(240)
    won[np.arange(30) * 8 + rng.integers(0, 8, 30)] = 1
    p = rng.uniform(0.05, 1, 240)
    by_race = per_race_logloss(p, won, race)
    one = [race_logloss(p[race == r], won[race == r]) for r in by_race.index]
    assert np.allclose(by_race.to_numpy(), one, rtol=1e-12)
    assert by_race.mean() == pytest.approx(race_scores(p, won, race)["logloss"], rel=1e-12)


def test_unusable_races_are_left_out_everywhere() -> None:
    race = np.array(["a"] * 3 + ["b"] * 3 + ["c"] * 3 + ["d"] * 3)
    won = np.array([1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1.0])
    p = np.array([0.5, 0.3, 0.2, 0.4, 0.4, 0.2, np.nan, 0.5, 0.5, 0.0, 0.0, 0.0])
    # b: no winner, c: a missing probability, d: nothing positive
    assert list(per_race_logloss(p, won, race).index) == ["a"]
    assert race_scores(p, won, race)["n_races"] == 1
    assert np.isnan(race_logloss(p[9:], won[9:]))
    assert np.isnan(race_logloss(p[6:9], won[6:9]))
    assert race_scores(np.full(3, np.nan), won[:3], race[:3])["n_races"] == 0
    assert per_race_logloss(np.array([]), np.array([]), np.array([])).empty


def test_dead_heats_share_the_winners_weight() -> None:
    p = np.array([0.5, 0.25, 0.25])
    both = race_logloss(p, np.array([1, 1, 0.0]))
    assert both == pytest.approx(-(np.log(0.5) + np.log(0.25)) / 2)


def test_json_safe_writes_strict_json() -> None:
    doc = {"a": float("nan"), "b": [np.float64(1.5), (np.inf, 2)], "_work": 1, "c": {"d": np.int64(3)}}
    out = json_safe(doc)
    assert out == {"a": None, "b": [1.5, [None, 2]], "c": {"d": 3}}
    json.dumps(out, allow_nan=False)
