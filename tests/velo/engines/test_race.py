import numpy as np
import pytest

from velo.engines.race import normalise_odds, normalise_scores, race_index


def test_race_index_keeps_first_appearance_order() -> None:
    assert race_index(np.array(["b", "b", "a", "c", "a"])).tolist() == [0, 0, 1, 2, 1]


def test_normalisation_sums_to_one_per_race() -> None:
    race = np.array([0, 0, 0, 1, 1])
    p = normalise_scores(np.array([1.0, 2.0, 3.0, 500.0, 499.0]), race)
    np.testing.assert_allclose(np.bincount(race, weights=p), [1.0, 1.0])
    q = normalise_odds(np.array([0.5, 0.25, 0.0, 1.0, 0.2]), race)
    np.testing.assert_allclose(np.bincount(race, weights=q), [1.0, 1.0])
    assert q[0] / q[1] == pytest.approx(3.0)  # odds 1 vs 1/3
