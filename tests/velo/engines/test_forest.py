"""The compiled forest gives scikit-learn's numbers exactly."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import KFold

from velo.engines.forest import CompiledForest
from velo.engines.sqpe import SQPE


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4000, 9))
    X[rng.random(X.shape) < 0.1] = np.nan  # missing values take each node's learned side
    y = (np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 3]) + rng.normal(size=4000) > 1).astype(int)
    return X, y


def test_decision_function_is_bit_identical(data) -> None:
    X, y = data
    hgb = HistGradientBoostingClassifier(max_iter=80, max_leaf_nodes=15, random_state=0).fit(X, y)
    forest = CompiledForest(hgb)
    assert forest.n_trees == 80 and forest.depth >= 3
    np.testing.assert_array_equal(forest.decision_function(X), hgb.decision_function(X))
    one = X[:1]
    np.testing.assert_array_equal(forest.decision_function(one), hgb.decision_function(one))
    assert forest.decision_function(X[:0]).shape == (0,)


def test_sqpe_fast_path_equals_sklearn_calibrated_model(data) -> None:
    """SQPE calibrates by hand (its out-of-fold scores also fit the race
    part); the result must be scikit-learn's own single-booster calibration."""
    X, y = data
    sqpe = SQPE(max_iter=60, min_samples_leaf=50).fit(X, y)
    fast = sqpe.predict_proba(X)
    reference = CalibratedClassifierCV(clone(sqpe.booster_), method="isotonic", cv=KFold(3), ensemble=False)
    slow = reference.fit(sqpe._prepare(X), y).predict_proba(sqpe._prepare(X))
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    # one runner at a time, and after a pickle round trip (the isotonic map is rebuilt on load)
    again = pickle.loads(pickle.dumps(sqpe))
    np.testing.assert_array_equal(np.vstack([again.predict_proba(X[i : i + 1]) for i in range(50)]), slow[:50])


def test_multiclass_is_refused() -> None:
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(300, 3)), rng.integers(0, 3, 300)
    with pytest.raises(ValueError, match="binary"):
        CompiledForest(HistGradientBoostingClassifier(max_iter=5).fit(X, y))


def test_a_model_saved_before_the_hand_calibration_still_predicts(data) -> None:
    """Models saved before the race part hold a CalibratedClassifierCV."""
    X, y = data
    new = SQPE(max_iter=30, min_samples_leaf=50).fit(X, y)
    old = SQPE(max_iter=30, min_samples_leaf=50)
    old.empty_columns_, old.classes_ = new.empty_columns_, new.classes_
    old.model_ = CalibratedClassifierCV(clone(new.booster_), method="isotonic", cv=KFold(3), ensemble=False)
    old.model_.fit(old._prepare(X), y)
    np.testing.assert_allclose(old.predict_proba(X), new.predict_proba(X), rtol=0, atol=1e-12)
    race = np.repeat(np.arange(len(X) // 8), 8)[: len(X)]
    np.testing.assert_allclose(old.predict_race(X[: len(race)], race), new.predict_race(X[: len(race)], race))
