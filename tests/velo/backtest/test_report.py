"""The backtest's plots: each says which model, sample and dates it shows,
the P&L is drawn over race dates and counts commission."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from velo.backtest.metrics import betting
from velo.backtest.report import describe, plots


def _report(with_bets: bool) -> dict:
    rng = np.random.default_rng(0)
    races = np.repeat([f"R{i}" for i in range(40)], 5)
    frame = pd.DataFrame({"race_id": races, "off_time": pd.Timestamp("2025-07-01", tz="UTC")
                          + pd.to_timedelta(np.repeat(np.arange(40), 5), unit="D")})  # fmt: skip
    price = rng.uniform(2, 10, len(frame))
    won = (np.arange(len(frame)) % 5 == rng.integers(0, 5, len(frame))).astype(int)
    stake = np.where(with_bets & (rng.random(len(frame)) < 0.3), 0.02, 0.0)
    bets = betting(frame, stake, price, won, stake > 0, commission=0.05)
    period = {"period": "2025-07", **{k: {"pseudo_r2": 0.1} for k in ("model", "sqpe", "market_pre", "market_final")}}
    return {"overall": {"calibration": {"table": [{"p_mean": 0.1, "win_rate": 0.12, "n": 300}], "ece": 0.01},
                        "betting": {"flat": bets["flat"], "kelly": bets["kelly"]}},
            "periods": [period, {**period, "period": "2025-08"}], "settings": {"mode": "served predictions"},
            "data": {"model": "velo v3 (champion)", "data": "anz.parquet", "test_from": "2025-07-01T00:00:00+00:00"},
            "_curves": bets["_curves"]}  # fmt: skip


def test_the_pnl_is_over_race_dates_with_commission(tmp_path) -> None:
    report = _report(with_bets=True)
    curves = report["_curves"]
    assert len(curves["flat_time"]) == len(curves["flat"]) > 0 and len(curves["kelly_time"]) == len(curves["kelly"])
    assert pd.to_datetime(curves["flat_time"], utc=True).is_monotonic_increasing
    written = {p.name for p in plots(report, tmp_path)}
    assert written == {"calibration.png", "pnl.png", "r2_by_period.png"}
    for name in written:
        assert Image.open(tmp_path / name).size[0] > 500


def test_every_plot_says_its_model_sample_and_dates() -> None:
    text = describe(_report(with_bets=False))
    assert "velo v3 (champion)" in text and "anz.parquet" in text and "2025-07-01" in text
    assert "2025-07 to 2025-08" in text
    walk = describe({"periods": [{"period": "2001/02"}], "data": {"data_file": "/x/hk.parquet"}})
    assert "walk-forward on hk.parquet" in walk and "trained on earlier periods only" in walk


def test_no_bets_still_draws_a_plot(tmp_path) -> None:
    assert (tmp_path / "pnl.png") in plots(_report(with_bets=False), tmp_path)
