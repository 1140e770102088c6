"""A small prediction log as the worker writes it, clean or with repeats and missing outcomes.

The dirty log is what at-least-once delivery and the worker's two outcome
writers (card side and result side) produce: every outcome row twice or three
times, some prediction rows redelivered, and races predicted whose result has
not arrived. Read correctly it must give exactly the clean log's labelled
frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from schemas import PredictionLog
from velo.logs.prediction_log import PredictionLogSink

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


@dataclass
class Log:
    clean: list[PredictionLog]
    dirty: list[PredictionLog]
    races: int  # races with results (both versions)
    waiting: int  # races predicted, no outcome yet
    waiting_v2_only: int  # of those, races only v2 predicted (v1 has nothing waiting there)
    repeats: int  # extra rows in the dirty log


def build(name: str = "velo", races: int = 60, waiting: int = 7, runners: int = 6, seed: int = 0) -> Log:
    rng = np.random.default_rng(seed)
    clean: list[PredictionLog] = []
    outcomes: list[PredictionLog] = []
    pending: list[PredictionLog] = []
    v2_only = min(2, waiting)
    for r in range(races + waiting):
        race, t = f"r{r:03d}", T0 + timedelta(minutes=10 * r)
        market = rng.dirichlet(np.ones(runners) * 3)
        winner = int(rng.choice(runners, p=market))
        versions = ("1", "2") if r < races + waiting - v2_only else ("2",)  # the last waiting races only v2 scored
        for v in versions:
            p = rng.dirichlet(np.ones(runners) * (4 if v == "2" else 2))
            for h in range(runners):
                common = dict(request_id=f"{race}:q", race_id=race, horse_id=f"h{h}", model_name=name,
                              model_version=v, is_champion=v == "1")  # fmt: skip
                pred = PredictionLog(timestamp=t, final_prob=float(p[h]), sqpe_prob=float(p[h]),
                                     market_prob=float(market[h]), price=float(1 / market[h]),
                                     stake_fraction=0.01 if p[h] > market[h] else 0.0, **common)  # fmt: skip
                (clean if r < races else pending).append(pred)
                if r < races:
                    outcomes.append(PredictionLog(timestamp=t + timedelta(minutes=5), result_position=1 + (h != winner),
                                                  won=h == winner, **common))  # fmt: skip
    clean = clean + pending + outcomes
    # repeats: every outcome row again from the card side, every third once more; every fifth prediction redelivered
    dirty = list(clean)
    dirty += [o.model_copy(update={"timestamp": o.timestamp + timedelta(seconds=30)}) for o in outcomes]
    dirty += outcomes[::3]
    dirty[len(clean) // 2 : len(clean) // 2] = clean[::5][: len(clean) // 10]
    return Log(clean, dirty, races, waiting, v2_only, len(dirty) - len(clean))


def write(directory: Path, rows: list[PredictionLog]) -> Path:
    PredictionLogSink(directory).write_batch(rows)
    return directory
