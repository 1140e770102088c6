"""A registry's first two models: a champion that serves and a challenger
that runs in shadow, trained on the same history with different settings.
The demo starts every run this way; a new deployment can too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from velo.registry import Registry
from velo.registry.record import ModelRecord
from velo.training.artifacts import save_model
from velo.training.pipeline import TrainConfig, fit_model

#: Called as each model is registered: its role, its boosting rounds and its record.
OnRegistered = Callable[[str, int, ModelRecord], None]


def register_first_models(
    registry: Registry,
    train: pd.DataFrame,
    workdir: Path,
    iterations: int,
    name: str = "velo",
    on_registered: OnRegistered | None = None,
) -> tuple[ModelRecord, ModelRecord]:
    """Fit the champion (``iterations`` boosting rounds, seed 0) and the
    challenger (half as many, seed 1) on ``train``, register both, promote
    the first and put the second in shadow. Returns their records."""
    records = []
    for role, seed, iters in (("champion", 0, iterations), ("challenger", 1, iterations // 2)):
        model, _ = fit_model(train, TrainConfig(sqpe_max_iter=iters, random_state=seed))
        save_model(model, workdir / role)
        record = registry.register(workdir / role, name)
        records.append(record)
        if on_registered is not None:
            on_registered(role, iters, record)
    champion = registry.promote(name, records[0].version)
    challenger = registry.set_challenger(name, records[1].version)
    return champion, challenger
