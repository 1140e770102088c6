"""Feature drift and live quality on simulator data.

The regime change: the same simulated world (seed 3) with and without
``shift_day=300`` (from day 300 the draw bias flips and jockeys matter twice
as much). The champion's reference comes from days 0-299; live rows are days
300-359 of either world. Figures quoted in docs/mlops.md are printed with -s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.velo.mlops.world import TRAIN_DAYS, labelled, scored, split, world
from velo.monitoring.drift import FeatureReference, Thresholds, quality_alerts, quality_window
from velo.monitoring.live import LiveMonitor

LIVE_DAYS = 60


def _live(frame: pd.DataFrame) -> pd.DataFrame:
    day = (frame["off_time"] - frame["off_time"].min()).dt.days
    return frame[(day >= TRAIN_DAYS) & (day < TRAIN_DAYS + LIVE_DAYS)]


def _feed(ref: FeatureReference, rows: pd.DataFrame, window: int) -> LiveMonitor:
    """Rows through the worker's monitor, card by card."""
    mon = LiveMonitor(Thresholds(), feature_window=window)
    mon.set_reference(ref, "velo v1")
    for _, card in rows.groupby("race_id", sort=False):
        mon.observe_inputs(card[ref.names].to_numpy(dtype=float))
    return mon


def test_regime_change_raises_the_drift_alert_and_a_stable_world_does_not(tmp_path) -> None:
    train, _ = split(world())
    ref = FeatureReference.from_frame(train)
    ref = FeatureReference.load(ref.save(tmp_path / "reference.json"))
    stable, shifted = _live(world()), _live(world(shift_day=TRAIN_DAYS, days=TRAIN_DAYS + LIVE_DAYS))
    assert stable["race_id"].nunique() == shifted["race_id"].nunique() > 200
    th = Thresholds()
    psi_stable, psi_shifted = ref.psi(stable[ref.names].to_numpy()), ref.psi(shifted[ref.names].to_numpy())
    alerts_stable, alerts_shifted = ref.alerts(psi_stable, th), ref.alerts(psi_shifted, th)
    table = pd.DataFrame({"no shift": psi_stable, "shift": psi_shifted, "baseline": ref.baseline_psi},
                         index=ref.names).sort_values("shift", ascending=False)  # fmt: skip
    print(f"\nPSI, days {TRAIN_DAYS}-{TRAIN_DAYS + LIVE_DAYS - 1} against the reference of days "
          f"{ref.window['from'][:10]}..{ref.window['to'][:10]}:\n{table.head(10).round(3)}")  # fmt: skip
    print("draw/jockey features:", table.loc[["draw_bias", "jockey_sr_365", "jockey_excess"]].round(3).to_dict())
    print("alerts, shift:", [a.message for a in alerts_shifted])
    assert alerts_stable == []
    subjects = {a.subject for a in alerts_shifted}
    # the market reprices the new world at once; its inputs move first
    assert "nds_overround" in subjects and subjects <= {"market_prob", "nds_overround", "nds_volume", "nds_steam",
                                                         "nds_late_money"}  # fmt: skip
    assert all("feature drift: PSI of" in a.message for a in alerts_shifted)
    # features that trend within training (career counts) are high in both worlds but do not alert
    assert psi_stable[ref.names.index("career_starts")] > th.psi

    # the worker's rolling monitor, fed card by card, sees the same
    big = max(len(stable), len(shifted)) + 1
    for rows, expected, alerting in ((stable, psi_stable, False), (shifted, psi_shifted, True)):
        snap = _feed(ref, rows, window=big).snapshot()
        assert np.allclose([snap.psi[n] for n in ref.names], expected)
        assert bool(snap.alerts) is alerting
    # a window shorter than the data forgets the oldest cards
    assert _feed(ref, shifted, window=1000).snapshot().rows < 1000 + 20


def test_missing_columns_and_bad_shapes_are_named() -> None:
    train, _ = split(world())
    with pytest.raises(ValueError, match="lacks monitored columns: nds_steam"):
        FeatureReference.from_frame(train.drop(columns=["nds_steam"]))
    ref = FeatureReference.from_frame(train.iloc[:2000])
    with pytest.raises(ValueError, match=rf"expected a \(rows x {len(ref.names)}\) matrix"):
        ref.counts(np.zeros((3, 5)))
    # a feature that goes missing is drift: NaN has its own bin
    rows = train.iloc[:2000][ref.names].to_numpy(dtype=float).copy()
    rows[:, ref.names.index("rating")] = np.nan
    assert ref.psi(rows)[ref.names.index("rating")] > 1.0


def test_live_quality_and_its_alerts() -> None:
    test, champ, _ = scored()
    th = Thresholds(min_races=100)
    # a well-calibrated model, better than the market: quiet
    frame = labelled({"1": champ}, test)
    good = quality_window(frame, "champion", "1", window=300)
    assert good.races == 300 and good.logloss < good.market_logloss and quality_alerts(good, th) == []
    # the same model made over-confident (probabilities sharpened): both alerts fire
    sharp = champ.copy()
    p = sharp["final_prob"].to_numpy() ** 3
    sharp["final_prob"] = p / pd.Series(p).groupby(test["race_id"].to_numpy()).transform("sum").to_numpy()
    bad = quality_window(labelled({"1": sharp}, test), "champion", "1", window=300)
    kinds = {a.kind for a in quality_alerts(bad, th)}
    print(f"\ngood: ll {good.logloss:.4f} market {good.market_logloss:.4f} ECE {good.ece:.4f}; "
          f"sharpened: ll {bad.logloss:.4f} ECE {bad.ece:.4f}; alerts {sorted(kinds)}")  # fmt: skip
    assert kinds == {"calibration", "vs_market"}
    assert quality_alerts(bad, Thresholds(min_races=301)) == []  # too few races to judge

    # the worker's monitor gives the same figures from cards and results
    mon = LiveMonitor(th, race_window=300)
    races = pd.unique(test["race_id"])
    for race in races:
        m = (test["race_id"] == race).to_numpy()
        mon.observe_scored("champion", "1", race, test["runner_id"][m].tolist(), sharp["final_prob"][m].tolist(),
                           champ["market_prob"][m].tolist())  # fmt: skip
        mon.observe_result(race, set(test["runner_id"][m & (test["won"] == 1).to_numpy()]))
    live = mon.quality("champion")
    assert live.races == 300
    assert live.logloss == pytest.approx(bad.logloss) and live.ece == pytest.approx(bad.ece)
    assert {a.kind for a in mon.snapshot().alerts} == {"calibration", "vs_market"}
    # a result for a race never scored is ignored; a new version starts a new window
    mon.observe_result("unknown-race", {"x"})
    mon.observe_scored("champion", "2", races[0], test["runner_id"][:3].tolist(), [0.5, 0.3, 0.2], [None] * 3)
    mon.observe_result(races[0], {test["runner_id"].iloc[0]})
    assert mon.quality("champion").races == 1 and mon.quality("champion").version == "2"
