"""Save and load a VeloModel without pickle.

Estimators are written with skops and loaded with an explicit allow-list of
types: a file that needs any other type is refused, so loading never runs
arbitrary code. Everything else (orchestrator weights, NDS and staking
settings) is plain JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import skops.io as sio

from velo.engines.model import VeloModel
from velo.engines.nds import NDS
from velo.engines.orchestrator import Orchestrator
from velo.engines.sqpe import SQPE
from velo.engines.staking import Staking
from velo.engines.tie import TIE
from velo.training.files import UntrustedArtifact, sha256_file

#: Every type our estimators need beyond skops' defaults. Nothing else loads.
#: ``_CalibratedClassifier`` and ``KFold`` are only in models saved before SQPE
#: calibrated by hand; they stay so that those still load.
TRUSTED_TYPES = [
    "velo.engines.sqpe.SQPE",
    "velo.engines.tie.TIE",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.model_selection._split.KFold",
    "numpy.dtype",
]


def save_model(model: VeloModel, directory: Path) -> dict[str, str]:
    """Write the model's files; returns file name -> sha256."""
    directory.mkdir(parents=True, exist_ok=True)
    sio.dump(model.sqpe, directory / "sqpe.skops")
    sio.dump(model.tie, directory / "tie.skops")
    orch = model.orchestrator
    (directory / "model.json").write_text(
        json.dumps(
            {
                "name": model.name,
                "version": model.version,
                "orchestrator": {
                    "l2": orch.l2,
                    "with_market": None if orch.with_market_ is None else orch.with_market_.tolist(),
                    "without_market": orch.without_market_.tolist(),
                    "folds": orch.folds,
                    "margin": orch.margin,
                    "chosen": getattr(orch, "chosen_", None),
                    "cv_mean_ll": getattr(orch, "cv_scores_", {}),
                },
                "nds": {**asdict(model.nds), "weights": list(model.nds.weights)},
                "staking": asdict(model.staking),
            },
            indent=2,
        )
    )
    return {n: sha256_file(directory / n) for n in ("sqpe.skops", "tie.skops", "model.json")}


def _load_estimator(path: Path):
    untrusted = sio.get_untrusted_types(file=path)
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise UntrustedArtifact(f"{path}: refuses to load types outside the allow-list: {', '.join(unknown)}")
    return sio.load(path, trusted=untrusted)


def load_model(directory: Path, checksums: dict[str, str] | None = None) -> VeloModel:
    """Load a model directory; with ``checksums``, every file must match first."""
    directory = Path(directory)
    for name, expected in (checksums or {}).items():
        path = directory / name
        if not path.exists():
            raise UntrustedArtifact(f"{path}: missing")
        got = sha256_file(path)
        if got != expected:
            raise UntrustedArtifact(f"{path}: sha256 {got[:12]}… does not match the registered {expected[:12]}…")
    sqpe = _load_estimator(directory / "sqpe.skops")
    tie = _load_estimator(directory / "tie.skops")
    if not isinstance(sqpe, SQPE) or not isinstance(tie, TIE):
        raise UntrustedArtifact(f"{directory}: artifacts are not an SQPE and a TIE model")
    meta = json.loads((directory / "model.json").read_text())
    saved = meta["orchestrator"]
    orch = Orchestrator(l2=saved["l2"], folds=saved.get("folds", 4), margin=saved.get("margin", 1e-4))
    orch.chosen_, orch.cv_scores_ = saved.get("chosen"), saved.get("cv_mean_ll", {})
    wm = meta["orchestrator"]["with_market"]
    orch.with_market_ = None if wm is None else np.asarray(wm)
    orch.without_market_ = np.asarray(meta["orchestrator"]["without_market"])
    nds = NDS(**{**meta["nds"], "weights": tuple(meta["nds"]["weights"])})
    return VeloModel(sqpe, tie, orch, nds, Staking(**meta["staking"]), meta["name"], meta["version"])
