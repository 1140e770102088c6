"""One simulated world shared by the MLOps tests (built once per process).

Seed 3, 600 days, 1,500 horses: about 2,400 races. Models are trained on the
first 300 days and scored out of sample on the remaining ~1,200 races.

The challenger is *truly* better: the champion never sees the draw, jockey,
trainer and trainer-intent features (blanked in training and in scoring), so
it lacks the draw bias, the connections' skill and the trainers' plots that
the simulator puts into the truth and the market only partly prices. Both are
real models from ``fit_model``; nothing is taken from the simulator's truth.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from schemas import PredictionLog
from velo.engines.model import VeloModel
from velo.features.definitions import SQPE, TIE_FEATURES
from velo.features.offline import build_training_set
from velo.logs.prediction_log import PredictionLogSink
from velo.sim import SimConfig, simulate
from velo.training.pipeline import TrainConfig, fit_model

SEED, DAYS, HORSES, TRAIN_DAYS = 3, 600, 1500, 300
HIDDEN = [f.name for f in SQPE if f.category in {"draw", "jockey", "trainer"}] + TIE_FEATURES
ITERATIONS = 50


def blank(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out[HIDDEN] = np.nan
    return out


@cache
def world(shift_day: int | None = None, days: int = DAYS) -> pd.DataFrame:
    """The per-runner frame (features, market, labels) of a simulated world."""
    return build_training_set(simulate(SimConfig(seed=SEED, days=days, n_horses=HORSES, shift_day=shift_day)).events())


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = frame["off_time"].min() + pd.Timedelta(days=TRAIN_DAYS)
    return frame[frame["off_time"] < cut], frame[frame["off_time"] >= cut]


@cache
def models() -> tuple[VeloModel, VeloModel]:
    """(champion without the hidden features, challenger with everything)."""
    train, _ = split(world())
    champion, _ = fit_model(blank(train), TrainConfig(sqpe_max_iter=ITERATIONS))
    challenger, _ = fit_model(train, TrainConfig(sqpe_max_iter=ITERATIONS))
    return champion, challenger


@cache
def scored() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(test runners, champion predictions, challenger predictions), row-aligned."""
    _, test = split(world())
    champion, challenger = models()
    return test, champion.predict_frame(blank(test)), challenger.predict_frame(test)


def labelled(versions: dict[str, pd.DataFrame], test: pd.DataFrame, name: str = "velo") -> pd.DataFrame:
    """The labelled frame the log would give, built directly (fast, for many resamples)."""
    parts = []
    for i, (version, pred) in enumerate(versions.items()):
        parts.append(pd.DataFrame({
            "race_id": test["race_id"].to_numpy(), "request_id": test["race_id"].to_numpy(),
            "horse_id": test["runner_id"].to_numpy(), "model_name": name, "model_version": version,
            "is_champion": i == 0, "timestamp": test["off_time"].to_numpy(),
            "sqpe_prob": pred["sqpe_prob"].to_numpy(), "tie_intent": pred["tie_intent"].to_numpy(),
            "final_prob": pred["final_prob"].to_numpy(), "market_prob": pred["market_prob"].to_numpy(),
            "price": test["price_pre"].to_numpy(dtype=float), "stake_fraction": pred["stake_fraction"].to_numpy(),
            "won": test["won"].to_numpy(dtype=float), "result_position": test["position"].to_numpy(),
        }))  # fmt: skip
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["timestamp", "race_id", "model_version", "horse_id"], kind="stable").reset_index(drop=True)


def write_log(directory: Path, versions: dict[str, pd.DataFrame], test: pd.DataFrame, name: str = "velo") -> int:
    """Prediction rows at the decision time and outcome rows after the off, as the worker writes them."""
    sink = PredictionLogSink(directory)
    rows: list[PredictionLog] = []
    off = [t.to_pydatetime() for t in pd.to_datetime(test["off_time"], utc=True)]
    race, horse = test["race_id"].tolist(), test["runner_id"].tolist()
    price = [p if p > 1 else None for p in test["price_pre"].astype(float).tolist()]
    pos = test["position"].astype(int).tolist()
    for i, (version, pred) in enumerate(versions.items()):
        cols = {c: pred[c].astype(float).tolist() for c in ("sqpe_prob", "tie_intent", "final_prob", "market_prob",
                                                            "stake_fraction")}  # fmt: skip
        for j in range(len(test)):
            common = dict(request_id=f"{race[j]}:{version}", race_id=race[j], horse_id=horse[j], model_name=name,
                          model_version=version, is_champion=i == 0)  # fmt: skip
            rows.append(PredictionLog(timestamp=off[j] - timedelta(minutes=1), price=price[j],
                                      **{c: v[j] for c, v in cols.items()}, **common))  # fmt: skip
            rows.append(PredictionLog(timestamp=off[j] + timedelta(minutes=5), result_position=pos[j],
                                      won=pos[j] == 1, **common))  # fmt: skip
    return sink.write_batch(rows)
