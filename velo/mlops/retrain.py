"""Retraining after an alert: train on fresh data and put the result in
shadow as the challenger. The champion keeps serving; promotion stays a
separate decision (``velo models compare``), taken on evidence."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from velo.registry import Registry
from velo.registry.record import ModelRecord
from velo.training.run import TrainResult, train_and_save


def retrain_as_challenger(
    registry: Registry,
    name: str,
    data: Path,
    cutoff: pd.Timestamp | None = None,
    trained_until: str | None = None,
    sqpe_iterations: int = 300,
    progress: bool = False,
) -> tuple[TrainResult, ModelRecord]:
    """The training's result and the registered challenger's record (raises
    RegistryError if the registry refuses it)."""
    with tempfile.TemporaryDirectory(prefix="velo-retrain-") as tmp:
        result = train_and_save(
            data,
            Path(tmp) / "model",
            cutoff=cutoff,
            trained_until=trained_until,
            name=name,
            sqpe_iterations=sqpe_iterations,
            progress=progress,
        )
        rec = registry.register(result.out, name)
        return result, registry.set_challenger(name, rec.version)
