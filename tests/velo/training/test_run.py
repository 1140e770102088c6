"""train_and_save: the one training use case behind velo train, retraining and the demo."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from velo.data import canonical
from velo.data.sources import load_dataset
from velo.training.artifacts import load_model
from velo.training.run import METADATA_FILE, METRICS_FILE, NothingToTrain, train_and_save


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "sim.csv"
    canonical.write(load_dataset("sim", None, seed=4, days=60).canonical, path)
    return path


def test_it_writes_a_loadable_model_with_provenance_and_reports_its_folds(data: Path, tmp_path: Path) -> None:
    cutoff = pd.Timestamp("2030-01-01", tz="UTC")
    result = train_and_save(data, tmp_path / "m", cutoff=cutoff, trained_until="2030-01-01", cv_splits=2,
                            sqpe_iterations=10)  # fmt: skip
    assert result.runners > 0 and result.races > 0 and len(result.cv) == 2
    assert result.cv_sqpe_pseudo_r2 == pytest.approx(sum(f["sqpe"]["pseudo_r2"] for f in result.cv) / 2)
    meta = json.loads((result.out / METADATA_FILE).read_text())
    assert meta["data"]["trained_until"] == "2030-01-01" and meta["data"]["train_rows"] == result.runners
    assert json.loads((result.out / METRICS_FILE).read_text())["cv"] == json.loads(json.dumps(result.cv))
    assert result.orchestrator == meta["fit"]["orchestrator"]
    load_model(result.out, meta["artifacts"])


def test_a_cutoff_before_every_race_says_so(data: Path, tmp_path: Path) -> None:
    with pytest.raises(NothingToTrain, match="no races before 1990-01-01"):
        train_and_save(data, tmp_path / "m", cutoff=pd.Timestamp("1990-01-01", tz="UTC"), trained_until="1990-01-01")
