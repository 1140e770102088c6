"""SHAP TreeExplainer over SQPE's boosted trees.

Contributions are to the boosted part of SQPE (its one serving booster), in
log-odds units of the uncalibrated score; the race part (a conditional logit
on that score and the race-standardised features) is not in them. Costs tens
of milliseconds a race, so it runs on demand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from velo.engines.sqpe import SQPE
from velo.features.definitions import SQPE_FEATURES
from velo.plotting import save_figure


def shap_values(sqpe: SQPE, X: np.ndarray) -> np.ndarray:
    import shap

    values = []
    for est in sqpe.base_estimators():
        sv = shap.TreeExplainer(est).shap_values(sqpe._prepare(X))
        values.append(sv[1] if isinstance(sv, list) else sv)
    return np.mean(values, axis=0)


def global_importance(sqpe: SQPE, frame: pd.DataFrame, sample: int = 2000, seed: int = 0) -> pd.Series:
    """Mean |SHAP| per feature over a sample of runners, largest first."""
    rows = frame.sample(min(sample, len(frame)), random_state=seed) if len(frame) > sample else frame
    sv = shap_values(sqpe, rows[SQPE_FEATURES].to_numpy())
    return pd.Series(np.abs(sv).mean(axis=0), index=SQPE_FEATURES).sort_values(ascending=False)


def plot_importance(importance: pd.Series, path: Path, top: int = 20, context: str = "") -> Path:
    """A bar per feature, largest first; ``context`` (which model, which
    races) is written under the plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top_items = importance.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(top_items) + 1))
    ax.barh(top_items.index, top_items.to_numpy())
    ax.set(xlabel="mean |SHAP| (log-odds)", title="SQPE global feature importance")
    return save_figure(fig, path, context)


def top_contributions(sqpe: SQPE, race: pd.DataFrame, top: int = 3) -> list[dict]:
    """Per runner: the features that pushed its score up or down the most."""
    sv = shap_values(sqpe, race[SQPE_FEATURES].to_numpy())
    out = []
    for i, (_, row) in enumerate(race.iterrows()):
        order = np.argsort(-np.abs(sv[i]))[:top]
        out.append(
            {
                "runner_id": row["runner_id"],
                "contributions": [
                    {"feature": SQPE_FEATURES[j], "value": float(row[SQPE_FEATURES[j]]), "shap": float(sv[i, j])}
                    for j in order
                ],
            }
        )
    return out
