"""The conditional logit both stages fit, and the race z-scores SQPE reads."""

from __future__ import annotations

import numpy as np

from velo.engines.conditional_logit import fit_conditional_logit, mean_log_likelihood, race_zscores
from velo.engines.race import normalise_scores


def test_recovers_known_weights() -> None:
    rng = np.random.default_rng(0)
    races, size = 3000, 8
    race = np.repeat(np.arange(races), size)
    X = rng.normal(size=(races * size, 2))
    p = normalise_scores(X @ np.array([1.0, -0.5]), race)
    won = np.zeros(races * size)
    for r in range(races):
        won[r * size + rng.choice(size, p=p[r * size : (r + 1) * size])] = 1
    w = fit_conditional_logit(X, won, race, l2=0.0)
    np.testing.assert_allclose(w, [1.0, -0.5], atol=0.1)
    assert mean_log_likelihood(X, w, won, race) > mean_log_likelihood(X, np.zeros(2), won, race)


def test_race_zscores_are_within_each_race() -> None:
    X = np.array([[1.0, 5.0], [3.0, np.nan], [10.0, 5.0], [20.0, 7.0]])
    race = np.array([0, 0, 1, 1])
    z = race_zscores(X, race)
    assert z.shape == (4, 4)
    np.testing.assert_allclose(z[:, 0], [-1, 1, -1, 1])
    # a runner without the value scores 0 and is marked missing; one known value has no spread
    np.testing.assert_allclose(z[:, 1], [0, 0, -1, 1])
    np.testing.assert_array_equal(z[:, 3], [0, 1, 0, 0])
    # the same race alone gives the same numbers (the stream scores one card at a time)
    np.testing.assert_array_equal(race_zscores(X[2:], np.array([0, 0])), z[2:])
