"""Fit the full model from a training frame, honestly in time.

Stage one (SQPE, TIE) is fitted on the earlier part of the window and
predicts the later part; the orchestrator (stage two) is fitted on those
out-of-sample predictions, as Benter did. Then stage one is refitted on the
whole window for use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from velo.engines.model import VeloModel
from velo.engines.nds import NDS
from velo.engines.orchestrator import Orchestrator
from velo.engines.race import race_index
from velo.engines.sqpe import SQPE
from velo.engines.staking import Staking
from velo.engines.tie import TIE, tie_label
from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
from velo.markets.signals import SIGNAL_COLUMNS


@dataclass
class TrainConfig:
    stage2_share: float = 0.3  # last share of race days that fits the orchestrator
    # shallow trees, small steps; 300 rounds keep a race's prediction to a few ms
    sqpe_max_iter: int = 300
    sqpe_learning_rate: float = 0.04
    random_state: int = 0
    staking: Staking = field(default_factory=Staking)
    nds: NDS = field(default_factory=NDS)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["off_time", "race_id", "runner_id"], kind="stable").reset_index(drop=True)


def fit_stage_one(frame: pd.DataFrame, config: TrainConfig) -> tuple[SQPE, TIE]:
    sqpe = SQPE(
        max_iter=config.sqpe_max_iter, learning_rate=config.sqpe_learning_rate, random_state=config.random_state
    )
    sqpe.fit(frame[SQPE_FEATURES].to_numpy(), frame["won"].to_numpy(), race_index(frame["race_id"].to_numpy()))
    tie = TIE().fit(frame[TIE_FEATURES].to_numpy(), tie_label(frame))
    return sqpe, tie


def fit_model(frame: pd.DataFrame, config: TrainConfig | None = None, name: str = "velo") -> tuple[VeloModel, dict]:
    """Returns the model and a dict of timings and fitted coefficients."""
    config = config or TrainConfig()
    frame = _sorted(frame)
    days = frame["off_time"].dt.tz_convert("UTC").dt.normalize()
    unique = np.sort(days.unique())
    if len(unique) < 4:
        raise ValueError(f"need at least 4 race days to train, got {len(unique)}")
    split_day = unique[int(len(unique) * (1 - config.stage2_share))]
    early, late = frame[days < split_day], frame[days >= split_day]
    t0 = time.perf_counter()
    sqpe_a, tie_a = fit_stage_one(early, config)
    race = race_index(late["race_id"].to_numpy())
    p_sqpe = sqpe_a.predict_race(late[SQPE_FEATURES].to_numpy(), race)
    tie = tie_a.predict_proba(late[TIE_FEATURES].to_numpy())[:, 1]
    signals = late[SIGNAL_COLUMNS].to_numpy(dtype=float)
    nds = config.nds.combine(signals)
    orch = Orchestrator().fit(
        p_sqpe, late["market_prob"].to_numpy(dtype=float), tie, nds, late["won"].to_numpy(dtype=float), race, signals
    )
    t1 = time.perf_counter()
    sqpe, tie_model = fit_stage_one(frame, config)
    t2 = time.perf_counter()
    model = VeloModel(sqpe, tie_model, orch, config.nds, config.staking, name=name)
    info = {
        "stage2_from": str(pd.Timestamp(split_day).date()),
        "seconds_stage2_fit": round(t1 - t0, 2),
        "seconds_final_stage1_fit": round(t2 - t1, 2),
        "orchestrator": orch.coefficients(),
        "tie_coefficients": tie_model.coefficients(TIE_FEATURES),
    }
    return model, info
