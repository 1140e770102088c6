"""Training-time benchmark: SQPE on all of Hong Kong (goal < 60 s on 2 cores),
plus per-race prediction and SHAP latency.

Usage: python bench/train.py [--data ../shared/data/hkracing]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, update_section, write_result
from velo.data import hk
from velo.data.events import build_events
from velo.engines.race import race_index
from velo.explain.shap_explain import top_contributions
from velo.features.definitions import SQPE_FEATURES
from velo.features.offline import build_training_set
from velo.training.pipeline import TrainConfig, fit_model, fit_stage_one


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/hkracing")
    args = ap.parse_args()
    df, _ = hk.load(args.data)
    frame = build_training_set(build_events(df)).sort_values("off_time", kind="stable").reset_index(drop=True)
    t = time.perf_counter()
    sqpe, _ = fit_stage_one(frame, TrainConfig())
    t_sqpe = time.perf_counter() - t
    t = time.perf_counter()
    model, _ = fit_model(frame, TrainConfig())
    t_full = time.perf_counter() - t
    races = [g for _, g in frame.groupby("race_id", sort=False)][-300:]
    lat, shap_lat = [], []
    for g in races:
        s = time.perf_counter()
        model.predict_frame(g)
        lat.append(time.perf_counter() - s)
    for g in races[:50]:
        s = time.perf_counter()
        top_contributions(model.sqpe, g)
        shap_lat.append(time.perf_counter() - s)
    X = races[-1][SQPE_FEATURES].to_numpy()
    sqpe.predict_race(X, race_index(races[-1]["race_id"].to_numpy()))
    res = {
        "rows": len(frame),
        "sqpe_fit_seconds": round(t_sqpe, 2),
        "full_model_fit_seconds": round(t_full, 2),
        "predict_race_ms_p50": round(float(np.median(lat)) * 1000, 2),
        "shap_race_ms_p50": round(float(np.median(shap_lat)) * 1000, 1),
        "goal_sqpe_fit_seconds": 60,
        "machine": machine(),
    }
    write_result("train", res)
    print(res)
    m = res["machine"]
    update_section(
        "train",
        f"""## Training and prediction time (`bench/train.py`)

Command: `.venv/bin/python bench/train.py` · Hong Kong, {len(frame):,} runners · {m["cpu"]}, {m["cores"]} cores · commit {m["commit"]}

| measure | figure | goal |
|---|---|---|
| SQPE fit (isotonic-calibrated boosted trees, 3 folds) on all of Hong Kong | **{res["sqpe_fit_seconds"]} s** | < 60 s |
| full model fit (stage one twice + orchestrator) | {res["full_model_fit_seconds"]} s | |
| predict one race (all engines + orchestrator + staking), p50 | {res["predict_race_ms_p50"]} ms | |
| SHAP top contributions for one race, p50 | {res["shap_race_ms_p50"]} ms | on demand only |
""",
    )


if __name__ == "__main__":
    main()
