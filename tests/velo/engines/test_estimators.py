"""The engines keep scikit-learn's estimator contract: parameters in the
constructor, ``clone``, and ``predict``/``score`` for the classifiers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from velo.engines.orchestrator import Orchestrator
from velo.engines.race import race_index
from velo.engines.sqpe import SQPE
from velo.engines.tie import TIE


@pytest.fixture(scope="module")
def rows() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1200, 4))
    y = (X[:, 0] + rng.normal(0, 0.5, 1200) > 0.8).astype(int)
    return X, y


@pytest.mark.parametrize("make", [lambda: SQPE(max_iter=30, min_samples_leaf=20), lambda: TIE()])
def test_the_classifiers_predict_and_score(make, rows) -> None:
    X, y = rows
    model = clone(make()).fit(X, y)
    labels = model.predict(X)
    assert set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(labels, (model.predict_proba(X)[:, 1] >= 0.5).astype(int))
    assert model.score(X, y) > max(y.mean(), 1 - y.mean())  # better than always the majority


def test_the_orchestrator_clones_with_its_parameters_and_fits_the_same() -> None:
    orch = Orchestrator(l2=0.01, folds=3, margin=0.001)
    copy = clone(orch)
    assert copy.get_params() == {"l2": 0.01, "folds": 3, "margin": 0.001, "min_z": 0.0}
    rng = np.random.default_rng(1)
    race = race_index(np.repeat(np.arange(60), 6).astype(str))
    p = rng.dirichlet(np.ones(6), 60).reshape(-1)
    won = np.zeros(360)
    won[np.arange(60) * 6 + rng.integers(0, 6, 60)] = 1
    zeros = np.zeros(360)
    a = orch.fit(p, p, zeros, zeros, won, race).predict(p, p, zeros, zeros, race)
    b = copy.fit(p, p, zeros, zeros, won, race).predict(p, p, zeros, zeros, race)
    np.testing.assert_array_equal(a, b)
