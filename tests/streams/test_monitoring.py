"""The worker's drift monitor without Kafka: reference per champion version,
gauges on /metrics, ALERT log lines once per breach."""

from __future__ import annotations

import logging
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd

from streams import metrics
from streams.monitoring import WorkerMonitor
from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
from velo.monitoring.drift import MONITORED, REFERENCE_FILE, FeatureReference
from velo.registry import Registry
from velo.registry.subscriber import Loaded


def _frame(rng: np.random.Generator, n_races: int, shift: float = 0.0) -> pd.DataFrame:
    rows = n_races * 10
    frame = pd.DataFrame(rng.normal(0, 1, (rows, len(MONITORED))), columns=MONITORED)
    frame["nds_overround"] += shift
    frame["race_id"] = np.repeat([f"r{i}" for i in range(n_races)], 10)
    frame["off_time"] = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.repeat(np.arange(n_races), 10) // 4,
                                                                               unit="D")  # fmt: skip
    return frame


def _batch(frame: pd.DataFrame, rng: np.random.Generator):
    """Inputs and predictions of a batch of cards, shaped as the worker has them."""
    X = frame[MONITORED].to_numpy()
    s, t = len(SQPE_FEATURES), len(SQPE_FEATURES) + len(TIE_FEATURES)
    inputs = SimpleNamespace(sqpe=X[:, :s], tie=X[:, s:t], market=X[:, t:])
    preds = []
    for race, card in frame.groupby("race_id", sort=False):
        p = rng.dirichlet(np.ones(len(card)))
        probs = [float(q) for q in p]
        ids = [f"{race}-h{i}" for i in range(len(p))]
        preds.append(
            SimpleNamespace(
                model_version="1", race_id=race, runner_ids=ids, columns={"final_prob": probs, "market_prob": probs}
            )
        )
    return inputs, preds


def test_worker_monitor_exports_psi_and_alerts_once(tmp_path, model_dirs, caplog) -> None:
    rng = np.random.default_rng(0)
    reg = Registry(tmp_path / "reg")
    rec = reg.register(model_dirs[0], "velo")
    champion = Loaded(rec, None)
    mon = WorkerMonitor(reg, "velo", export_every_s=0.0)
    caplog.set_level(logging.INFO, logger="velo.monitor")
    inputs, preds = _batch(_frame(rng, 60), rng)
    mon.observe_scored(champion, inputs, preds, None)
    assert "no reference.json for velo v1" in caplog.text
    assert mon.live.reference is None

    FeatureReference.from_frame(_frame(rng, 400)).save(reg.root / "velo" / "1" / REFERENCE_FILE)
    mon._reference_for = None  # as after a swap: the next batch loads the champion's reference
    mon.observe_scored(champion, inputs, preds, None)
    value = metrics.REGISTRY.get_sample_value
    assert value("velo_drift_alert") == 0 and value("velo_feature_psi", {"feature": "nds_overround"}) < 0.2
    assert value("velo_drift_window_rows") == 600

    shifted_inputs, shifted = _batch(_frame(rng, 500, shift=1.5), rng)
    for _ in range(2):
        mon.observe_scored(champion, shifted_inputs, shifted, None)
    assert value("velo_drift_alert") == 1 and value("velo_feature_psi", {"feature": "nds_overround"}) > 0.2
    assert value("velo_drift_alerts", {"kind": "feature_drift"}) == 1
    assert caplog.text.count("ALERT feature drift: PSI of nds_overround") == 1  # logged once, not per batch

    # outcomes feed the live log-loss per role, and the market's on the same races
    for p in shifted[:50]:
        mon.observe_result(SimpleNamespace(race_id=p.race_id, finishers=[
            SimpleNamespace(runner_id=p.runner_ids[0], position=1)]))  # fmt: skip
    assert value("velo_live_races", {"role": "champion"}) == 50
    assert value("velo_live_logloss", {"role": "champion"}) == value("velo_live_logloss", {"role": "market"}) > 0
    # a monitor error never reaches the scoring path
    mon.observe_scored(champion, SimpleNamespace(sqpe=None, tie=None, market=None), [], None)
    assert "drift monitor failed on a batch" in caplog.text
    shutil.rmtree(reg.root)
