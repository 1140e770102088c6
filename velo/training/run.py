"""Training as a use case: cross-validate in time order, fit the full model,
and write it with the provenance a registry records. ``velo train``, the
retraining after a monitoring alert and the demo all run this one function;
they only differ in how they show the result."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from velo.engines.race import race_index
from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
from velo.metrics import race_scores
from velo.training.artifacts import save_model
from velo.training.dataset import load_training_frame
from velo.training.pipeline import TrainConfig, fit_model, fit_stage_one
from velo.training.splits import day_splits

#: What a trained model's folder holds beside its artifacts.
METADATA_FILE, METRICS_FILE = "metadata.json", "metrics.json"


class NothingToTrain(ValueError):
    """The data hold no race before the cutoff."""


@dataclass
class TrainResult:
    out: Path
    runners: int
    races: int
    #: per time-ordered fold: its dates, SQPE's scores and the market's
    cv: list[dict[str, Any]]
    metadata: dict[str, Any]

    @property
    def cv_sqpe_pseudo_r2(self) -> float:
        return sum(f["sqpe"]["pseudo_r2"] for f in self.cv) / len(self.cv)

    @property
    def orchestrator(self) -> dict[str, Any]:
        return self.metadata["fit"]["orchestrator"]


def library_versions() -> dict[str, str]:
    import numpy
    import sklearn
    import skops

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
    }


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2]
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def train_and_save(
    data: Path,
    out: Path,
    cutoff: pd.Timestamp | None = None,
    trained_until: str | None = None,
    cv_splits: int = 4,
    name: str = "velo",
    sqpe_iterations: int = 300,
    progress: bool = False,
) -> TrainResult:
    """Train SQPE, TIE and the orchestrator on ``data``'s races before
    ``cutoff`` (``trained_until``: how the caller wrote it, for the
    provenance); write the artifacts, the monitoring reference, metadata and
    the cross-validation's metrics to ``out``."""
    from velo.monitoring.drift import REFERENCE_FILE, FeatureReference

    frame, provenance = load_training_frame(data, progress=progress)
    if cutoff is not None:
        frame = frame[frame["off_time"] < cutoff]
    if frame.empty:
        raise NothingToTrain(f"no races before {trained_until} in {data}")
    frame = frame.sort_values(["off_time", "race_id", "runner_id"], kind="stable").reset_index(drop=True)
    config = TrainConfig(sqpe_max_iter=sqpe_iterations)
    cv = []
    splits = list(day_splits(frame["off_time"], cv_splits))
    for k, (tr, te) in enumerate(tqdm(splits, desc="time-ordered CV", disable=not progress)):
        sqpe, _ = fit_stage_one(frame.iloc[tr], config)
        test = frame.iloc[te]
        p = sqpe.predict_race(test[SQPE_FEATURES].to_numpy(), race_index(test["race_id"].to_numpy()))
        fold = {
            "fold": k,
            "train_to": str(frame.iloc[tr]["off_time"].max()),
            "test_from": str(test["off_time"].min()),
            "sqpe": race_scores(p, test["won"].to_numpy(), test["race_id"].to_numpy()),
        }
        if test["market_prob"].notna().any():
            fold["market_pre"] = race_scores(
                test["market_prob"].to_numpy(), test["won"].to_numpy(), test["race_id"].to_numpy()
            )
        cv.append(fold)
    with tqdm(total=1, desc="fitting the full model", disable=not progress) as bar:
        model, info = fit_model(frame, config, name=name)
        bar.update(1)
    checksums = save_model(model, out)
    # the inputs' distribution at the end of the window: what `velo monitor` and the worker compare against
    FeatureReference.from_frame(frame).save(out / REFERENCE_FILE)
    feature_hash = hashlib.sha256(",".join(SQPE_FEATURES + TIE_FEATURES).encode()).hexdigest()
    metadata = {
        "name": name,
        "created": datetime.now(UTC).isoformat(),
        "features": {"sqpe": SQPE_FEATURES, "tie": TIE_FEATURES, "sha256": feature_hash},
        "data": {
            **provenance,
            "trained_until": trained_until,
            "train_rows": len(frame),
            "train_from": str(frame["off_time"].min()),
            "train_to": str(frame["off_time"].max()),
        },
        "git_commit": git_commit(),
        "versions": library_versions(),
        "artifacts": checksums,
        "fit": info,
    }
    (out / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str))
    (out / METRICS_FILE).write_text(json.dumps({"cv": cv}, indent=2))
    return TrainResult(out, len(frame), int(frame["race_id"].nunique()), cv, metadata)
