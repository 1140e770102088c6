from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import RandomForestClassifier

from velo.features.offline import build_training_set
from velo.sim import SimConfig, simulate
from velo.training.artifacts import UntrustedArtifact, load_model, save_model
from velo.training.pipeline import TrainConfig, fit_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    frame = build_training_set(simulate(SimConfig(seed=41, days=60, n_horses=400)).events())
    model, _ = fit_model(frame, TrainConfig(sqpe_max_iter=40))
    out = tmp_path_factory.mktemp("model")
    return frame, model, save_model(model, out), out


def test_round_trip_predicts_identically(trained) -> None:
    frame, model, checksums, out = trained
    loaded = load_model(out, checksums)
    a, b = model.predict_frame(frame), loaded.predict_frame(frame)
    np.testing.assert_array_equal(a["final_prob"].to_numpy(), b["final_prob"].to_numpy())


def test_tampered_or_truncated_artifact_is_refused(trained, tmp_path: Path) -> None:
    _, _, checksums, out = trained
    for name in checksums:
        (tmp_path / name).write_bytes((out / name).read_bytes())
    data = (tmp_path / "sqpe.skops").read_bytes()
    (tmp_path / "sqpe.skops").write_bytes(data[: len(data) // 2])
    with pytest.raises(UntrustedArtifact, match=r"sqpe\.skops: sha256"):
        load_model(tmp_path, checksums)


def test_types_outside_the_allow_list_are_refused(trained, tmp_path: Path) -> None:
    _, _, _, out = trained
    for name in ("tie.skops", "model.json"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    sio.dump(RandomForestClassifier(n_estimators=2).fit([[0], [1]], [0, 1]), tmp_path / "sqpe.skops")
    with pytest.raises(UntrustedArtifact, match="outside the allow-list"):
        load_model(tmp_path)
