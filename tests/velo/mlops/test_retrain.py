"""Retraining after an alert puts the new model in shadow; the champion keeps serving."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from velo.data import canonical
from velo.data.sources import load_dataset
from velo.mlops.retrain import retrain_as_challenger
from velo.registry import Registry
from velo.training.run import NothingToTrain


def test_the_retrained_model_becomes_the_challenger(tmp_path: Path, model_dirs: list[Path]) -> None:
    registry = Registry(tmp_path / "reg")
    champion = registry.promote("velo", registry.register(model_dirs[0], "velo").version)
    data = tmp_path / "fresh.csv"
    canonical.write(load_dataset("sim", None, seed=8, days=45).canonical, data)
    result, rec = retrain_as_challenger(registry, "velo", data, sqpe_iterations=10)
    assert result.races > 0
    assert registry.challenger("velo").version == rec.version
    assert registry.champion("velo").version == champion.version
    with pytest.raises(NothingToTrain):
        retrain_as_challenger(registry, "velo", data, cutoff=pd.Timestamp("1990-01-01", tz="UTC"))
