import numpy as np

from velo.explain.shap_explain import global_importance, shap_values, top_contributions
from velo.features.definitions import SQPE_FEATURES
from velo.features.offline import build_training_set
from velo.sim import SimConfig, simulate
from velo.training.pipeline import TrainConfig, fit_stage_one


def test_shap_explains_the_boosted_score() -> None:
    frame = build_training_set(simulate(SimConfig(seed=51, days=80, n_horses=500)).events())
    sqpe, _ = fit_stage_one(frame.sort_values("off_time"), TrainConfig(sqpe_max_iter=60))
    race = frame[frame["race_id"] == frame["race_id"].iloc[-1]]
    sv = shap_values(sqpe, race[SQPE_FEATURES].to_numpy())
    assert sv.shape == (len(race), len(SQPE_FEATURES))
    # SHAP is additive: contributions + base value = the averaged raw score
    X = sqpe._prepare(race[SQPE_FEATURES].to_numpy())
    raw = np.mean([est.decision_function(X) for est in sqpe.base_estimators()], axis=0)
    spread = sv.sum(axis=1) - raw
    assert np.ptp(spread) < 1e-6
    rows = top_contributions(sqpe, race, top=3)
    assert len(rows) == len(race) and len(rows[0]["contributions"]) == 3
    imp = global_importance(sqpe, frame, sample=500)
    assert imp.index[0] in SQPE_FEATURES and imp.iloc[0] >= imp.iloc[-1]
